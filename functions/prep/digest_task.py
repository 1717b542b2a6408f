"""The digest task: once a day, at the user's chosen time, one message listing what needs prep.

`POST /tasks/digest` with `{user_id, date, at}`: the digest of the window
that starts on local `date` at wall-clock `at` (see `functions.notify.digest`).
Named per user, date and time, so every way it gets requested (the fan-out's
safety net, the previous digest's chain, a settings change) asks for the same
task, and a changed digest time gets a task of its own (the old one finds it
is stale). Exactly once rests on claims, not names: each channel sends under
`digest:{date}:{channel}`, so duplicates, retries and a stale task that runs
anyway send nothing twice.

Order of effects: the listed meetings move `scheduled -> notified`
(compare-and-set on their version) *before* the sends, as in the prep task;
the listing rule accepts both states, so a retry after a failed send lists
the same meetings and only re-sends the channel that failed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from functions.domain.classification import Classifier
from functions.domain.meetings import Meeting
from functions.domain.prep_state import InvalidTransition, PrepState
from functions.domain.users import User
from functions.logs import log
from functions.notify.delivery import Outcome, Outgoing, deliver_outgoing
from functions.notify.digest import (
    Window,
    is_digest_user,
    next_window,
    select,
    user_zone,
    window,
)
from functions.notify.digest_message import (
    build_digest,
    build_digest_email,
    digest_chat_message,
)
from functions.notify.quiet_hours import quiet_until
from functions.prep.deps import PrepDeps
from functions.prep.queueing import PREP_QUEUE
from functions.store.port import Conflict, NotFound, Store
from functions.tasks.endpoint import BadTask, RetryLater
from functions.tasks.port import Task, TaskQueue, task_name

_log = logging.getLogger(__name__)

DIGEST_PATH = "/tasks/digest"
DIGEST_QUEUE = PREP_QUEUE
#: The fan-out (every sync interval) makes sure the next digest's task exists once it
#: is this close; the digest itself chains the next day's, so this is the safety net.
LOOKAHEAD = timedelta(hours=2)
#: A task this early (clock skew between Cloud Tasks and us) is retried, not re-queued.
SKEW = timedelta(minutes=1)
#: Meetings read per store page.
_PAGE = 500
_MAX_ID = 1024

Result = dict[str, Any]


def _hm(at: time) -> str:
    return at.strftime("%H:%M")


def digest_task(
    user_id: str, day: date, at: time, schedule_at: datetime, *, deferred: bool = False
) -> Task:
    """The digest of local `day` at `at`; `deferred` copies are named after their new time."""
    parts = [user_id, day.isoformat(), _hm(at)]
    payload: dict[str, Any] = {"user_id": user_id, "date": day.isoformat(), "at": _hm(at)}
    if deferred:
        at_utc = schedule_at.astimezone(UTC).isoformat()
        parts.append(at_utc)
        payload["not_before"] = at_utc
    return Task(
        queue=DIGEST_QUEUE,
        name=task_name("digest", *parts),
        path=DIGEST_PATH,
        payload=payload,
        schedule_at=schedule_at,
    )


def task_for_window(user_id: str, win: Window, at: time) -> Task:
    return digest_task(user_id, win.day, at, win.starts)


def next_digest_task(user: User, now: datetime) -> Task:
    at = user.preferences.digest_time
    return task_for_window(user.user_id, next_window(now, at, user_zone(user)), at)


def ensure_next_digest(
    tasks: TaskQueue, user: User, now: datetime, *, within: timedelta | None = None
) -> bool | None:
    """Make sure the user's next digest task exists (deduplicated by name).

    None when there is nothing to do: not a digest user, or (with `within`)
    the next digest is further away than that.
    """
    if not is_digest_user(user):
        return None
    task = next_digest_task(user, now)
    if within is not None and task.schedule_at is not None and task.schedule_at - now > within:
        return None
    return tasks.enqueue(task)


@dataclass(frozen=True, slots=True)
class DigestJob:
    user_id: str
    day: date
    at: time
    not_before: datetime | None = None

    @classmethod
    def parse(cls, payload: Mapping[str, Any]) -> DigestJob:
        user_id = payload.get("user_id")
        if not isinstance(user_id, str) or not 0 < len(user_id) <= _MAX_ID:
            raise BadTask("user_id must be a non-empty string")
        try:
            day = date.fromisoformat(str(payload.get("date")))
            at = time.fromisoformat(str(payload.get("at")))
        except ValueError:
            raise BadTask("date must be YYYY-MM-DD and at HH:MM") from None
        not_before = None
        if payload.get("not_before") is not None:
            try:
                not_before = datetime.fromisoformat(str(payload["not_before"]))
            except ValueError:
                raise BadTask("not_before is not an ISO timestamp") from None
            if not_before.tzinfo is None:
                raise BadTask("not_before must carry a UTC offset")
        return cls(user_id, day, at, not_before)


def _longest_lead(classifier: Classifier, user: User) -> timedelta:
    """No trigger lies further before its meeting than the longest lead time in use."""
    rules = classifier.rules
    hours = [r.prep_hours_before for r in (rules.get(n) for n in rules.type_names) if r]
    hours += [rules.default.prep_hours_before, *user.preferences.lead_hours.values()]
    return timedelta(hours=max(hours))


def _listed(services: PrepDeps, user: User, win: Window, now: datetime) -> list[Meeting]:
    """One paged read of the meetings that can qualify, then the digest rule.

    A meeting qualifies by its start (within the window) or by its trigger
    (within the window); a trigger is never more than the longest lead time
    before its meeting, so meetings starting up to that long after the window
    cover both, whatever their prep state (a retry must see what the first
    attempt already moved to `notified`).
    """
    store = services.store
    until = win.ends + _longest_lead(services.classifier, user)
    found: dict[str, Meeting] = {}
    start_from = max(now, win.starts)
    while True:
        batch = store.list_meetings(
            user.user_id, start_from=start_from, start_before=until, limit=_PAGE
        )
        fresh = [m for m in batch if m.event_id not in found]
        found.update((m.event_id, m) for m in fresh)
        if len(batch) < _PAGE or not fresh:
            break
        start_from = batch[-1].start
    meetings = list(found.values())
    return select(meetings, meetings, win=win, now=now, prefs=user.preferences)


def _announce(store: Store, meetings: list[Meeting]) -> int:
    """Move what the digest lists from scheduled to notified; returns how many moved."""
    moved = 0
    for m in meetings:
        if m.prep_state is not PrepState.SCHEDULED:
            continue
        try:
            store.set_prep_state(
                m.user_id, m.event_id, PrepState.NOTIFIED, expected_version=m.version
            )
            moved += 1
        except (NotFound, Conflict, InvalidTransition):
            # Moved, deleted or acted on meanwhile: the listing is taken again below.
            continue
    return moved


def _chain(services: PrepDeps, user: User, job: DigestJob) -> None:
    """Queue the next window's digest now, so a missed scheduler run cannot lose it."""
    at = user.preferences.digest_time
    nxt = window(job.day + timedelta(days=1), at, user_zone(user))
    try:
        services.tasks.enqueue(task_for_window(user.user_id, nxt, at))
    except Exception as exc:  # the fan-out's safety net creates it as well
        log(_log, logging.WARNING, "next digest not queued", error=type(exc).__name__)


