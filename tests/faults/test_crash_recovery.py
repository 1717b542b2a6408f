"""A crash between the store write and the prep task's creation, recovered by the next sync.

tests/sync/test_sync.py shows the engine's half (the token does not move, so
the retry lists the same changes and creates the missing tasks). Here the
instance dies for real as far as the queue can tell (an exception no handler
catches, so the attempt has no answer), and recovery runs through what
production has: the queue's retry of the same sync task, or when that is
exhausted, the scheduler's next slot. Then the prep tasks fire: each meeting
gets its reminder once, and the card says so.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from functions.domain.prep_state import PrepState
from functions.prep.queueing import PREP_PATH, prep_task
from functions.sync.tasks import SYNC_PATH
from functions.tasks.port import Task, TaskQueue
from tests.faults.conftest import NOW, USER_ID, Stack

EVENTS = 6


class InstanceDied(BaseException):
    """Not an Exception: nothing in the app catches it, like a killed process."""


class DyingQueue(TaskQueue):
    """The real queue, except that the instance dies creating prep tasks while `dying()`.

    The sync creates its prep tasks concurrently, so some may exist before the
    death: the partial state a crash really leaves.
    """

    def __init__(self, inner: TaskQueue, dying: Callable[[], bool]) -> None:
        self.inner = inner
        self.dying = dying

    def enqueue(self, task: Task) -> bool:
        if task.path == PREP_PATH and self.dying():
            raise InstanceDied
        return self.inner.enqueue(task)


def _dies_during(stack: Stack, task: Task, attempts: int) -> Callable[[], bool]:
    """True during the first `attempts` deliveries of `task` (an attempt is logged at its end)."""
    return lambda: len(stack.queue.attempts(task.name)) < attempts


def _seed(stack: Stack) -> list[str]:
    stack.add_user()
    ids = [f"ev{i:02d}" for i in range(EVENTS)]
    for i, event_id in enumerate(ids):
        stack.put_event(event_id, NOW + timedelta(hours=30, minutes=30 * i), "1:1 with Sam")
    return ids


def _each_reminded_once(stack: Stack, ids: list[str]) -> None:
    stack.run_for(timedelta(hours=12), step=timedelta(minutes=1))
    assert len(stack.emails()) == len(stack.chats()) == len(ids)
    delivered = [t.name for t in stack.delivered(PREP_PATH)]
    for event_id in ids:
        meeting = stack.meeting(event_id)
        assert meeting.prep_state is PrepState.NOTIFIED
        assert delivered.count(prep_task(meeting).name) == 1  # the prep task exists once
    assert "Reminder sent" in stack.card_text(ids[0])


@pytest.mark.parametrize("deaths", [1, 3])
def test_the_queues_retry_of_the_sync_creates_the_missing_tasks(stack: Stack, deaths: int) -> None:
    ids = _seed(stack)
    task = stack.scheduled_sync()
    stack.swap(tasks=DyingQueue(stack.queue, _dies_during(stack, task, deaths)))
    stack.queue.run_due()
    # The meetings were written, the token did not move, the attempt got no answer.
    assert len(stack.services.store.get_meetings(USER_ID, ids)) == EVENTS
    state = stack.services.store.get_sync_state(USER_ID, "primary")
    assert state is None or state.sync_token is None
    assert stack.attempts(task)[-1] is None
    stack.run_for(timedelta(minutes=5))
    statuses = stack.attempts(task)
    assert statuses[-1] == 200 and all(s is None for s in statuses[:-1])
    assert len(statuses) == deaths + 1
    _each_reminded_once(stack, ids)


def test_the_next_slots_sync_recovers_when_the_queue_gave_up(stack: Stack) -> None:
    ids = _seed(stack)
    task = stack.scheduled_sync()
    # Every attempt of this task dies (the queue gives up after five).
    stack.swap(tasks=DyingQueue(stack.queue, _dies_during(stack, task, 5)))
    stack.run_for(timedelta(minutes=10))
    assert stack.attempts(task) == [None] * 5
    assert stack.delivered(SYNC_PATH) == []
    stored = stack.services.store.get_meetings(USER_ID, ids)
    assert len(stored) == EVENTS  # stored, not lost, and for now without their tasks
    # The scheduler's next slot: the same listing again (the token never moved).
    stack.advance(timedelta(minutes=15))
    stack.scheduled_sync()
    stack.run_for(timedelta(minutes=1))
    assert stack.services.store.get_meetings(USER_ID, ids) == stored  # nothing rewritten
    _each_reminded_once(stack, ids)
