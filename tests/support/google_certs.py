"""A local stand-in for Google's certificate endpoint, and a signer to go with it.

Tests sign tokens with a locally generated key and point the production
verifier (`HttpCerts` + `IdTokenVerifier`) at this server, so the code path
under test is the one that talks to https://www.googleapis.com/oauth2/v1/certs.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from functions.auth.dev_keys import DevSigner


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

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield CertServer(f"http://127.0.0.1:{server.server_address[1]}/oauth2/v1/certs", key, hits)
    finally:
        server.shutdown()
        server.server_close()
