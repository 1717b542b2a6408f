"""OAuth settings: Google in production, the local stand-in locally, scopes validated."""

from __future__ import annotations

import dataclasses

import pytest

from functions.config import (
    GOOGLE_AUTH_URI,
    GOOGLE_REVOKE_URI,
    GOOGLE_TOKEN_URI,
    Mode,
    SettingsError,
    load_settings,
)
from functions.oauth.client import OAuthClient
from functions.oauth.scopes import CALENDAR_EVENTS_OWNED_READONLY, GMAIL_SEND, missing
from tests.support.environments import PRODUCTION


def test_local_defaults_point_at_the_apps_own_stand_in() -> None:
    s = load_settings({"PREP_PUBLIC_URL": "http://127.0.0.1:9000"})
    assert s.oauth_redirect_uri == "http://127.0.0.1:9000/oauth/callback"
    assert s.oauth_auth_uri == "http://127.0.0.1:9000/dev/oauth/authorize"
    assert s.oauth_token_uri == "http://127.0.0.1:9000/dev/oauth/token"
    assert s.oauth_revoke_uri == "http://127.0.0.1:9000/dev/oauth/revoke"
    assert s.oauth_scopes == (CALENDAR_EVENTS_OWNED_READONLY, GMAIL_SEND)


def test_production_talks_to_google() -> None:
    s = load_settings(PRODUCTION)
    assert (s.oauth_auth_uri, s.oauth_token_uri, s.oauth_revoke_uri) == (
        GOOGLE_AUTH_URI,
        GOOGLE_TOKEN_URI,
        GOOGLE_REVOKE_URI,
    )
    assert s.oauth_redirect_uri == "https://prep.example.com/oauth/callback"


def test_production_needs_the_web_client_where_it_is_used() -> None:
    base = dataclasses.replace(load_settings({}), mode=Mode.PRODUCTION)
    with pytest.raises(SettingsError, match="PREP_OAUTH_WEB_CLIENT_ID"):
        OAuthClient.from_settings(dataclasses.replace(base, oauth_web_client_id=""))
    with pytest.raises(SettingsError, match="PREP_OAUTH_WEB_CLIENT_SECRET"):
        OAuthClient.from_settings(dataclasses.replace(base, oauth_web_client_secret=""))
    unset = load_settings(PRODUCTION)
    assert (unset.oauth_web_client_id, unset.oauth_web_client_secret) == ("", "")


def test_scopes_are_configurable_and_validated() -> None:
    s = load_settings({"PREP_OAUTH_SCOPES": f"{CALENDAR_EVENTS_OWNED_READONLY},{GMAIL_SEND}"})
    assert s.oauth_scopes == (CALENDAR_EVENTS_OWNED_READONLY, GMAIL_SEND)
    with pytest.raises(SettingsError, match="PREP_OAUTH_SCOPES"):
        load_settings({"PREP_OAUTH_SCOPES": "calendar"})


def test_endpoints_must_be_https_outside_loopback() -> None:
    with pytest.raises(SettingsError, match="PREP_OAUTH_TOKEN_URI"):
        load_settings({"PREP_OAUTH_TOKEN_URI": "http://oauth.example.com/token"})


def test_broader_grants_cover_narrow_needs() -> None:
    g = "https://www.googleapis.com/auth/"
    assert missing([CALENDAR_EVENTS_OWNED_READONLY], [g + "calendar.events.readonly"]) == []
    assert missing([CALENDAR_EVENTS_OWNED_READONLY], [g + "calendar"]) == []
    assert missing([CALENDAR_EVENTS_OWNED_READONLY], ["openid", g + "calendar.settings"]) == [
        CALENDAR_EVENTS_OWNED_READONLY
    ]
    assert missing([GMAIL_SEND], [g + "gmail.readonly"]) == [GMAIL_SEND]
