"""The local queue survives a restart: schedules, retries with their counts, names.

A "restart" here is a new `LocalTaskQueue` on the same SQLite file, with the
old one abandoned mid-flight (nothing is closed or flushed: a killed process
runs no cleanup). tests/faults/test_sigkill.py does the same to the real
local server with SIGKILL.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from functions.bootstrap import Bootstrap
from functions.domain.clock import FixedClock
from functions.tasks.local_journal import TaskJournal
from functions.tasks.local_queue import Delivery, LocalTaskQueue, Outcome, RetryPolicy
from functions.tasks.port import Task
from tests.support.roots import make_services

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


class Recorder:
    def __init__(self, answer: Callable[[Delivery], int] = lambda _: 200) -> None:
        self.answer = answer
        self.seen: list[Delivery] = []

    def __call__(self, delivery: Delivery) -> int:
        self.seen.append(delivery)
        return self.answer(delivery)


class Killed(BaseException):
    """The process dies inside the handler: no answer, no cleanup."""


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


def _task(name: str = "t-1", at: datetime | None = None) -> Task:
    return Task("q", name, "/tasks/x", {"n": name}, schedule_at=at)


def _queue(db: Path, clock: FixedClock, deliver: Recorder, **kw: object) -> LocalTaskQueue:
    return LocalTaskQueue(deliver, clock=clock, journal=TaskJournal(db), **kw)  # type: ignore[arg-type]


class _Dying(LocalTaskQueue):
    """The process dies inside the delivery: the queue's own bookkeeping after it never runs."""

    def _call(self, delivery: Delivery, name: str) -> tuple[int | None, str | None]:
        raise Killed


def _dying(db: Path, clock: FixedClock, **kw: object) -> LocalTaskQueue:
    return _Dying(Recorder(), clock=clock, journal=TaskJournal(db), **kw)  # type: ignore[arg-type]


def test_a_scheduled_task_is_delivered_once_after_a_restart(
    tmp_path: Path, clock: FixedClock
) -> None:
    db = tmp_path / "prep.db"
    first = Recorder()
    _queue(db, clock, first).enqueue(_task(at=T0 + timedelta(hours=5)))
    # Restarted before it was due; it comes due while the new process runs.
    again = Recorder()
    queue = _queue(db, clock, again)
    assert [t.name for t in queue.pending()] == ["t-1"]
    assert queue.run_due() == 0
    clock.advance(timedelta(hours=5))
    assert queue.run_due() == 1 and len(again.seen) == 1 and first.seen == []
    # A third start finds it finished, and its name still taken.
    third = _queue(db, clock, Recorder())
    assert third.pending() == [] and third.enqueue(_task()) is False


def test_a_task_due_while_the_server_was_down_runs_at_start(
    tmp_path: Path, clock: FixedClock
) -> None:
    db = tmp_path / "prep.db"
    _queue(db, clock, Recorder()).enqueue(_task(at=T0 + timedelta(minutes=1)))
    clock.advance(timedelta(hours=2))
    deliver = Recorder()
    assert _queue(db, clock, deliver).run_due() == 1 and len(deliver.seen) == 1


def test_a_retry_keeps_its_attempt_count_and_backoff(tmp_path: Path, clock: FixedClock) -> None:
    db = tmp_path / "prep.db"
    policy = RetryPolicy(max_attempts=3, min_backoff=timedelta(seconds=10))
    failing = Recorder(lambda _: 503)
    queue = _queue(db, clock, failing, retry=policy)
    queue.enqueue(_task())
    queue.run_due()
    deliver = Recorder(lambda _: 503)
    resumed = _queue(db, clock, deliver, retry=policy)
    assert resumed.run_due() == 0  # still in its backoff
    clock.advance(timedelta(seconds=10))
    resumed.run_due()
    assert deliver.seen[0].headers["X-CloudTasks-TaskRetryCount"] == "1"
    clock.advance(timedelta(seconds=20))
    resumed.run_due()
    # Three attempts in all, across both processes: given up, as the policy says.
    assert len(failing.seen) + len(deliver.seen) == 3
    assert resumed.outcome("t-1") is Outcome.GAVE_UP


