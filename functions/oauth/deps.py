"""What the consent flow and its local stand-in need from the composition root.

After consent the flow queues a first sync, and on disconnect it stops the
user's push channels: both belong to the sync, so they come in as the root's
`first_sync` / `stop_channels` instead of imports of `functions.sync`
(the sync already depends on this feature's credentials).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from functions.auth.dev_keys import DevSigner
    from functions.auth.id_tokens import IdTokenVerifier
    from functions.config import Settings
    from functions.domain.clock import Clock
    from functions.oauth.credentials import CredentialsProvider
    from functions.store.port import Store


class OAuthDeps(Protocol):
    @property
    def settings(self) -> Settings: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def store(self) -> Store: ...
    @property
    def credentials(self) -> CredentialsProvider: ...
    @property
    def id_tokens(self) -> IdTokenVerifier: ...
    @property
    def dev_signer(self) -> DevSigner:
        """Local mode only (the root refuses it in production)."""
        ...

    def first_sync(self, user_id: str) -> None:
        """Queue the newly connected user's first sync (it also opens the push channel)."""
        ...

    def stop_channels(self, user_id: str) -> int:
        """Stop the user's push channels while the grant still works."""
        ...