def outgoing_digest(
    services: PrepDeps, user: User, win: Window, meetings: list[Meeting]
) -> Outgoing:
    digest = build_digest(user, win, meetings, label_of=services.classifier.rules.label_of)
    return Outgoing(
        user=user,
        kind="digest",
        email=lambda name, at, mid: build_digest_email(
            digest, sender_name=name, sent_at=at, message_id=mid
        ),
        chat=lambda: digest_chat_message(digest),
    )


def run_digest(services: PrepDeps, job: DigestJob) -> Result:
    now = services.clock.now()
    if job.not_before is not None and now < job.not_before:
        raise RetryLater("deferred digest ran before its time")
    user = services.store.get_user(job.user_id)
    if user is None:
        return {"outcome": "no_user"}
    if not is_digest_user(user):
        return {"outcome": "not_digest"}
    prefs = user.preferences
    if prefs.digest_time != job.at:
        # The user picked another time: that time has its own task (made sure of here).
        ensure_next_digest(services.tasks, user, now)
        return {"outcome": "stale"}
    win = window(job.day, job.at, user_zone(user))
    if now < win.starts:
        if win.starts - now <= SKEW:
            raise RetryLater("digest ran before its time")
        # The user's zone changed since the task was queued: run at the new send time.
        created = services.tasks.enqueue(
            digest_task(user.user_id, job.day, job.at, win.starts, deferred=True)
        )
        return {"outcome": "deferred", "until": win.starts.isoformat(), "created": created}
    _chain(services, user, job)
    if now >= win.ends:
        return {"outcome": "expired"}
    until = quiet_until(now, prefs.quiet_hours, user.time_zone)
    if until is not None:
        if until >= win.ends:
            return {"outcome": "quiet_until_next"}
        created = services.tasks.enqueue(
            digest_task(user.user_id, job.day, job.at, until, deferred=True)
        )
        return {"outcome": "deferred", "until": until.isoformat(), "created": created}

    listed = _listed(services, user, win, now)
    if not listed:
        return {"outcome": "empty"}
    moved = _announce(services.store, listed)
    listed = _listed(services, user, win, now)
    if not listed:
        return {"outcome": "empty"}
    report = deliver_outgoing(
        services,
        outgoing_digest(services, user, win, listed),
        claim_prefix=f"digest:{win.day.isoformat()}",
    )
    if report.needs_retry:
        raise RetryLater("a digest channel failed")
    done_now = {Outcome.SENT, Outcome.UNDELIVERABLE} & set(report.outcomes.values())
    return {
        "outcome": "sent" if done_now else "already_sent",
        "items": len(listed),
        "announced": moved,
        "channels": report.as_dict(),
    }


def handle_digest_task(services: PrepDeps, payload: Mapping[str, Any]) -> Result:
    """The `/tasks/digest` handler (wrapped by `task_endpoint` for OIDC and retries)."""
    job = DigestJob.parse(payload)
    result = run_digest(services, job)
    log(
        _log,
        logging.INFO,
        "digest task",
        user_id=job.user_id,
        outcome=result.get("outcome"),
        items=result.get("items"),
    )
    return result
