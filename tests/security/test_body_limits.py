"""Oversized bodies are refused before anything reads them (issue 13, item 2).

The 413 alone was not enough: functions-framework reads the whole request
after every response (`read_request`), so a 400 MB body cost 400 MB of memory
even though the answer was a refusal. These tests hand every entry point a
body that counts what was read from it, and run the real local server in a
subprocess to watch its peak memory while it refuses 128 MB.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import flask
import functions_framework
import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

from functions.web import MAX_BODY_BYTES

ROOT = Path(__file__).resolve().parents[2]
MAIN = str(ROOT / "main.py")
#: Cloud Functions' own request limit (32 MiB): what a deployed function can be sent.
HUGE = 32 * 1024 * 1024


class CountingBody(io.RawIOBase):
    """`HUGE` bytes of spaces that remember how much of them anyone read."""

    def __init__(self) -> None:
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        n = min(len(buffer), HUGE - self.read_bytes)
        buffer[:n] = b" " * n
        self.read_bytes += n
        return n


@pytest.fixture(scope="module")
def apps() -> dict[str, flask.Flask]:
    """Each deployed entry point, and `make run`'s, built by functions-framework itself."""
    targets = ("local", "addon", "tasks", "chat", "oauth", "calendar_webhook", "health")
    return {t: functions_framework.create_app(target=t, source=MAIN) for t in targets}


def _send(app: flask.Flask, path: str, *, chunked: bool) -> tuple[int, CountingBody]:
    body = CountingBody()
    environ = EnvironBuilder(
        path=path,
        method="POST",
        headers=[("Content-Type", "application/json")],
        base_url="http://127.0.0.1:8080",
    ).get_environ()
    environ["wsgi.input"] = body
    if chunked:  # no length: the server hands over a terminated stream
        environ.pop("CONTENT_LENGTH", None)
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
        environ["wsgi.input_terminated"] = True
    else:
        environ["CONTENT_LENGTH"] = str(HUGE)
    _, status, _ = run_wsgi_app(app, environ, buffered=True)
    return int(status.split()[0]), body


_CASES = [
    ("local", "/addon"),
    ("local", "/healthz"),
    ("local", "/tasks/prep"),
    ("local", "/chat"),
    ("local", "/dev/oauth/token"),
    ("local", "/preview/event-object"),
    ("local", "/no/such/path"),
    ("addon", "/"),
    ("tasks", "/tasks/sync"),
    ("chat", "/"),
    ("oauth", "/oauth/callback"),
    ("calendar_webhook", "/calendar/webhook"),
    ("health", "/"),
]


@pytest.mark.parametrize(("target", "path"), _CASES)
def test_a_declared_huge_body_is_refused_unread(
    apps: dict[str, flask.Flask], target: str, path: str
) -> None:
    status, body = _send(apps[target], path, chunked=False)
    assert status == 413
    assert body.read_bytes == 0


@pytest.mark.parametrize(("target", "path"), _CASES)
def test_a_long_streamed_body_is_read_no_further_than_the_limit(
    apps: dict[str, flask.Flask], target: str, path: str
) -> None:
    status, body = _send(apps[target], path, chunked=True)
    assert status == 413
    assert body.read_bytes <= MAX_BODY_BYTES + 64 * 1024  # the limit and one buffer


# ---------------------------------------------------------------- a real server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def _read_answer(sock: socket.socket) -> bytes:
    """Headers, then Content-Length bytes of body: what an HTTP client waits for."""
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(65536)
        if not chunk:
            return answer
        answer += chunk
    head, _, rest = answer.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    while len(rest) < length and (chunk := sock.recv(65536)):
        rest += chunk
    return head + b"\r\n\r\n" + rest


def _post_huge(port: int, total: int, *, chunked: bool) -> bytes:
    """POST `total` bytes to /addon while reading the answer, as a real client would."""
    block = b" " * (1024 * 1024)
    framing = b"Transfer-Encoding: chunked\r\n" if chunked else b"Content-Length: %d\r\n" % total
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)

    def send() -> None:
        try:
            sock.sendall(
                b"POST /addon HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\n" + framing + b"\r\n"
            )
            for _ in range(total // len(block)):
                sock.sendall(b"%x\r\n" % len(block) + block + b"\r\n" if chunked else block)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered and hung up: the rest is not wanted

    sender = threading.Thread(target=send)
    sender.start()
    try:
        return _read_answer(sock)
    except OSError:
        return b""
    finally:
        sock.shutdown(socket.SHUT_RDWR)
        sender.join(timeout=60)
        sock.close()


def _worker(pid: int) -> int:
    """Gunicorn answers from a forked worker: its pid, else `pid` itself."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    found = children.read_text().split() if children.exists() else []
    return int(found[0]) if found else pid


#: `make run`'s server (werkzeug), and the `addon` function as Cloud Functions runs it (gunicorn).
SERVERS = {
    "main.py serve": ["main.py", "serve", "--port", "{port}"],
    "gunicorn addon": [
        *("-m", "functions_framework", "--target", "addon", "--source", "main.py"),
        *("--host", "127.0.0.1", "--port", "{port}"),
    ],
}


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc")
@pytest.mark.parametrize("server", sorted(SERVERS))
def test_a_real_server_refuses_128_mb_without_holding_it(tmp_path: Path, server: str) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREP_")}
    env.update(
        PREP_MODE="local",
        PREP_SQLITE_PATH=str(tmp_path / "prep.db"),
        PREP_DEV_KEY_PATH=str(tmp_path / "dev-key.pem"),
        PREP_OUTBOX_PATH=str(tmp_path / "outbox.db"),
        PREP_MATERIALS_DIR=str(tmp_path / "materials"),
        PREP_TOKEN_KEK_PATH=str(tmp_path / "token-kek"),
        PREP_MATERIALS_SIGNING_KEY=str(tmp_path / "materials-key.json"),
        PREP_LOG_LEVEL="WARNING",
    )
    command = [sys.executable, *(a.format(port=port) for a in SERVERS[server])]
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, "the server exited"
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        time.sleep(0.5)  # gunicorn's worker forks after the master listens
        worker = _worker(proc.pid)
        _post_huge(port, 0, chunked=False)  # first request: the add-on's imports
        before = _peak_rss_kib(worker)
        for chunked in (False, True):
            answer = _post_huge(port, 128 * 1024 * 1024, chunked=chunked)
            assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        grown_mib = (_peak_rss_kib(worker) - before) / 1024
        assert grown_mib < 60, f"peak memory grew by {grown_mib:.0f} MiB for a refused body"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
