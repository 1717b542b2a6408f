"""Who is reading: Google sign-in (OpenID Connect) for pages our own service serves.

The stable materials link (`functions.materials.reader`) must know the
reader's Google account before it hands out a signed URL. That is an
OpenID Connect authorization code flow against Google (Google's "OpenID
Connect" guide; the endpoints are the configured `PREP_OAUTH_AUTH_URI` and
`PREP_OAUTH_TOKEN_URI`, the local `/dev/oauth` stand-in in `make run`):

* request: `response_type=code`, `scope=openid email` (nothing else: no API
  access, no refresh token), `state`, `nonce`, PKCE S256, and
  `prompt=select_account` so a browser signed in to several accounts asks
  which one reads;
* `state` is a sealed record (`functions.oauth.sealed`, its own purpose)
  holding a random attempt id, the page to return to and the expiry: the
  browser cannot forge it or change where it leads; it is consumed once
  (`store.claim`) and must match a binding cookie set on this browser when
  the sign-in started, so nobody can sign a victim in as somebody else by
  sending them a callback link (login CSRF);
* the PKCE verifier and the nonce are HMACs of the attempt id under server
  keys: never stored, never sent to the browser except as the challenge and
  the nonce Google echoes;
* the ID token from the token endpoint is verified like every Google ID
  token (signature, expiry, issuer, audience = our web client id), and its
  `nonce` must be ours and `email_verified` true.

What comes out is a `Reader` (Google's stable `sub` and the verified
address), kept in a sealed, short-lived session cookie (HttpOnly, Secure on
https, SameSite=Lax, scoped to the reader's path) so the next link in the
same hour does not bounce through Google again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from functions.auth.id_tokens import IdTokenVerifier, TokenRejected
from functions.errors import PermanentError, TransientError
from functions.oauth.client import OAuthClient
from functions.oauth.scopes import OPENID
from functions.oauth.sealed import SealedCodec, Unsealed, b64e
from functions.oauth.sealing import Keyring
from functions.store.port import Store

#: Identity only: who the reader is and their verified address.
SIGNIN_SCOPES: tuple[str, ...] = (OPENID, "email")
#: Long enough to pick an account, short enough that a leaked sign-in link is stale.
SIGNIN_TTL = timedelta(minutes=10)
#: How long a signed-in reader opens links without seeing Google again.
SESSION_TTL = timedelta(hours=1)
#: Seconds to wait for the token endpoint.
HTTP_TIMEOUT = 10.0
_MAX_CODE = 2048


class SignInRefused(PermanentError):
    """The sign-in cannot finish: start again. `reason` is for logs only."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SignInUnavailable(TransientError):
    """Google's token endpoint could not be reached: the same link may work in a moment."""


@dataclass(frozen=True, slots=True)
class Reader:
    """A person Google vouched for: their stable account id and verified address."""

    subject: str
    email: str


@dataclass(frozen=True, slots=True)
class SignInAttempt:
    attempt: str
    #: Where to go once signed in: an opaque value the caller gave `start` (never a URL).
    target: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Started:
    #: Google's sign-in page for this attempt.
    url: str
    #: The value of the binding cookie to set on this browser.
    binding: str


