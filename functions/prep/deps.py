"""What the prep and digest tasks need from the composition root (which satisfies this).

They deliver notices (`functions.notify.deps`), check task callers
(`functions.tasks.endpoint.TaskCaller`) and chain their next task on the queue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from functions.notify.deps import NotifyDeps
from functions.tasks.endpoint import TaskCaller

if TYPE_CHECKING:
    from functions.tasks.port import TaskQueue


class PrepDeps(NotifyDeps, TaskCaller, Protocol):
    @property
    def tasks(self) -> TaskQueue: ...
