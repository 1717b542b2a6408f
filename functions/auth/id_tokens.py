"""Verify Google-signed ID tokens: add-on systemIdTokens and Cloud Tasks/Scheduler OIDC.

Both arrive as `Authorization: Bearer <JWT>` signed by Google, and both are
checked the same way: signature against Google's published certificates,
expiry, audience (our endpoint URL), issuer, and the caller's service-account
email with `email_verified`. Beyond what `verify_oauth2_token` checks, this
module checks the email, caches the certificates for as long as Cache-Control
says (so every request does not refetch the keys), and raises an error that
never tells the caller why it was refused.

The RS256 check itself (`decode_rs256`) calls `cryptography` directly instead
of `google.auth.jwt.decode`: importing google-auth's jwt module pulls in its
credentials machinery and asyncio (~35 ms of every cold start, for code a
verifier never runs). It makes the same checks as google-auth's `decode` (the
kid names a published certificate, else every certificate is tried; RSASSA
PKCS#1 v1.5 with SHA-256; `iat` and `exp` present, within the clock skew;
`aud` one of ours) and is stricter where that costs nothing: only `RS256` is
accepted (Google signs ID tokens with it; no `none`, no HMAC keyed with a
certificate, no EC), `iat`/`exp` must be numbers, and the certificate's key
must be RSA. tests/auth/test_id_tokens.py holds it to google-auth's answers.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import math
import re
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeGuard

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

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
            import urllib.request  # only production fetches; local mode's certs are in process

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
        if not token or token.count(".") != 2 or len(token) > 16384:
            raise TokenRejected("not a JWT")
        audiences = [audience] if isinstance(audience, str) else list(audience)
        claims = decode_rs256(
            token,
            self._certs_for(token),
            audiences=audiences,
            clock_skew_seconds=self.clock_skew_seconds,
        )
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

    def _certs_for(self, token: str) -> Mapping[str, str]:
        """The key set, refetched once if the token names a key id we do not know."""
        certs = self._certs()
        kid = _segments(token)[0].get("kid")
        if not isinstance(kid, str):
            kid = None
        if kid and kid not in certs and isinstance(self._certs, HttpCerts):
            self._certs.invalidate()
            certs = self._certs()
        return certs


def decode_rs256(
    token: str,
    certs: Mapping[str, str],
    *,
    audiences: Collection[str],
    clock_skew_seconds: int,
    now: float | None = None,
) -> dict[str, Any]:
    """The claims of an RS256 JWT signed by one of `certs` ({kid: X.509 PEM}), else `TokenRejected`.

    The signature is checked before any claim is believed; `now` (epoch
    seconds) is for tests.
    """
    header, claims, signed, signature = _segments(token)
    if header.get("alg") != "RS256":
        raise TokenRejected("invalid token: unsupported algorithm")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise TokenRejected("invalid token: malformed key id")
    if kid:
        if kid not in certs:
            raise TokenRejected("invalid token: unknown key id")
        candidates = [certs[kid]]
    else:
        candidates = list(certs.values())
    if not any(_signature_valid(pem, signed, signature) for pem in candidates):
        raise TokenRejected("invalid token: bad signature")
    moment = time.time() if now is None else now
    issued, expires = claims.get("iat"), claims.get("exp")
    if not _is_number(issued) or not _is_number(expires):
        raise TokenRejected("invalid token: iat and exp must be numbers")
    if moment < issued - clock_skew_seconds:
        raise TokenRejected("invalid token: used too early")
    if expires + clock_skew_seconds < moment:
        raise TokenRejected("invalid token: expired")
    audience = claims.get("aud")
    if not isinstance(audience, str):
        raise TokenRejected("invalid token: wrong audience")
    if audience not in audiences:
        # Valid in every other way: the hint (both host:ports) is worth a log line.
        raise WrongAudience(next(iter(audiences), ""), audience)
    return claims


def _segments(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """Header, claims, signed bytes and signature of a compact JWT; unverified."""
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenRejected("not a JWT")
    try:
        header = json.loads(_b64url(parts[0]))
        claims = json.loads(_b64url(parts[1]))
        signature = _b64url(parts[2])
    except (ValueError, binascii.Error, RecursionError):
        raise TokenRejected("not a JWT") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise TokenRejected("not a JWT")
    return header, claims, f"{parts[0]}.{parts[1]}".encode("ascii"), signature


def _b64url(segment: str) -> bytes:
    """Base64url without padding (RFC 7515 section 2), as Google writes it."""
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _is_number(value: object) -> TypeGuard[float]:
    """A finite JSON number: NaN would pass every comparison with the clock."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _signature_valid(certificate: str, signed: bytes, signature: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
    from cryptography.hazmat.primitives.hashes import SHA256

    key = _public_key(certificate)
    if key is None:
        return False
    try:
        key.verify(signature, signed, PKCS1v15(), SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


@functools.lru_cache(maxsize=32)
def _public_key(certificate: str) -> RSAPublicKey | None:
    """The RSA key of one published PEM certificate (or None), parsed once per process.

    Google publishes two or three certificates and rotates them every few days,
    so a small cache holds them all; an entry is only ever looked up by the
    exact certificate text, never trusted for another.
    """
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
    from cryptography.x509 import load_pem_x509_certificate

    try:
        key = load_pem_x509_certificate(certificate.encode("ascii")).public_key()
    except (ValueError, UnicodeError):
        return None
    return key if isinstance(key, RSAPublicKey) else None


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer ...` header, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
