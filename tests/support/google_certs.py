"""A local stand-in for Google's certificate endpoint, and a signer to go with it.

Tests sign tokens with a locally generated key and point the production
verifier (`HttpCerts` + `IdTokenVerifier`) at this server, so the code path
under test is the one that talks to https://www.googleapis.com/oauth2/v1/certs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler

from functions.auth.dev_keys import DevSigner
from tests.support.loopback import serve_loopback


@dataclass
class CertServer:
    url: str
    signer: DevSigner
    hits: list[str]


@contextmanager
def cert_server(signer: DevSigner | None = None, max_age: int = 3600) -> Iterator[CertServer]:
    key = signer or DevSigner.generate()
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            body = json.dumps(key.certs()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", f"public, max-age={max_age}")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    with serve_loopback(Handler, "google-certs") as url:
        yield CertServer(f"{url}/oauth2/v1/certs", key, hits)
