"""The consent flow end to end against a fake Google: what is asked, kept and refused."""

from __future__ import annotations

import base64
import hashlib
import socket
import urllib.parse
from datetime import timedelta

from functions.bootstrap import Bootstrap, set_services
from functions.config import load_settings
from functions.domain.users import ConnectionState, User
from functions.oauth.flow import disconnect
from functions.oauth.scopes import CALENDAR_EVENTS_OWNED_READONLY, DEFAULT_SCOPES, GMAIL_SEND
from functions.sync.tasks import SYNC_PATH
from functions.tasks.local_queue import LocalTaskQueue
from tests.oauth.conftest import ALICE, BOB, CLIENT_ID, REDIRECT_URI, World, make_settings


def _query(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


def _replace_param(url: str, name: str, value: str) -> str:
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    query[name] = value
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def test_authorization_url_asks_for_offline_consent_with_pkce(world: World) -> None:
    url = world.start(ALICE)
    assert url.startswith(world.fake.auth_uri + "?")
    q = _query(url)
    assert q["client_id"] == CLIENT_ID
    assert q["redirect_uri"] == REDIRECT_URI
    assert q["response_type"] == "code"
    assert q["access_type"] == "offline"
    assert q["prompt"] == "consent"
    assert q["include_granted_scopes"] == "true"
    assert q["login_hint"] == ALICE.email
    assert q["scope"].split() == ["openid", *DEFAULT_SCOPES]
    assert set(DEFAULT_SCOPES) == {CALENDAR_EVENTS_OWNED_READONLY, GMAIL_SEND}
    assert q["code_challenge_method"] == "S256"
    assert len(q["code_challenge"]) == 43
    assert "code_verifier" not in q
    # The state names the user only inside its ciphertext.
    assert ALICE.subject not in q["state"]
    assert ALICE.email not in q["state"]
    # Each attempt gets its own state and challenge.
    again = _query(world.start(ALICE))
    assert (again["state"], again["code_challenge"]) != (q["state"], q["code_challenge"])


def test_connecting_stores_a_sealed_grant_and_marks_the_user_connected(world: World) -> None:
    url = world.start(ALICE)
    response = world.callback(world.fake.consent(url, ALICE))

    assert response.status_code == 200
    assert "Connected" in response.get_data(as_text=True)
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    assert not [k for k, _ in response.headers.items() if k.lower().startswith("access-control-")]

    user = world.services.store.get_user(ALICE.subject)
    assert user is not None
    assert (user.connection, user.email) == (ConnectionState.CONNECTED, ALICE.email)

    [grant] = world.fake.grants
    assert grant.refresh_token is not None
    sealed = world.services.store.get_credentials(ALICE.subject)
    assert sealed is not None
    assert bytes(sealed).find(grant.refresh_token.encode()) == -1
    stored = world.services.credentials.load(ALICE.subject)
    assert stored is not None
    assert stored.refresh_token == grant.refresh_token
    assert set(stored.scopes) == {"openid", *DEFAULT_SCOPES}

    # PKCE: the verifier went to the token endpoint and hashes to the URL's challenge.
    [exchange] = world.fake.requests_of("authorization_code")
    verifier = exchange.form["code_verifier"]
    digest = hashlib.sha256(verifier.encode()).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert challenge == _query(url)["code_challenge"]
    assert exchange.form["redirect_uri"] == REDIRECT_URI


def test_connecting_queues_a_first_sync(world: World) -> None:
    assert world.connect(ALICE).status_code == 200
    queue = world.services.tasks
    assert isinstance(queue, LocalTaskQueue)
    [task] = queue.pending()
    assert task.path == SYNC_PATH
    assert task.payload["user_id"] == ALICE.subject


def test_reconnecting_keeps_the_existing_profile(world: World) -> None:
    world.services.store.put_user(
        User(
            ALICE.subject,
            ALICE.email,
            time_zone="Europe/Paris",
            connection=ConnectionState.RECONNECT_NEEDED,
        )
    )
    assert world.connect(ALICE).status_code == 200
    user = world.services.store.get_user(ALICE.subject)
    assert user is not None
    assert (user.connection, user.time_zone) == (ConnectionState.CONNECTED, "Europe/Paris")


def test_a_state_is_single_use(world: World) -> None:
    redirect = world.fake.consent(world.start(ALICE), ALICE)
    assert world.callback(redirect).status_code == 200
    world.services.credentials.forget(ALICE.subject)

    replay = world.callback(redirect)

    assert replay.status_code == 400
    assert len(world.fake.requests_of("authorization_code")) == 1
    assert world.services.store.get_credentials(ALICE.subject) is None


def test_an_expired_state_is_refused(world: World) -> None:
    redirect = world.fake.consent(world.start(ALICE), ALICE)
    world.clock.advance(timedelta(minutes=10, seconds=1))

    response = world.callback(redirect)

    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)
    assert world.fake.requests_of("authorization_code") == []
    assert world.services.store.get_user(ALICE.subject) is None


def test_a_state_just_inside_its_lifetime_works(world: World) -> None:
    redirect = world.fake.consent(world.start(ALICE), ALICE)
    world.clock.advance(timedelta(minutes=9, seconds=58))
    assert world.callback(redirect).status_code == 200


