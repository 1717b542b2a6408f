"""Every HTTP route of the local app under arbitrary methods, headers, queries and bodies.

The routes come from `functions.bootstrap.local_routes` itself, so a route
added later is fuzzed too (and must be given a kind below). Whatever
arrives, the answer is never a 5xx or a stack trace; a refusal is the app's
JSON error (a static page for browser pages) and leaves the store, the
outbox, the task queue and the materials exactly as they were.
"""

from __future__ import annotations

import io
import json
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.test import EnvironBuilder, run_wsgi_app

from functions.bootstrap import local_routes
from functions.web import MAX_BODY_BYTES
from tests.fuzz.strategies import (
    MALFORMED_BODIES,
    bodies,
    edge_text,
    fuzz_settings,
    header_values,
)
from tests.support.addon_helpers import assert_valid_answer
from tests.support.app_harness import App, assert_json_error, assert_sane
from tests.support.roots import listing_root

#: How each route answers: "json" (the app's JSON errors), "addon" (cards), "task",
#: "chat", "page" (HTML for a browser), "oauth" (OAuth's own JSON error shape).
ROUTE_KINDS = {
    "/healthz": "json",
    "/tasks/sync": "task",
    "/tasks/fanout": "task",
    "/tasks/prep": "task",
    "/": "page",
    "/tasks/generate": "task",
    "/tasks/digest": "task",
    "/tasks/followup": "task",
    "/tasks/correct": "task",
    "/calendar/webhook": "json",
    "/oauth/callback": "page",
    "/followup": "page",
    "/m": "page",
    "/m/signin": "page",
    "/chat": "chat",
    "/dev/oauth/authorize": "page",
    "/dev/oauth/token": "oauth",
    "/dev/oauth/revoke": "oauth",
    "/dev/tasks": "json",
    "/dev/outbox": "page",
    "/dev/outbox/click": "json",
    "/materials": "page",
    "/addon": "addon",
    "/preview": "page",
    "/preview/app.js": "page",
    "/preview/app.css": "page",
    "/preview/meetings": "json",
    "/preview/event-object": "json",
    "/preview/samples": "json",
    "/dev/shared-agenda": "json",
}
ROUTES = sorted(ROUTE_KINDS)
#: Routes whose POST body is JSON, with the credential that gets a request past auth.
BASE_URL = "http://127.0.0.1:8080"
JSON_POSTS = (
    "/addon",
    "/tasks/sync",
    "/tasks/fanout",
    "/tasks/prep",
    "/tasks/generate",
    "/tasks/digest",
    "/tasks/followup",
    "/tasks/correct",
    "/chat",
)


def test_every_route_is_fuzzed() -> None:
    assert set(local_routes(listing_root())) == set(ROUTE_KINDS)


def _unchanged_if_refused(app: App, before: str, status: int) -> None:
    if status >= 400:
        assert app.fingerprint() == before, "a refused request changed stored state"


@given(
    path=st.sampled_from(ROUTES),
    method=st.sampled_from(("GET", "POST", "PUT", "DELETE", "PATCH")),
    body=bodies,
    content_type=st.sampled_from(
        ("application/json", "text/plain", "application/x-www-form-urlencoded", "")
    ),
    authorization=header_values,
    query=st.dictionaries(
        st.sampled_from(("state", "code", "error", "user", "name", "eid", "k", "X-Goog-Signature")),
        edge_text.filter(lambda s: s.isprintable()),
        max_size=3,
    ),
    trailing_slash=st.booleans(),
)
@fuzz_settings(examples=150)
def test_any_request_to_any_route(
    app: App,
    caplog: pytest.LogCaptureFixture,
    *,
    path: str,
    method: str,
    body: bytes,
    content_type: str,
    authorization: str,
    query: dict[str, str],
    trailing_slash: bool,
) -> None:
    before = app.fingerprint()
    headers = {"Authorization": authorization}
    if content_type:
        headers["Content-Type"] = content_type
    with caplog.at_level(logging.ERROR):
        caplog.clear()
        resp = app.call(
            method,
            path + ("/" if trailing_slash else ""),
            data=body,
            headers=headers,
            query=query,
        )
    assert_sane(resp, kind=ROUTE_KINDS[path])
    assert not [r for r in caplog.records if r.getMessage() == "unhandled error"]
    _unchanged_if_refused(app, before, resp.status_code)


