"""Queue materials generation for one meeting, safely under double clicks and retries.

The sidebar button, the Chat button and auto-prep all come through here, so
"Generate prep" means the same thing everywhere: the task is named after the
meeting's version and current materials, so a second click (or a retried
request) finds the same task and queues nothing new, while "Regenerate" on a
ready meeting gets a fresh name.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from functions.domain.meetings import Meeting
from functions.domain.prep_state import InvalidTransition, PrepState, can_advance
from functions.logs import log
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
    meeting: Meeting, *, attempt: str = "", schedule_at: datetime | None = None
) -> Task:
    """The generation task; `attempt` separates deliberate retries of the same content.

    Cloud Tasks refuses a task name for about an hour after a task of that name
    ran, so "Try again" after a failure needs a name of its own.
    """
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
        payload={
            "user_id": meeting.user_id,
            "event_id": meeting.event_id,
            "version": meeting.version,
        },
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


def queue_generation(
    store: Store, tasks: TaskQueue, meeting: Meeting, *, now: datetime | None = None
) -> Meeting:
    """Queue generation and mark the meeting `generating`; returns the stored meeting.

    Already generating: nothing is queued again (idempotent). The task is
    created before the state moves, so a crash in between leaves a queued task
    (which moves the state itself) rather than a meeting stuck in `generating`.
    The state then moves only if nobody moved it meanwhile: had the task already
    finished (`ready`), moving back to `generating` would strand the meeting.
    A retry after `failed` gets a fresh task name per minute.
    """
    if meeting.prep_state is PrepState.GENERATING:
        return meeting
    if not can_advance(meeting.prep_state, PrepState.GENERATING):
        raise CannotGenerate(f"prep cannot start from {meeting.prep_state.value}")
    attempt = ""
    if meeting.prep_state is PrepState.FAILED:
        attempt = str(int((now or datetime.now(UTC)).timestamp() // 60))
    created = tasks.enqueue(generation_task(meeting, attempt=attempt))
    seen = meeting.prep_state

    def start(current: Meeting) -> Meeting:
        if current.prep_state is not seen:
            raise _Moved
        return current.with_prep_state(PrepState.GENERATING)

    try:
        updated = store.update_meeting(meeting.user_id, meeting.event_id, start)
    except (_Moved, InvalidTransition):
        # A concurrent click or the task itself moved it first; that state stands.
        current = store.get_meeting(meeting.user_id, meeting.event_id)
        return current or meeting
    log(_log, logging.INFO, "generation queued", user_id=meeting.user_id, created=created)
    return updated
