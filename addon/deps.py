"""What the sidebar's handlers need from the composition root (which satisfies this Protocol).

The add-on starts the consent flow (`functions.oauth.deps`), manages delegated
calendars (`functions.delegation.deps`) and hands out materials links
(`functions.materials.deps.MaterialsLinks`), so it needs what those name, and
the classifier. Modules on the card's cold path import this only for type
checking.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from functions.delegation.deps import DelegationDeps
from functions.materials.deps import MaterialsLinks
from functions.oauth.deps import OAuthDeps

if TYPE_CHECKING:
    from functions.domain.classification import Classifier
    from functions.mail.port import MailSource


class AddonDeps(OAuthDeps, DelegationDeps, MaterialsLinks, Protocol):
    @property
    def classifier(self) -> Classifier: ...
    @property
    def mail_threads(self) -> MailSource:
        """Only to ask whether the mail source needs a grant (the settings card)."""
        ...
