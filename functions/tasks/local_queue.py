"""Local adapter of the task queue: Cloud Tasks' semantics, in process.

The embedded default has no Cloud Tasks, but the code that relies on its
behaviour must still be exercised: a deterministic name makes a second
enqueue a no-op (while pending, and for a window after it finished), a
schedule more than 720 h ahead is refused as Cloud Tasks refuses it, a
task does not run before its `schedule_at`, a failed attempt (any non-2xx answer,
an exception, or no answer within the deadline, as Cloud Tasks counts them)
is retried with exponential backoff until a maximum attempt count, and each
request carries a signed OIDC token, so the real `task_endpoint` verification
runs on every local delivery.

Time comes from an injectable `Clock`: tests drive delivery explicitly with
`run_due()` / `drain()` under a `FixedClock`; `make run` calls `start()` for a
background thread that delivers as tasks fall due.

With a `TaskJournal` (as the root, `functions.bootstrap`, builds it for the
local server) every task is also kept in the SQLite file and taken up again
when the queue is built:
scheduled tasks, retries with their attempt counts and the names in their
dedupe window survive a restart or a kill (`local_journal.py`).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import sqlite3
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from functions.domain.clock import Clock
from functions.logs import log
from functions.store.port import StoreBusy
from functions.tasks.local_journal import TaskJournal
from functions.tasks.port import Task, TaskQueue

if TYPE_CHECKING:
    from flask import Response

    from functions.web import Handler

_log = logging.getLogger(__name__)

#: How long an attempt waits when the journal could not record it (a locked file).
JOURNAL_RETRY = timedelta(seconds=2)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One HTTP attempt, as Cloud Tasks would send it."""

    path: str
    body: bytes
    headers: Mapping[str, str] = field(repr=False)


#: Sends one delivery and returns the HTTP status; raising counts as a failed attempt.
Deliver = Callable[[Delivery], int]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Cloud Tasks' queue retry settings, with the doubling capped at `max_backoff`."""

    max_attempts: int = 5
    min_backoff: timedelta = timedelta(seconds=1)
    max_backoff: timedelta = timedelta(minutes=5)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.min_backoff <= timedelta(0) or self.max_backoff < self.min_backoff:
            raise ValueError("backoff bounds must be positive and ordered")

    def backoff(self, failed_attempts: int) -> timedelta:
        """Delay before the next attempt after `failed_attempts` failures (1, 2, ...)."""
        doublings = min(max(failed_attempts - 1, 0), 30)
        return min(self.min_backoff * (1 << doublings), self.max_backoff)


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    #: Every attempt failed; the task is dropped (Cloud Tasks does the same).
    GAVE_UP = "gave_up"


@dataclass(frozen=True, slots=True)
class Attempt:
    queue: str
    task_name: str
    number: int
    at: datetime
    #: HTTP status, or None when there was no answer (exception or deadline).
    status: int | None
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(slots=True)
class _Entry:
    task: Task
    due: datetime
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class Finished:
    task: Task
    outcome: Outcome
    attempts: int
    at: datetime


class RowState(StrEnum):
    """Where a task stands, as the `/dev/tasks` page names it."""

    SCHEDULED = "scheduled"
    DUE = "due"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    GAVE_UP = "gave up"


@dataclass(frozen=True, slots=True)
class TaskRow:
    """One task as the local tasks page lists it: pending or finished, with its last try."""

    task: Task
    state: RowState
    #: When it runs next (pending) or when it finished.
    at: datetime
    attempts: int
    #: The last attempt's failure: an exception name, `deadline_exceeded` or `HTTP 503`.
    last_error: str | None


def _failure(attempt: Attempt | None) -> str | None:
    if attempt is None or attempt.succeeded:
        return None
    return attempt.error or f"HTTP {attempt.status}"


def _key(task: Task) -> str:
    return f"{task.queue}/{task.name}"


