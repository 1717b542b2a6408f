"""`POST /chat`: only Google Chat gets in, and a click queues generation for the clicker only."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flask
import pytest
from google.apps.card_v1 import Card

from functions import bootstrap
from functions.auth.id_tokens import HttpCerts, IdTokenVerifier, TokenRejected
from functions.bootstrap import Bootstrap, set_services
from functions.chat.auth import CHAT_ISSUER, ChatAudience, ChatVerifier
from functions.domain.prep_state import PrepState
from functions.notify import problems
from functions.notify.chat_message import GENERATE_ACTION
from functions.prep.queueing import GENERATE_PATH
from functions.web import dispatch
from tests.support.factories import USER_ID, make_meeting, make_user
from tests.support.google_certs import CertServer, cert_server
from tests.support.recording_queue import RecordingQueue
from tests.support.roots import make_services

ENDPOINT = "https://region-project.cloudfunctions.net/chat"
PROJECT_NUMBER = "123456789012"


# ---------------------------------------------------------------- the verifier


@pytest.fixture(scope="module")
def google_certs() -> Iterator[CertServer]:
    with cert_server() as server:
        yield server


@pytest.fixture(scope="module")
def chat_certs() -> Iterator[CertServer]:
    with cert_server() as server:
        yield server


def sign(server: CertServer, **claims: Any) -> str:
    now = int(time.time())
    base: dict[str, Any] = {"iat": now, "exp": now + 300, "sub": "chat"}
    base.update(claims)
    return server.signer.sign({k: v for k, v in base.items() if v is not None})


def url_token(server: CertServer, **over: Any) -> str:
    claims = {
        "iss": "https://accounts.google.com",
        "aud": ENDPOINT,
        "email": CHAT_ISSUER,
        "email_verified": True,
        **over,
    }
    return sign(server, **claims)


def project_token(server: CertServer, **over: Any) -> str:
    return sign(server, **{"iss": CHAT_ISSUER, "aud": PROJECT_NUMBER, **over})


def verifier(kind: ChatAudience, google: CertServer, chat: CertServer) -> ChatVerifier:
    audience = ENDPOINT if kind is ChatAudience.ENDPOINT_URL else PROJECT_NUMBER
    return ChatVerifier(
        kind,
        audience,
        id_tokens=IdTokenVerifier(HttpCerts(google.url)),
        chat_certs=HttpCerts(chat.url),
    )


def test_endpoint_url_audience_accepts_chats_id_token(
    google_certs: CertServer, chat_certs: CertServer
) -> None:
    v = verifier(ChatAudience.ENDPOINT_URL, google_certs, chat_certs)
    got = v.verify(url_token(google_certs))
    assert (got.issuer, got.audience, got.email, got.subject) == (
        "https://accounts.google.com",
        ENDPOINT,
        CHAT_ISSUER,
        "chat",
    )
    assert got.claims["email_verified"] is True


@pytest.mark.parametrize(
    "over",
    [
        {"aud": "https://elsewhere.example/chat"},
        {"email": "someone@gserviceaccount.com"},
        {"email_verified": False},
        {"exp": int(time.time()) - 600, "iat": int(time.time()) - 1200},
        {"iss": CHAT_ISSUER},
    ],
)
def test_endpoint_url_audience_refuses(
    google_certs: CertServer, chat_certs: CertServer, over: dict[str, Any]
) -> None:
    v = verifier(ChatAudience.ENDPOINT_URL, google_certs, chat_certs)
    with pytest.raises(TokenRejected):
        v.verify(url_token(google_certs, **over))


def test_project_number_audience_accepts_chats_own_jwt(
    google_certs: CertServer, chat_certs: CertServer
) -> None:
    v = verifier(ChatAudience.PROJECT_NUMBER, google_certs, chat_certs)
    got = v.verify(project_token(chat_certs))
    assert (got.issuer, got.audience, got.email, got.subject) == (
        CHAT_ISSUER,
        PROJECT_NUMBER,
        None,
        "chat",
    )
    assert got.claims["aud"] == PROJECT_NUMBER


@pytest.mark.parametrize(
    "make",
    [
        lambda g, c: project_token(c, aud="999"),
        lambda g, c: project_token(c, iss="https://accounts.google.com"),
        lambda g, c: project_token(g),  # signed by a key that is not Chat's
        lambda g, c: url_token(g),  # the other variant's token
        lambda g, c: "not.a.jwt",
        lambda g, c: "",
    ],
)
def test_project_number_audience_refuses(
    google_certs: CertServer, chat_certs: CertServer, make: Any
) -> None:
    v = verifier(ChatAudience.PROJECT_NUMBER, google_certs, chat_certs)
    with pytest.raises(TokenRejected):
        v.verify(make(google_certs, chat_certs))


def test_endpoint_variant_refuses_a_project_number_token(
    google_certs: CertServer, chat_certs: CertServer
) -> None:
    v = verifier(ChatAudience.ENDPOINT_URL, google_certs, chat_certs)
    with pytest.raises(TokenRejected):
        v.verify(project_token(chat_certs))
    with pytest.raises(TokenRejected):
        v.verify(None)


# ---------------------------------------------------------------- the endpoint


@pytest.fixture
def queue() -> RecordingQueue:
    return RecordingQueue()


@pytest.fixture
def services(tmp_path: Path, queue: RecordingQueue) -> Iterator[Bootstrap]:
    s = make_services(tmp_path, tasks=queue)
    s.store.put_user(make_user())
    s.store.upsert_meetings([make_meeting()])
    set_services(s)
    yield s
    set_services(None)


def chat_token(services: Bootstrap, **over: Any) -> str:
    claims: dict[str, Any] = {
        "audience": services.settings.notify.chat_audience,
        "subject": "chat",
        "email": CHAT_ISSUER,
    }
    claims.update(over)
    return services.dev_signer.id_token(**claims)


def click(user: str = USER_ID, event_id: str = "evt0001", **extra: Any) -> dict[str, Any]:
    params = {"op": "generate", "event_id": event_id, "version": "v1"}
    return {
        "type": "CARD_CLICKED",
        "eventTime": "2026-03-16T08:00:00.000Z",
        "space": {"name": "spaces/dm", "type": "DM", "spaceType": "DIRECT_MESSAGE"},
        "message": {"name": "spaces/dm/messages/m1"},
        "user": {"name": f"users/{user}", "displayName": "Ana", "type": "HUMAN"},
        "action": {
            "actionMethodName": GENERATE_ACTION,
            "parameters": [{"key": k, "value": v} for k, v in params.items()],
        },
        "common": {"invokedFunction": GENERATE_ACTION, "parameters": params},
        **extra,
    }


def post(services: Bootstrap, event: Any, *, token: str | None = None) -> flask.Response:
    app = flask.Flask(__name__)
    bearer = chat_token(services) if token is None else token
    with app.test_request_context(
        "/chat",
        method="POST",
        data=json.dumps(event),
        headers={"Authorization": f"Bearer {bearer}", "Content-Type": "application/json"},
    ):
        return dispatch(bootstrap.chat_routes(bootstrap.get_services()), flask.request)


def reply(resp: flask.Response) -> dict[str, Any]:
    assert resp.status_code == 200, resp.get_data(as_text=True)
    data = resp.get_json()
    assert isinstance(data, dict)
    return data


def test_click_queues_generation_and_updates_the_card(
    services: Bootstrap, queue: RecordingQueue
) -> None:
    answer = reply(post(services, click()))
    assert answer["actionResponse"] == {"type": "UPDATE_MESSAGE"}
    card = answer["cardsV2"][0]["card"]
    Card.from_json(json.dumps(card), ignore_unknown_fields=False)
    assert "Generate prep" not in json.dumps(card)
    [task] = queue.on_path(GENERATE_PATH)
    assert task.payload["user_id"] == USER_ID and task.payload["event_id"] == "evt0001"
    stored = services.store.get_meeting(USER_ID, "evt0001")
    assert stored is not None and stored.prep_state is PrepState.GENERATING


def test_double_click_queues_once(services: Bootstrap, queue: RecordingQueue) -> None:
    reply(post(services, click()))
    reply(post(services, click()))
    assert len(queue.on_path(GENERATE_PATH)) == 1


def test_a_click_acts_only_for_the_verified_clicker(
    services: Bootstrap, queue: RecordingQueue
) -> None:
    services.store.put_user(dataclasses.replace(make_user(), user_id="mallory"))
    answer = reply(post(services, click(user="mallory")))  # Ana's event id, Mallory's click
    assert answer["actionResponse"]["type"] == "NEW_MESSAGE"
    assert "no longer on your calendar" in answer["text"]
    assert queue.tasks == {}
    stored = services.store.get_meeting(USER_ID, "evt0001")
    assert stored is not None and stored.prep_state is PrepState.SCHEDULED


def test_unknown_user_is_pointed_to_calendar(services: Bootstrap, queue: RecordingQueue) -> None:
    answer = reply(post(services, click(user="stranger")))
    assert "Google Calendar" in answer["text"]
    assert queue.tasks == {}


def test_click_on_ready_prep_does_not_regenerate(
    services: Bootstrap, queue: RecordingQueue
) -> None:
    services.store.upsert_meetings(
        [make_meeting(prep_state=PrepState.READY, materials_ref="materials/1")]
    )
    answer = reply(post(services, click()))
    assert answer["actionResponse"]["type"] == "UPDATE_MESSAGE"
    assert "ready" in answer["text"]
    assert queue.tasks == {}


def test_click_on_cancelled_meeting(services: Bootstrap, queue: RecordingQueue) -> None:
    services.store.upsert_meetings(
        [make_meeting(prep_state=PrepState.CANCELLED, skip_reason="cancelled")]
    )
    answer = reply(post(services, click()))
    Card.from_json(json.dumps(answer["cardsV2"][0]["card"]), ignore_unknown_fields=False)
    assert "cannot start" in answer["text"]
    assert queue.tasks == {}


def test_queue_trouble_keeps_the_button(services: Bootstrap, queue: RecordingQueue) -> None:
    queue.fail_next = 1
    answer = reply(post(services, click()))
    assert answer["actionResponse"]["type"] == "NEW_MESSAGE"  # the card and its button stay
    stored = services.store.get_meeting(USER_ID, "evt0001")
    assert stored is not None and stored.prep_state is PrepState.SCHEDULED
    reply(post(services, click()))  # clicking again works
    assert len(queue.on_path(GENERATE_PATH)) == 1


def test_removed_and_added_back_are_recorded(services: Bootstrap) -> None:
    dm = {"name": "spaces/dm", "type": "DM", "singleUserBotDm": True}
    user = {"name": f"users/{USER_ID}", "type": "HUMAN"}
    assert reply(post(services, {"type": "REMOVED_FROM_SPACE", "space": dm, "user": user})) == {}
    stored = services.store.get_user(USER_ID)
    assert stored is not None and stored.delivery_problem == problems.CHAT_APP_REMOVED
    answer = reply(post(services, {"type": "ADDED_TO_SPACE", "space": dm, "user": user}))
    assert "before meetings" in answer["text"]
    stored = services.store.get_user(USER_ID)
    assert stored is not None and stored.delivery_problem is None


def test_message_gets_help(services: Bootstrap) -> None:
    event = {"type": "MESSAGE", "user": {"name": f"users/{USER_ID}"}, "message": {"text": "hi"}}
    assert "Generate prep" in reply(post(services, event))["text"]


def test_requests_not_from_chat_are_refused(services: Bootstrap, queue: RecordingQueue) -> None:
    wrong_caller = chat_token(services, email="attacker@example.com")
    assert post(services, click(), token=wrong_caller).status_code == 401
    wrong_audience = chat_token(services, audience="https://elsewhere.example/chat")
    assert post(services, click(), token=wrong_audience).status_code == 401
    assert post(services, click(), token="garbage").status_code == 401
    assert queue.tasks == {}


@pytest.mark.parametrize(
    "event",
    [
        [],
        {"type": "CARD_CLICKED"},
        {"type": "CARD_CLICKED", "user": {"name": "users/"}},
        {"type": "CARD_CLICKED", "user": {"name": "users/a/b"}},
    ],
)
def test_malformed_events_are_400(services: Bootstrap, event: Any) -> None:
    resp = post(services, event)
    assert resp.status_code == 400
    assert resp.get_json() == {"error": "bad_request", "message": "not a Chat event"}


def test_only_post(services: Bootstrap) -> None:
    app = flask.Flask(__name__)
    with app.test_request_context("/chat", method="GET"):
        assert (
            dispatch(bootstrap.chat_routes(bootstrap.get_services()), flask.request).status_code
            == 405
        )
