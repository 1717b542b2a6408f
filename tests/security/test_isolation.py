"""One user's ids in another user's verified requests, replayed consent, forged push pings.

Every add-on action (the sweep takes them from `addon.actions.ACTIONS`, so a
new action is covered when it is added), the eventOpen trigger, the Chat
button and the materials link are tried by local-user (alice) with bob's
event id. Each attempt is answered for alice alone: bob's meeting, profile
and tasks are untouched, and nothing of bob's (title, materials link) reaches
alice's answer or the logs.

The single cases are tested where they live (tests/addon/test_actions.py,
tests/addon/test_event_open.py, tests/workflow/test_chat_endpoint.py,
tests/oauth/test_flow.py, tests/sync/test_push_and_fanout.py); this is the
sweep across every entry point of the running local app.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest

from addon.actions import ACTIONS
from functions.sync.channels import channel_token
from functions.tasks.local_queue import LocalTaskQueue
from tests.security.logs import assert_no_secrets
from tests.support.addon_helpers import assert_valid_answer
from tests.support.app_harness import (
    ALICE,
    ALICE_EMAIL,
    BOB,
    BOB_EMAIL,
    CHANNEL_ID,
    App,
    ready_meeting,
)
from tests.support.fake_oauth import Account

BOB_TITLE = "Bob's private board meeting"
#: Form values some actions need before they would act at all.
FORMS = {
    "set_type": {"meeting_type": ["qbr"], "type_scope": ["series"]},
    "save_settings": {"channels": ["email"], "quiet_start": ["22:00"], "quiet_end": ["07:00"]},
    "wrong_type": {"meeting_type": ["qbr"]},
    "feedback": {"rating": ["down"]},
}


def _bobs_world(app: App) -> tuple[Any, ...]:
    store = app.services.store
    queue = app.services.tasks
    assert isinstance(queue, LocalTaskQueue)
    tasks = sorted(t.name for t in queue.pending() if t.payload.get("user_id") == BOB)
    return (store.get_user(BOB), store.get_meeting(BOB, "b-one"), tasks)


def _leaks(text: str, bob_ref: str | None) -> list[str]:
    found = [s for s in (BOB_TITLE, BOB_EMAIL) if s in text]
    if bob_ref:
        found += [s for s in (bob_ref, bob_ref.rsplit("/", 1)[-1]) if s in text]
    return found


@pytest.fixture
def bob_ready(app: App) -> str:
    """Bob's meeting has materials: the link is what alice must not get."""
    ref = ready_meeting(app, "b-one").materials_ref
    assert ref
    return ref


@pytest.mark.parametrize("op", sorted(ACTIONS))
def test_every_add_on_action_with_another_users_event(
    app: App, bob_ready: str, caplog: pytest.LogCaptureFixture, op: str
) -> None:
    before = _bobs_world(app)
    body = app.event_object(
        parameters={"op": op, "eventId": "b-one", "calendarId": "primary"},
        form=FORMS.get(op, {}),
        time_zone="Europe/Berlin",
    )
    with caplog.at_level(logging.INFO):
        resp = app.post_json("/addon", body)
    assert resp.status_code in (200, 400), resp.get_data(as_text=True)[:300]
    if resp.status_code == 200:
        assert_valid_answer(resp.get_json())
    assert _bobs_world(app) == before
    assert _leaks(resp.get_data(as_text=True), bob_ready) == []
    assert_no_secrets(caplog.records, BOB_TITLE)


def test_event_open_on_another_users_event(
    app: App, bob_ready: str, caplog: pytest.LogCaptureFixture
) -> None:
    before = _bobs_world(app)
    body = app.event_object(time_zone="Europe/Berlin")
    body["calendar"] = {"calendarId": "primary", "id": "b-one"}
    with caplog.at_level(logging.INFO):
        resp = app.post_json("/addon", body)
    assert resp.status_code == 200
    assert_valid_answer(resp.get_json())
    assert _bobs_world(app) == before
    assert _leaks(resp.get_data(as_text=True), bob_ready) == []
    # Nor does alice's store gain a copy of bob's meeting under her own id.
    assert app.services.store.get_meeting(ALICE, "b-one") is None
    assert_no_secrets(caplog.records, BOB_TITLE)


def test_materials_link_of_another_users_meeting(app: App, bob_ready: str) -> None:
    body = app.event_object(parameters={"op": "materials", "eventId": "b-one"})
    resp = app.post_json("/addon", body)
    assert resp.status_code == 200
    answer = resp.get_json()
    assert_valid_answer(answer)
    assert "link" not in answer["renderActions"]["action"]
    assert _leaks(resp.get_data(as_text=True), bob_ready) == []
    # Control: bob himself gets his link.
    own = app.post_json(
        "/addon",
        app.event_object(
            user_id=BOB, email=BOB_EMAIL, parameters={"op": "materials", "eventId": "b-one"}
        ),
    )
    assert own.get_json()["renderActions"]["action"]["link"]["url"].startswith("http")


