"""The task queue most tests hand to the root: Cloud Tasks' enqueue, in memory, recorded.

A repeated task name is refused as Cloud Tasks refuses it (the dedupe that
makes every enqueue idempotent); with a clock, a schedule more than 720 h
ahead is refused too. Nothing is delivered: a test reads what was queued
(`tasks`, by name, in order) and delivers it itself when it wants to.
"""

from __future__ import annotations

import threading

from functions.domain.clock import Clock
from functions.tasks.port import Task, TaskQueue


class RecordingQueue(TaskQueue):
    def __init__(self, clock: Clock | None = None, *, fail: bool = False) -> None:
        self.clock = clock
        #: While True every enqueue fails (the queue unavailable).
        self.fail = fail
        #: How many of the next enqueues fail.
        self.fail_next = 0
        #: What was queued, by task name (Cloud Tasks' dedupe key), in enqueue order.
        self.tasks: dict[str, Task] = {}
        #: Every enqueue attempt, refused or failed ones included.
        self.attempts: list[Task] = []
        self._lock = threading.Lock()

    def enqueue(self, task: Task) -> bool:
        with self._lock:
            self.attempts.append(task)
            if self.fail:
                raise ConnectionError("queue unavailable")
            if self.fail_next > 0:
                self.fail_next -= 1
                raise ConnectionError("queue unavailable")
            if self.clock is not None:
                task.check_schedule(self.clock.now())
            if task.name in self.tasks:
                return False
            self.tasks[task.name] = task
            return True

    def queued(self) -> list[Task]:
        """What was queued, in order."""
        return list(self.tasks.values())

    def last(self) -> Task:
        return self.queued()[-1]

    def on_path(self, path: str) -> list[Task]:
        return [t for t in self.tasks.values() if t.path == path]

    def of_queue(self, queue: str) -> list[Task]:
        return [t for t in self.tasks.values() if t.queue == queue]
