"""The embedded default's materials storage: files under `.local/materials`, served by the app.

Chosen over running the storage emulator inside the local server because the
emulator accepts any URL: serving through the app lets local mode check a
real signature and expiry on every request. URLs have the same V4 form as
Cloud Storage's (`/materials?object=...&X-Goog-Signature=...`, the object name
being a signed query parameter because the app routes by exact path), signed
with a service-account-shaped key kept in `.local/` (created on first use,
mode 0600). The same key file can sign for the Cloud Storage adapter when it
runs against the emulator in tests.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from functions.domain.clock import Clock, SystemClock
from functions.materials.storage import (
    HTML,
    MaterialsObjects,
    MaterialsStorage,
    StorageError,
    is_object_name,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

    from functions.materials.v4 import VerifiedUrl

LOCAL_SIGNER_EMAIL = "materials-signer@local.invalid"
SERVE_PATH = "/materials"


class LocalSigningKey:
    """An RSA key in Google's service-account JSON shape (so google-auth can load it too)."""

    def __init__(self, info: dict[str, Any]) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = serialization.load_pem_private_key(info["private_key"].encode(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the materials signing key must be RSA")
        self.info = info
        self.email: str = info["client_email"]
        self.private_key: rsa.RSAPrivateKey = key
        self.public_key: rsa.RSAPublicKey = key.public_key()

    @classmethod
    def generate(cls, email: str = LOCAL_SIGNER_EMAIL) -> LocalSigningKey:
        import hashlib

        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        return cls(
            {
                "type": "service_account",
                "project_id": "local",
                "private_key_id": hashlib.sha256(pem.encode()).hexdigest()[:40],
                "private_key": pem,
                "client_email": email,
                "client_id": "0",
                "token_uri": "https://oauth2.googleapis.com/token",
            }
        )

    @classmethod
    def load_or_create(cls, path: Path) -> LocalSigningKey:
        if path.exists():
            return cls(json.loads(path.read_text(encoding="utf-8")))
        signer = cls.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(json.dumps(signer.info), encoding="utf-8")
        return signer


class LocalMaterialsStorage(MaterialsStorage):
    def __init__(
        self, root: Path, key: LocalSigningKey, public_url: str, clock: Clock | None = None
    ) -> None:
        self.root = root
        self.key = key
        self.public_url = public_url.rstrip("/")
        self.clock: Clock = clock or SystemClock()
        self._lock = threading.Lock()

    def _path(self, name: str) -> Path:
        if not is_object_name(name):
            raise ValueError("not a materials object name")
        return self.root / name

    def exists(self, ref: str) -> bool:
        return self._path(ref + HTML).is_file()

    def put(self, ref: str, objects: MaterialsObjects) -> None:
        try:
            with self._lock:
                for suffix, body in objects.files():
                    target = self._path(ref + suffix)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    tmp = target.with_name(target.name + ".tmp")
                    tmp.write_bytes(body)
                    os.replace(tmp, target)
                meta = self._path(ref + HTML).with_suffix(".meta")
                meta.write_text(json.dumps(dict(objects.metadata), sort_keys=True))
        except OSError as exc:
            raise StorageError(f"local write failed ({type(exc).__name__})") from None

    def read(self, name: str) -> bytes | None:
        path = self._path(name)
        return path.read_bytes() if path.is_file() else None

    def signed_url(self, name: str, ttl: timedelta) -> str:
        from functions.materials.v4 import sign_url

        self._path(name)  # validates the name
        return sign_url(
            private_key=self.key.private_key,
            client_email=self.key.email,
            base_url=self.public_url,
            path=SERVE_PATH,
            params={"object": name},
            ttl=ttl,
            now=self.clock.now(),
        )

    def verify(self, url: str, now: datetime | None = None) -> VerifiedUrl:
        """Check a URL this storage signed (raises `v4.InvalidSignedUrl`)."""
        from functions.materials.v4 import verify_url

        return verify_url(
            url,
            public_key=self.key.public_key,
            now=now or self.clock.now(),
            expected_email=self.key.email,
        )

    def _delete_prefix(self, prefix: str) -> int:
        folder = self.root / prefix
        if not folder.is_dir():
            return 0
        count = 0
        for path in sorted(folder.rglob("*"), reverse=True):
            if path.is_file():
                path.unlink()
                count += 1
            else:
                path.rmdir()
        folder.rmdir()
        return count
