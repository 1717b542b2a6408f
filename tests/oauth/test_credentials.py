"""Background credentials: refreshed and persisted, dead grants surfaced, secrets kept secret."""

from __future__ import annotations

import dataclasses
import json
import logging
import socket
from datetime import timedelta
from pathlib import Path

import pytest

from functions.bootstrap import Bootstrap, set_services
from functions.config import load_settings
from functions.domain.users import ConnectionState, User
from functions.logs import JsonFormatter
from functions.oauth.credentials import (
    CredentialsProvider,
    CredentialsUnavailable,
    ReconnectNeeded,
)
from functions.oauth.flow import disconnect
from functions.oauth.scopes import (
    CALENDAR_EVENTS_OWNED_READONLY,
    CALENDAR_EVENTS_READONLY,
    GMAIL_SEND,
)
from tests.oauth.conftest import ALICE, CLIENT_SECRET, World, make_settings


def _provider(world: World) -> CredentialsProvider:
    return world.services.credentials


def _user(world: World) -> User:
    user = world.services.store.get_user(ALICE.subject)
    assert user is not None
    return user


def test_a_fresh_token_is_used_without_calling_google(world: World) -> None:
    assert world.connect(ALICE).status_code == 200

    creds = _provider(world).credentials_for(ALICE.subject)

    assert creds.token in world.fake.grants[0].access_tokens
    assert world.fake.requests_of("refresh_token") == []


def test_an_expired_token_is_refreshed_and_the_new_one_persisted(world: World) -> None:
    assert world.connect(ALICE).status_code == 200
    before = _provider(world).load(ALICE.subject)
    assert before is not None
    world.clock.advance(timedelta(hours=1))

    creds = _provider(world).credentials_for(ALICE.subject)

    [refresh] = world.fake.requests_of("refresh_token")
    assert refresh.form["refresh_token"] == before.refresh_token
    assert creds.token != before.access_token
    after = _provider(world).load(ALICE.subject)
    assert after is not None
    assert after.access_token == creds.token
    assert after.refresh_token == before.refresh_token
    assert after.expiry is not None and before.expiry is not None
    assert after.expiry > before.expiry
    # The persisted token is used next time: no second refresh.
    assert _provider(world).credentials_for(ALICE.subject).token == creds.token
    assert len(world.fake.requests_of("refresh_token")) == 1


def test_a_revoked_grant_marks_reconnect_needed(world: World) -> None:
    assert world.connect(ALICE).status_code == 200
    world.fake.revoke_user(ALICE)
    world.clock.advance(timedelta(hours=2))

    with pytest.raises(ReconnectNeeded):
        _provider(world).credentials_for(ALICE.subject)

    assert _user(world).connection is ConnectionState.RECONNECT_NEEDED
    assert _provider(world).load(ALICE.subject) is None  # the dead token is not kept
    # Asking again does not bother Google: there is nothing left to refresh.
    calls = len(world.fake.token_requests)
    with pytest.raises(ReconnectNeeded):
        _provider(world).credentials_for(ALICE.subject)
    assert len(world.fake.token_requests) == calls


def test_a_user_who_never_connected_is_not_marked(world: World) -> None:
    world.services.store.put_user(User(ALICE.subject, ALICE.email))
    with pytest.raises(ReconnectNeeded):
        _provider(world).credentials_for(ALICE.subject)
    assert _user(world).connection is ConnectionState.NOT_CONNECTED


def test_a_token_endpoint_error_other_than_invalid_grant_keeps_the_grant(world: World) -> None:
    """invalid_client is our configuration's fault, not the user's: retry, do not disconnect."""
    assert world.connect(ALICE).status_code == 200
    world.clock.advance(timedelta(hours=1))
    world.fake.fail_next = [(401, "invalid_client")]

    with pytest.raises(CredentialsUnavailable):
        _provider(world).credentials_for(ALICE.subject)

    assert _user(world).connection is ConnectionState.CONNECTED
    assert _provider(world).load(ALICE.subject) is not None
    # It recovers on the next attempt.
    assert _provider(world).credentials_for(ALICE.subject).token
    assert len(world.fake.requests_of("refresh_token")) == 2


def test_a_passing_server_error_is_retried_by_google_auth(world: World) -> None:
    assert world.connect(ALICE).status_code == 200
    world.clock.advance(timedelta(hours=1))
    world.fake.fail_next = [(503, "internal_failure")]

    creds = _provider(world).credentials_for(ALICE.subject)

    assert creds.token in world.fake.grants[0].access_tokens
    assert len(world.fake.requests_of("refresh_token")) == 2