class SignIn:
    """One client's sign-in for one callback URL (`redirect_uri`, registered at Google)."""

    def __init__(self, keyring: Keyring, client: OAuthClient, redirect_uri: str) -> None:
        self.client = client
        self.redirect_uri = redirect_uri
        self._keyring = keyring
        self._state = SealedCodec(keyring, "signin-state/v1")
        self._sessions = SealedCodec(keyring, "signin-session/v1")

    # ------------------------------------------------------------------ derived secrets

    def _mac(self, purpose: str, attempt: str) -> str:
        key = self._keyring.derive(purpose)
        return b64e(hmac.new(key, attempt.encode(), hashlib.sha256).digest())

    def code_verifier(self, attempt: str) -> str:
        """RFC 7636 verifier (43 characters of base64url): derived, never stored or sent."""
        return self._mac("signin-pkce/v1", attempt)

    def nonce(self, attempt: str) -> str:
        return self._mac("signin-nonce/v1", attempt)

    def binding(self, attempt: str) -> str:
        return self._mac("signin-binding/v1", attempt)

    # ------------------------------------------------------------------ the flow

    def start(self, target: str, now: datetime, *, login_hint: str | None = None) -> Started:
        attempt = secrets.token_hex(16)
        expires = now + SIGNIN_TTL
        state = self._state.seal({"a": attempt, "t": target, "x": int(expires.timestamp())})
        challenge = b64e(hashlib.sha256(self.code_verifier(attempt).encode()).digest())
        params = {
            "client_id": self.client.client_id,
            "redirect_uri": self.redirect_uri,
            "response_type": "code",
            "scope": " ".join(SIGNIN_SCOPES),
            "state": state,
            "nonce": self.nonce(attempt),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "prompt": "select_account",
        }
        if login_hint:
            params["login_hint"] = login_hint
        url = f"{self.client.auth_uri}?{urllib.parse.urlencode(params)}"
        return Started(url=url, binding=self.binding(attempt))

    def open_state(self, state: str, binding: str | None, now: datetime) -> SignInAttempt:
        """The attempt `state` names, if it is ours, current, and started on this browser."""
        try:
            doc = self._state.open(state)
            found = SignInAttempt(
                attempt=str(doc["a"]),
                target=str(doc["t"]),
                expires_at=datetime.fromtimestamp(int(doc["x"]), tz=now.tzinfo),
            )
        except (Unsealed, KeyError, TypeError, ValueError):
            raise SignInRefused("state does not authenticate") from None
        if now >= found.expires_at:
            raise SignInRefused("state expired")
        want = self.binding(found.attempt)
        if not binding or not hmac.compare_digest(binding.encode(), want.encode()):
            raise SignInRefused("state not started on this browser")
        return found

    def consume(self, store: Store, namespace: str, attempt: SignInAttempt) -> None:
        """Single use: a replayed callback finds the attempt taken."""
        if not store.claim(namespace, f"signin:{attempt.attempt}"):
            raise SignInRefused("state already used")

    def finish(self, attempt: SignInAttempt, code: str, verifier: IdTokenVerifier) -> Reader:
        """Redeem `code` (PKCE) and return the reader its verified ID token names."""
        if not code or len(code) > _MAX_CODE:
            raise SignInRefused("no code")
        answer = self._exchange(code, self.code_verifier(attempt.attempt))
        try:
            verified = verifier.verify(
                str(answer.get("id_token", "")), audience=self.client.client_id, emails=None
            )
        except TokenRejected as exc:
            raise SignInRefused(f"id token: {exc.reason}") from None
        nonce = verified.claims.get("nonce")
        want = self.nonce(attempt.attempt)
        if not isinstance(nonce, str) or not hmac.compare_digest(nonce.encode(), want.encode()):
            raise SignInRefused("nonce mismatch")
        email = verified.email
        if not email or verified.claims.get("email_verified") is not True:
            raise SignInRefused("email not verified")
        return Reader(subject=verified.subject, email=email.lower())

    def _exchange(self, code: str, code_verifier: str) -> dict[str, Any]:
        token_uri = self.client.token_uri
        if not token_uri.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise SignInRefused("token endpoint must be https (or loopback)")
        body = urllib.parse.urlencode(
            {
                "code": code,
                "client_id": self.client.client_id,
                "client_secret": self.client.client_secret,
                "redirect_uri": self.redirect_uri,
                "grant_type": "authorization_code",
                "code_verifier": code_verifier,
            }
        ).encode()
        request = urllib.request.Request(  # noqa: S310 - https or loopback, checked above
            token_uri,
            data=body,
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as resp:  # noqa: S310
                answer = json.loads(resp.read(65536))
        except urllib.error.HTTPError as exc:
            if exc.code >= 500 or exc.code == 429:
                raise SignInUnavailable(f"token endpoint {exc.code}") from None
            raise SignInRefused(f"token endpoint {exc.code}") from None
        except (OSError, ValueError) as exc:
            raise SignInUnavailable(type(exc).__name__) from None
        if not isinstance(answer, dict):
            raise SignInRefused("unexpected token response")
        return answer

    # ------------------------------------------------------------------ the session

    def session(self, reader: Reader, now: datetime) -> str:
        """The sealed session cookie's value for `reader`, valid for `SESSION_TTL`."""
        expires = int((now + SESSION_TTL).timestamp())
        return self._sessions.seal({"s": reader.subject, "e": reader.email, "x": expires})

    def reader(self, cookie: str | None, now: datetime) -> Reader | None:
        """The reader a session cookie names; None when absent, forged, altered or expired."""
        if not cookie:
            return None
        try:
            doc = self._sessions.open(cookie)
            reader = Reader(subject=str(doc["s"]), email=str(doc["e"]))
            expires = int(doc["x"])
        except (Unsealed, KeyError, TypeError, ValueError):
            return None
        if not reader.subject or now.timestamp() >= expires:
            return None
        return reader