def test_user_b_cannot_complete_user_a_state(world: World) -> None:
    """Bob opens Alice's link and consents as himself: nothing is stored for anybody."""
    redirect = world.fake.consent(world.start(ALICE), BOB)

    response = world.callback(redirect)

    assert response.status_code == 400
    assert "Different Google account" in response.get_data(as_text=True)
    store = world.services.store
    assert store.get_credentials(ALICE.subject) is None
    assert store.get_credentials(BOB.subject) is None
    assert store.get_user(ALICE.subject) is None
    assert store.get_user(BOB.subject) is None
    # Not revoked either: that would also end a connection Bob may already have.
    assert world.fake.revoke_requests == []


def test_a_tampered_state_is_refused_without_detail(world: World) -> None:
    redirect = world.fake.consent(world.start(ALICE), ALICE)
    state = _query(redirect)["state"]
    flipped = state[:-2] + ("A" if state[-2] != "A" else "B") + state[-1]
    response = world.callback(_replace_param(redirect, "state", flipped))

    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert flipped not in body
    assert _query(redirect)["code"] not in body
    assert world.fake.requests_of("authorization_code") == []


def test_missing_state_or_code_is_a_400_page(world: World) -> None:
    assert world.callback(f"{REDIRECT_URI}?code=4/abc").status_code == 400
    assert world.callback(f"{REDIRECT_URI}").status_code == 400
    redirect = world.fake.consent(world.start(ALICE), ALICE)
    no_code = _replace_param(redirect, "code", "")
    assert world.callback(no_code).status_code == 400


def test_a_substituted_code_challenge_fails_at_the_token_endpoint(world: World) -> None:
    """PKCE is enforced end to end: a code issued for another challenge cannot be redeemed."""
    url = _replace_param(world.start(ALICE), "code_challenge", "x" * 43)

    response = world.callback(world.fake.consent(url, ALICE))

    assert response.status_code == 400
    assert world.services.store.get_credentials(ALICE.subject) is None
    assert len(world.fake.requests_of("authorization_code")) == 1


def test_declining_consent_is_a_friendly_page(world: World) -> None:
    response = world.callback(world.fake.consent(world.start(ALICE), ALICE, deny=True))

    assert response.status_code == 200
    assert "Not connected" in response.get_data(as_text=True)
    assert world.fake.token_requests == []
    assert world.services.store.get_user(ALICE.subject) is None


def test_unticking_calendar_access_connects_nothing(world: World) -> None:
    url = world.start(ALICE)
    response = world.callback(world.fake.consent(url, ALICE, grant=["openid"]))

    assert response.status_code == 400
    assert "Calendar access is needed" in response.get_data(as_text=True)
    assert world.services.store.get_credentials(ALICE.subject) is None
    assert world.services.store.get_user(ALICE.subject) is None


def test_broader_earlier_grants_satisfy_the_narrow_scope(world: World) -> None:
    """include_granted_scopes may hand back more than asked (oauthlib calls it a scope change)."""
    broader = "https://www.googleapis.com/auth/calendar.readonly"
    url = world.start(ALICE)
    response = world.callback(world.fake.consent(url, ALICE, grant=["openid", broader, GMAIL_SEND]))

    assert response.status_code == 200
    stored = world.services.credentials.load(ALICE.subject)
    assert stored is not None
    assert broader in stored.scopes


def test_the_callback_only_answers_get(world: World) -> None:
    import flask

    import main

    app = flask.Flask("t")
    app.add_url_rule("/<path:_p>", "o", lambda _p: main.oauth(flask.request), methods=["POST"])
    assert app.test_client().post("/oauth/callback").status_code == 405


def test_disconnect_revokes_forgets_and_marks_not_connected(world: World) -> None:
    assert world.connect(ALICE).status_code == 200
    [grant] = world.fake.grants

    disconnect(world.services, ALICE.subject)

    assert grant.revoked
    assert [r["token"] for r in world.fake.revoke_requests] == [grant.refresh_token]
    assert world.services.credentials.load(ALICE.subject) is None
    user = world.services.store.get_user(ALICE.subject)
    assert user is not None
    assert user.connection is ConnectionState.NOT_CONNECTED


def test_disconnect_survives_a_failing_revoke_endpoint(world: World) -> None:
    assert world.connect(ALICE).status_code == 200
    world.fake.revoke_user(ALICE)  # revoking again: Google answers 400 invalid_token

    disconnect(world.services, ALICE.subject)

    assert world.fake.revoke_requests  # it was tried
    assert world.services.credentials.load(ALICE.subject) is None
    user = world.services.store.get_user(ALICE.subject)
    assert user is not None
    assert user.connection is ConnectionState.NOT_CONNECTED


def test_an_unreachable_token_endpoint_asks_to_try_again(world: World) -> None:
    """A transient exchange failure is a 503 "try again" page, not "this link has expired"."""
    redirect = world.fake.consent(world.start(ALICE), ALICE)
    with socket.socket() as s:  # a port nothing listens on: the connection is refused
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    dev_key = world.services.settings.dev_key_path
    env = make_settings(world.tmp, world.fake, dev_key)
    env["PREP_OAUTH_TOKEN_URI"] = f"http://127.0.0.1:{closed}/token"
    services = Bootstrap(load_settings(env), clock=world.clock)
    set_services(services)
    try:
        response = world.callback(redirect)
        assert response.status_code == 503
        assert "try again" in response.get_data(as_text=True)
        assert services.store.get_credentials(ALICE.subject) is None
    finally:
        set_services(world.services)
        services.store.close()
