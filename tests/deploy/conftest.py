"""Deployment fixtures: valid inputs, the plan they make, and a fake `gcloud` on PATH."""

from __future__ import annotations

import io
import json
import os
import stat
import sys
from collections.abc import Mapping, Sequence
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

from deploy.inputs import DeployInputs, load_inputs
from deploy.plan import Plan, build_plan
from deploy.runner import Result
from tests.deploy import fake_gcloud
from tests.support.environments import INPUTS


def write_env_file(path: Path, values: Mapping[str, str] = INPUTS) -> Path:
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()), encoding="utf-8")
    return path


@pytest.fixture
def inputs() -> DeployInputs:
    return load_inputs(INPUTS)


@pytest.fixture
def plan(inputs: DeployInputs, tmp_path: Path) -> Plan:
    return build_plan(inputs, build_dir=tmp_path / "build")


@dataclass
class FakeGcloud:
    log_path: Path
    state_path: Path

    def calls(self) -> list[list[str]]:
        if not self.log_path.exists():
            return []
        return [json.loads(line) for line in self.log_path.read_text().splitlines()]

    def state(self) -> dict[str, list[str]]:
        return dict(json.loads(self.state_path.read_text()))

    def seed(self, *, secret_versions: tuple[str, ...] = ()) -> None:
        """An empty project whose secrets (once created) already have these values."""
        empty = {"resources": [], "versions": list(secret_versions), "created": []}
        self.state_path.write_text(json.dumps({**empty, "failed_once": []}))

    def add_secret_versions(self, *secret_ids: str) -> None:
        state = self.state()
        state["versions"] = [*state["versions"], *secret_ids]
        self.state_path.write_text(json.dumps(state))

    def reset_log(self) -> None:
        self.log_path.unlink(missing_ok=True)

    def run_in_process(self, argv: Sequence[str]) -> Result:
        """The same fake without a process per call: for tests that run the plan many times."""
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = fake_gcloud.main(list(argv[1:]))
        return Result(code, out.getvalue(), err.getvalue())


@pytest.fixture
def gcloud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, inputs: DeployInputs) -> FakeGcloud:
    """`gcloud` on PATH is tests/deploy/fake_gcloud.py, with its state in tmp_path."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "gcloud"
    source = Path(fake_gcloud.__file__).read_text()
    script.write_text(f"#!{sys.executable}\n{source}")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    fake = FakeGcloud(tmp_path / "gcloud-calls.jsonl", tmp_path / "gcloud-state.json")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("FAKE_GCLOUD_LOG", str(fake.log_path))
    monkeypatch.setenv("FAKE_GCLOUD_STATE", str(fake.state_path))
    monkeypatch.setenv("FAKE_PROJECT_NUMBER", inputs.project_number)
    addon_sa = f"service-{inputs.project_number}@gcp-sa-gsuiteaddons.iam.gserviceaccount.com"
    monkeypatch.setenv("FAKE_ADDON_AUTHORIZATION", f"{addon_sa}\t{inputs.addon_oauth_client_id}")
    monkeypatch.delenv("FAKE_GCLOUD_FAIL", raising=False)
    monkeypatch.delenv("FAKE_GCLOUD_FAIL_ONCE", raising=False)
    return fake