def test_an_attempt_cut_short_by_a_kill_counts_and_is_retried_after_backoff(
    tmp_path: Path, clock: FixedClock
) -> None:
    db = tmp_path / "prep.db"
    policy = RetryPolicy(max_attempts=5, min_backoff=timedelta(seconds=10))

    dying = _dying(db, clock, retry=policy)
    dying.enqueue(_task())
    with pytest.raises(Killed):
        dying.run_due()
    deliver = Recorder()
    resumed = _queue(db, clock, deliver, retry=policy)
    assert resumed.run_due() == 0
    clock.advance(timedelta(seconds=10))
    assert resumed.run_due() == 1
    assert deliver.seen[0].headers["X-CloudTasks-TaskRetryCount"] == "1"


def test_a_last_attempt_cut_short_is_given_up_at_start(tmp_path: Path, clock: FixedClock) -> None:
    db = tmp_path / "prep.db"
    policy = RetryPolicy(max_attempts=1)
    dying = _dying(db, clock, retry=policy)
    dying.enqueue(_task())
    with pytest.raises(Killed):
        dying.run_due()
    resumed = _queue(db, clock, Recorder(), retry=policy)
    assert resumed.pending() == [] and resumed.outcome("t-1") is Outcome.GAVE_UP


def test_names_are_forgotten_after_their_window_across_restarts(
    tmp_path: Path, clock: FixedClock
) -> None:
    db = tmp_path / "prep.db"
    queue = _queue(db, clock, Recorder(), dedupe_window=timedelta(hours=1))
    queue.enqueue(_task())
    queue.run_due()
    clock.advance(timedelta(minutes=59))
    assert _queue(db, clock, Recorder()).enqueue(_task()) is False
    clock.advance(timedelta(minutes=1))
    assert _queue(db, clock, Recorder()).enqueue(_task()) is True


def test_the_local_servers_queue_keeps_its_tasks_in_the_store_file(tmp_path: Path) -> None:
    """The wiring `make run` uses: a second start on the same .local database resumes."""
    first: Bootstrap = make_services(tmp_path, clock=FixedClock(T0))
    task = _task(at=T0 + timedelta(days=1))
    assert first.tasks.enqueue(task) is True
    first.store.close()
    second: Bootstrap = make_services(tmp_path, clock=FixedClock(T0))
    queue = second.tasks
    assert isinstance(queue, LocalTaskQueue)
    assert queue.pending() == [task]
    assert queue.enqueue(task) is False
    second.store.close()


def test_a_locked_journal_delays_the_attempt_instead_of_losing_it(
    tmp_path: Path, clock: FixedClock
) -> None:
    """A write-locked database file (another writer, an import) must not strand a task.

    Before: the attempt's journal write raised, the task stayed pending with no
    heap entry, `run_due` found nothing, and the worker spun on a past due time.
    """
    import sqlite3

    from functions.store.port import StoreBusy
    from functions.tasks import local_journal

    db = tmp_path / "prep.db"
    deliver = Recorder()
    queue = _queue(db, clock, deliver)
    assert queue.enqueue(_task("t-1"))

    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the file
    original = local_journal._BUSY_SECONDS
    local_journal._BUSY_SECONDS = 0.05
    try:
        assert queue.run_due() == 1  # the attempt was tried, and put back
        assert deliver.seen == []
        assert [t.name for t in queue.pending()] == ["t-1"]
        with pytest.raises(StoreBusy):  # an enqueue says "busy", not a bare sqlite error
            queue.enqueue(_task("t-2"))
    finally:
        local_journal._BUSY_SECONDS = original
        holder.execute("ROLLBACK")
        holder.close()

    assert queue.run_due() == 0  # waits its short retry, not a spin on a past due time
    clock.advance(timedelta(seconds=3))
    assert queue.run_due() == 1
    assert [d.path for d in deliver.seen] == ["/tasks/x"]
    assert queue.pending() == []
