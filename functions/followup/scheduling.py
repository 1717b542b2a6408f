"""When the follow-up question is asked: a task at the meeting's end, never a poll.

The task is created by the sync, in the same sweep and under the same
horizon as the prep tasks (`functions.sync.engine`): a meeting whose start is
within the prep horizon (two days) gets its follow-up task, scheduled
`FOLLOWUP_DELAY` after its end. Two days plus any meeting's length stays far
inside Cloud Tasks' 30-day limit; a meeting further out gets its task from a
later sync, when it comes near (the stored sweep covers what no listing
returns). The task is named after the event, its version and its end, so:

- a moved meeting (new version, new end) gets a new task, and the old one
  finds the meeting's end changed and does nothing; a change that did not
  move it (a guest's reply, Meet attaching its notes after the meeting, both
  new etags) leaves the task in force, since no later task would come;
- a re-created task (every sync, every retry) is the same task.

Only what the user wanted at sync time is scheduled (follow-ups on, a type
they follow up); the task checks everything again when it runs, so a later
"off", a cancellation or a decline sends nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from functions.delegation.keys import is_delegated
from functions.domain.followups import FollowupMode
from functions.domain.meetings import EventStatus, Meeting
from functions.domain.prep_state import PrepState
from functions.domain.users import User
from functions.store.port import MAX_BATCH, Store
from functions.tasks.port import MAX_SCHEDULE_AHEAD, Task, task_name

FOLLOWUP_PATH = "/tasks/followup"
#: The prep queue delivers it: same retries and backoff as the other notifications.
FOLLOWUP_QUEUE = "prep"
#: "Shortly after": late enough that a meeting running over has ended.
FOLLOWUP_DELAY = timedelta(minutes=5)
#: Past this after the meeting, the question is stale: nobody remembers the details.
FOLLOWUP_EXPIRY = timedelta(days=3)
#: A full sweep looks back this far for meetings still running (all-day events get none).
LONGEST_MEETING = timedelta(days=1)


def followup_at(meeting: Meeting) -> datetime:
    return meeting.end + FOLLOWUP_DELAY


def wants_followup(user: User, meeting: Meeting) -> bool:
    """The user follows up meetings of this type, and this one happened for them.

    Only meetings on the user's own calendar: one synced from an executive's
    (assistant mode) was the executive's meeting, and the assistant who
    prepared it was not necessarily there to say what came out of it.
    """
    prefs = user.preferences
    return (
        prefs.followup_mode is not FollowupMode.OFF
        and not is_delegated(meeting)
        and meeting.meeting_type in prefs.followup_types
        and meeting.skip_reason is None
        and meeting.status is not EventStatus.CANCELLED
        and meeting.prep_state is not PrepState.CANCELLED
        and not meeting.all_day
    )


def followup_task_due(user: User, meeting: Meeting, now: datetime, horizon: timedelta) -> bool:
    """Whether the meeting's follow-up task belongs in the queue at `now`.

    Only while its time is ahead: once run, a task's name can be created again
    (Cloud Tasks frees it about an hour later), and a sweep must not ask twice
    about a meeting that ended unprepared.
    """
    at = followup_at(meeting)
    asked = meeting.followup is not None and meeting.followup.asked_at is not None
    return (
        not asked
        and wants_followup(user, meeting)
        and meeting.start < now + horizon
        and now < at
        and at - now < MAX_SCHEDULE_AHEAD
    )


def followup_task(meeting: Meeting) -> Task:
    at = followup_at(meeting).astimezone(UTC).isoformat()
    return Task(
        queue=FOLLOWUP_QUEUE,
        name=task_name("followup", meeting.user_id, meeting.event_id, meeting.version, at),
        path=FOLLOWUP_PATH,
        payload={
            "user_id": meeting.user_id,
            "event_id": meeting.event_id,
            "version": meeting.version,
            "at": at,
        },
        schedule_at=followup_at(meeting),
    )


def deferred_followup_task(
    user_id: str, event_id: str, version: str, until: datetime, *, due: datetime | None = None
) -> Task:
    """The same follow-up after quiet hours; named after that instant (every replay of
    the deferring task asks for this very one). `due` is the follow-up time the first
    task was for, kept so a later edit of the event that did not move it is not taken
    for a move (`functions.followup.task`)."""
    at = until.astimezone(UTC).isoformat()
    payload = {"user_id": user_id, "event_id": event_id, "version": version, "not_before": at}
    if due is not None:
        payload["at"] = due.astimezone(UTC).isoformat()
    return Task(
        queue=FOLLOWUP_QUEUE,
        name=task_name("followup", user_id, event_id, version, at),
        path=FOLLOWUP_PATH,
        payload=payload,
        schedule_at=until,
    )


def stored_followups_due(
    store: Store,
    user: User,
    calendar_id: str,
    now: datetime,
    horizon: timedelta,
    *,
    sweep_from: datetime | None,
) -> list[Meeting]:
    """Stored meetings of `calendar_id` starting in [sweep_from, now + horizon) that are due.

    `sweep_from` None looks back by `LONGEST_MEETING`, which covers every
    meeting that has not ended yet. One range read, and none at all for a user with follow-ups off.
    """
    if user.preferences.followup_mode is FollowupMode.OFF:
        return []
    start = sweep_from or now - LONGEST_MEETING
    end = now + horizon
    found: dict[str, Meeting] = {}
    while start < end:
        batch = store.list_meetings(
            user.user_id, start_from=start, start_before=end, limit=MAX_BATCH
        )
        fresh = [m for m in batch if m.event_id not in found]
        found.update((m.event_id, m) for m in fresh)
        if len(batch) < MAX_BATCH or not fresh:
            break
        start = batch[-1].start
    return [
        m
        for m in found.values()
        if m.calendar_id == calendar_id and followup_task_due(user, m, now, horizon)
    ]


def due_among(
    user: User, meetings: Iterable[Meeting], now: datetime, horizon: timedelta
) -> list[Meeting]:
    return [m for m in meetings if followup_task_due(user, m, now, horizon)]
