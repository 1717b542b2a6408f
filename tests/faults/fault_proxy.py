"""A loopback HTTP proxy that forwards to a real (emulated) service and fails on cue.

Faults are injected on the wire, so the production adapter and Google's own
client library see exactly what they would see from Google: a 503 with
Google's error body for the Nth matching request, while everything else
passes through to the emulator unchanged.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from tests.support.loopback import serve_loopback

_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host"}
)


@dataclass
class Rule:
    method: str
    path_prefix: str
    #: Fail the matching requests with these 1-based numbers (counted per rule).
    fail_on: frozenset[int]
    status: int = 503
    seen: int = 0


@dataclass
class FaultProxy:
    target: str
    url: str = ""
    rules: list[Rule] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, method: str, path_prefix: str, *numbers: int, status: int = 503) -> None:
        with self.lock:
            self.rules.append(Rule(method, path_prefix, frozenset(numbers), status))

    def _verdict(self, method: str, path: str) -> int | None:
        with self.lock:
            for rule in self.rules:
                if rule.method == method and path.startswith(rule.path_prefix):
                    rule.seen += 1
                    if rule.seen in rule.fail_on:
                        self.failed.append(f"{method} {path}")
                        return rule.status
        return None


@contextmanager
def fault_proxy(target: str) -> Iterator[FaultProxy]:
    proxy = FaultProxy(target)
    upstream = urlsplit(target)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return

        def _relay(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status = proxy._verdict(self.command, self.path)
            if status is not None:
                payload = json.dumps(
                    {"error": {"code": status, "message": "injected", "errors": []}}
                ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            conn = http.client.HTTPConnection(
                upstream.hostname or "127.0.0.1", upstream.port, timeout=30
            )
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            conn.close()
            self.send_response(resp.status)
            for key, value in resp.getheaders():
                if key.lower() not in _HOP_BY_HOP and key.lower() != "content-length":
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _relay

    with serve_loopback(Handler, "fault-proxy") as url:
        proxy.url = url
        yield proxy
