"""Shared pieces of the headless-browser tests: Chromium, a real local server, artifacts.

Each test module gets its own `python main.py serve` (the README's command) on a
free port with its own database, key and outbox, so modules never share state.

Screenshots are test artifacts: they go to `test-artifacts/` at the repository
root (ignored by git; `PREP_TEST_ARTIFACTS` names another folder), and the
run's summary prints where they are, so a reviewer can look at what the
browser saw.
"""

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

import pytest

from tests.browser.cdp import SAVED, find_chromium

ROOT = Path(__file__).resolve().parents[2]


def artifacts_dir() -> Path:
    return Path(os.environ.get("PREP_TEST_ARTIFACTS") or ROOT / "test-artifacts")


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go; every file saved there is listed at the end of the run."""
    folder = artifacts_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if SAVED:
        terminalreporter.write_sep("-", "browser screenshots (test artifacts)")
        for path in SAVED:
            terminalreporter.write_line(str(path))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def chromium() -> str:
    binary = find_chromium()
    if binary is None:
        pytest.skip(
            "Debian's chromium is not installed and could not be: run "
            "tests/browser/ensure_chromium.sh as root (make test does)"
        )
    return binary


@pytest.fixture(scope="module")
def server_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The running server's folder: its database, key, outbox and `server.json`."""
    return tmp_path_factory.mktemp("local-server")


@pytest.fixture(scope="module")
def server(server_home: Path) -> Iterator[str]:
    home = server_home
    port = _free_port()
    env = {
        **os.environ,
        "PREP_SQLITE_PATH": str(home / "prep.db"),
        "PREP_DEV_KEY_PATH": str(home / "dev-key.pem"),
        "PREP_TOKEN_KEK_PATH": str(home / "token-kek"),
        "PREP_OUTBOX_PATH": str(home / "outbox.db"),
    }
    for name in ("PREP_MODE", "PREP_PUBLIC_URL", "PREP_ADDON_AUDIENCE"):
        env.pop(name, None)
    log = (home / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "main.py", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as resp:  # noqa: S310
                    assert json.loads(resp.read()) == {"status": "ok"}
                    break
            except (urllib.error.URLError, ConnectionError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "the local server did not start:\n" + (home / "server.log").read_text()
                    ) from None
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()
