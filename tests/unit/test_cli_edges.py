"""Odd edges of the command line (issue 13, item 9): one line and a status, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from addon.dev_event import LOCAL_USER_ID
from functions.bootstrap import Bootstrap
from functions.cli import main
from functions.config import load_settings
from functions.domain.users import User
from tests.support.addon_helpers import calendar_event, seed_meeting

ROOT = Path(__file__).resolve().parents[2]


def _local_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREP_")}
    env.update(
        PREP_MODE="local",
        PREP_SQLITE_PATH=str(tmp_path / "prep.db"),
        PREP_DEV_KEY_PATH=str(tmp_path / "dev-key.pem"),
        PREP_PUBLIC_URL="http://127.0.0.1:8080",
        PREP_LOG_LEVEL="WARNING",
    )
    return env


@pytest.mark.parametrize("port", ["70000", "65536", "0", "-1"])
def test_serve_refuses_a_port_that_does_not_exist(
    port: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--port", port])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--port" in err


def test_serve_on_a_corrupt_database_is_one_line_and_status_1(tmp_path: Path) -> None:
    (tmp_path / "prep.db").write_bytes(b"not a database at all\n" * 300)
    done = subprocess.run(
        [sys.executable, "main.py", "serve", "--port", "1"],  # never reached: the store fails
        cwd=ROOT,
        env=_local_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("main.py serve: error:") and "prep.db" in lines[0]


def test_dev_event_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    env = _local_env(tmp_path)
    services = Bootstrap(load_settings(env))
    try:
        user = User(user_id=LOCAL_USER_ID, email="you@example.com")
        services.store.put_user(user)
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
        seed_meeting(
            services.store,
            user,
            calendar_event("next", start, title="Weekly 1:1 with Sam", user_email=user.email),
            now=datetime.now(UTC),
            classifier=services.classifier,
        )
    finally:
        services.store.close()
    proc = subprocess.Popen(
        [sys.executable, "main.py", "dev-event"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    proc.stdout.close()  # `| head` that has already read its lines and gone
    _, err = proc.communicate(timeout=120)
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert proc.returncode == 1
