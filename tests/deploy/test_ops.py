"""Admin commands: check-config, rewrap-credentials, delete-user (run on the embedded default)."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from deploy.function_env import runtime_env
from deploy.inputs import DeployInputs
from deploy.topology import Topology
from functions.cli import main
from functions.domain.users import ConnectionState, User
from functions.materials.storage import user_prefix
from functions.oauth.sealing import Keyring, Sealer
from functions.store.sqlite import SqliteStore
from tests.deploy.conftest import write_env_file

K1 = "k1:" + base64.b64encode(b"1" * 32).decode()
K2 = "k2:" + base64.b64encode(b"2" * 32).decode()


@pytest.fixture
def local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A local-mode environment whose every file lives in tmp_path."""
    for name in [n for n in os.environ if n.startswith("PREP_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PREP_SQLITE_PATH", str(tmp_path / "prep.db"))
    monkeypatch.setenv("PREP_MATERIALS_DIR", str(tmp_path / "materials"))
    monkeypatch.setenv("PREP_MATERIALS_SIGNING_KEY", str(tmp_path / "signing-key.json"))
    monkeypatch.setenv("PREP_OUTBOX_PATH", str(tmp_path / "outbox.db"))
    monkeypatch.setenv("PREP_TOKEN_KEK_PATH", str(tmp_path / "token-kek"))
    monkeypatch.setenv("PREP_DEV_KEY_PATH", str(tmp_path / "dev-key.pem"))
    return tmp_path


def _connected_user(db: Path, user_id: str, keyring: Keyring) -> None:
    store = SqliteStore(db)
    try:
        store.put_user(
            User(user_id, f"{user_id}@example.com", connection=ConnectionState.CONNECTED)
        )
        store.put_credentials(user_id, Sealer(keyring).seal(user_id, b'{"refresh_token": "r"}'))
    finally:
        store.close()


def test_check_config_accepts_local_mode(local: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config"]) == 0
    assert json.loads(capsys.readouterr().out)["mode"] == "local"


def test_check_config_names_a_malformed_value(
    local: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREP_SYNC_INTERVAL_MINUTES", "often")
    assert main(["check-config"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("main.py check-config: error: PREP_SYNC_INTERVAL_MINUTES")


def test_check_config_in_production_demands_what_each_function_uses(
    local: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    inputs: DeployInputs,
) -> None:
    for name, value in runtime_env(Topology(inputs)).items():
        monkeypatch.setenv(name, value)
    assert main(["check-config", "--function", "chat"]) == 0
    capsys.readouterr()
    assert main(["check-config", "--function", "calendar_webhook"]) == 2
    assert "PREP_WEBHOOK_SECRET (needed by calendar_webhook)" in capsys.readouterr().err
    assert main(["check-config"]) == 2
    err = capsys.readouterr().err
    for name in ("PREP_TOKEN_KEK", "PREP_OAUTH_WEB_CLIENT_SECRET", "PREP_WEBHOOK_SECRET"):
        assert name in err
    assert "PREP_MATERIALS_BUCKET" not in err
    monkeypatch.setenv("PREP_TOKEN_KEK", K1)
    monkeypatch.setenv("PREP_OAUTH_WEB_CLIENT_SECRET", "s")
    monkeypatch.setenv("PREP_WEBHOOK_SECRET", "w")
    assert main(["check-config"]) == 0
    assert json.loads(capsys.readouterr().out)["functions"] == [
        "addon",
        "tasks",
        "calendar_webhook",
        "oauth",
        "chat",
    ]
    assert main(["check-config", "--function", "nope"]) == 2


def test_check_config_warns_about_a_retired_model(
    local: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "p")
    monkeypatch.setenv("PREP_GENERATOR", "vertex")
    assert main(["check-config"]) == 0
    assert json.loads(capsys.readouterr().out)["warnings"] == []  # the default model is current
    monkeypatch.setenv("PREP_VERTEX_MODEL", "gemini-2.5-flash")
    assert main(["check-config"]) == 0  # a warning, not a refusal
    out, err = capsys.readouterr()
    (warning,) = json.loads(out)["warnings"]
    assert warning.startswith("PREP_VERTEX_MODEL=gemini-2.5-flash") and "retired" in warning
    assert err.startswith("main.py check-config: warning: PREP_VERTEX_MODEL=gemini-2.5-flash")


def test_rewrap_moves_every_record_to_the_new_primary_key(
    local: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    old = Keyring.from_spec(K1)
    _connected_user(local / "prep.db", "u1", old)
    _connected_user(local / "prep.db", "u2", old)
    monkeypatch.setenv("PREP_TOKEN_KEK", f"{K2},{K1}")
    assert main(["rewrap-credentials"]) == 0
    assert json.loads(capsys.readouterr().out) == {"rewrapped": 2, "primary_key_id": "k2"}
    store = SqliteStore(local / "prep.db")
    try:
        both = Sealer(Keyring.from_spec(f"{K2},{K1}"))
        for uid in ("u1", "u2"):
            sealed = store.get_credentials(uid)
            assert sealed is not None and both.key_id(sealed) == "k2"
            # The new key alone opens it: the old one can now be dropped.
            assert Sealer(Keyring.from_spec(K2)).open(uid, sealed)
    finally:
        store.close()
    assert main(["rewrap-credentials"]) == 0
    assert json.loads(capsys.readouterr().out)["rewrapped"] == 0


def test_rewrap_without_the_old_key_is_refused_by_name(
    local: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREP_TOKEN_KEK", "not a key spec")
    assert main(["rewrap-credentials"]) == 2
    assert "PREP_TOKEN_KEK" in capsys.readouterr().err


def test_delete_user_forgets_records_and_materials(
    local: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = SqliteStore(local / "prep.db")
    try:
        store.put_user(User("u1", "u1@example.com"))
        store.put_user(User("u2", "u2@example.com"))
    finally:
        store.close()
    folder = local / "materials" / user_prefix("u1") / "event"
    folder.mkdir(parents=True)
    (folder / "prep.html").write_text("<p>prep</p>")
    (folder / "prep.md").write_text("prep")

    assert main(["delete-user", "--user-id", "u1"]) == 2
    assert "--yes" in capsys.readouterr().err
    assert main(["delete-user", "--user-id", "u1", "--yes"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["user_id"] == "u1"
    assert result["records_deleted"] >= 1
    assert result["materials_deleted"] == 2
    assert not (local / "materials" / user_prefix("u1")).exists()
    store = SqliteStore(local / "prep.db")
    try:
        assert store.get_user("u1") is None
        assert store.get_user("u2") is not None
    finally:
        store.close()


def test_ops_commands_take_the_deployment_from_deploy_env(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With --config the command runs on the deployed settings; secrets come from the env."""
    monkeypatch.delenv("PREP_TOKEN_KEK", raising=False)
    config = write_env_file(tmp_path / "deploy.env")
    assert main(["rewrap-credentials", "--config", str(config)]) == 2
    assert "PREP_TOKEN_KEK is required when PREP_MODE=production" in capsys.readouterr().err
    from deploy.inputs import load_inputs, parse_env_file
    from deploy.ops import deployed_env

    env = deployed_env(load_inputs(parse_env_file(config)), {"PREP_TOKEN_KEK": K1, "HOME": "/x"})
    assert env["PREP_TOKEN_KEK"] == K1
    assert "HOME" not in env
    assert env["PREP_MODE"] == "production"


def test_check_config_loads_the_rules_file(
    local: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broken meeting_types.yaml is found by check-config, not by the first request."""
    rules = local / "meeting_types.yaml"
    rules.write_text("version: 1\nmeeting_types:\n  qbr:\n    priority: high\n", encoding="utf-8")
    monkeypatch.setenv("PREP_MEETING_TYPES", str(rules))
    assert main(["check-config"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"main.py check-config: error: {rules}:4: meeting_types.qbr.priority")
    rules.write_bytes(b"version: 1\x00\n")
    assert main(["check-config"]) == 2
    assert "not valid YAML" in capsys.readouterr().err
    monkeypatch.setenv("PREP_MEETING_TYPES", str(local / "missing.yaml"))
    assert main(["check-config"]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_check_config_reports_the_rules_it_loaded(
    local: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-config"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["meeting_types"].endswith("meeting_types.yaml")
    assert out["meeting_type_count"] >= 2
