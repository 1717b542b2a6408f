"""The SQLite store's connections: bounded however many threads come and go.

The local server answers each request (and runs each task attempt) on a new
thread. A connection kept per thread for the store's whole life leaked two
descriptors a request until the process could open no file at all (issue 13,
item 1); these tests count the process's open descriptors in /proc.
"""

from __future__ import annotations

import http.client
import json
import os
import sqlite3
import threading
import time
from pathlib import Path

import flask
import pytest
from werkzeug.serving import make_server

from functions.domain.users import User
from functions.store.port import StoreBusy, StoreError
from functions.store.sqlite import MAX_IDLE, SqliteStore
from tests.support.app_harness import App
from tests.support.local_app_fixtures import app, flask_app

__all__ = ["app", "flask_app"]

_FD_DIR = Path("/proc/self/fd")
pytestmark = pytest.mark.skipif(not _FD_DIR.exists(), reason="counts descriptors in /proc")


def open_descriptors() -> int:
    return len(os.listdir(_FD_DIR))


def _in_fresh_thread(work: object) -> None:
    assert callable(work)
    t = threading.Thread(target=work)
    t.start()
    t.join(timeout=30)
    assert not t.is_alive()


def _request(store: SqliteStore, i: int) -> None:
    """What one sidebar request does to the store: a read and a write."""
    store.get_user("alice")
    store.put_user(User(user_id="alice", email="a@example.com", time_zone=f"Etc/GMT+{i % 10}"))


def test_requests_in_fresh_threads_leave_the_descriptor_count_flat(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "prep.db")
    try:
        for i in range(20):  # warm: the pool's idle connections exist from here on
            _in_fresh_thread(lambda i=i: _request(store, i))
        before = open_descriptors()
        for i in range(400):
            _in_fresh_thread(lambda i=i: _request(store, i))
        after = open_descriptors()
        assert after - before <= 3, (before, after)
        assert store.open_connections() <= MAX_IDLE + 1  # idle ones plus this thread's
    finally:
        store.close()


def test_concurrent_threads_get_their_own_connections_and_give_them_back(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "prep.db")
    try:
        inside = threading.Barrier(12)

        def work() -> None:
            store.get_user("alice")
            inside.wait(timeout=30)  # all twelve hold a connection at once
            store.put_user(User(user_id="alice", email="a@example.com"))

        threads = [threading.Thread(target=work) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert store.open_connections() <= MAX_IDLE + 1
        assert store.get_user("alice") is not None
    finally:
        store.close()


def test_close_closes_every_connection_and_the_store_opens_again(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "prep.db")
    _in_fresh_thread(lambda: _request(store, 1))
    store.close()
    assert store.open_connections() == 0
    assert store.get_user("alice") is not None  # reopened on demand
    store.close()


def test_a_locked_database_fails_a_write_fast_with_store_busy(tmp_path: Path) -> None:
    path = tmp_path / "prep.db"
    store = SqliteStore(path, busy_timeout=0.3)
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")  # another program writing (or a file locked by hand)
        started = time.monotonic()
        with pytest.raises(StoreBusy):
            store.put_user(User(user_id="alice", email="a@example.com"))
        assert time.monotonic() - started < 3
        assert store.get_user("bob") is None  # WAL: reads go on under a writer's lock
    finally:
        holder.close()
        store.close()


def test_request_paths_wait_seconds_not_the_whole_workspace_window(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "prep.db")
    try:
        waited_ms = store._conn().execute("PRAGMA busy_timeout").fetchone()[0]
        assert 1000 <= waited_ms <= 5000  # Workspace gives a card about 30 s in all
    finally:
        store.close()


def test_a_file_that_is_not_a_database_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "prep.db"
    path.write_bytes(b"this is not a database\n" * 400)
    before = open_descriptors()
    with pytest.raises(StoreError) as caught:
        SqliteStore(path)
    message = str(caught.value)
    assert "\n" not in message
    assert str(path) in message
    assert "not a database" in message
    assert open_descriptors() <= before  # the failed open leaves nothing open


def test_ping_notices_a_database_that_cannot_be_read(tmp_path: Path) -> None:
    path = tmp_path / "prep.db"
    store = SqliteStore(path)
    try:
        store.ping()
        store.close()
        path.write_bytes(b"garbage " * 1000)  # corrupted under the running server
        for extra in ("-wal", "-shm"):
            Path(f"{path}{extra}").unlink(missing_ok=True)
        with pytest.raises(StoreError):
            store.ping()
    finally:
        store.close()


def test_event_opens_over_real_http_leave_the_descriptor_count_flat(
    app: App, flask_app: flask.Flask
) -> None:
    """The issue's scenario: `make run`'s app behind werkzeug's threaded server."""
    server = make_server("127.0.0.1", 0, flask_app, threaded=True)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    meeting = next(iter(app.meetings.values()))
    body = json.dumps(app.event_object(meeting=meeting)).encode()

    def open_once() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=30)
        conn.request("POST", "/addon", body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        conn.close()
        assert resp.status == 200

    try:
        for _ in range(20):
            open_once()
        time.sleep(0.2)  # the last request thread ends
        before = open_descriptors()
        for _ in range(300):
            open_once()
        # The last request threads end (and give their connections back) on their own
        # time; on a loaded machine that can take longer than a fixed sleep. A leak
        # (one connection per request) would stay at +300 however long we wait.
        deadline = time.monotonic() + 10
        after = open_descriptors()
        while after - before > 3 and time.monotonic() < deadline:
            time.sleep(0.1)
            after = open_descriptors()
    finally:
        server.shutdown()
        serving.join(timeout=10)
        server.server_close()
    assert after - before <= 3, (before, after)
