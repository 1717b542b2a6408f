"""The README run command: a real local server that answers its health check."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import flask
import pytest

import main
from functions.bootstrap import Bootstrap, get_services, local_routes, set_services
from functions.config import Mode, Settings
from functions.web import dispatch

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(autouse=True)
def local_services(tmp_path: Path) -> Iterator[Bootstrap]:
    """The local /healthz reads the store: give it one of its own."""
    services = Bootstrap(Settings(mode=Mode.LOCAL, sqlite_path=tmp_path / "prep.db"))
    set_services(services)
    yield services
    set_services(None)
    services.store.close()


def test_local_healthz_is_503_when_the_store_cannot_be_read(
    tmp_path: Path, local_services: Bootstrap
) -> None:
    app = flask.Flask(__name__)
    _ = local_services.store
    local_services.store.close()
    (tmp_path / "prep.db").write_bytes(b"overwritten by something else " * 500)
    for extra in ("prep.db-wal", "prep.db-shm"):
        (tmp_path / extra).unlink(missing_ok=True)
    with app.test_request_context("/healthz"):
        resp = dispatch(local_routes(get_services()), flask.request)
    assert resp.status_code == 503
    assert resp.get_json() == {"status": "unavailable", "store": "cannot be read"}


def test_dispatch_health_and_unknown_paths() -> None:
    app = flask.Flask(__name__)
    with app.test_request_context("/healthz"):
        resp = dispatch(local_routes(get_services()), flask.request)
        assert resp.status_code == 200
        assert resp.get_json() == {"status": "ok"}
    with app.test_request_context("/nope"):
        resp = dispatch(local_routes(get_services()), flask.request)
        assert resp.status_code == 404
        assert resp.get_json()["error"] == "not_found"


def test_a_crashing_handler_gives_a_bare_500() -> None:
    def boom(_: flask.Request) -> flask.Response:
        raise RuntimeError("secret meeting title")

    app = flask.Flask(__name__)
    with app.test_request_context("/boom"):
        resp = dispatch({"/boom": boom}, flask.request)
    assert resp.status_code == 500
    assert "secret" not in resp.get_data(as_text=True)


def test_entry_point_is_a_functions_framework_target() -> None:
    app = flask.Flask(__name__)
    with app.test_request_context("/healthz"):
        resp = main.local(flask.request)
        assert isinstance(resp, flask.Response)
        assert resp.status_code == 200


def test_serve_starts_a_local_server(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PREP_SQLITE_PATH": str(tmp_path / "prep.db")}
    env.pop("PREP_MODE", None)
    proc = subprocess.Popen(
        [sys.executable, "main.py", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        body = None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    body = json.loads(r.read())
                    break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        assert body == {"status": "ok"}
        assert (tmp_path / "prep.db").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
