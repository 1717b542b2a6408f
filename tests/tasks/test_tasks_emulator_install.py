"""The tasks emulator comes from `make tasks-emulator`, never from pip at test time."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.tasks_emulator import REQUIREMENTS, ROOT, ensure_venv, pinned_version


def fake_venv(root: Path, version: str) -> Path:
    exe = root / "bin" / "gcloud-tasks-emulator"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\n")
    (root / f"lib/python3.11/site-packages/gcloud_tasks_emulator-{version}.dist-info").mkdir(
        parents=True
    )
    return exe


def test_a_missing_venv_is_an_error_that_names_the_make_target(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"run `make tasks-emulator`"):
        ensure_venv(tmp_path / "absent")
    assert not (tmp_path / "absent").exists()  # nothing was installed on the way


def test_another_emulator_version_is_refused(tmp_path: Path) -> None:
    fake_venv(tmp_path, "0.0.1")
    with pytest.raises(RuntimeError, match=f"gcloud-tasks-emulator {pinned_version()} is not"):
        ensure_venv(tmp_path)


def test_the_pinned_version_is_used(tmp_path: Path) -> None:
    exe = fake_venv(tmp_path, pinned_version())
    assert ensure_venv(tmp_path) == exe


def test_make_builds_the_venv_from_the_pinned_file_before_pytest(tmp_path: Path) -> None:
    venv = tmp_path / "emulator-venv"
    shown = subprocess.run(
        ["make", "--dry-run", "--always-make", "pytest", f"TASKS_EMULATOR_VENV={venv}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    install = f"{venv}/bin/python -m pip install --quiet -r {REQUIREMENTS.name}"
    assert f"-m venv {venv}\n" in shown and install in shown
    assert shown.index(install) < shown.index("-m pytest")
    assert not venv.exists()  # a dry run
