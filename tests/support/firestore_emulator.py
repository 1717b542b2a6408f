"""The npm Firestore emulator for tests: one process per pytest session.

`node tests/support/firestore_emulator.js PORT` runs `@firestore-emulator/server`
(installed by `npm ci` at the repo root; node_modules is not committed). It is
started on first use, shared by the whole session, and stopped at the end of
the session (pytest cleanup, with atexit and the launcher's stdin watch as
fallbacks, so a crashed test run does not leave it on the port).

Isolation without clearing: every test gets a client on its own, never reused
project id, and the emulator keeps projects apart.

What the emulator gets wrong (shared/reference/local-stand-ins.md) and how the
adapter and tests deal with it: `set()` merges (the codec always writes every
field, so a set is a replace anyway), cursors and offsets are ignored (the
adapter pages with range filters), `recursive_delete` / `list_documents` /
`collections()` are missing (the adapter walks known subcollections),
`WriteBatch` is not atomic and concurrent transactions lose updates (cannot be
worked around: the concurrency contract test is skipped for Firestore and
tests/contract/test_firestore_real.py proves it on a real project).
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

import pytest

from functions.store.firestore import FirestoreStore

if TYPE_CHECKING:
    from google.cloud.firestore import Client

REPO_ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = REPO_ROOT / "tests" / "support" / "firestore_emulator.js"
PACKAGE_DIR = REPO_ROOT / "node_modules" / "@firestore-emulator" / "server"

#: How long the emulator may take to accept connections (it usually needs < 1 s).
START_TIMEOUT_S = 20.0
_READY_MARK = "firestore-emulator ready"
_EMULATOR_HOST_VAR = "FIRESTORE_EMULATOR_HOST"


class EmulatorUnavailable(RuntimeError):
    """The emulator cannot be started; the message says what to do."""


@dataclass
class FirestoreEmulator:
    """A running emulator process."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    startup_seconds: float
    _log: IO[bytes] = field(repr=False)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.process.stdin is not None:
            self.process.stdin.close()
        self._log.close()
        self.log_path.unlink(missing_ok=True)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _check_installed() -> str:
    node = shutil.which("node")
    if node is None:
        raise EmulatorUnavailable(
            "the Firestore contract tests need Node.js (`node` on PATH) to run the "
            "npm Firestore emulator; install Node.js 20+, then run `npm ci` in "
            f"{REPO_ROOT}, or run only the SQLite adapter with `--store sqlite`"
        )
    if not (PACKAGE_DIR / "package.json").is_file():
        raise EmulatorUnavailable(
            f"{PACKAGE_DIR} is missing: run `npm ci` in {REPO_ROOT} to install the "
            "npm Firestore emulator (@firestore-emulator/server, pinned in package.json), "
            "or run only the SQLite adapter with `--store sqlite`"
        )
    return node


def start_emulator(timeout: float = START_TIMEOUT_S) -> FirestoreEmulator:
    """Start the emulator on a free port and wait until it accepts connections."""
    node = _check_installed()
    last_error = ""
    # Another process can take the free port between the probe and node's bind;
    # that shows up as an early exit, so try a few ports before giving up.
    for _ in range(3):
        port = _free_port()
        log_fd, log_name = tempfile.mkstemp(prefix="firestore-emulator-", suffix=".log")
        os.close(log_fd)
        log_path = Path(log_name)
        # A file, not a pipe, for the output: nobody reads it while tests run, and
        # a full pipe would block the emulator.
        log = log_path.open("wb")
        started = time.monotonic()
        process = subprocess.Popen(
            [node, str(LAUNCHER), str(port)],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        emulator = FirestoreEmulator(process, port, log_path, 0.0, log)
        deadline = started + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                break
            if _READY_MARK in emulator.log_tail() and _accepts_connections(port):
                emulator.startup_seconds = time.monotonic() - started
                return emulator
            time.sleep(0.02)
        last_error = emulator.log_tail()
        exited = process.poll() is not None
        emulator.stop()
        if not exited:
            raise EmulatorUnavailable(
                f"the npm Firestore emulator did not accept connections on port {port} "
                f"within {timeout:.0f} s; its output:\n{last_error}\n"
                f"(is `npm ci` done in {REPO_ROOT}?)"
            )
    raise EmulatorUnavailable(
        f"the npm Firestore emulator exited during start-up; its output:\n{last_error}\n"
        f"(is `npm ci` done in {REPO_ROOT}?)"
    )


_KEY = pytest.StashKey[FirestoreEmulator]()
_lock = threading.Lock()


def session_emulator(config: pytest.Config) -> FirestoreEmulator:
    """The session's emulator, started on first use and stopped at session end."""
    with _lock:
        emulator = config.stash.get(_KEY, None)
        if emulator is not None and emulator.process.poll() is None:
            return emulator
        if emulator is not None:
            raise EmulatorUnavailable(
                "the npm Firestore emulator died during the test session; its output:\n"
                + emulator.log_tail()
            )
        emulator = start_emulator()
        config.stash[_KEY] = emulator
        config.add_cleanup(emulator.stop)
        atexit.register(emulator.stop)
        return emulator


def emulator_client(host: str, project: str) -> Client:
    """A real `google.cloud.firestore.Client` talking to the emulator at `host`.

    The library only looks at FIRESTORE_EMULATOR_HOST while the client is being
    constructed (it then opens an insecure channel to that host and sends the
    emulator's auth header). So the variable is set just for the construction
    and restored right after, instead of leaking into other tests.
    """
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import firestore

    previous = os.environ.get(_EMULATOR_HOST_VAR)
    os.environ[_EMULATOR_HOST_VAR] = host
    try:
        return firestore.Client(project=project, credentials=AnonymousCredentials())
    finally:
        if previous is None:
            del os.environ[_EMULATOR_HOST_VAR]
        else:
            os.environ[_EMULATOR_HOST_VAR] = previous


@contextmanager
def fresh_firestore_store(request: pytest.FixtureRequest) -> Iterator[FirestoreStore]:
    """A `FirestoreStore` on an empty project of the session's emulator."""
    emulator = session_emulator(request.config)
    client = emulator_client(emulator.host, f"test-{uuid.uuid4().hex[:12]}")
    store = FirestoreStore(client)
    try:
        yield store
    finally:
        store.close()
