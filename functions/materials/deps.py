"""What prep materials need from the composition root (which satisfies these Protocols).

`MaterialsLinks` is the part other features use to hand out a signed link
(the ready notice, the sidebar); `MaterialsDeps` is what generation needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from functions.tasks.endpoint import TaskCaller

if TYPE_CHECKING:
    from collections.abc import Callable

    from functions.auth.id_tokens import IdTokenVerifier
    from functions.config import Settings
    from functions.domain.classification import Classifier
    from functions.domain.clock import Clock
    from functions.domain.meetings import Meeting
    from functions.domain.users import User
    from functions.mail.port import MailSource
    from functions.materials.documents.gather import DocumentSources
    from functions.materials.generator import Generator
    from functions.materials.storage import MaterialsStorage
    from functions.materials.templates import TemplateSet
    from functions.oauth.client import OAuthClient
    from functions.oauth.credentials import CredentialsProvider
    from functions.oauth.sealing import Keyring
    from functions.store.port import Store


class MaterialsLinks(Protocol):
    @property
    def settings(self) -> Settings: ...
    @property
    def materials_storage(self) -> MaterialsStorage: ...


class MaterialsDeps(MaterialsLinks, TaskCaller, Protocol):
    @property
    def clock(self) -> Clock: ...
    @property
    def store(self) -> Store: ...
    @property
    def classifier(self) -> Classifier: ...
    @property
    def generator(self) -> Generator: ...
    @property
    def prep_templates(self) -> TemplateSet: ...
    @property
    def mail_threads(self) -> MailSource: ...
    def documents_for(self, user: User, meeting_type: str) -> DocumentSources | None:
        """The document reader and standing refs for this meeting (None: documents off)."""
        ...

    @property
    def credentials(self) -> CredentialsProvider:
        """Only to read which scopes the user granted (the mail source's switch)."""
        ...

    @property
    def send_ready(self) -> Callable[[User, Meeting], None] | None:
        """The notify feature's "prep is ready" sender, injected (None if not deployed)."""
        ...


class ReaderDeps(MaterialsLinks, Protocol):
    """What the stable links in messages need: who the reader is (Google sign-in,
    verified like every ID token), whose materials, and a fresh signed URL."""

    @property
    def clock(self) -> Clock: ...
    @property
    def store(self) -> Store: ...
    @property
    def id_tokens(self) -> IdTokenVerifier: ...
    @property
    def keyring(self) -> Keyring:
        """Opens the link's sealed id and seals the reader's session."""
        ...

    @property
    def signin_client(self) -> OAuthClient:
        """The web OAuth client the reader signs in with."""
        ...
