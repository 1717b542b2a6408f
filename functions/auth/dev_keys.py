"""A local signing key that stands in for Google's, for local mode and tests.

Local mode has no Google to sign add-on requests or task tokens, so the local
server signs them itself with a key kept in `.local/` and verifies them with
the very same `IdTokenVerifier` production uses; only the certificate source
differs. Nothing here is used when PREP_MODE=production.

Tokens are signed with `cryptography` directly (RS256: RSASSA-PKCS1-v1_5 over
SHA-256, as google-auth's `jwt.encode` does), so a local process never imports
google-auth's jwt module for them; tests/auth/test_dev_keys.py checks that
google-auth verifies what this signs.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from functions.auth.id_tokens import GOOGLE_ISSUERS

DEV_ISSUER = "https://accounts.google.com"
assert DEV_ISSUER in GOOGLE_ISSUERS


class DevSigner:
    """An RSA key with a self-signed certificate, published like Google's certs."""

    #: Whether tokens name their key (`kid`), as Google's do; the benchmarks
    #: sign without one to take the path of a token signed by a rotated key.
    names_key: ClassVar[bool] = True

    def __init__(self, private_pem: bytes) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        # The key is this module's own (generated below, kept in a 0600 file), so
        # cryptography's RSA consistency check, documented as skippable for keys
        # known to be valid, is skipped: it cost ~60 ms of the first local
        # eventOpen. Verification is untouched: tokens are still checked
        # against the certificate made from this key.
        key = serialization.load_pem_private_key(
            private_pem, password=None, unsafe_skip_rsa_key_validation=True
        )
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the dev signing key must be RSA")
        self._private_pem = private_pem
        self._key = key
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "meeting-prep local dev")])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(1)
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=3650))
            .sign(key, hashes.SHA256())
        )
        self.cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
        # From the public key, not the certificate: the certificate is re-made on
        # every load, and every process must name the same key id for one key file.
        public_der = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.key_id = hashlib.sha256(public_der).hexdigest()[:16]

    @classmethod
    def generate(cls) -> DevSigner:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return cls(pem)

    @classmethod
    def load_or_create(cls, path: Path) -> DevSigner:
        """The key at `path`, created (mode 0600) on first use."""
        if path.exists():
            return cls(path.read_bytes())
        signer = cls.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_bytes(signer._private_pem)
        return signer

    def certs(self) -> Mapping[str, str]:
        """The `{kid: PEM certificate}` document Google serves at its certs URL."""
        return {self.key_id: self.cert_pem}

    def sign(self, claims: Mapping[str, Any]) -> str:
        from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
        from cryptography.hazmat.primitives.hashes import SHA256

        header = {"typ": "JWT", "alg": "RS256"}
        if self.names_key:
            header["kid"] = self.key_id
        signed = f"{_b64url_json(header)}.{_b64url_json(dict(claims))}"
        signature = self._key.sign(signed.encode("ascii"), PKCS1v15(), SHA256())
        return f"{signed}.{_b64url(signature)}"

    def id_token(
        self,
        *,
        audience: str,
        subject: str,
        email: str | None = None,
        lifetime_seconds: int = 3600,
        **extra: Any,
    ) -> str:
        """A Google-shaped ID token (issuer, audience, email, expiry)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": DEV_ISSUER,
            "aud": audience,
            "sub": subject,
            "iat": now,
            "exp": now + lifetime_seconds,
        }
        if email is not None:
            claims["email"] = email
            claims["email_verified"] = True
        claims.update(extra)
        return self.sign(claims)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64url_json(value: Mapping[str, Any]) -> str:
    return _b64url(json.dumps(value, separators=(",", ":")).encode())


_cache: dict[Path, DevSigner] = {}
_cache_lock = threading.Lock()


def dev_signer(path: Path) -> DevSigner:
    """One signer per key file per process."""
    with _cache_lock:
        if path not in _cache:
            _cache[path] = DevSigner.load_or_create(path)
        return _cache[path]
