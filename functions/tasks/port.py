"""The task queue port: Cloud Tasks in production, an in-process queue locally.

Cloud Tasks delivers at least once, so every task carries a deterministic
name: enqueuing the same logical work twice is a no-op (the second call
returns False), and every handler is written to be safe when it runs twice.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

#: Cloud Tasks task ids: letters, digits, hyphens, underscores; at most 500 chars.
_MAX_NAME = 500
#: "Maximum schedule time for a task: 30 days from current date and time" (quotas page).
MAX_SCHEDULE_AHEAD = timedelta(hours=720)
#: Task.dispatch_deadline bounds for HTTP targets.
MIN_DISPATCH_DEADLINE = timedelta(seconds=15)
MAX_DISPATCH_DEADLINE = timedelta(minutes=30)


class ScheduleTooFar(ValueError):
    """The task's schedule time is more than 720 h ahead: Cloud Tasks answers INVALID_ARGUMENT."""


def check_dispatch_deadline(deadline: timedelta) -> timedelta:
    """The deadline, if Cloud Tasks accepts it for an HTTP target; ValueError otherwise."""
    if not MIN_DISPATCH_DEADLINE <= deadline <= MAX_DISPATCH_DEADLINE:
        raise ValueError("an HTTP task's dispatch deadline is between 15 seconds and 30 minutes")
    return deadline


@dataclass(frozen=True, slots=True)
class Task:
    """One unit of background work: POST `payload` as JSON to `path`."""

    queue: str
    name: str
    path: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    schedule_at: datetime | None = None

    def __post_init__(self) -> None:
        if not self.name or len(self.name) > _MAX_NAME:
            raise ValueError("task names are 1 to 500 characters")
        if not all(c.isascii() and (c.isalnum() or c in "-_") for c in self.name):
            raise ValueError("task names use only ASCII letters, digits, '-' and '_'")
        if not self.path.startswith("/tasks/"):
            raise ValueError("task paths live under /tasks/")
        if self.schedule_at is not None and self.schedule_at.tzinfo is None:
            raise ValueError("schedule_at must be timezone-aware")

    def body(self) -> bytes:
        return json.dumps(dict(self.payload), sort_keys=True).encode()

    def check_schedule(self, now: datetime) -> None:
        """Refuse, as Cloud Tasks would, a schedule time more than 720 h after `now`.

        `now` comes from the caller because the local queue runs on an
        injectable clock; the production adapter passes the wall clock.
        """
        if self.schedule_at is not None and self.schedule_at - now > MAX_SCHEDULE_AHEAD:
            raise ScheduleTooFar(
                f"task {self.name} is scheduled more than 720h ahead (Cloud Tasks refuses it)"
            )


def task_name(kind: str, *parts: str) -> str:
    """A deterministic, Cloud-Tasks-safe name for one logical piece of work.

    Hashing keeps user ids and event ids (which may hold any character) out of
    the name and spreads names evenly, which Cloud Tasks recommends over
    sequential prefixes for throughput.
    """
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]
    return f"{kind}-{digest}"


class TaskQueue(ABC):
    @abstractmethod
    def enqueue(self, task: Task) -> bool:
        """Create the task; False if a task of that name already exists (not an error).

        Raises `ScheduleTooFar` for a schedule time more than 720 h ahead.
        """