def test_an_unreachable_token_endpoint_is_transient(world: World, dev_key_path: Path) -> None:
    assert world.connect(ALICE).status_code == 200
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}/token"
    env = make_settings(world.tmp, world.fake, dev_key_path, PREP_OAUTH_TOKEN_URI=closed)
    services = Bootstrap(load_settings(env), clock=world.clock)
    world.clock.advance(timedelta(hours=1))
    try:
        with pytest.raises(CredentialsUnavailable):
            services.credentials.credentials_for(ALICE.subject)
        user = services.store.get_user(ALICE.subject)
        assert user is not None and user.connection is ConnectionState.CONNECTED
    finally:
        services.store.close()


def test_a_newly_configured_scope_asks_the_user_to_reconnect(
    world: World, dev_key_path: Path
) -> None:
    assert world.connect(ALICE).status_code == 200
    env = make_settings(
        world.tmp,
        world.fake,
        dev_key_path,
        PREP_OAUTH_SCOPES=" ".join(
            (CALENDAR_EVENTS_OWNED_READONLY, GMAIL_SEND, CALENDAR_EVENTS_READONLY)
        ),
    )
    services = Bootstrap(load_settings(env), clock=world.clock)
    set_services(services)
    try:
        with pytest.raises(ReconnectNeeded):
            services.credentials.credentials_for(ALICE.subject)
        user = services.store.get_user(ALICE.subject)
        assert user is not None and user.connection is ConnectionState.RECONNECT_NEEDED
    finally:
        services.store.close()


def test_credentials_copied_to_another_user_do_not_open(world: World) -> None:
    assert world.connect(ALICE).status_code == 200
    store = world.services.store
    sealed = store.get_credentials(ALICE.subject)
    assert sealed is not None
    store.put_user(User("mallory", "m@example.com", connection=ConnectionState.CONNECTED))
    store.put_credentials("mallory", sealed)

    with pytest.raises(ReconnectNeeded):
        _provider(world).credentials_for("mallory")

    mallory = store.get_user("mallory")
    assert mallory is not None and mallory.connection is ConnectionState.RECONNECT_NEEDED
    assert world.fake.requests_of("refresh_token") == []


def test_no_secret_reaches_the_logs(world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    url = world.start(ALICE)
    redirect = world.fake.consent(url, ALICE)
    assert world.callback(redirect).status_code == 200
    world.clock.advance(timedelta(hours=1))
    _provider(world).credentials_for(ALICE.subject)
    disconnect(world.services, ALICE.subject)

    grant = world.fake.grants[0]
    [exchange] = world.fake.requests_of("authorization_code")
    assert grant.refresh_token is not None and len(grant.access_tokens) == 2
    secrets = [
        grant.refresh_token,
        *grant.access_tokens,
        exchange.form["code"],
        exchange.form["code_verifier"],
        CLIENT_SECRET,
    ]
    formatter = JsonFormatter()
    assert caplog.records, "the flow logs what it does"
    for record in caplog.records:
        raw = f"{record.getMessage()} {record.args!r} {vars(record)!r}"
        written = formatter.format(record)
        for secret in secrets:
            assert secret not in raw, record.name
            assert secret not in written, record.name


def test_the_store_never_holds_a_token_in_the_clear(world: World) -> None:
    assert world.connect(ALICE).status_code == 200
    world.clock.advance(timedelta(hours=1))
    _provider(world).credentials_for(ALICE.subject)
    world.services.store.close()

    grant = world.fake.grants[0]
    on_disk = b"".join(p.read_bytes() for p in world.tmp.glob("prep.db*"))
    assert len(on_disk) > 0
    for token in [grant.refresh_token, *grant.access_tokens]:
        assert token is not None
        assert token.encode() not in on_disk


def test_stored_record_is_an_envelope(world: World) -> None:
    assert world.connect(ALICE).status_code == 200
    sealed = world.services.store.get_credentials(ALICE.subject)
    assert sealed is not None
    record = json.loads(sealed)
    assert set(record) == {"v", "kid", "wk", "ct"}
    assert record["kid"] == "local-1"


def test_settings_never_print_secrets(world: World) -> None:
    settings = dataclasses.replace(world.services.settings, token_kek="k1:" + "A" * 44)
    assert CLIENT_SECRET not in repr(settings)
    assert "A" * 44 not in repr(settings)
