"""The OAuth `state`: bound to the verified user, short-lived, single use; and PKCE.

The callback arrives from the user's browser with no ID token, so everything
it may trust has to come back through `state`. The state is an authenticated,
encrypted record (AES-GCM under a key derived from the credentials KEK) that
names the user who started the flow and when it expires; it cannot be forged
or altered, and it does not show the user id in the URL. Its random id is
consumed with `store.claim` when the callback uses it, atomically, so a
replayed callback finds it taken.

The PKCE code_verifier is never sent to the browser: it is an HMAC of the
state's random id under a server-side key, recomputed at the callback, so it
stays on the server without a second record to store and clean up.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from functions.oauth.sealing import Keyring, SealError
from functions.store.port import Store

#: Long enough to read a consent screen, short enough that a leaked link is stale.
STATE_TTL = timedelta(minutes=10)

_STATE_PURPOSE = "oauth-state/v1"
_PKCE_PURPOSE = "oauth-pkce/v1"
_NONCE = 12
#: Refuse absurd input before decoding it.
_MAX_STATE = 2048


class StateRejected(Exception):
    """The state is unusable: forged, altered, expired or already used.

    `reason` is for logs only; the user is told none of it.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class PendingAuthorization:
    user_id: str
    email: str
    #: The random, single-use id of this authorization attempt.
    attempt: str
    expires_at: datetime
    key_id: str

    @property
    def claim_key(self) -> str:
        return f"oauth-state:{self.attempt}"


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class StateCodec:
    def __init__(self, keyring: Keyring, *, ttl: timedelta = STATE_TTL) -> None:
        self.keyring = keyring
        self.ttl = ttl

    def issue(self, user_id: str, email: str, now: datetime) -> tuple[str, PendingAuthorization]:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        kid = self.keyring.primary
        pending = PendingAuthorization(
            user_id=user_id,
            email=email,
            attempt=secrets.token_hex(16),
            expires_at=now + self.ttl,
            key_id=kid,
        )
        body = json.dumps(
            {
                "u": pending.user_id,
                "e": pending.email,
                "a": pending.attempt,
                "x": int(pending.expires_at.timestamp()),
            },
            separators=(",", ":"),
        ).encode()
        nonce = secrets.token_bytes(_NONCE)
        sealed = AESGCM(self.keyring.derive(_STATE_PURPOSE, kid)).encrypt(nonce, body, kid.encode())
        return f"{kid}.{_b64e(nonce + sealed)}", pending

    def open(self, state: str, now: datetime) -> PendingAuthorization:
        """Authenticate and decode `state`, and refuse it once expired (not yet consumed)."""
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if not state or len(state) > _MAX_STATE:
            raise StateRejected("missing or oversized state")
        kid, _, blob = state.partition(".")
        try:
            raw = _b64d(blob)
            key = self.keyring.derive(_STATE_PURPOSE, kid)
            body = AESGCM(key).decrypt(raw[:_NONCE], raw[_NONCE:], kid.encode())
            doc = json.loads(body)
            pending = PendingAuthorization(
                user_id=str(doc["u"]),
                email=str(doc["e"]),
                attempt=str(doc["a"]),
                expires_at=datetime.fromtimestamp(int(doc["x"]), tz=now.tzinfo),
                key_id=kid,
            )
        except (SealError, InvalidTag, binascii.Error, ValueError, KeyError, TypeError):
            raise StateRejected("state does not authenticate") from None
        if not pending.user_id or now >= pending.expires_at:
            raise StateRejected("state expired")
        return pending

    def code_verifier(self, pending: PendingAuthorization) -> str:
        """RFC 7636 verifier: 43 characters of base64url, derived, never stored or sent."""
        key = self.keyring.derive(_PKCE_PURPOSE, pending.key_id)
        return _b64e(hmac.new(key, pending.attempt.encode(), hashlib.sha256).digest())


def consume(store: Store, pending: PendingAuthorization) -> None:
    """Mark the attempt used, atomically; a second use raises `StateRejected`."""
    if not store.claim(pending.user_id, pending.claim_key):
        raise StateRejected("state already used")
