"""The sync's settings: read from the environment, refused when malformed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from functions.config import REPO_ROOT, SettingsError, load_settings


def test_defaults_import_the_sample_and_leave_push_off() -> None:
    settings = load_settings({})
    assert settings.ics_path == REPO_ROOT / "config" / "sample.ics"
    assert settings.local_user_email == "you@example.com"
    assert settings.calendar_api_endpoint is None
    assert settings.sync_interval == timedelta(minutes=15)
    assert not settings.webhook_url.startswith("https://")  # push needs https


def test_overrides() -> None:
    settings = load_settings(
        {
            "PREP_ICS_PATH": "my.ics",
            "PREP_LOCAL_USER_EMAIL": "me@corp.example",
            "PREP_CALENDAR_API_ENDPOINT": "http://127.0.0.1:9999/calendar/v3/",
            "PREP_SYNC_INTERVAL_MINUTES": "5",
            "PREP_WEBHOOK_URL": "https://prep.example.com/calendar/webhook",
            "PREP_WEBHOOK_SECRET": "s3cret",
        }
    )
    assert settings.ics_path == REPO_ROOT / "my.ics"
    assert settings.local_user_email == "me@corp.example"
    assert settings.calendar_api_endpoint == "http://127.0.0.1:9999/calendar/v3/"
    assert settings.sync_interval == timedelta(minutes=5)
    assert settings.webhook_url == "https://prep.example.com/calendar/webhook"
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PREP_SYNC_INTERVAL_MINUTES", "0"),
        ("PREP_SYNC_INTERVAL_MINUTES", "soon"),
        ("PREP_WEBHOOK_URL", "http://prep.example.com/calendar/webhook"),
        ("PREP_CALENDAR_API_ENDPOINT", "ftp://calendar.example.com/"),
    ],
)
def test_malformed_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        load_settings({name: value})


def test_the_sync_horizon_is_one_setting_long_enough_for_every_lead_time() -> None:
    assert load_settings({}).sync_horizon == timedelta(days=90)
    assert load_settings({"PREP_SYNC_HORIZON_DAYS": "120"}).sync_horizon == timedelta(days=120)
    # 30 days of lead time + 2 days of prep-task horizon + the weekly re-listing.
    assert load_settings({"PREP_SYNC_HORIZON_DAYS": "39"}).sync_horizon == timedelta(days=39)
    for bad in ("38", "367", "soon"):
        with pytest.raises(SettingsError, match="PREP_SYNC_HORIZON_DAYS"):
            load_settings({"PREP_SYNC_HORIZON_DAYS": bad})
