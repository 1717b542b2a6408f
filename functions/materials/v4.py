"""Cloud Storage V4 signed URLs (GOOG4-RSA-SHA256): sign and verify.

Production URLs are signed by google-cloud-storage (with a key or through
IAM signBlob); this module rebuilds the same canonical request so that:

- tests can prove a URL is valid, because the storage emulator accepts any
  URL and so proves nothing about signature or expiry;
- the embedded default can serve materials from the app itself behind the
  same kind of URL (`/materials?object=...&X-Goog-...`), signed with a key in
  `.local/` and checked here on every request.

The canonical form follows Google's documentation: method, percent-encoded
path, sorted percent-encoded query (everything but X-Goog-Signature), the
signed headers (only `host`), and UNSIGNED-PAYLOAD; its SHA-256 is signed with
RSA PKCS#1 v1.5 over SHA-256.
"""

from __future__ import annotations

import binascii
import hashlib
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ALGORITHM = "GOOG4-RSA-SHA256"
#: Cloud Storage refuses V4 URLs that live longer than seven days.
MAX_EXPIRES_SECONDS = 7 * 24 * 3600
#: How far a URL's X-Goog-Date may be ahead of our clock.
CLOCK_SKEW = timedelta(minutes=15)
_TIMESTAMP = "%Y%m%dT%H%M%SZ"
_SIGNATURE = "X-Goog-Signature"


class InvalidSignedUrl(ValueError):
    """The URL is not a valid, unexpired V4 signed URL. `reason` is for logs only."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class VerifiedUrl:
    path: str
    #: Query parameters other than the X-Goog-* signing ones.
    params: Mapping[str, str]
    signer_email: str
    signed_at: datetime
    expires_at: datetime


def quote_param(value: str) -> str:
    return urllib.parse.quote(value, safe="~")


def canonical_query(params: Mapping[str, str]) -> str:
    return "&".join(sorted(f"{quote_param(k)}={quote_param(v)}" for k, v in params.items()))


def canonical_request(method: str, path: str, query: str, host: str) -> str:
    return "\n".join([method, path, query, f"host:{host}\n", "host", "UNSIGNED-PAYLOAD"])


def string_to_sign(timestamp: str, scope: str, request: str) -> str:
    digest = hashlib.sha256(request.encode("ascii")).hexdigest()
    return "\n".join([ALGORITHM, timestamp, scope, digest])


def _scope(datestamp: str) -> str:
    return f"{datestamp}/auto/storage/goog4_request"


def sign_url(
    *,
    private_key: rsa.RSAPrivateKey,
    client_email: str,
    base_url: str,
    path: str,
    params: Mapping[str, str],
    ttl: timedelta,
    now: datetime,
    method: str = "GET",
) -> str:
    """A V4-signed URL for `base_url` + `path` with extra `params` (also signed)."""
    seconds = int(ttl.total_seconds())
    if not 1 <= seconds <= MAX_EXPIRES_SECONDS:
        raise ValueError("signed URLs live between 1 second and 7 days")
    timestamp = now.astimezone(UTC).strftime(_TIMESTAMP)
    scope = _scope(timestamp[:8])
    query = {
        **params,
        "X-Goog-Algorithm": ALGORITHM,
        "X-Goog-Credential": f"{client_email}/{scope}",
        "X-Goog-Date": timestamp,
        "X-Goog-Expires": str(seconds),
        "X-Goog-SignedHeaders": "host",
    }
    quoted_path = urllib.parse.quote(path, safe="/~")
    host = urllib.parse.urlsplit(base_url).netloc
    canonical = canonical_query(query)
    to_sign = string_to_sign(
        timestamp, scope, canonical_request(method, quoted_path, canonical, host)
    )
    signature = private_key.sign(to_sign.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{base_url.rstrip('/')}{quoted_path}?{canonical}&{_SIGNATURE}={signature.hex()}"


def load_public_key(pem: bytes) -> rsa.RSAPublicKey:
    """An RSA public key from a PEM public key or certificate."""
    from cryptography import x509

    key: object = (
        x509.load_pem_x509_certificate(pem).public_key()
        if b"CERTIFICATE" in pem
        else serialization.load_pem_public_key(pem)
    )
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("signed URLs use RSA keys")
    return key


def verify_url(
    url: str,
    *,
    public_key: rsa.RSAPublicKey,
    now: datetime,
    method: str = "GET",
    expected_email: str | None = None,
) -> VerifiedUrl:
    """Check a V4 signed URL as Cloud Storage would; raises `InvalidSignedUrl`."""
    parts = urllib.parse.urlsplit(url)
    try:
        pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise InvalidSignedUrl("malformed query") from None
    query: dict[str, str] = {}
    for key, value in pairs:
        if key in query:
            raise InvalidSignedUrl(f"repeated parameter {key}")
        query[key] = value
    signature_hex = query.pop(_SIGNATURE, "")
    if query.get("X-Goog-Algorithm") != ALGORITHM:
        raise InvalidSignedUrl("not a V4 RSA signed URL")
    if query.get("X-Goog-SignedHeaders") != "host":
        raise InvalidSignedUrl("unexpected signed headers")
    timestamp = query.get("X-Goog-Date", "")
    try:
        signed_at = datetime.strptime(timestamp, _TIMESTAMP).replace(tzinfo=UTC)
        expires = int(query.get("X-Goog-Expires", ""))
    except ValueError:
        raise InvalidSignedUrl("bad date or expiry") from None
    if not 1 <= expires <= MAX_EXPIRES_SECONDS:
        raise InvalidSignedUrl("expiry out of range")
    email, _, scope = query.get("X-Goog-Credential", "").partition("/")
    if scope != _scope(timestamp[:8]) or not email:
        raise InvalidSignedUrl("bad credential scope")
    if expected_email is not None and email != expected_email:
        raise InvalidSignedUrl("signed by another account")
    expires_at = signed_at + timedelta(seconds=expires)
    if now >= expires_at:
        raise InvalidSignedUrl("expired")
    if now < signed_at - CLOCK_SKEW:
        raise InvalidSignedUrl("not valid yet")
    try:
        signature = binascii.unhexlify(signature_hex)
    except (binascii.Error, ValueError):
        raise InvalidSignedUrl("signature is not hex") from None
    request = canonical_request(method, parts.path, canonical_query(query), parts.netloc)
    try:
        to_sign = string_to_sign(timestamp, scope, request)
        public_key.verify(signature, to_sign.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, UnicodeEncodeError):
        raise InvalidSignedUrl("signature does not match") from None
    params = {k: v for k, v in query.items() if not k.startswith("X-Goog-")}
    return VerifiedUrl(
        path=urllib.parse.unquote(parts.path),
        params=params,
        signer_email=email,
        signed_at=signed_at,
        expires_at=expires_at,
    )
