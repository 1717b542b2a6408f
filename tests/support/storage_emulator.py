"""Cloud Storage for tests: `gcp-storage-emulator` in process, and a fake IAM signBlob.

The emulator serves buckets, uploads, downloads, metadata and listing to the
real google-cloud-storage client (STORAGE_EMULATOR_HOST with its scheme), but
it accepts any URL, signed or not: tests that claim a signed URL is valid
verify it with `functions.materials.v4.verify_url` themselves.

The fake IAM Credentials API signs like `projects/-/serviceAccounts/{email}:signBlob`
does (RSA SHA-256 over the payload, base64 in `signedBlob`), for one bearer
token and one service account, so the production signing path
(`service_account_email` + `access_token`) runs end to end.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from functions.materials.local_files import LocalSigningKey
from tests.support.loopback import serve_loopback

IAM_HOST = "https://iamcredentials.googleapis.com"
_SIGN_BLOB_RE = re.compile(r"^/v1/projects/-/serviceAccounts/(?P<email>[^/:]+):signBlob")


@dataclass
class StorageEmulator:
    host: str
    server: Any


@contextmanager
def storage_emulator(bucket: str) -> Iterator[StorageEmulator]:
    """An in-memory emulator on a free loopback port with `bucket` created."""
    from gcp_storage_emulator.server import create_server

    logging.getLogger("gcp_storage_emulator").setLevel(logging.WARNING)
    server = create_server("127.0.0.1", 0, in_memory=True, default_bucket=bucket)
    server.start()
    port = server._api._httpd.server_address[1]
    try:
        yield StorageEmulator(host=f"http://127.0.0.1:{port}", server=server)
    finally:
        server.stop()


@dataclass
class FakeIam:
    key: LocalSigningKey
    token: str
    port: int = 0
    calls: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _iam_handler(fake: FakeIam) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            match = _SIGN_BLOB_RE.match(self.path)
            if match is None:
                self._send(404, {"error": {"code": 404, "status": "NOT_FOUND"}})
                return
            if self.headers.get("Authorization") != f"Bearer {fake.token}":
                self._send(401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}})
                return
            if match["email"] != fake.key.email:
                self._send(403, {"error": {"code": 403, "status": "PERMISSION_DENIED"}})
                return
            payload = base64.b64decode(json.loads(body)["payload"])
            fake.calls.append(match["email"])
            signature = fake.key.private_key.sign(payload, padding.PKCS1v15(), hashes.SHA256())
            self._send(
                200,
                {
                    "keyId": fake.key.info["private_key_id"],
                    "signedBlob": base64.b64encode(signature).decode(),
                },
            )

    return Handler


@contextmanager
def fake_iam(key: LocalSigningKey, token: str) -> Iterator[FakeIam]:
    fake = FakeIam(key=key, token=token)
    with serve_loopback(_iam_handler(fake), "fake-iam") as url:
        fake.port = int(url.rpartition(":")[2])
        yield fake


def redirecting_request_class(target: str) -> type[Any]:
    """google-auth's requests transport, with IAM's host rewritten to a loopback fake."""
    from google.auth.transport import requests as auth_requests

    base = auth_requests.Request

    class Redirecting(base):  # type: ignore[misc, valid-type]
        def __call__(self, url: str, *args: Any, **kwargs: Any) -> Any:
            if url.startswith(IAM_HOST):
                url = target + url[len(IAM_HOST) :]
            return super().__call__(url, *args, **kwargs)

    return Redirecting
