"""Clock skew between the queue and the instance, on the nights the clocks change.

The reminder's trigger falls inside the user's quiet hours (22:00-07:00
Berlin) on the night of a DST change, so the prep task defers itself to the
window's end, computed in the user's zone. The local Cloud Tasks stand-in
keeps its own clock; the instance that handles the task runs `skew` ahead of
or behind it. tests/notify/test_quiet_hours.py proves the deferral instant
around every DST change (as a property), tests/workflow/test_prep_task.py
that a deferred task arriving early asks to be retried; here the whole chain
runs: sync, trigger, deferral, the skewed early delivery and its retries.

Whatever the skew: exactly one email and one Chat reminder, handed over only
when the instance's own clock says the quiet hours are over, and a card that
shows the meeting at its correct local (DST-adjusted) time.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, time, timedelta

import pytest

from functions.domain.clock import Clock
from functions.domain.prep_state import PrepState
from functions.domain.users import Preferences, QuietHours
from functions.notify.outbox_page import outbox_of
from functions.prep.queueing import PREP_PATH
from functions.tasks.local_queue import Outcome
from tests.faults.conftest import Stack, at_berlin

QUIET = QuietHours(time(22, 0), time(7, 0))


class SkewedClock:
    """The instance's clock: the queue's, off by `offset`."""

    def __init__(self, base: Clock, offset: timedelta) -> None:
        self.base = base
        self.offset = offset

    def now(self) -> datetime:
        return self.base.now() + self.offset


CASES = {
    # Spring forward (02:00 CET -> 03:00 CEST): a 1:1 on Sunday 23:30 CEST, reminder due
    # Saturday 22:30 CET, in quiet hours; the night ends at 07:00 CEST.
    "spring": (at_berlin(2026, 3, 29, 23, 30), at_berlin(2026, 3, 29, 7), "11:30\u202fPM"),
    # Fall back (03:00 CEST -> 02:00 CET): a 1:1 on Sunday 23:30 CET, reminder due
    # Sunday 00:30 CEST, in quiet hours; the night ends at 07:00 CET.
    "autumn": (at_berlin(2026, 10, 25, 23, 30), at_berlin(2026, 10, 25, 7), "11:30\u202fPM"),
}


@pytest.mark.parametrize(
    ("night", "skew", "attempts"),
    [
        ("spring", timedelta(seconds=-2), 5),  # the default retry policy is enough
        ("spring", timedelta(seconds=-90), 20),  # with the many attempts docs/workflow.md asks
        ("spring", timedelta(seconds=90), 5),
        ("autumn", timedelta(seconds=-2), 5),
        ("autumn", timedelta(seconds=90), 5),
        ("autumn", timedelta(seconds=-90), 20),
    ],
)
def test_deferred_reminder_on_a_dst_night_with_a_skewed_instance_clock(
    stack: Stack, night: str, skew: timedelta, attempts: int
) -> None:
    start, night_ends, shown = CASES[night]
    trigger = start - timedelta(hours=24)
    stack.set_time(trigger - timedelta(hours=20))
    # Every day is a working day here: the reminder must fall on the DST night itself.
    stack.add_user(preferences=Preferences(quiet_hours=QUIET, working_days=frozenset(range(7))))
    stack.put_event("late-1on1", start, "1:1 with Sam")
    stack.queue.retry = dataclasses.replace(stack.queue.retry, max_attempts=attempts)
    instance = SkewedClock(stack.clock, skew)
    stack.swap(clock=instance)
    stack.scheduled_sync()
    stack.run_for(timedelta(seconds=5))
    meeting = stack.meeting("late-1on1")
    assert meeting.prep_trigger_at == trigger  # 24 h before, in absolute time
    assert shown in stack.card_text("late-1on1")  # the start in the user's wall-clock time

    # Through the night: the reminder fires, defers to the night's end, arrives (maybe
    # early, by the instance's clock) and is retried until the instance agrees.
    stack.set_time(trigger - timedelta(minutes=1))
    stack.run_for(night_ends - trigger + timedelta(minutes=10), step=timedelta(seconds=1))
    assert len(stack.emails()) == 1 and len(stack.chats()) == 1
    assert stack.meeting("late-1on1").prep_state is PrepState.NOTIFIED
    # The reminder went out through its deferred copy, once the instance agreed it was day.
    (deferred,) = [
        f
        for f in stack.queue.finished()
        if f.task.path == PREP_PATH and "not_before" in f.task.payload
    ]
    assert deferred.outcome is Outcome.SUCCEEDED
    assert deferred.task.schedule_at == night_ends
    statuses = stack.attempts(deferred.task)
    if skew < timedelta(0):  # delivered before the instance's clock reached it: retried
        assert statuses[0] == 503 and statuses[-1] == 200 and len(statuses) > 1
    else:
        assert statuses == [200]
    outbox = outbox_of(stack.services)
    assert outbox is not None
    assert all(e.created_at >= night_ends for e in outbox.entries())  # by the instance clock
    # Replays of every prep task, even now, send nothing more.
    for task in stack.delivered(PREP_PATH) * 2:
        stack.replay(task)
    assert len(stack.emails()) == 1 and len(stack.chats()) == 1
    assert "Reminder sent" in stack.card_text("late-1on1")
