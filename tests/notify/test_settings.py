"""Notification settings: validated at start, each problem naming its variable."""

from __future__ import annotations

import pytest

from functions.config import SettingsError, load_settings
from functions.notify.settings import (
    DEFAULT_OUTBOX,
    NotifySettings,
    NotifySettingsError,
    load_notify_settings,
)

PUBLIC = "https://prep.example.com"


def production(**env: str) -> NotifySettings:
    """Only this module's production rules (the others have their own tests)."""
    full = {"PREP_CHAT_AUDIENCE": f"{PUBLIC}/chat", **env}
    return load_notify_settings(
        {k: v for k, v in full.items() if v}, production=True, public_url=PUBLIC
    )


def test_local_defaults_deliver_to_the_outbox() -> None:
    notify = load_settings({}).notify
    assert notify == NotifySettings(
        delivery="outbox",
        outbox_path=DEFAULT_OUTBOX,
        chat_audience="http://127.0.0.1:8080/chat",
    )


def test_production_delivers_through_google() -> None:
    notify = production()
    assert notify.delivery == "google"
    assert notify.chat_audience == "https://prep.example.com/chat"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"PREP_NOTIFY": "carrier-pigeon"}, "PREP_NOTIFY"),
        ({"PREP_CHAT_AUDIENCE_TYPE": "email"}, "PREP_CHAT_AUDIENCE_TYPE"),
        ({"PREP_CHAT_AUDIENCE": "http://evil.example/chat"}, "PREP_CHAT_AUDIENCE"),
        (
            {"PREP_CHAT_AUDIENCE_TYPE": "project_number", "PREP_CHAT_AUDIENCE": "my-project"},
            "PREP_CHAT_AUDIENCE",
        ),
        ({"PREP_GMAIL_API_ENDPOINT": "ftp://x"}, "PREP_GMAIL_API_ENDPOINT"),
        ({"PREP_CHAT_CERTS_URL": "http://certs.example"}, "PREP_CHAT_CERTS_URL"),
    ],
)
def test_bad_values_name_their_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        load_settings(env)


def test_project_number_audience() -> None:
    notify = load_settings(
        {"PREP_CHAT_AUDIENCE_TYPE": "project_number", "PREP_CHAT_AUDIENCE": "1234567890"}
    ).notify
    assert (notify.chat_audience_type, notify.chat_audience) == ("project_number", "1234567890")


def test_production_refuses_the_outbox_and_needs_the_chat_audience() -> None:
    with pytest.raises(NotifySettingsError, match="PREP_NOTIFY"):
        production(PREP_NOTIFY="outbox")
    with pytest.raises(NotifySettingsError, match="PREP_CHAT_AUDIENCE"):
        production(PREP_CHAT_AUDIENCE="")


def test_endpoints_and_sender_name() -> None:
    notify = load_settings(
        {
            "PREP_GMAIL_API_ENDPOINT": "http://127.0.0.1:9999/",
            "PREP_CHAT_API_ENDPOINT": "http://127.0.0.1:9998/",
            "PREP_MAIL_FROM_NAME": "  Prep\r\n  bot ",
            "PREP_OUTBOX_PATH": "elsewhere/outbox.db",
        }
    ).notify
    assert notify.gmail_api_endpoint == "http://127.0.0.1:9999/"
    assert notify.chat_api_endpoint == "http://127.0.0.1:9998/"
    assert notify.mail_from_name == "Prep bot"
    assert notify.outbox_path.is_absolute() and notify.outbox_path.name == "outbox.db"
