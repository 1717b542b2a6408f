"""What the sync needs from the composition root (which satisfies this Protocol).

The sync also checks delegated calendars (`functions.delegation.access`), so it
needs what they need, the classifier for the meetings it stores, and what
its task endpoint checks callers with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from functions.delegation.deps import DelegationDeps
from functions.tasks.endpoint import TaskCaller

if TYPE_CHECKING:
    from functions.domain.classification import Classifier


class SyncDeps(DelegationDeps, TaskCaller, Protocol):
    @property
    def classifier(self) -> Classifier: ...
