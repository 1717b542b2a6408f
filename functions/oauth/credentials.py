"""Credentials for background work: unseal, refresh when stale, notice a dead grant.

Every background caller (sync, notifications) asks `CredentialsProvider`
for a user's credentials and gets something google-api-python-client can use
directly. What they must handle is small and explicit:

* `ReconnectNeeded`: the grant is gone (revoked, expired, never given). The
  user is marked `reconnect_needed` so the homepage card says so, and the
  stored token is forgotten; retrying cannot help, so it is a
  `PermanentError` and a task handler that lets it escape acknowledges the
  task (see `functions.errors`).
* `CredentialsUnavailable`: Google's token endpoint failed transiently. It is
  a `RetryLater`, so a task handler that lets it escape answers 503 and the
  queue retries with backoff.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from functions.domain.clock import Clock
from functions.domain.users import ConnectionState, User
from functions.errors import PermanentError
from functions.logs import log
from functions.oauth import scopes as oauth_scopes
from functions.oauth.client import OAuthClient
from functions.oauth.sealing import Sealer, SealError
from functions.store.port import Store
from functions.tasks.endpoint import RetryLater

if TYPE_CHECKING:
    from google.auth.credentials import Credentials


_log = logging.getLogger(__name__)

#: Refresh this long before the stated expiry, so a token does not die mid-sync.
EXPIRY_MARGIN = timedelta(minutes=5)

_RECORD_VERSION = 1


class ReconnectNeeded(PermanentError):
    """The user must go through consent again; `reason` is for logs only."""

    def __init__(self, user_id: str, reason: str) -> None:
        super().__init__(reason)
        self.user_id = user_id
        self.reason = reason


class CredentialsUnavailable(RetryLater):
    """Google's token endpoint could not be reached or failed; try again later."""


@dataclass(frozen=True, slots=True)
class StoredGrant:
    """What is sealed per user: the refresh token and the last access token."""

    refresh_token: str = field(repr=False)
    scopes: tuple[str, ...]
    access_token: str | None = field(default=None, repr=False)
    #: Timezone-aware UTC; None means "unknown, refresh before use".
    expiry: datetime | None = None

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "v": _RECORD_VERSION,
                "refresh_token": self.refresh_token,
                "scopes": list(self.scopes),
                "access_token": self.access_token,
                "expiry": self.expiry.isoformat() if self.expiry else None,
            }
        ).encode()

    @classmethod
    def from_json(cls, data: bytes) -> StoredGrant:
        doc = json.loads(data)
        if not isinstance(doc, dict) or doc.get("v") != _RECORD_VERSION:
            raise ValueError("unknown credentials record")
        expiry = doc.get("expiry")
        return cls(
            refresh_token=str(doc["refresh_token"]),
            scopes=tuple(str(s) for s in doc.get("scopes", ())),
            access_token=doc.get("access_token"),
            expiry=datetime.fromisoformat(expiry) if expiry else None,
        )

    def fresh_at(self, now: datetime) -> bool:
        return (
            bool(self.access_token)
            and self.expiry is not None
            and (self.expiry - EXPIRY_MARGIN > now)
        )


#: OAuth error codes (RFC 6749 section 5.2) that mean the grant itself is gone.
USER_GRANT_DEAD = frozenset({"invalid_grant"})
#: With delegation, also "the admin has not (or no longer) authorized this client".
DELEGATION_DEAD = frozenset({"invalid_grant", "unauthorized_client", "access_denied"})


def is_dead_grant(exc: Exception, codes: frozenset[str] = USER_GRANT_DEAD) -> bool:
    """True if the token endpoint answered with one of `codes`.

    google-auth raises RefreshError(message, response_body); the body's
    `error` is the OAuth error code.
    """
    body = exc.args[1] if len(exc.args) > 1 else None
    if isinstance(body, Mapping):
        return body.get("error") in codes
    message = str(exc.args[0] if exc.args else "")
    return any(message.startswith(f"{code}:") or message == code for code in codes)


class Delegation:
    """Domain-wide delegation: the service account acts as each user, no consent stored."""

    def __init__(self, key_path: Path, scopes: tuple[str, ...]) -> None:
        self.key_path = key_path
        self.scopes = tuple(s for s in scopes if s != oauth_scopes.OPENID)
        self._info: Mapping[str, Any] | None = None
        self._lock = threading.Lock()

    def credentials_for(self, email: str) -> Credentials:
        from google.oauth2 import service_account

        with self._lock:
            if self._info is None:
                self._info = json.loads(self.key_path.read_text())
            info = self._info
        creds: Credentials = service_account.Credentials.from_service_account_info(
            info, scopes=list(self.scopes), subject=email
        )
        return creds


