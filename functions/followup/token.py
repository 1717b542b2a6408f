"""The email's link to the follow-up form: signed, expiring, single use, bound to user+meeting.

A browser arrives at the form with no ID token, so everything the page may
trust comes back through the token, as with the OAuth `state`
(`functions.oauth.state`): a sealed record (`functions.oauth.sealed`: AES-GCM
under a key derived from the credentials KEK for this purpose only) naming
the user, the meeting and when it expires. It cannot be forged or altered,
and the URL shows neither the user id nor the event id. Opening the page
(GET, which mail scanners do on their own) uses nothing; submitting takes the store claim
`followup-form:{event_id}` first, atomically, so a second submission (a
replay, a second tab) finds it taken.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from functions.oauth.sealed import SealedCodec, Unsealed
from functions.oauth.sealing import Keyring

#: As long as the question itself is worth answering (`scheduling.FOLLOWUP_EXPIRY`, and
#: a little for a message read late).
FORM_TTL = timedelta(days=4)

_PURPOSE = "followup-form/v1"
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


def _codec(keyring: Keyring) -> SealedCodec:
    return SealedCodec(keyring, _PURPOSE)


def issue(keyring: Keyring, user_id: str, event_id: str, now: datetime) -> str:
    return _codec(keyring).seal(
        {"u": user_id, "e": event_id, "x": int((now + FORM_TTL).timestamp())}
    )


def open_token(keyring: Keyring, token: str, now: datetime) -> FormGrant:
    if not token or len(token) > _MAX_TOKEN:
        raise FormTokenRejected("missing or oversized token")
    try:
        doc = _codec(keyring).open(token)
        grant = FormGrant(
            user_id=str(doc["u"]),
            event_id=str(doc["e"]),
            expires_at=datetime.fromtimestamp(int(doc["x"]), tz=now.tzinfo),
        )
    except (Unsealed, ValueError, KeyError, TypeError, OverflowError):
        raise FormTokenRejected("token does not authenticate") from None
    if not grant.user_id or not grant.event_id:
        raise FormTokenRejected("token names nobody")
    if now >= grant.expires_at:
        raise FormTokenRejected("token expired")
    return grant
