"""Each production value, missing or malformed, stops the process with a message naming it.

Extends tests/unit/test_config.py (which covers the absence of each value
required at start and a plain-http PREP_PUBLIC_URL) with malformed values and
with the values checked on first use.
"""

from __future__ import annotations

import os

import pytest

from deploy.function_env import runtime_env
from deploy.inputs import DeployInputs
from deploy.readiness import ENTRY_POINTS, ON_FIRST_USE, check_environment, needs
from deploy.topology import Topology
from functions.config import Settings, SettingsError, load_settings
from functions.sync.channels import channel_secret

SECRETS = {
    "PREP_TOKEN_KEK": "k1:" + "A" * 43 + "=",
    "PREP_OAUTH_WEB_CLIENT_SECRET": "client-secret",
    "PREP_WEBHOOK_SECRET": "webhook-secret",
}


@pytest.fixture
def env(inputs: DeployInputs) -> dict[str, str]:
    """Exactly what a deployed function runs with, secrets included."""
    return {**runtime_env(Topology(inputs)), **SECRETS}


def test_the_deployed_environment_passes_every_check(env: dict[str, str]) -> None:
    settings = check_environment(env)
    assert isinstance(settings, Settings)
    assert settings.materials.bucket == "acme-prep-materials"
    assert settings.tasks_location == "us-central1"


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("PREP_MODE", "prod"),
        ("PREP_STORE", "sqlite"),
        ("PREP_ADDON_AUDIENCE", "ftp://addon.example.com"),
        ("PREP_ADDON_AUDIENCE", "http://addon.example.com"),
        ("PREP_TASKS_AUDIENCE", "tasks"),
        ("PREP_ADDON_SA_EMAIL", "service-123456789012"),
        ("PREP_TASKS_SA_EMAIL", "tasks at example.com"),
        ("PREP_CHAT_AUDIENCE", "http://chat.example.com"),
        ("PREP_CHAT_AUDIENCE_TYPE", "anyone"),
        ("PREP_OAUTH_REDIRECT_URI", "http://oauth.example.com/oauth/callback"),
        ("PREP_WEBHOOK_URL", "webhook"),
        ("PREP_OAUTH_SCOPES", "calendar"),
        ("PREP_TOKEN_KEK", "k1:not-base64!"),
        ("PREP_TOKEN_KEK", "k1:" + "A" * 20),
        ("PREP_SYNC_INTERVAL_MINUTES", "quarter-hourly"),
        ("PREP_SYNC_INTERVAL_MINUTES", "0"),
        ("PREP_GENERATION_MAX_RETRIES", "many"),
        ("PREP_GENERATOR", "gpt"),
        ("PREP_MATERIALS_STORAGE", "local"),
        ("PREP_NOTIFY", "outbox"),
        ("PREP_LOG_LEVEL", "chatty"),
        ("PREP_VERTEX_TIMEOUT_SECONDS", "-1"),
        ("PREP_MATERIALS_LINK_HOURS", "200"),
    ],
)
def test_a_malformed_production_value_is_named(env: dict[str, str], name: str, bad: str) -> None:
    with pytest.raises(SettingsError, match=name):
        load_settings({**env, name: bad})


def test_a_secret_is_never_echoed_in_the_message(env: dict[str, str]) -> None:
    leaked = "k1:" + "Z" * 20
    with pytest.raises(SettingsError) as info:
        load_settings({**env, "PREP_TOKEN_KEK": leaked})
    assert "Z" * 20 not in str(info.value)


@pytest.mark.parametrize("name", sorted(ON_FIRST_USE))
def test_each_first_use_value_is_demanded_by_name(env: dict[str, str], name: str) -> None:
    without = {k: v for k, v in env.items() if k != name}
    load_settings(without)  # not at start: functions that never use it run without it
    for entry_point in ENTRY_POINTS:
        if name in needs(entry_point):
            with pytest.raises(SettingsError, match=f"{name} \\(needed by {entry_point}\\)"):
                check_environment(without, (entry_point,))
        else:
            check_environment(without, (entry_point,))


def test_the_webhook_secret_is_required_where_channels_are_used(env: dict[str, str]) -> None:
    settings = load_settings({k: v for k, v in env.items() if k != "PREP_WEBHOOK_SECRET"})
    with pytest.raises(SettingsError, match="PREP_WEBHOOK_SECRET"):
        channel_secret(settings)
    assert channel_secret(load_settings(env)) == b"webhook-secret"


def test_cold_start_logs_a_bad_configuration_with_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import logging

    from functions.bootstrap import get_services, set_services
    from functions.logs import JsonFormatter

    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    for name in [n for n in os.environ if n.startswith("PREP_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PREP_MODE", "production")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "acme-prep")
    set_services(None)
    try:
        with pytest.raises(SettingsError):
            get_services()
    finally:
        root.removeHandler(handler)
        set_services(None)
    logged = capsys.readouterr().err
    assert '"severity": "CRITICAL"' in logged
    assert '"message": "invalid configuration"' in logged
    assert "PREP_PUBLIC_URL is required when PREP_MODE=production" in logged
