"""`--apply` against a fake `gcloud` on PATH: order, stop on first failure, safe re-runs."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from deploy.inputs import DeployInputs
from deploy.plan import build_plan
from deploy.runner import Applier
from functions.cli import main
from tests.deploy.conftest import FakeGcloud, write_env_file

SECRETS = (
    "meeting-prep-token-kek",
    "meeting-prep-oauth-client-secret",
    "meeting-prep-webhook-secret",
)


def apply(tmp_path: Path) -> int:
    config = tmp_path / "deploy.env"
    if not config.exists():
        write_env_file(config)
    return main(["deploy", "--apply", "--config", str(config), "--build-dir", str(tmp_path / "b")])


def apply_in_process(tmp_path: Path, gcloud: FakeGcloud, inputs: DeployInputs) -> tuple[int, str]:
    """The same plan and runner, with the fake called in process (many runs stay fast)."""
    out = io.StringIO()
    plan = build_plan(inputs, build_dir=tmp_path / "b")
    code = Applier(plan, run=gcloud.run_in_process, out=out, sleep=lambda _: None).apply()
    return code, out.getvalue()


def index(calls: list[list[str]], *prefix: str) -> int:
    return next(n for n, c in enumerate(calls) if c[: len(prefix)] == list(prefix))


def indexes(calls: list[list[str]], *prefix: str) -> list[int]:
    return [n for n, c in enumerate(calls) if c[: len(prefix)] == list(prefix)]


def test_from_zero_in_dependency_order(
    tmp_path: Path, gcloud: FakeGcloud, capsys: pytest.CaptureFixture[str]
) -> None:
    gcloud.seed(secret_versions=SECRETS)
    assert apply(tmp_path) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith("steps.")
    calls = gcloud.calls()
    enable = index(calls, "gcloud", "services", "enable")
    sa_creates = indexes(calls, "gcloud", "iam", "service-accounts", "create")
    bindings = [n for n, c in enumerate(calls) if "add-iam-policy-binding" in c]
    deploys = indexes(calls, "gcloud", "functions", "deploy")
    assert index(calls, "gcloud", "projects", "describe") == 0
    assert enable < min(sa_creates) and max(sa_creates) < min(bindings)
    assert len(deploys) == 5
    assert max(deploys) < index(calls, "gcloud", "scheduler", "jobs", "create", "http")
    assert max(deploys) < index(calls, "gcloud", "workspace-add-ons", "deployments", "create")
    created = gcloud.state()["created"]
    for resource in (
        "iam service-accounts:meeting-prep-runtime",
        "iam service-accounts:meeting-prep-tasks",
        "tasks queues:generate",
        "storage buckets:gs://acme-prep-materials",
        "secrets:meeting-prep-token-kek",
        "scheduler jobs:meeting-prep-sync-fanout",
        "workspace-add-ons deployments:meeting-prep",
        "functions:meeting-prep-addon",
    ):
        assert resource in created
    assert len(created) == len(set(created))
    manifest = json.loads((tmp_path / "b" / "deployment.json").read_text())
    runs = manifest["addOns"]["calendar"]["homepageTrigger"]["runFunction"]
    assert runs == "https://meeting-prep-addon-123456789012.us-central1.run.app"
    lifecycle = json.loads((tmp_path / "b" / "lifecycle.json").read_text())
    assert lifecycle["lifecycle"]["rule"][0]["condition"] == {"age": 180}
    # The console-only steps are printed for the admin, not run.
    assert "HTTP endpoint URL = https://meeting-prep-chat-123456789012" in out


def test_rerun_is_idempotent(tmp_path: Path, gcloud: FakeGcloud, inputs: DeployInputs) -> None:
    gcloud.seed(secret_versions=SECRETS)
    assert apply_in_process(tmp_path, gcloud, inputs)[0] == 0
    first = gcloud.state()
    gcloud.reset_log()
    code, out = apply_in_process(tmp_path, gcloud, inputs)
    assert code == 0
    second = gcloud.state()
    assert second["created"] == first["created"]
    assert sorted(second["resources"]) == sorted(first["resources"])
    calls = gcloud.calls()
    assert indexes(calls, "gcloud", "iam", "service-accounts", "create") == []
    assert indexes(calls, "gcloud", "tasks", "queues", "update") != []
    assert indexes(calls, "gcloud", "storage", "buckets", "update") != []
    assert indexes(calls, "gcloud", "scheduler", "jobs", "update", "http") != []
    assert indexes(calls, "gcloud", "workspace-add-ons", "deployments", "replace") != []
    # Service accounts, secrets, the database have nothing to update; composite
    # indexes have no describe, and their "already exists" counts as done.
    assert out.count("-> exists") == 3 + 3 + 1 + 3
    assert "FAILED" not in out


def test_missing_secret_values_stop_with_instructions_then_resume(
    tmp_path: Path, gcloud: FakeGcloud, inputs: DeployInputs
) -> None:
    code, out = apply_in_process(tmp_path, gcloud, inputs)
    assert code == 1
    assert "Stopped at step" in out
    assert "Secret meeting-prep-token-kek has a value" in out
    assert "gcloud secrets versions add meeting-prep-token-kek --project=acme-prep" in out
    calls = gcloud.calls()
    assert calls[-1][:4] == ["gcloud", "secrets", "versions", "list"]
    assert indexes(calls, "gcloud", "functions", "deploy") == []
    gcloud.add_secret_versions(*SECRETS)
    assert apply_in_process(tmp_path, gcloud, inputs)[0] == 0
    created = gcloud.state()["created"]
    assert len(created) == len(set(created))


def test_first_failure_stops_the_run(
    tmp_path: Path,
    gcloud: FakeGcloud,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    inputs: DeployInputs,
) -> None:
    gcloud.seed(secret_versions=SECRETS)
    monkeypatch.setenv("FAKE_GCLOUD_FAIL", "functions deploy meeting-prep-tasks")
    assert apply(tmp_path) == 1
    calls = gcloud.calls()
    assert calls[-1][:4] == ["gcloud", "functions", "deploy", "meeting-prep-tasks"]
    assert indexes(calls, "gcloud", "scheduler") == []
    assert indexes(calls, "gcloud", "workspace-add-ons", "deployments") == []
    out = capsys.readouterr().out
    assert "Stopped at step" in out and "Cloud Function meeting-prep-tasks" in out
    assert "PERMISSION_DENIED: simulated failure" in out
    monkeypatch.delenv("FAKE_GCLOUD_FAIL")
    code, rerun = apply_in_process(tmp_path, gcloud, inputs)
    assert code == 0
    assert "meeting-prep-tasks" in rerun


def test_preflight_catches_a_wrong_project_number(
    tmp_path: Path, gcloud: FakeGcloud, monkeypatch: pytest.MonkeyPatch, inputs: DeployInputs
) -> None:
    monkeypatch.setenv("FAKE_PROJECT_NUMBER", "999")
    code, out = apply_in_process(tmp_path, gcloud, inputs)
    assert code == 1
    assert len(gcloud.calls()) == 1
    assert "output lacks 123456789012" in out
    assert "Set PROJECT_NUMBER" in out


def test_iam_propagation_is_retried(
    tmp_path: Path, gcloud: FakeGcloud, monkeypatch: pytest.MonkeyPatch, inputs: DeployInputs
) -> None:
    gcloud.seed(secret_versions=SECRETS)
    monkeypatch.setenv("FAKE_GCLOUD_FAIL_ONCE", "--role=roles/datastore.user")
    out = io.StringIO()
    plan = build_plan(inputs, build_dir=tmp_path / "b")
    slept: list[float] = []
    assert Applier(plan, run=gcloud.run_in_process, out=out, sleep=slept.append).apply() == 0
    tries = [c for c in gcloud.calls() if "--role=roles/datastore.user" in c]
    assert len(tries) == 2
    assert slept == [10.0]


def test_a_missing_gcloud_is_explained(
    tmp_path: Path, inputs: DeployInputs, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    out = io.StringIO()
    plan = build_plan(inputs, build_dir=tmp_path / "b")
    assert Applier(plan, out=out).apply() == 1
    assert "not found on PATH: install the Google Cloud CLI" in out.getvalue()
