"""Queue materials generation for one meeting, safely under double clicks and retries.

The sidebar button, the Chat button and auto-prep all come through here, so
"Generate prep" means the same thing everywhere: on a meeting that is
generating or ready it does nothing new, however late the second click
lands, and the task is named after the meeting's version and current
materials, so a retried request finds the same task. "Regenerate" is a
different action (`regenerate=True`): on a ready meeting it gets a fresh
name and new materials. A generation whose worker died is taken over once
its lease (`functions.materials.lease`) is over.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime, timedelta

from functions.domain.meetings import Meeting
from functions.domain.prep_state import InvalidTransition, PrepState, can_advance
from functions.logs import log
from functions.materials.lease import generation_lease
from functions.materials.settings import MaterialsSettings
from functions.store.port import Store
from functions.tasks.port import Task, TaskQueue, task_name

_log = logging.getLogger(__name__)

GENERATE_QUEUE = "generate"
GENERATE_PATH = "/tasks/generate"
PREP_QUEUE = "prep"
PREP_PATH = "/tasks/prep"


class CannotGenerate(ValueError):
    """The meeting is in a state where generation makes no sense (e.g. cancelled)."""


def generation_task(
    meeting: Meeting,
    *,
    attempt: str = "",
    schedule_at: datetime | None = None,
    replaces: str | None = None,
) -> Task:
    """The generation task; `attempt` separates deliberate retries of the same content.

    Cloud Tasks refuses a task name for about an hour after a task of that name
    ran, so "Try again" after a failure (or a takeover of a dead generation)
    needs a name of its own. `replaces` (Regenerate) names the materials the
    task is to replace: a task that runs before the queueing side moved the
    state still finds them `ready`, and must not take that for done.
    """
    payload = {
        "user_id": meeting.user_id,
        "event_id": meeting.event_id,
        "version": meeting.version,
    }
    if replaces:
        payload["replaces"] = replaces
    return Task(
        queue=GENERATE_QUEUE,
        name=task_name(
            "gen",
            meeting.user_id,
            meeting.event_id,
            meeting.version,
            meeting.materials_ref or "",
            attempt,
        ),
        path=GENERATE_PATH,
        payload=payload,
        schedule_at=schedule_at,
    )


def prep_task(meeting: Meeting) -> Task:
    """The task that fires at the meeting's prep trigger time.

    Named after event id, version *and* trigger time: a moved meeting (new
    version) or a new lead time (a type or settings change moves the trigger
    without touching the calendar) gets a new task, and the stale one finds a
    mismatch when it fires and does nothing but make sure the right one exists.
    """
    if meeting.prep_trigger_at is None:
        raise ValueError("a meeting without a trigger time has no prep task")
    trigger = meeting.prep_trigger_at.astimezone(UTC).isoformat()
    return Task(
        queue=PREP_QUEUE,
        name=task_name("prep", meeting.user_id, meeting.event_id, meeting.version, trigger),
        path=PREP_PATH,
        payload={
            "user_id": meeting.user_id,
            "event_id": meeting.event_id,
            "version": meeting.version,
            "trigger_at": trigger,
        },
        schedule_at=meeting.prep_trigger_at,
    )


class _Moved(Exception):
    """The meeting's prep state changed between our read and our write."""


#: States in which the meeting already has its materials.
DONE_STATES = frozenset({PrepState.READY, PrepState.DELIVERED})
#: Used when a caller names no lease: the one the default settings give.
DEFAULT_LEASE = generation_lease(MaterialsSettings())


def queue_generation(
    store: Store,
    tasks: TaskQueue,
    meeting: Meeting,
    *,
    now: datetime | None = None,
    lease: timedelta = DEFAULT_LEASE,
    regenerate: bool = False,
) -> Meeting:
    """Queue generation and mark the meeting `generating`; returns the stored meeting.

    The one guard every "Generate prep" button goes through (sidebar, Chat,
    auto-prep): a meeting already generating within its `lease`, or already
    ready, gets nothing new, however late the second click lands. Only
    `regenerate=True` (the sidebar's "Regenerate", a different action) makes
    new materials for a ready meeting. A generation past its lease is
    presumed dead (its worker was killed): it is taken over with a task of
    its own and the lease starts again.

    The task is created before the state moves, so a crash in between leaves
    a queued task (which moves the state itself) rather than a meeting stuck
    in `generating`. The state then moves only if nobody moved it meanwhile:
    had the task already finished (`ready`), moving back to `generating`
    would strand the meeting. A retry after `failed` or a takeover gets a
    fresh task name per minute.
    """
    now = now or datetime.now(UTC)
    state = meeting.prep_state
    if state is PrepState.GENERATING and not meeting.generation_overdue(now, lease):
        return meeting
    if state in DONE_STATES and not regenerate:
        return meeting
    if state is not PrepState.GENERATING and not can_advance(state, PrepState.GENERATING):
        raise CannotGenerate(f"prep cannot start from {state.value}")
    attempt = ""
    if state in (PrepState.FAILED, PrepState.GENERATING):
        attempt = f"{state.value}-{int(now.timestamp() // 60)}"
    replaces = meeting.materials_ref if state in DONE_STATES else None
    created = tasks.enqueue(generation_task(meeting, attempt=attempt, replaces=replaces))
    seen = (state, meeting.generating_since)

    def start(current: Meeting) -> Meeting:
        if (current.prep_state, current.generating_since) != seen:
            raise _Moved
        if state is not PrepState.GENERATING:
            current = current.with_prep_state(PrepState.GENERATING)
        return dataclasses.replace(current, generating_since=now)

    try:
        updated = store.update_meeting(meeting.user_id, meeting.event_id, start)
    except (_Moved, InvalidTransition):
        # A concurrent click or the task itself moved it first; that state stands.
        current = store.get_meeting(meeting.user_id, meeting.event_id)
        return current or meeting
    log(
        _log,
        logging.INFO,
        "generation queued",
        user_id=meeting.user_id,
        created=created,
        takeover=state is PrepState.GENERATING,
    )
    return updated
