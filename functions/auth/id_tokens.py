"""Verify Google-signed ID tokens: add-on systemIdTokens and Cloud Tasks/Scheduler OIDC.

Both arrive as `Authorization: Bearer <JWT>` signed by Google, and both are
checked the same way: signature against Google's published certificates,
expiry, audience (our endpoint URL), issuer, and the caller's service-account
email with `email_verified`. google-auth does the cryptography; this module
adds what `verify_oauth2_token` leaves out (the email check, a certificate
cache that honours Cache-Control so every request does not refetch the keys,
and an error that never tells the caller why it was refused).
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.request
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Google's certificates for ID tokens (x509 PEM by key id).
GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
GOOGLE_ISSUERS = frozenset({"accounts.google.com", "https://accounts.google.com"})

CertSource = Callable[[], Mapping[str, str]]

_MAX_AGE_RE = re.compile(r"max-age=(\d+)")


class TokenRejected(Exception):
    """The token is not acceptable. `reason` is for logs only, never for the response."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def host_port(audience: str) -> str:
    """What a log may say about an audience: an URL's host:port, else a bounded prefix."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(audience)
        netloc = parts.netloc.rpartition("@")[2]
        if parts.scheme in ("http", "https") and netloc:
            port = parts.port or (443 if parts.scheme == "https" else 80)
            return f"{parts.hostname}:{port}"[:120]
    except ValueError:
        pass
    return "".join(ch for ch in audience[:80] if ch.isprintable())


class WrongAudience(TokenRejected):
    """A genuine token for another audience: typically a local token signed for another port.

    The reason names both hosts (never the token), so the log says what to fix.
    """

    def __init__(self, expected: str, received: str) -> None:
        self.expected = host_port(expected)
        self.received = host_port(received)
        super().__init__(
            f"audience mismatch: this server expects {self.expected}, "
            f"the token was signed for {self.received}"
        )


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    subject: str
    email: str | None
    audience: str
    issuer: str
    claims: Mapping[str, Any] = field(repr=False)


class HttpCerts:
    """Certificates fetched over HTTP and cached for the server's stated max-age."""

    def __init__(
        self, url: str = GOOGLE_CERTS_URL, *, default_ttl: float = 300.0, timeout: float = 5.0
    ) -> None:
        self.url = url
        self.default_ttl = default_ttl
        self.timeout = timeout
        self._certs: Mapping[str, str] = {}
        self._expires = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> Mapping[str, str]:
        with self._lock:
            if time.monotonic() < self._expires and self._certs:
                return self._certs
            if not self.url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
                raise TokenRejected("certificate URL must be https (or loopback in tests)")
            try:
                with urllib.request.urlopen(self.url, timeout=self.timeout) as resp:  # noqa: S310
                    body = json.loads(resp.read())
                    cache_control = resp.headers.get("Cache-Control", "")
            except (OSError, ValueError) as exc:
                raise TokenRejected(f"could not fetch certificates: {type(exc).__name__}") from None
            if not isinstance(body, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in body.items()
            ):
                raise TokenRejected("certificate endpoint returned an unexpected shape")
            match = _MAX_AGE_RE.search(cache_control)
            ttl = float(match.group(1)) if match else self.default_ttl
            self._certs = dict(body)
            self._expires = time.monotonic() + ttl
            return self._certs

    def invalidate(self) -> None:
        """Forget cached keys (Google rotates them; an unknown kid triggers one refetch)."""
        with self._lock:
            self._expires = 0.0


class IdTokenVerifier:
    def __init__(
        self,
        certs: CertSource,
        *,
        issuers: Collection[str] = GOOGLE_ISSUERS,
        clock_skew_seconds: int = 10,
    ) -> None:
        self._certs = certs
        self.issuers = frozenset(issuers)
        self.clock_skew_seconds = clock_skew_seconds

    def verify(
        self,
        token: str,
        *,
        audience: str | Collection[str],
        emails: Collection[str] | None,
    ) -> VerifiedToken:
        """Return the verified claims or raise `TokenRejected`.

        `emails=None` skips the caller check (user ID tokens identify a person,
        not a service account); otherwise the token must carry one of `emails`
        with `email_verified` true.
        """
        from google.auth import exceptions as gexc
        from google.auth import jwt

        if not token or token.count(".") != 2 or len(token) > 16384:
            raise TokenRejected("not a JWT")
        audiences = [audience] if isinstance(audience, str) else list(audience)
        try:
            claims = jwt.decode(
                token,
                certs=self._certs_for(token),
                audience=audiences,
                clock_skew_in_seconds=self.clock_skew_seconds,
            )
        except (ValueError, gexc.GoogleAuthError) as exc:
            received = self._signed_audience(token)
            if received is not None and received not in audiences:
                raise WrongAudience(audiences[0], received) from None
            raise TokenRejected(f"invalid token: {type(exc).__name__}") from None
        issuer = str(claims.get("iss", ""))
        if issuer not in self.issuers:
            raise TokenRejected("unexpected issuer")
        email = claims.get("email")
        if emails is not None:
            if email not in set(emails):
                raise TokenRejected("unexpected caller")
            if claims.get("email_verified") is not True:
                raise TokenRejected("caller email not verified")
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise TokenRejected("no subject")
        return VerifiedToken(
            subject=subject,
            email=email if isinstance(email, str) else None,
            audience=str(claims.get("aud", "")),
            issuer=issuer,
            claims=claims,
        )

    def _signed_audience(self, token: str) -> str | None:
        """The audience of a token that is valid but for its audience, else None.

        Only asked after a refusal: the same check without the audience says
        whether the audience was the one thing wrong (a dev token for another
        port), and only then is the audience worth a hint in the log.
        """
        from google.auth import exceptions as gexc
        from google.auth import jwt

        try:
            claims = jwt.decode(
                token,
                certs=self._certs_for(token),
                audience=None,
                clock_skew_in_seconds=self.clock_skew_seconds,
            )
        except (ValueError, gexc.GoogleAuthError, TokenRejected):
            return None
        aud = claims.get("aud")
        return aud if isinstance(aud, str) else None

    def _certs_for(self, token: str) -> Mapping[str, str]:
        """The key set, refetched once if the token names a key id we do not know."""
        from google.auth import jwt

        certs = self._certs()
        try:
            header = jwt.decode_header(token)
        except ValueError:
            raise TokenRejected("not a JWT") from None
        kid = header.get("kid") if isinstance(header, dict) else None
        if kid and kid not in certs and isinstance(self._certs, HttpCerts):
            self._certs.invalidate()
            certs = self._certs()
        return certs


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer ...` header, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