@pytest.mark.parametrize("path", ROUTES)
def test_bodies_over_the_limit_are_413_and_change_nothing(shared_app: App, path: str) -> None:
    app = shared_app
    before = app.fingerprint()
    resp = app.call(
        "POST",
        path,
        data=b"{" + b" " * MAX_BODY_BYTES + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert resp.status_code == 413
    assert_json_error(resp)
    assert app.fingerprint() == before


def _chunked(app: App, path: str, body: bytes) -> tuple[int, bytes]:
    """POST `body` the way a server hands over a chunked upload: a terminated stream
    and no Content-Length (Flask's test client always sets one, so build it by hand)."""
    environ = EnvironBuilder(
        path=path, method="POST", headers=list(_credentials(app, path).items()), base_url=BASE_URL
    ).get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    environ["wsgi.input"] = io.BytesIO(body)
    environ["wsgi.input_terminated"] = True
    chunks, status, _ = run_wsgi_app(app.client.application, environ)
    return int(status.split()[0]), b"".join(chunks)


@pytest.mark.parametrize("path", JSON_POSTS)
def test_oversized_streamed_bodies_are_refused_too(shared_app: App, path: str) -> None:
    """Chunked uploads carry no Content-Length: the limit must hold while reading."""
    app = shared_app
    before = app.fingerprint()
    status, body = _chunked(app, path, b'{"user_id": "' + b"x" * (MAX_BODY_BYTES * 4) + b'"}')
    assert status == 413, body[:200]
    assert json.loads(body)["error"] == "too_large"
    assert app.fingerprint() == before


@pytest.mark.parametrize("path", ["/tasks/sync", "/addon"])
def test_small_streamed_bodies_are_served(shared_app: App, path: str) -> None:
    """The control: under the limit, a streamed body reaches its handler intact."""
    app = shared_app
    payload = app.event_object() if path == "/addon" else {"user_id": "nobody-here"}
    status, body = _chunked(app, path, json.dumps(payload).encode())
    assert status == 200, body[:200]
    answer = json.loads(body)
    if path == "/addon":
        assert_valid_answer(answer)
    else:
        assert answer == {"status": "ok", "sync": "skipped", "reason": "unknown_user"}


def _credentials(app: App, path: str) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if path.startswith("/tasks/"):
        headers["Authorization"] = f"Bearer {app.task_token()}"
    elif path == "/chat":
        headers["Authorization"] = f"Bearer {app.chat_token()}"
    elif path == "/addon":
        token = app.event_object()["authorizationEventObject"]["systemIdToken"]
        headers["Authorization"] = f"Bearer {token}"
    return headers


@pytest.mark.parametrize("raw", MALFORMED_BODIES, ids=lambda b: repr(b[:12]))
@pytest.mark.parametrize("path", JSON_POSTS)
def test_malformed_json_from_an_authenticated_caller(
    shared_app: App, caplog: pytest.LogCaptureFixture, path: str, raw: bytes
) -> None:
    """Past authentication, a body that is not what the route expects is a clean 4xx
    (or, for tasks, an acknowledged drop) and writes nothing."""
    app = shared_app
    before = app.fingerprint()
    with caplog.at_level(logging.ERROR):
        resp = app.call("POST", path, data=raw, headers=_credentials(app, path))
    assert_sane(resp, kind=ROUTE_KINDS[path])
    assert not [r for r in caplog.records if r.getMessage() == "unhandled error"]
    if resp.status_code == 200:
        assert path.startswith("/tasks/") and resp.get_json()["status"] == "dropped"
    assert app.fingerprint() == before