class CredentialsProvider:
    """The one place that reads, refreshes and writes a user's stored credentials."""

    def __init__(
        self,
        store: Store,
        sealer: Sealer,
        client: OAuthClient | None,
        *,
        clock: Clock,
        delegation: Delegation | None = None,
    ) -> None:
        if client is None and delegation is None:
            raise ValueError("credentials need an OAuth client or domain-wide delegation")
        self.store = store
        self.sealer = sealer
        self._client = client
        self.clock = clock
        self.delegation = delegation

    @property
    def client(self) -> OAuthClient:
        if self._client is None:
            raise RuntimeError("domain-wide delegation is configured: there is no consent flow")
        return self._client

    # ------------------------------------------------------------------ reading

    def credentials_for(self, user_id: str) -> Credentials:
        """Credentials with a valid access token for `user_id`, refreshed if stale.

        Raises `ReconnectNeeded` or `CredentialsUnavailable` (see the module doc).
        """
        if self.delegation is not None:
            return self._delegated(user_id)
        from google.oauth2.credentials import Credentials as UserCredentials

        grant = self._grant_or_reconnect(user_id)
        client = self.client
        missing = oauth_scopes.missing(client.scopes, grant.scopes)
        if missing:
            # Configuration asks for more than this user granted (e.g. gmail.send added).
            self._mark_reconnect(user_id, "grant lacks a configured scope", forget=False)
            raise ReconnectNeeded(user_id, "grant lacks a configured scope")
        creds = UserCredentials(
            token=grant.access_token,
            refresh_token=grant.refresh_token,
            token_uri=client.token_uri,
            client_id=client.client_id,
            client_secret=client.client_secret,
            scopes=list(grant.scopes),
            expiry=self._to_system_time(grant.expiry),
        )
        if grant.fresh_at(self.clock.now()):
            return creds
        self._refresh(user_id, creds)
        refreshed = StoredGrant(
            refresh_token=creds.refresh_token or grant.refresh_token,
            scopes=grant.scopes,
            access_token=creds.token,
            expiry=self._from_system_time(creds.expiry),
        )
        self.save(user_id, refreshed)
        log(_log, logging.INFO, "access token refreshed", user_id=user_id)
        return creds

    def load(self, user_id: str) -> StoredGrant | None:
        """The stored grant, or None; raises `SealError` if it does not open."""
        sealed = self.store.get_credentials(user_id)
        if not sealed:
            return None
        try:
            return StoredGrant.from_json(self.sealer.open(user_id, sealed))
        except (ValueError, KeyError, TypeError):
            raise SealError("credentials record is not a grant") from None

    # ------------------------------------------------------------------ writing

    def save(self, user_id: str, grant: StoredGrant) -> None:
        self.store.put_credentials(user_id, self.sealer.seal(user_id, grant.to_json()))

    def forget(self, user_id: str) -> None:
        """Drop the stored grant."""
        self.store.delete_credentials(user_id)

    def set_connection(self, user_id: str, state: ConnectionState, *, email: str = "") -> User:
        """Record the user's connection state, creating the user if needed."""
        user = self.store.get_user(user_id)
        if user is None:
            user = User(user_id=user_id, email=email, connection=state)
        elif user.connection is not state:
            user = dataclasses.replace(user, connection=state)
        else:
            return user
        self.store.put_user(user)
        return user

    # ------------------------------------------------------------------ internals

    def _grant_or_reconnect(self, user_id: str) -> StoredGrant:
        try:
            grant = self.load(user_id)
        except SealError:
            log(_log, logging.ERROR, "stored credentials do not open", user_id=user_id)
            self._mark_reconnect(user_id, "credentials do not open", forget=True)
            raise ReconnectNeeded(user_id, "credentials do not open") from None
        if grant is None:
            user = self.store.get_user(user_id)
            if user is not None and user.connection is ConnectionState.CONNECTED:
                self._mark_reconnect(user_id, "no stored credentials", forget=False)
            raise ReconnectNeeded(user_id, "no stored credentials")
        return grant

    def _refresh(self, user_id: str, creds: Any, dead: frozenset[str] = USER_GRANT_DEAD) -> None:
        from google.auth import exceptions as gexc
        from google.auth.transport.requests import Request

        try:
            creds.refresh(Request())
        except gexc.RefreshError as exc:
            if is_dead_grant(exc, dead):
                self._mark_reconnect(user_id, "grant revoked or expired", forget=True)
                raise ReconnectNeeded(user_id, "grant revoked or expired") from None
            log(_log, logging.WARNING, "token refresh failed", user_id=user_id)
            raise CredentialsUnavailable("token refresh failed") from None
        except gexc.TransportError:
            log(_log, logging.WARNING, "token endpoint unreachable", user_id=user_id)
            raise CredentialsUnavailable("token endpoint unreachable") from None

    def _mark_reconnect(self, user_id: str, reason: str, *, forget: bool) -> None:
        if forget:
            self.forget(user_id)
        user = self.store.get_user(user_id)
        if user is not None and user.connection is not ConnectionState.RECONNECT_NEEDED:
            self.store.put_user(
                dataclasses.replace(user, connection=ConnectionState.RECONNECT_NEEDED)
            )
        log(_log, logging.WARNING, "reconnect needed", user_id=user_id, reason=reason)

    # google-auth stamps and checks expiry with the system clock (naive UTC); the
    # provider decides with its own clock. Converting by remaining lifetime keeps
    # both agreeing (they are the same clock in production, not under test).

    def _to_system_time(self, expiry: datetime | None) -> datetime | None:
        if expiry is None:
            return None
        remaining = expiry - self.clock.now()
        return (datetime.now(UTC) + remaining).replace(tzinfo=None)

    def _from_system_time(self, expiry: datetime | None) -> datetime | None:
        if expiry is None:
            return None
        remaining = expiry.replace(tzinfo=UTC) - datetime.now(UTC)
        return self.clock.now() + remaining

    def _delegated(self, user_id: str) -> Credentials:
        assert self.delegation is not None
        user = self.store.get_user(user_id)
        if user is None or not user.email:
            raise ReconnectNeeded(user_id, "unknown user: no email to act as")
        creds = self.delegation.credentials_for(user.email)
        self._refresh(user_id, creds, DELEGATION_DEAD)
        return creds
