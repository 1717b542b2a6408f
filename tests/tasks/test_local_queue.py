"""The local task queue keeps Cloud Tasks' promises: dedupe, schedule, backoff, attempts, deadline.

Delivery is driven explicitly (`run_due`, `drain`) under a FixedClock, so
every test is deterministic; the one exception is the deadline, which is a
real wait by nature (a blocked handler, released at the end of the test).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from functions.domain.clock import FixedClock
from functions.tasks.local_queue import (
    Delivery,
    LocalTaskQueue,
    Outcome,
    RetryPolicy,
)
from functions.tasks.port import MAX_SCHEDULE_AHEAD, ScheduleTooFar, Task

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@dataclass
class Script:
    """A fake handler: answers with the queued statuses (200 once they run out)."""

    statuses: list[int | Exception] = field(default_factory=list)
    seen: list[Delivery] = field(default_factory=list)

    def __call__(self, delivery: Delivery) -> int:
        self.seen.append(delivery)
        if self.statuses:
            answer = self.statuses.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer
        return 200


def _task(name: str = "t-1", *, at: datetime | None = None, queue: str = "q") -> Task:
    return Task(queue, name, "/tasks/x", {"n": name}, schedule_at=at)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


def _queue(script: Script, clock: FixedClock, **kwargs: object) -> LocalTaskQueue:
    return LocalTaskQueue(script, clock=clock, token_source=lambda: "signed-token", **kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------- dedupe


def test_the_same_name_is_enqueued_once_while_pending(clock: FixedClock) -> None:
    queue = _queue(Script(), clock)
    assert queue.enqueue(_task()) is True
    assert queue.enqueue(_task()) is False
    assert queue.run_due() == 1
    assert queue.outcome("t-1") is Outcome.SUCCEEDED


def test_a_finished_name_is_remembered_for_the_window_then_forgotten(clock: FixedClock) -> None:
    script = Script()
    queue = _queue(script, clock, dedupe_window=timedelta(hours=1))
    queue.enqueue(_task())
    queue.run_due()

    clock.advance(timedelta(minutes=59))
    assert queue.enqueue(_task()) is False
    clock.advance(timedelta(minutes=1))
    assert queue.enqueue(_task()) is True
    queue.run_due()
    assert len(script.seen) == 2


def test_names_are_per_queue(clock: FixedClock) -> None:
    queue = _queue(Script(), clock)
    assert queue.enqueue(_task(queue="a"))
    assert queue.enqueue(_task(queue="b"))
    assert queue.run_due() == 2


def test_enqueue_is_safe_from_many_threads(clock: FixedClock) -> None:
    queue = _queue(Script(), clock)
    results: list[bool] = []
    lock = threading.Lock()

    def hammer() -> None:
        for i in range(50):
            created = queue.enqueue(_task(f"t-{i}"))
            with lock:
                results.append(created)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 50
    assert queue.drain() == 50


# ---------------------------------------------------------------- schedule


def test_a_task_does_not_run_before_its_schedule(clock: FixedClock) -> None:
    script = Script()
    queue = _queue(script, clock)
    queue.enqueue(_task("later", at=T0 + timedelta(minutes=10)))
    queue.enqueue(_task("now"))

    assert queue.run_due() == 1
    assert [d.headers["X-CloudTasks-TaskName"] for d in script.seen] == ["now"]
    assert queue.next_due() == T0 + timedelta(minutes=10)

    clock.advance(timedelta(minutes=9, seconds=59))
    assert queue.run_due() == 0
    clock.advance(timedelta(seconds=1))
    assert queue.run_due() == 1
    assert queue.outcome("later") is Outcome.SUCCEEDED


def test_a_schedule_more_than_720_hours_ahead_is_refused_as_cloud_tasks_does(
    clock: FixedClock,
) -> None:
    queue = _queue(Script(), clock)
    assert timedelta(days=30) == MAX_SCHEDULE_AHEAD

    with pytest.raises(ScheduleTooFar):
        queue.enqueue(_task("far", at=T0 + timedelta(hours=720, seconds=1)))
    assert queue.pending() == []
    # Exactly at the limit is still accepted, and the limit follows the queue's clock.
    assert queue.enqueue(_task("edge", at=T0 + timedelta(hours=720))) is True
    clock.advance(timedelta(days=1))
    assert queue.enqueue(_task("far", at=T0 + timedelta(hours=720, seconds=1))) is True


def test_due_tasks_run_in_schedule_order(clock: FixedClock) -> None:
    script = Script()
    queue = _queue(script, clock)
    for name, minutes in [("c", 3), ("a", 1), ("b", 2)]:
        queue.enqueue(_task(name, at=T0 + timedelta(minutes=minutes)))
    assert queue.run_due(T0 + timedelta(minutes=5)) == 3
    assert [d.headers["X-CloudTasks-TaskName"] for d in script.seen] == ["a", "b", "c"]


def test_work_enqueued_by_a_handler_runs_in_the_same_pass(clock: FixedClock) -> None:
    """A fan-out enqueues per-user tasks while it is being delivered."""
    queue: LocalTaskQueue

    def fan_out(delivery: Delivery) -> int:
        if delivery.headers["X-CloudTasks-TaskName"] == "fanout":
            for i in range(3):
                queue.enqueue(_task(f"user-{i}"))
        return 200

    queue = LocalTaskQueue(fan_out, clock=clock)
    queue.enqueue(_task("fanout"))
    assert queue.run_due() == 4
    assert queue.pending() == []


# ---------------------------------------------------------------- retries


def test_failures_back_off_exponentially(clock: FixedClock) -> None:
    script = Script([503, 500, 429])
    queue = _queue(
        script, clock, retry=RetryPolicy(max_attempts=5, min_backoff=timedelta(seconds=1))
    )
    queue.enqueue(_task())

    assert queue.run_due() == 1  # 503 at T0
    for wait in (1, 2, 4):
        clock.advance(timedelta(seconds=wait) - timedelta(milliseconds=1))
        assert queue.run_due() == 0, "retried before its backoff elapsed"
        clock.advance(timedelta(milliseconds=1))
        assert queue.run_due() == 1

    attempts = queue.attempts("t-1")
    assert [a.status for a in attempts] == [503, 500, 429, 200]
    assert [a.at - T0 for a in attempts] == [timedelta(seconds=s) for s in (0, 1, 3, 7)]
    assert [d.headers["X-CloudTasks-TaskRetryCount"] for d in script.seen] == ["0", "1", "2", "3"]
    assert queue.outcome("t-1") is Outcome.SUCCEEDED


def test_backoff_is_capped() -> None:
    policy = RetryPolicy(min_backoff=timedelta(seconds=1), max_backoff=timedelta(seconds=10))
    assert [policy.backoff(n).total_seconds() for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]


def test_it_gives_up_after_the_maximum_attempts(clock: FixedClock) -> None:
    script = Script([500] * 10)
    queue = _queue(script, clock, retry=RetryPolicy(max_attempts=3))
    queue.enqueue(_task())

    assert queue.drain() == 3

    assert len(script.seen) == 3
    assert queue.outcome("t-1") is Outcome.GAVE_UP
    assert queue.pending() == []
    assert queue.enqueue(_task()) is False  # the name stays taken, as in Cloud Tasks


def test_a_4xx_is_retried_like_cloud_tasks_does(clock: FixedClock) -> None:
    script = Script([401])
    queue = _queue(script, clock)
    queue.enqueue(_task())
    assert queue.drain() == 2
    assert queue.outcome("t-1") is Outcome.SUCCEEDED


def test_an_exception_is_a_failed_attempt(clock: FixedClock) -> None:
    script = Script([ConnectionResetError("boom")])
    queue = _queue(script, clock)
    queue.enqueue(_task())
    queue.drain()
    first, second = queue.attempts("t-1")
    assert (first.status, first.error) == (None, "ConnectionResetError")
    assert second.succeeded


def test_a_handler_past_its_deadline_is_a_failed_attempt(clock: FixedClock) -> None:
    release = threading.Event()
    calls: list[int] = []

    def slow_then_fast(delivery: Delivery) -> int:
        calls.append(1)
        if len(calls) == 1:
            release.wait(30)
        return 200

    # Generous enough that the fast second call cannot overrun on a loaded CI
    # machine; the first call blocks far longer than this.
    queue = LocalTaskQueue(slow_then_fast, clock=clock, deadline=timedelta(milliseconds=500))
    try:
        queue.enqueue(_task())
        queue.drain()
        first, second = queue.attempts("t-1")
        assert (first.status, first.error) == (None, "deadline_exceeded")
        assert second.succeeded
    finally:
        release.set()


# ---------------------------------------------------------------- what is sent


def test_each_attempt_carries_the_token_and_cloud_tasks_headers(clock: FixedClock) -> None:
    script = Script()
    queue = _queue(script, clock)
    when = T0 + timedelta(seconds=30)
    queue.enqueue(Task("prep", "p-1", "/tasks/prep", {"b": 2, "a": 1}, schedule_at=when))
    queue.run_due(when)

    [sent] = script.seen
    assert sent.path == "/tasks/prep"
    assert json.loads(sent.body) == {"a": 1, "b": 2}
    assert sent.headers["Authorization"] == "Bearer signed-token"
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.headers["X-CloudTasks-QueueName"] == "prep"
    assert sent.headers["X-CloudTasks-TaskName"] == "p-1"
    assert float(sent.headers["X-CloudTasks-TaskETA"]) == when.timestamp()


def test_drain_refuses_to_spin_forever(clock: FixedClock) -> None:
    queue: LocalTaskQueue
    counter = iter(range(10_000))

    def breeder(delivery: Delivery) -> int:
        queue.enqueue(_task(f"child-{next(counter)}"))
        return 200

    queue = LocalTaskQueue(breeder, clock=clock)
    queue.enqueue(_task())
    with pytest.raises(RuntimeError, match="did not settle"):
        queue.drain(max_attempts=20)


# ---------------------------------------------------------------- background worker


@pytest.fixture
def worker_queue() -> Iterator[tuple[LocalTaskQueue, threading.Event]]:
    from functions.domain.clock import SystemClock

    done = threading.Event()

    def deliver(delivery: Delivery) -> int:
        done.set()
        return 200

    queue = LocalTaskQueue(deliver, clock=SystemClock())
    queue.start()
    try:
        yield queue, done
    finally:
        queue.stop()


def test_the_worker_delivers_in_the_background(
    worker_queue: tuple[LocalTaskQueue, threading.Event],
) -> None:
    queue, done = worker_queue
    queue.enqueue(_task())
    assert done.wait(10), "the worker did not deliver"
    # The handler has returned, but the worker records the outcome just after;
    # on a loaded machine that can take a while, so poll with a real sleep
    # (``done`` is already set, so waiting on it would not pause at all).
    deadline = time.monotonic() + 10
    while queue.outcome("t-1") is not Outcome.SUCCEEDED and time.monotonic() < deadline:
        time.sleep(0.01)
    assert queue.outcome("t-1") is Outcome.SUCCEEDED
