"""The sync's own tasks, and the names that make duplicates free.

Every way a sync gets requested (the scheduler's fan-out, a push ping, a
fresh connection) builds its task here, with a name derived from who and
*when*: the same request within the same time slot always has the same name,
so the queue turns repeats into no-ops instead of double work.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from functions.tasks.port import Task, TaskQueue, task_name

SYNC_QUEUE = "sync"
SYNC_PATH = "/tasks/sync"
FANOUT_PATH = "/tasks/fanout"
PRIMARY = "primary"

#: Push pings within one window collapse into one sync, run when the window closes.
PUSH_WINDOW = timedelta(seconds=30)


def slot_of(now: datetime, interval: timedelta) -> int:
    """The scheduler slot `now` falls in: a repeated scheduler call maps to the same slot."""
    return math.floor(now.timestamp() / interval.total_seconds())


def slot_start(slot: int, interval: timedelta) -> datetime:
    return datetime.fromtimestamp(slot * interval.total_seconds(), UTC)


def scheduled_sync_task(user_id: str, calendar_id: str, slot: int) -> Task:
    """The fan-out's task for one user in one slot."""
    return Task(
        queue=SYNC_QUEUE,
        name=task_name("sync", user_id, calendar_id, f"slot:{slot}"),
        path=SYNC_PATH,
        payload={"user_id": user_id, "calendar_id": calendar_id},
    )


def soon_sync_task(user_id: str, calendar_id: str, now: datetime) -> Task:
    """A sync at the end of the current push window (webhook pings, a fresh connection).

    Scheduled at the window's *end*, not now: a second change inside the
    window is then still seen by the one deduplicated sync, instead of being
    dropped because "a sync for this window already ran".
    """
    window = slot_of(now, PUSH_WINDOW)
    return Task(
        queue=SYNC_QUEUE,
        name=task_name("sync", user_id, calendar_id, f"push:{window}"),
        path=SYNC_PATH,
        payload={"user_id": user_id, "calendar_id": calendar_id},
        schedule_at=slot_start(window + 1, PUSH_WINDOW),
    )


def fanout_continuation_task(slot: int, after: str) -> Task:
    """The rest of a fan-out too large for one request, picked up where it stopped."""
    return Task(
        queue=SYNC_QUEUE,
        name=task_name("fanout", str(slot), after),
        path=FANOUT_PATH,
        payload={"slot": slot, "after": after},
    )


def request_sync(tasks: TaskQueue, user_id: str, now: datetime, calendar_id: str = PRIMARY) -> bool:
    """Ask for a sync of `user_id` soon (deduplicated); for the connect flow and the webhook."""
    return tasks.enqueue(soon_sync_task(user_id, calendar_id, now))