def test_chat_click_on_another_users_meeting(app: App, caplog: pytest.LogCaptureFixture) -> None:
    before = _bobs_world(app)
    click = {
        "type": "CARD_CLICKED",
        "user": {"name": f"users/{ALICE}", "type": "HUMAN"},
        "space": {"name": "spaces/dm-alice", "type": "DM"},
        "common": {
            "invokedFunction": "generatePrep",
            "parameters": {"op": "generate", "event_id": "b-one", "version": "v"},
        },
    }
    with caplog.at_level(logging.INFO):
        resp = app.post_json("/chat", click, app.chat_token())
    assert resp.status_code == 200
    assert "no longer on your calendar" in resp.get_json()["text"]
    assert _bobs_world(app) == before
    assert_no_secrets(caplog.records, BOB_TITLE)


# ---------------------------------------------------------------- consent


def _connect(app: App, account: Account) -> str:
    """Alice goes through Google's consent; returns the redirect her browser follows."""
    scopes = [*app.settings.oauth_scopes, "openid"]
    return app.oauth.consent(_start(app, account), account, grant=scopes)


def _start(app: App, account: Account) -> str:
    from functions.oauth.flow import start_authorization

    return start_authorization(app.services, account.subject, account.email)


def _follow(app: App, redirect: str) -> Any:
    parts = urlsplit(redirect)
    return app.call("GET", parts.path, query=parts.query)


def test_a_consent_redirect_cannot_be_replayed(app: App, caplog: pytest.LogCaptureFixture) -> None:
    alice = Account(subject=ALICE, email=ALICE_EMAIL)
    redirect = _connect(app, alice)
    with caplog.at_level(logging.INFO):
        first = _follow(app, redirect)
    assert first.status_code == 200, first.get_data(as_text=True)[:300]
    grant = app.services.credentials.load(ALICE)
    assert grant is not None
    stored = app.fingerprint()
    # The same redirect again (a reload, a leaked URL, an attacker with the history).
    with caplog.at_level(logging.INFO):
        replay = _follow(app, redirect)
    assert replay.status_code == 400 and replay.mimetype == "text/html"
    assert app.fingerprint() == stored
    assert app.services.credentials.load(ALICE) == grant
    code = dict(p.split("=", 1) for p in urlsplit(redirect).query.split("&"))["code"]
    assert_no_secrets(caplog.records, code, grant.refresh_token)


def test_a_state_cannot_be_used_with_another_users_code(app: App) -> None:
    """Bob's own code pasted onto alice's state: the ID token names bob, nothing is stored."""
    alice_state = dict(
        p.split("=", 1) for p in urlsplit(_start(app, Account(ALICE, ALICE_EMAIL))).query.split("&")
    )["state"]
    bob_redirect = _connect(app, Account(BOB, BOB_EMAIL))
    query = dict(p.split("=", 1) for p in urlsplit(bob_redirect).query.split("&"))
    query["state"] = alice_state
    resp = app.call("GET", "/oauth/callback", query="&".join(f"{k}={v}" for k, v in query.items()))
    assert resp.status_code in (400, 403)
    assert app.services.credentials.load(ALICE) is None
    assert app.services.credentials.load(BOB) is None


# ---------------------------------------------------------------- push pings


def _swap_user(token: str, user: str) -> str:
    tag, _, mac = token.split(".")
    who = base64.urlsafe_b64encode(json.dumps([user, "primary"]).encode()).decode().rstrip("=")
    return f"{tag}.{who}.{mac}"


PINGS: dict[str, Callable[[App], str]] = {
    "no token": lambda app: "",
    "garbage": lambda app: "v1.x.y",
    "another version": lambda app: "v2" + app.channel_headers()["X-Goog-Channel-Token"][2:],
    "truncated": lambda app: app.channel_headers()["X-Goog-Channel-Token"][:-1],
    "user swapped": lambda app: _swap_user(app.channel_headers()["X-Goog-Channel-Token"], BOB),
    "other channel's token": lambda app: app.channel_headers(channel_id="chan-9")[
        "X-Goog-Channel-Token"
    ],
    "another secret": lambda app: channel_token(b"not-our-secret", CHANNEL_ID, ALICE, "primary"),
    "bob's genuine token": lambda app: app.channel_headers(BOB)["X-Goog-Channel-Token"],
}


@pytest.mark.parametrize("forgery", sorted(PINGS))
def test_forged_push_pings_queue_nothing(
    app: App, caplog: pytest.LogCaptureFixture, forgery: str
) -> None:
    headers = app.channel_headers()
    genuine = headers["X-Goog-Channel-Token"]
    headers["X-Goog-Channel-Token"] = PINGS[forgery](app)
    before = app.fingerprint()
    with caplog.at_level(logging.INFO):
        resp = app.call("POST", "/calendar/webhook", headers=headers)
    # 401 for a bad token; a genuine token of bob's names a channel bob does not have: 404.
    assert resp.status_code == (404 if forgery == "bob's genuine token" else 401)
    assert set(resp.get_json()) == {"error", "message"}
    assert app.fingerprint() == before
    assert_no_secrets(caplog.records, genuine, headers["X-Goog-Channel-Token"] or genuine)


def test_the_genuine_ping_queues_one_sync(app: App) -> None:
    """The control for the forgeries above."""
    queue = app.services.tasks
    assert isinstance(queue, LocalTaskQueue)
    assert app.call("POST", "/calendar/webhook", headers=app.channel_headers()).status_code == 200
    assert app.call("POST", "/calendar/webhook", headers=app.channel_headers()).status_code == 200
    syncs = [t for t in queue.pending() if t.path == "/tasks/sync"]
    assert [t.payload["user_id"] for t in syncs] == [ALICE]
