"""Every authenticated route against every kind of forged caller: refused, silent, inert.

The sweep crosses each route that verifies a Google-signed bearer token
(every `/tasks/*` path, `/chat`, `/addon`) with each way of getting that
token wrong. Each attempt must get the same bare 401 (the reason goes to
the log, never to the caller), must not reach its handler (no stored
state, no queued task, no message changes), and its log lines must carry
no token, no email and no meeting title.

The single-route variants already covered elsewhere: tests/auth (the
verifier's claims), tests/addon/test_verification.py (the add-on's two
tokens), tests/workflow/test_chat_endpoint.py (both Chat audiences),
tests/sync and tests/workflow/test_prep_task.py (one task route each).
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest

from functions.auth.dev_keys import DevSigner
from functions.bootstrap import task_routes
from tests.security.logs import assert_no_secrets
from tests.support.app_harness import ALICE, App
from tests.support.roots import listing_root

TASK_PATHS = sorted(task_routes(listing_root()))
Forgery = Callable[[App, DevSigner, dict[str, Any]], str | None]


def _signed(app: App, claims: dict[str, Any], **changes: Any) -> str:
    now = int(time.time())
    body = {"iss": "https://accounts.google.com", "iat": now, "exp": now + 600, **claims}
    body.update(changes)
    return app.services.dev_signer.sign({k: v for k, v in body.items() if v is not None})


def _alg_none(token: str) -> str:
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none"}).encode()).rstrip(b"=")
    _, payload, _ = token.split(".")
    return f"{header.decode()}.{payload}."


def _tampered(token: str) -> str:
    head, payload, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["email"] = "attacker@example.com"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{head}.{forged}.{sig}"


#: Each forgery turns the genuine claims of the route into a token the route must refuse.
FORGERIES: dict[str, Forgery] = {
    "no token": lambda app, other, claims: None,
    "not a JWT": lambda app, other, claims: "not-a-token",
    "wrong audience": lambda app, other, claims: _signed(app, claims, aud="https://evil.test"),
    "wrong caller": lambda app, other, claims: _signed(app, claims, email="x@evil.test"),
    "email not verified": lambda app, other, claims: _signed(app, claims, email_verified=False),
    "no email": lambda app, other, claims: _signed(app, claims, email=None),
    "expired": lambda app, other, claims: _signed(
        app, claims, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600
    ),
    "not yet valid": lambda app, other, claims: _signed(
        app, claims, iat=int(time.time()) + 3600, exp=int(time.time()) + 7200
    ),
    "wrong issuer": lambda app, other, claims: _signed(app, claims, iss="https://evil.test"),
    "another key": lambda app, other, claims: other.sign(
        {
            "iss": "https://accounts.google.com",
            "iat": int(time.time()),
            "exp": int(time.time()) + 600,
            **claims,
        }
    ),
    "unsigned (alg none)": lambda app, other, claims: _alg_none(_signed(app, claims)),
    "tampered payload": lambda app, other, claims: _tampered(_signed(app, claims)),
}


def _task_claims(app: App) -> dict[str, Any]:
    s = app.settings
    return {
        "aud": s.tasks_audience,
        "sub": "cloud-tasks",
        "email": s.tasks_sa_email,
        "email_verified": True,
    }


def _chat_claims(app: App) -> dict[str, Any]:
    from functions.chat.auth import CHAT_ISSUER

    return {
        "aud": app.settings.notify.chat_audience,
        "sub": "chat",
        "email": CHAT_ISSUER,
        "email_verified": True,
    }


def _addon_claims(app: App) -> dict[str, Any]:
    s = app.settings
    return {
        "aud": s.addon_audience,
        "sub": "addon-sa",
        "email": s.addon_sa_email,
        "email_verified": True,
    }


def _refused_silently(resp: Any) -> None:
    assert resp.status_code == 401, resp.get_data(as_text=True)[:300]
    assert resp.get_json() == {"error": "unauthenticated", "message": "caller is not allowed"}


def _payload(app: App, path: str) -> dict[str, Any]:
    meeting = app.meetings["a-one"]
    return {"user_id": ALICE, "event_id": meeting.event_id, "version": meeting.version}


def test_the_genuine_callers_get_through(app: App) -> None:
    """The sweep's controls: with the genuine token each route answers 200."""
    for path in TASK_PATHS:
        resp = app.post_json(path, _payload(app, path), app.task_token())
        assert resp.status_code == 200, (path, resp.get_data(as_text=True))
    chat = {"type": "MESSAGE", "user": {"name": f"users/{ALICE}"}, "space": {"type": "DM"}}
    assert app.post_json("/chat", chat, app.chat_token()).status_code == 200
    body = app.event_object(meeting=app.meetings["a-one"])
    token = body["authorizationEventObject"]["systemIdToken"]
    assert app.post_json("/addon", body, token).status_code == 200


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
@pytest.mark.parametrize("path", TASK_PATHS)
def test_forged_task_calls_are_refused(
    shared_app: App, stranger: DevSigner, caplog: pytest.LogCaptureFixture, path: str, forgery: str
) -> None:
    app = shared_app
    token = FORGERIES[forgery](app, stranger, _task_claims(app))
    before = app.fingerprint()
    with caplog.at_level(logging.DEBUG):
        resp = app.post_json(path, _payload(app, path), token)
    _refused_silently(resp)
    assert app.fingerprint() == before  # the handler never ran
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        "task rejected"
    ]
    assert_no_secrets(caplog.records, "Weekly 1:1 with Sam", ALICE + "@")


