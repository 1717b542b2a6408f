"""What notifications need from the composition root (which satisfies this Protocol).

The ready notice carries a signed materials link, so it needs what
`functions.materials.deps.MaterialsLinks` names too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from functions.materials.deps import MaterialsLinks

if TYPE_CHECKING:
    from functions.domain.classification import Classifier
    from functions.domain.clock import Clock
    from functions.notify.port import Notifiers
    from functions.oauth.sealing import Keyring
    from functions.store.port import Store


class NotifyDeps(MaterialsLinks, Protocol):
    @property
    def clock(self) -> Clock: ...
    @property
    def store(self) -> Store: ...
    @property
    def classifier(self) -> Classifier: ...
    @property
    def notifiers(self) -> Notifiers: ...
    @property
    def keyring(self) -> Keyring:
        """Seals the stable materials link a ready message carries."""
        ...
