"""The email's link to the follow-up form: signed, expiring, single use, bound to user+meeting.

A browser arrives at the form with no ID token, so everything the page may
trust comes back through the token, as with the OAuth `state`
(`functions.oauth.state`): an AES-GCM record under a key derived from the
credentials KEK for this purpose only, naming the user, the meeting and when
it expires. It cannot be forged or altered, and the URL shows neither the
user id nor the event id. Opening the page (GET, which mail scanners do on
their own) uses nothing; submitting takes the store claim
`followup-form:{event_id}` first, atomically, so a second submission (a
replay, a second tab) finds it taken.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from functions.oauth.sealing import Keyring, SealError

#: As long as the question itself is worth answering (`scheduling.FOLLOWUP_EXPIRY`, and
#: a little for a message read late).
FORM_TTL = timedelta(days=4)

_PURPOSE = "followup-form/v1"
_NONCE = 12
_MAX_TOKEN = 2048


class FormTokenRejected(Exception):
    """Forged, altered, expired or for nobody; `reason` is for logs only."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class FormGrant:
    user_id: str
    event_id: str
    expires_at: datetime

    @property
    def claim_key(self) -> str:
        return f"followup-form:{self.event_id}"


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue(keyring: Keyring, user_id: str, event_id: str, now: datetime) -> str:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    kid = keyring.primary
    body = json.dumps(
        {"u": user_id, "e": event_id, "x": int((now + FORM_TTL).timestamp())},
        separators=(",", ":"),
    ).encode()
    nonce = secrets.token_bytes(_NONCE)
    sealed = AESGCM(keyring.derive(_PURPOSE, kid)).encrypt(nonce, body, kid.encode())
    return f"{kid}.{_b64e(nonce + sealed)}"


def open_token(keyring: Keyring, token: str, now: datetime) -> FormGrant:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if not token or len(token) > _MAX_TOKEN:
        raise FormTokenRejected("missing or oversized token")
    kid, _, blob = token.partition(".")
    try:
        raw = _b64d(blob)
        body = AESGCM(keyring.derive(_PURPOSE, kid)).decrypt(
            raw[:_NONCE], raw[_NONCE:], kid.encode()
        )
        doc = json.loads(body)
        grant = FormGrant(
            user_id=str(doc["u"]),
            event_id=str(doc["e"]),
            expires_at=datetime.fromtimestamp(int(doc["x"]), tz=now.tzinfo),
        )
    except (SealError, InvalidTag, binascii.Error, ValueError, KeyError, TypeError):
        raise FormTokenRejected("token does not authenticate") from None
    if not grant.user_id or not grant.event_id:
        raise FormTokenRejected("token names nobody")
    if now >= grant.expires_at:
        raise FormTokenRejected("token expired")
    return grant
