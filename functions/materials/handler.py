"""`POST /tasks/generate`: write one meeting's prep materials, exactly once in effect.

Queued by the sidebar and Chat buttons (functions/prep/queueing.py) with
{user_id, event_id, version}. Cloud Tasks delivers at least once, so:

- A meeting already `ready` (or `delivered`) with materials is done: the
  delivery is acknowledged and no model is called.
- Identical input reuses stored objects (see pipeline.cache_key).
- Concurrent deliveries of the same work race for a claim on the cache key;
  the loser answers 503 and by its retry the winner's objects exist. The
  claim is leased (`functions.materials.lease`, derived from the settings
  that bound one attempt), so a worker that died holding it blocks retries
  for one lease, after which the next delivery takes the claim over.
  The delivery that takes the claim also renews the meeting's lease
  (`generating_since`, `renew_lease`), so a retry that runs long after the
  task was queued is not mistaken for a dead one.
- A meeting is `generating` since `generating_since`; past the same lease
  the card offers "Try again" and a Generate click queues a takeover
  (functions/prep/queueing.py), so a killed worker never leaves a meeting
  "Preparing…" for good.
- The "ready" message is sent under a claim on the materials ref: one message
  per set of materials, however often the task runs.

Version: the task names the version the user clicked on, but the stored
meeting is the truth. If the meeting moved since, materials are written for
the current version (dropping the task would leave the meeting `generating`
forever, since planning never moves a generating meeting). The state moves
to `ready` only if the version is still the one generated for; if the
meeting changed meanwhile the task retries and generates for the new one.

Documents: a file that cannot be read is listed as such in the materials;
Drive itself failing (5xx, 429, timeouts) answers 503 so the queue retries,
at most `max_transient_failures` times for the same meeting version, then
the meeting is `failed` like a model that keeps failing.

Failures: quota, 5xx and timeouts (after the client's own retries) answer
503 so the queue retries with backoff, until `max_transient_failures` such
failures for the same input; then, like a schema mismatch or the daily cap,
the meeting becomes `failed` and the task is acknowledged. Materials that fail
their own validation (a `ValidationError` from the generator or while
checking and rendering) fail the meeting at once: the same input would fail
the same way on every retry.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from functions.domain.meetings import Meeting
from functions.domain.prep_state import InvalidTransition, PrepState, can_advance
from functions.domain.users import User
from functions.logs import log
from functions.materials.deps import MaterialsDeps
from functions.materials.documents.port import DocumentsUnavailable
from functions.materials.generator import GenerationFailed, TransientGenerationError
from functions.materials.lease import generation_lease
from functions.materials.pipeline import Prepared, prepare, store_materials
from functions.materials.quota import DailyCap, take_slot
from functions.materials.storage import StorageError
from functions.store.port import Conflict, NotFound, Store, StoreError
from functions.tasks.endpoint import BadTask, RetryLater

_log = logging.getLogger(__name__)

_DONE = (PrepState.READY, PrepState.DELIVERED)


def _text_field(payload: Mapping[str, Any], name: str, *, required: bool = True) -> str:
    value = payload.get(name, "")
    if not isinstance(value, str) or (required and not value) or len(value) > 1024:
        raise BadTask(f"payload field {name} is missing or not a short string")
    return value


def handle_generate(services: MaterialsDeps, payload: Mapping[str, Any]) -> Mapping[str, Any]:
    user_id = _text_field(payload, "user_id")
    event_id = _text_field(payload, "event_id")
    version = _text_field(payload, "version", required=False)
    replaces = _text_field(payload, "replaces", required=False)
    store = services.store
    try:
        user = store.get_user(user_id)
        meeting = store.get_meeting(user_id, event_id)
    except StoreError:
        raise RetryLater("store unavailable") from None
    if user is None or meeting is None:
        raise BadTask("the user or the meeting no longer exists")
    if version and meeting.version != version:
        log(_log, logging.INFO, "generation for a newer meeting version", user_id=user_id)

    # A Regenerate that runs before its click moved the state still finds the
    # materials it is to replace (`replaces`): those are not "already ready".
    if meeting.prep_state in _DONE and meeting.materials_ref and meeting.materials_ref != replaces:
        announce_ready(services, user, meeting)
        return {"outcome": "already_ready"}
    if meeting.prep_state is PrepState.CANCELLED:
        return {"outcome": "cancelled"}
    if meeting.prep_state is not PrepState.GENERATING:
        meeting = _start(services, meeting)
        if meeting.prep_state is not PrepState.GENERATING:
            return {"outcome": f"skipped_{meeting.prep_state.value}"}

    try:
        prepared = prepare(services, user, meeting)
        cached = services.materials_storage.exists(prepared.ref)
    except (StorageError, StoreError):
        raise RetryLater("storage unavailable") from None
    except DocumentsUnavailable:
        # Drive failed for now (5xx, 429, token endpoint): an unreadable file would not
        # retry, but a failing service does, so materials are not made without documents.
        return _documents_unavailable(services, user, meeting)
    if not cached:
        failure = _generate(services, user, meeting, prepared)
        if failure is not None:
            return {"outcome": failure}
    try:
        ready = store.set_prep_state(
            user_id,
            event_id,
            PrepState.READY,
            expected_version=meeting.version,
            materials_ref=prepared.ref,
        )
    except Conflict:
        raise RetryLater("the meeting changed while its materials were written") from None
    except (InvalidTransition, NotFound):
        # Cancelled or deleted meanwhile, or another delivery finished first.
        return {"outcome": "superseded"}
    log(_log, logging.INFO, "materials ready", user_id=user_id, cached=cached)
    announce_ready(services, user, ready)
    return {"outcome": "ready", "cached": cached}


def _start(services: MaterialsDeps, meeting: Meeting) -> Meeting:
    """The task may arrive before the queueing side moved the state: move it here."""
    if not can_advance(meeting.prep_state, PrepState.GENERATING):
        return meeting
    now = services.clock.now()

    def start(current: Meeting) -> Meeting:
        moved = current.with_prep_state(PrepState.GENERATING)
        return dataclasses.replace(moved, generating_since=now)

    try:
        return services.store.update_meeting(meeting.user_id, meeting.event_id, start)
    except InvalidTransition:
        current = services.store.get_meeting(meeting.user_id, meeting.event_id)
        return current or meeting


def _documents_unavailable(
    services: MaterialsDeps, user: User, meeting: Meeting
) -> Mapping[str, Any]:
    """Retry while Drive fails, but only so often (like a failing model): then `failed`."""
    limit = services.settings.materials.max_transient_failures
    key = f"docs-retry:{meeting.event_id}:{meeting.version}"
    if take_slot(services.store, user.user_id, key, limit) is None:
        log(_log, logging.ERROR, "documents kept failing", user_id=user.user_id)
        _fail(services.store, meeting)
        return {"outcome": "failed"}
    raise RetryLater("documents unavailable")


def lock_key(key: str) -> str:
    """The claim that one delivery is generating the materials of cache key `key`."""
    return f"gen-lock:{key}"


def _generate(
    services: MaterialsDeps, user: User, meeting: Meeting, prepared: Prepared
) -> str | None:
    """Call the generator and store the result; returns a failure outcome or None."""
    store = services.store
    lock = lock_key(prepared.key)
    lease = generation_lease(services.settings.materials)
    if not store.claim(user.user_id, lock, lease=lease):
        raise RetryLater("another delivery is generating these materials")
    try:
        renew_lease(store, meeting, services.clock.now())
        return _generate_locked(services, user, meeting, prepared)
    finally:
        store.release_claim(user.user_id, lock)


def renew_lease(store: Store, meeting: Meeting, now: datetime) -> None:
    """Restart the meeting's generation lease: this attempt holds the generation now.

    The lease was set when the task was queued; a retry that runs after a long
    backoff would otherwise outlive it and the card would offer "Try again"
    while it runs. One store transaction that moves only `generating_since`
    forward and only while the meeting is still `generating`: a duplicate
    delivery at the same instant changes nothing, and a meeting cancelled or
    finished meanwhile keeps its state.
    """

    def renew(current: Meeting) -> Meeting:
        if current.prep_state is not PrepState.GENERATING:
            return current
        if current.generating_since is not None and current.generating_since >= now:
            return current
        return dataclasses.replace(current, generating_since=now)

    with contextlib.suppress(NotFound):
        store.update_meeting(meeting.user_id, meeting.event_id, renew)


def _generate_locked(
    services: MaterialsDeps, user: User, meeting: Meeting, prepared: Prepared
) -> str | None:
    generator = services.generator
    cap = DailyCap(services.store, services.settings.materials.daily_generations, services.clock)
    slot = None
    if generator.metered:
        slot = cap.take(user.user_id)
        if slot is None:
            log(_log, logging.WARNING, "daily generation cap reached", user_id=user.user_id)
            _fail(services.store, meeting)
            return "daily_cap"
    try:
        generation = generator.generate(prepared.context, prepared.prompt)
    except TransientGenerationError as exc:
        _log_usage(user, exc.usage.input_tokens, exc.usage.output_tokens, "transient")
        if slot is not None:
            cap.give_back(user.user_id, slot)
        return _retry_or_fail(services, user, meeting, prepared, str(exc))
    except GenerationFailed as exc:
        _log_usage(user, exc.usage.input_tokens, exc.usage.output_tokens, "failed")
        log(_log, logging.ERROR, "generation failed", user_id=user.user_id, reason=str(exc))
        _fail(services.store, meeting)
        return "failed"
    except ValidationError as exc:
        return _invalid(services, user, meeting, exc)
    try:
        info = store_materials(
            storage=services.materials_storage,
            prepared=prepared,
            generation=generation,
            generator=generator,
            services=services,
            meeting=meeting,
        )
    except StorageError:
        return _retry_or_fail(services, user, meeting, prepared, "could not store the materials")
    except ValidationError as exc:
        return _invalid(services, user, meeting, exc)
    _log_usage(user, info.input_tokens, info.output_tokens, "ok", cost_usd=info.cost_usd)
    return None


def _invalid(services: MaterialsDeps, user: User, meeting: Meeting, exc: ValidationError) -> str:
    """Materials that break their own schema are a bug for this input, not bad luck:
    the same input fails the same way, so the meeting fails now instead of retrying."""
    fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})[:5]
    log(
        _log,
        logging.ERROR,
        "generation produced invalid materials",
        user_id=user.user_id,
        model=exc.title,
        fields=fields,
    )
    _fail(services.store, meeting)
    return "invalid"


def _retry_or_fail(
    services: MaterialsDeps, user: User, meeting: Meeting, prepared: Prepared, reason: str
) -> str:
    """A transient failure (model or storage) retries, but only so often: past the limit
    the meeting is `failed` (the card offers "Try again") instead of "Preparing…" for good."""
    limit = services.settings.materials.max_transient_failures
    if take_slot(services.store, user.user_id, f"gen-retry:{prepared.key}", limit) is None:
        log(_log, logging.ERROR, "generation kept failing", user_id=user.user_id)
        _fail(services.store, meeting)
        return "failed"
    raise RetryLater(reason)


def _log_usage(
    user: User, input_tokens: int, output_tokens: int, result: str, cost_usd: float = 0.0
) -> None:
    """One line per generation attempt: the source for usage and cost dashboards."""
    log(
        _log,
        logging.INFO,
        "generation usage",
        user_id=user.user_id,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cost_usd=cost_usd,
        result=result,
    )


def _fail(store: Store, meeting: Meeting) -> None:
    # Cancelled or deleted meanwhile: nothing left to fail.
    with contextlib.suppress(InvalidTransition, NotFound):
        store.set_prep_state(meeting.user_id, meeting.event_id, PrepState.FAILED)


def announce_ready(services: MaterialsDeps, user: User, meeting: Meeting) -> None:
    """Send the one "materials ready" message for this set of materials.

    Delivery lives in functions/notify, which the root hands in
    (`services.send_ready`); when it is not deployed the materials are still
    ready and the sidebar shows them.
    """
    if meeting.prep_state is not PrepState.READY or not meeting.materials_ref:
        return
    # No claim of its own here: `send_ready` claims per channel, and a claim
    # taken here would be lost with it if the instance died before sending.
    send_ready = services.send_ready
    if send_ready is None:
        log(_log, logging.WARNING, "ready notification unavailable", user_id=user.user_id)
        return
    try:
        send_ready(user, meeting)
    except Exception as exc:
        log(_log, logging.WARNING, "ready message not sent", error=type(exc).__name__)
        raise RetryLater("ready message not sent") from None