class LocalTaskQueue(TaskQueue):
    def __init__(
        self,
        deliver: Deliver,
        *,
        clock: Clock,
        token_source: Callable[[], str] | None = None,
        retry: RetryPolicy | None = None,
        retry_by_queue: Mapping[str, RetryPolicy] | None = None,
        deadline: timedelta = timedelta(seconds=60),
        dedupe_window: timedelta = timedelta(hours=1),
        history: int = 1000,
        journal: TaskJournal | None = None,
    ) -> None:
        self._deliver = deliver
        self.clock = clock
        self._token_source = token_source
        self.retry = retry or RetryPolicy()
        #: Per-queue policies, as each Cloud Tasks queue has its own retry config.
        self.retry_by_queue = dict(retry_by_queue or {})
        self.deadline = deadline
        self.dedupe_window = dedupe_window
        self._heap: list[tuple[datetime, int, str]] = []
        self._seq = itertools.count()
        self._pending: dict[str, _Entry] = {}
        self._remembered: dict[str, datetime] = {}
        self._attempts: deque[Attempt] = deque(maxlen=history)
        self._finished: deque[Finished] = deque(maxlen=history)
        self._cond = threading.Condition()
        self._worker: threading.Thread | None = None
        self._stopping = False
        #: Where tasks survive a restart (the local server); None keeps them in memory.
        self._journal = journal
        if journal is not None:
            self._resume(journal)

    # ------------------------------------------------------------------ the port

    def enqueue(self, task: Task) -> bool:
        key = _key(task)
        with self._cond:
            now = self.clock.now()
            task.check_schedule(now)
            self._forget_old(now)
            if key in self._pending or key in self._remembered:
                return False
            due = task.schedule_at if task.schedule_at is not None else now
            if self._journal is not None and not self._journal.add(key, task, due, now):
                return False
            self._pending[key] = _Entry(task, due)
            heapq.heappush(self._heap, (due, next(self._seq), key))
            self._cond.notify_all()
        return True

    # ------------------------------------------------------------------ driving delivery

    def run_due(self, now: datetime | None = None) -> int:
        """Deliver every task due at `now` (default: the clock), including ones that
        become due meanwhile (enqueued without a schedule); returns attempts made."""
        made = 0
        while (entry := self._pop(lambda due: due <= (now or self.clock.now()))) is not None:
            self._attempt(entry)
            made += 1
        return made

    def drain(self, *, max_attempts: int = 10_000) -> int:
        """Deliver until nothing is pending, ignoring schedules and backoff delays.

        For tests that care about what happens, not when. Raises if it does not
        settle within `max_attempts` (a task that re-enqueues itself forever).
        """
        made = 0
        while (entry := self._pop(lambda _: True)) is not None:
            if made >= max_attempts:
                raise RuntimeError("the queue did not settle")
            self._attempt(entry)
            made += 1
        return made

    def start(self) -> None:
        """Deliver from a background thread as tasks fall due (the local server)."""
        with self._cond:
            if self._worker is not None:
                return
            self._stopping = False
            self._worker = threading.Thread(target=self._work, name="local-tasks", daemon=True)
            self._worker.start()

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            worker, self._worker = self._worker, None
            self._stopping = True
            self._cond.notify_all()
        if worker is not None:
            worker.join(timeout)

    # ------------------------------------------------------------------ looking

    def pending(self) -> list[Task]:
        with self._cond:
            return [e.task for e in sorted(self._pending.values(), key=lambda e: e.due)]

    def next_due(self) -> datetime | None:
        with self._cond:
            return min((e.due for e in self._pending.values()), default=None)

    def attempts(self, task_name: str | None = None) -> list[Attempt]:
        with self._cond:
            return [a for a in self._attempts if task_name is None or a.task_name == task_name]

    def finished(self) -> list[Finished]:
        with self._cond:
            return list(self._finished)

    def overview(self, limit: int = 100) -> list[TaskRow]:
        """Pending tasks by due time, then up to `limit` finished ones, newest first."""
        with self._cond:
            now = self.clock.now()
            last = {a.task_name: a for a in self._attempts}
            rows = []
            for e in sorted(self._pending.values(), key=lambda e: e.due):
                if e.attempts:
                    state = RowState.RETRYING
                else:
                    state = RowState.DUE if e.due <= now else RowState.SCHEDULED
                error = _failure(last.get(e.task.name)) if e.attempts else None
                rows.append(TaskRow(e.task, state, e.due, e.attempts, error))
            for f in list(self._finished)[::-1][: max(limit, 0)]:
                done = RowState.SUCCEEDED if f.outcome is Outcome.SUCCEEDED else RowState.GAVE_UP
                error = _failure(last.get(f.task.name)) if done is RowState.GAVE_UP else None
                rows.append(TaskRow(f.task, done, f.at, f.attempts, error))
            return rows

    def outcome(self, task_name: str) -> Outcome | None:
        with self._cond:
            found = [f.outcome for f in self._finished if f.task.name == task_name]
        return found[-1] if found else None

    # ------------------------------------------------------------------ internals

    def _resume(self, journal: TaskJournal) -> None:
        """Take up what the journal holds: pending tasks at their due time (at once
        if it passed while the server was down), with their attempt counts, and
        the names still in their dedupe window."""
        now = self.clock.now()
        for saved in journal.load(now):
            if saved.done_until is not None:
                self._remembered[saved.key] = saved.done_until
            elif saved.attempts >= self._policy(saved.task.queue).max_attempts:
                # Its last attempt was cut short: that attempt failed, and it was the last.
                until = now + self.dedupe_window
                journal.finished(saved.key, saved.attempts, until, now)
                self._remembered[saved.key] = until
                self._finished.append(Finished(saved.task, Outcome.GAVE_UP, saved.attempts, now))
            else:
                self._pending[saved.key] = _Entry(saved.task, saved.due, saved.attempts)
                heapq.heappush(self._heap, (saved.due, next(self._seq), saved.key))
        if self._pending:
            log(_log, logging.INFO, "local tasks resumed", pending=len(self._pending))

    def _forget_old(self, now: datetime) -> None:
        for key in [k for k, until in self._remembered.items() if until <= now]:
            del self._remembered[key]

    def _pop(self, ready: Callable[[datetime], bool]) -> _Entry | None:
        with self._cond:
            while self._heap:
                due, _, key = self._heap[0]
                entry = self._pending.get(key)
                if entry is None or entry.due != due:
                    heapq.heappop(self._heap)  # stale heap slot
                    continue
                if not ready(due):
                    return None
                heapq.heappop(self._heap)
                return entry
            return None

    def _policy(self, queue: str) -> RetryPolicy:
        return self.retry_by_queue.get(queue, self.retry)

    def _attempt(self, entry: _Entry) -> None:
        task = entry.task
        policy = self._policy(task.queue)
        number = entry.attempts + 1
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Google-Cloud-Tasks",
            "X-CloudTasks-QueueName": task.queue,
            "X-CloudTasks-TaskName": task.name,
            "X-CloudTasks-TaskRetryCount": str(number - 1),
            "X-CloudTasks-TaskExecutionCount": str(number - 1),
            "X-CloudTasks-TaskETA": f"{entry.due.timestamp():.6f}",
        }
        if self._token_source is not None:
            headers["Authorization"] = f"Bearer {self._token_source()}"
        key = _key(task)
        # Written as failed before it runs: a kill mid-attempt leaves a counted attempt.
        # If the journal cannot be written (the file is locked), the attempt waits: run
        # unrecorded, a kill could lose it; dropped, the task would never run at all.
        if self._journal is not None and not self._journaled(
            self._journal.started, key, number, self.clock.now() + policy.backoff(number)
        ):
            with self._cond:
                entry.due = self.clock.now() + JOURNAL_RETRY
                heapq.heappush(self._heap, (entry.due, next(self._seq), key))
            return
        status, error = self._call(Delivery(task.path, task.body(), headers), task.name)
        now = self.clock.now()
        attempt = Attempt(task.queue, task.name, number, now, status, error)
        with self._cond:
            self._attempts.append(attempt)
            if attempt.succeeded or number >= policy.max_attempts:
                outcome = Outcome.SUCCEEDED if attempt.succeeded else Outcome.GAVE_UP
                del self._pending[key]
                self._remembered[key] = now + self.dedupe_window
                self._finished.append(Finished(task, outcome, number, now))
                if self._journal is not None:
                    self._journaled(self._journal.finished, key, number, self._remembered[key], now)
            else:
                entry.attempts = number
                entry.due = now + policy.backoff(number)
                heapq.heappush(self._heap, (entry.due, next(self._seq), key))
                if self._journal is not None:
                    self._journaled(self._journal.started, key, number, entry.due)
        level = logging.INFO if attempt.succeeded else logging.WARNING
        log(
            _log,
            level,
            "local task attempt",
            queue=task.queue,
            task=task.name,
            attempt=number,
            status=status,
            error=error,
        )

    @staticmethod
    def _journaled(write: Callable[..., object], *args: object) -> bool:
        """Run one journal write; False (logged) if the database refused it.

        After an attempt the in-memory queue is what this process acts on; a
        lost record only matters after a restart (the attempt runs again, and
        every handler is idempotent), so it is logged, not raised.
        """
        try:
            write(*args)
        except (StoreBusy, sqlite3.Error) as exc:
            log(_log, logging.ERROR, "task journal not written", error=type(exc).__name__)
            return False
        return True

    def _call(self, delivery: Delivery, name: str) -> tuple[int | None, str | None]:
        """Deliver with a deadline, as Cloud Tasks does: a late answer is a failure.

        The handler cannot be stopped (nor can Cloud Tasks stop a function), so
        it runs on a daemon thread that is abandoned if it overruns.
        """
        result: list[int | BaseException] = []
        done = threading.Event()

        def run() -> None:
            try:
                result.append(self._deliver(delivery))
            except BaseException as exc:  # reported as a failed attempt below
                result.append(exc)
            finally:
                done.set()

        threading.Thread(target=run, name=f"task-{name[:40]}", daemon=True).start()
        if not done.wait(self.deadline.total_seconds()):
            return None, "deadline_exceeded"
        outcome = result[0]
        if isinstance(outcome, BaseException):
            return None, type(outcome).__name__
        return outcome, None

    def _work(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    return
                due = min((e.due for e in self._pending.values()), default=None)
                wait = 1.0 if due is None else (due - self.clock.now()).total_seconds()
                if wait > 0:
                    self._cond.wait(min(wait, 1.0))
                    continue
            try:
                self.run_due()
            except Exception as exc:  # keep delivering; the attempt log has the detail
                log(_log, logging.ERROR, "local task worker error", error=type(exc).__name__)


def in_process(routes: Callable[[], Mapping[str, Handler]]) -> Deliver:
    """Deliver through the same path router the `local` entry point serves."""
    from flask import Flask, request

    from functions.web import dispatch

    app = Flask("local-tasks")

    @app.route("/<path:_path>", methods=["POST"])
    def view(_path: str) -> Response:
        return dispatch(routes(), request)

    def deliver(delivery: Delivery) -> int:
        with app.test_client() as client:
            response = client.post(
                delivery.path, data=delivery.body, headers=dict(delivery.headers)
            )
            return response.status_code

    return deliver