@pytest.mark.parametrize("path", TASK_PATHS)
def test_other_google_tokens_are_not_task_tokens(shared_app: App, path: str) -> None:
    """Genuine tokens minted for someone else (a confused deputy) do not open task routes."""
    app = shared_app
    addon_system = app.event_object()["authorizationEventObject"]["systemIdToken"]
    user_token = app.event_object()["authorizationEventObject"]["userIdToken"]
    before = app.fingerprint()
    for token in (addon_system, user_token, app.chat_token()):
        _refused_silently(app.post_json(path, _payload(app, path), token))
    assert app.fingerprint() == before


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
def test_forged_chat_calls_are_refused(
    shared_app: App, stranger: DevSigner, caplog: pytest.LogCaptureFixture, forgery: str
) -> None:
    app = shared_app
    token = FORGERIES[forgery](app, stranger, _chat_claims(app))
    click = {
        "type": "CARD_CLICKED",
        "user": {"name": f"users/{ALICE}"},
        "common": {
            "invokedFunction": "generatePrep",
            "parameters": {"op": "generate", "event_id": "a-one"},
        },
    }
    before = app.fingerprint()
    with caplog.at_level(logging.DEBUG):
        resp = app.post_json("/chat", click, token)
    _refused_silently(resp)
    assert app.fingerprint() == before
    assert_no_secrets(caplog.records, "Weekly 1:1 with Sam")


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
@pytest.mark.parametrize("where", ["header", "body"])
def test_forged_add_on_calls_are_refused(
    shared_app: App, stranger: DevSigner, caplog: pytest.LogCaptureFixture, forgery: str, where: str
) -> None:
    """A forged systemIdToken, in the Authorization header or (without one) in the body."""
    app = shared_app
    body = app.event_object(
        parameters={"op": "generate", "eventId": "a-one"}, meeting=app.meetings["a-one"]
    )
    token = FORGERIES[forgery](app, stranger, _addon_claims(app))
    if where == "header":
        # No header at all is the "body" case's business: put junk there instead.
        resp_token: str | None = token or "not-a-token"
    else:
        body["authorizationEventObject"]["systemIdToken"] = token
        resp_token = None
    before = app.fingerprint()
    with caplog.at_level(logging.DEBUG):
        resp = app.post_json("/addon", body, resp_token)
    _refused_silently(resp)
    assert app.fingerprint() == before
    assert_no_secrets(caplog.records, "Weekly 1:1 with Sam")


#: A userIdToken names a person, not a calling service: its email is not what is checked.
USER_FORGERIES = sorted(set(FORGERIES) - {"wrong caller", "no email", "email not verified"})


@pytest.mark.parametrize("forgery", USER_FORGERIES)
def test_forged_user_tokens_are_refused(
    shared_app: App, stranger: DevSigner, caplog: pytest.LogCaptureFixture, forgery: str
) -> None:
    """A genuine add-on call carrying a forged userIdToken (who the user is)."""
    app = shared_app
    body = app.event_object(
        parameters={"op": "generate", "eventId": "a-one"}, meeting=app.meetings["a-one"]
    )
    claims = {
        "aud": app.settings.oauth_client_id,
        "sub": ALICE,
        "email": "you@example.com",
        "email_verified": True,
    }
    body["authorizationEventObject"]["userIdToken"] = FORGERIES[forgery](app, stranger, claims)
    before = app.fingerprint()
    with caplog.at_level(logging.DEBUG):
        resp = app.post_json("/addon", body, body["authorizationEventObject"]["systemIdToken"])
    _refused_silently(resp)
    assert app.fingerprint() == before
    assert_no_secrets(caplog.records, "Weekly 1:1 with Sam")
