"""Browser-facing routes: the OAuth callback, local mode's stand-ins, the preview, materials.

These take query strings and forms from a browser (or from whoever sends
one a link), so their input is fuzzed through the query and the form. They
answer static pages or JSON; never a 5xx or a trace, and a refusal writes
nothing. The OAuth callback is also fuzzed with a genuine state, so the
refusals past the state check (error, missing code, unreachable token
endpoint) are reached.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from functions.oauth.flow import start_authorization
from tests.fuzz.strategies import edge_text, fuzz_settings, json_values
from tests.support.app_harness import ALICE, ALICE_EMAIL, App, assert_sane

printable = edge_text.filter(str.isprintable)
OAUTH_PARAMS = ("state", "code", "error", "scope", "authuser", "prompt", "hd")
DEV_AUTHORIZE = (
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "login_hint",
    "dev_subject",
    "decision",
)
DEV_TOKEN = (
    "grant_type",
    "code",
    "code_verifier",
    "client_id",
    "client_secret",
    "refresh_token",
    "redirect_uri",
    "token",
)


def _crashed(caplog: pytest.LogCaptureFixture) -> bool:
    return any(r.getMessage() == "unhandled error" for r in caplog.records)


@given(query=st.dictionaries(st.sampled_from(OAUTH_PARAMS), printable, max_size=4))
@fuzz_settings(examples=80)
def test_oauth_callback_query(
    app: App, caplog: pytest.LogCaptureFixture, query: dict[str, str]
) -> None:
    before = app.fingerprint()
    with caplog.at_level(logging.WARNING):
        caplog.clear()
        resp = app.call("GET", "/oauth/callback", query=query)
    assert_sane(resp, kind="page")
    assert not _crashed(caplog)
    assert resp.status_code >= 400 or "state" in query
    assert app.fingerprint() == before  # without a genuine state nothing is touched


@given(extra=st.dictionaries(st.sampled_from(("code", "error", "scope")), printable, max_size=3))
@example(extra={"error": "access_denied"})
@example(extra={"code": "4/" + "x" * 3000})
@fuzz_settings(examples=40)
def test_oauth_callback_with_a_genuine_state(
    app: App, caplog: pytest.LogCaptureFixture, extra: dict[str, str]
) -> None:
    """Past the state check: whatever else the redirect carries, nobody gets connected
    (the code cannot be redeemed) and the answer is a page, never a crash."""
    url = start_authorization(app.services, ALICE, ALICE_EMAIL)
    state = parse_qs(urlsplit(url).query)["state"][0]
    with caplog.at_level(logging.WARNING):
        caplog.clear()
        resp = app.call("GET", "/oauth/callback", query={"state": state, **extra})
    assert_sane(resp, kind="page")
    assert not _crashed(caplog)
    assert resp.mimetype == "text/html"
    assert app.services.credentials.load(ALICE) is None  # no grant was stored
    # The state is single use whatever happened: a replay is refused (Cancel's
    # replay gets the same friendly "not connected" page, and connects nothing).
    replay = app.call("GET", "/oauth/callback", query={"state": state, **extra})
    assert replay.status_code == 400 or extra.get("error") == "access_denied"
    assert app.services.credentials.load(ALICE) is None


@given(
    method=st.sampled_from(("GET", "POST")),
    params=st.dictionaries(st.sampled_from(DEV_AUTHORIZE), printable, max_size=6),
)
@fuzz_settings(examples=60)
def test_local_consent_page(
    app: App, caplog: pytest.LogCaptureFixture, method: str, params: dict[str, str]
) -> None:
    with caplog.at_level(logging.WARNING):
        caplog.clear()
        if method == "GET":
            resp = app.call("GET", "/dev/oauth/authorize", query=params)
        else:
            resp = app.call("POST", "/dev/oauth/authorize", data=params)
    assert_sane(resp, kind="page")
    assert not _crashed(caplog)


@given(
    path=st.sampled_from(("/dev/oauth/token", "/dev/oauth/revoke")),
    form=st.dictionaries(st.sampled_from(DEV_TOKEN), printable, max_size=5),
)
@example(
    path="/dev/oauth/token", form={"grant_type": "refresh_token", "refresh_token": "1//dev-x.y"}
)
@example(path="/dev/oauth/revoke", form={"token": "1//dev-e30.AAAA"})
@fuzz_settings(examples=60)
def test_local_token_endpoint(
    app: App, caplog: pytest.LogCaptureFixture, path: str, form: dict[str, str]
) -> None:
    with caplog.at_level(logging.WARNING):
        caplog.clear()
        resp = app.call("POST", path, data=form)
    assert_sane(resp, kind="oauth")
    assert not _crashed(caplog)
    assert resp.status_code >= 400  # nothing here holds a real code or refresh token


@given(form=st.dictionaries(st.sampled_from(("entry", "button")), printable, max_size=2))
@example(form={"entry": "9" * 30, "button": "0"})
@example(form={"entry": "1", "button": "-1"})
@fuzz_settings(examples=40)
def test_local_outbox_click(
    app: App, caplog: pytest.LogCaptureFixture, form: dict[str, str]
) -> None:
    before = app.fingerprint()
    with caplog.at_level(logging.WARNING):
        caplog.clear()
        resp = app.call("POST", "/dev/outbox/click", data=form)
    assert_sane(resp, kind="json")
    assert not _crashed(caplog)
    assert resp.status_code >= 400 and app.fingerprint() == before  # the outbox is empty


@given(
    query=st.dictionaries(
        st.sampled_from(
            ("object", "X-Goog-Signature", "X-Goog-Date", "X-Goog-Expires", "X-Goog-Credential")
        ),
        printable,
        max_size=5,
    )
)
@fuzz_settings(examples=40)
def test_local_materials_links(
    app: App, caplog: pytest.LogCaptureFixture, query: dict[str, str]
) -> None:
    with caplog.at_level(logging.WARNING):
        caplog.clear()
        resp = app.call("GET", "/materials", query=query)
    assert_sane(resp, kind="page")
    assert not _crashed(caplog)
    assert resp.status_code in (403, 404)  # an unsigned link opens nothing


@given(
    path=st.sampled_from(("/preview/event-object", "/preview/samples")),
    body=st.one_of(
        json_values,
        st.fixed_dictionaries(
            {},
            optional={
                "trigger": st.sampled_from(("homepage", "eventOpen", "action")) | edge_text,
                "eventId": st.sampled_from(("a-one", "b-one")) | edge_text,
                "user": st.sampled_from((ALICE, "bob-108")) | json_values,
                "parameters": json_values,
                "formInputs": json_values,
                "timeZone": json_values,
                "locale": json_values,
            },
        ),
    ),
)
@example(path="/preview/event-object", body={"trigger": "eventOpen", "eventId": "\ud800"})
@example(path="/preview/samples", body={"user": "\ud800"})
@fuzz_settings(examples=60)
def test_local_preview_minting(
    app: App, caplog: pytest.LogCaptureFixture, path: str, body: object
) -> None:
    before = app.fingerprint()
    with caplog.at_level(logging.WARNING):
        caplog.clear()
        resp = app.post_json(path, body)
    assert_sane(resp, kind="json")
    assert not _crashed(caplog)
    if resp.status_code >= 400:
        assert app.fingerprint() == before


@given(user=printable)
@fuzz_settings(examples=30)
def test_local_preview_meeting_list(app: App, caplog: pytest.LogCaptureFixture, user: str) -> None:
    with caplog.at_level(logging.WARNING):
        caplog.clear()
        resp = app.call("GET", "/preview/meetings", query={"user": user})
    assert_sane(resp, kind="json")
    assert not _crashed(caplog)
    assert resp.status_code == 200 and isinstance(resp.get_json()["meetings"], list)
