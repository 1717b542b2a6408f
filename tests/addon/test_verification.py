"""Every add-on request is verified: forged, expired or misdirected tokens get a bare 401."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest

from addon.event_object import MAX_FIELD, MAX_PARAMETERS
from functions.auth.dev_keys import DevSigner
from functions.bootstrap import Bootstrap, set_services
from functions.web import MAX_BODY_BYTES
from tests.support.addon_helpers import (
    CLIENT_ID,
    Client,
    event_body,
    only_card,
    system_token,
    texts,
    user_token,
)

REFUSED = {"error": "unauthenticated", "message": "caller is not allowed"}
MALFORMED = {"error": "bad_request", "message": "not an add-on event object"}
HOUR = 3600


def _tamper(token: str) -> str:
    """Change a claim but keep the original signature."""
    header, payload, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["email"] = "someone-else@gcp-sa-gsuiteaddons.iam.gserviceaccount.com"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{sig}"


def _unsigned(token: str) -> str:
    _, payload, _ = token.split(".")
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    return f"{header}.{payload}."


def test_a_valid_request_gets_the_homepage(client: Client, signer: DevSigner) -> None:
    card = only_card(client.post(event_body(signer)))
    assert "Next 7 days" in texts(card)


SYSTEM_ATTACKS: list[tuple[str, dict[str, Any]]] = [
    ("expired", {"iat": int(time.time()) - 2 * HOUR, "exp": int(time.time()) - HOUR}),
    ("wrong audience", {"aud": "https://evil.example/addon"}),
    ("audience of another of our endpoints", {"aud": "https://addon.example.test/tasks"}),
    ("wrong issuer", {"iss": "https://evil.example"}),
    ("wrong email", {"email": "attacker@evil.iam.gserviceaccount.com"}),
    ("unverified email", {"email_verified": False}),
    ("no email", {"email": None, "email_verified": None}),
    ("issued in the future", {"iat": int(time.time()) + HOUR, "exp": int(time.time()) + 2 * HOUR}),
]


@pytest.mark.parametrize(("why", "claims"), SYSTEM_ATTACKS, ids=[a[0] for a in SYSTEM_ATTACKS])
def test_bad_system_tokens_are_refused_without_detail(
    client: Client, signer: DevSigner, why: str, claims: dict[str, Any]
) -> None:
    bad = system_token(signer, **claims)
    body = event_body(signer)
    body["authorizationEventObject"]["systemIdToken"] = bad
    assert client.post(body, authorization=f"Bearer {bad}", expect=401) == REFUSED
    # The same token in the body only, without a header, is refused the same way.
    assert client.post(body, authorization=None, expect=401) == REFUSED


@pytest.mark.parametrize(
    "mangle",
    [_tamper, _unsigned, lambda t: t[:-6] + "AAAAAA", lambda t: "not-a-jwt", lambda t: t + ".x"],
    ids=["tampered payload", "alg none", "tampered signature", "garbage", "four segments"],
)
def test_forged_system_tokens_are_refused(client: Client, signer: DevSigner, mangle: Any) -> None:
    body = event_body(signer)
    bad = mangle(body["authorizationEventObject"]["systemIdToken"])
    assert client.post(body, authorization=f"Bearer {bad}", expect=401) == REFUSED


def test_a_token_signed_by_another_key_is_refused(client: Client, signer: DevSigner) -> None:
    stranger = DevSigner.generate()
    body = event_body(stranger)  # both tokens signed by a key Google never published
    assert client.post(body, expect=401) == REFUSED


def test_missing_or_non_bearer_authorization_is_refused(client: Client, signer: DevSigner) -> None:
    body = event_body(signer)
    del body["authorizationEventObject"]["systemIdToken"]
    assert client.post(body, authorization=None, expect=401) == REFUSED
    token = event_body(signer)["authorizationEventObject"]["systemIdToken"]
    assert client.post(body, authorization=f"Basic {token}", expect=401) == REFUSED


def test_a_bad_header_is_not_rescued_by_a_good_body_token(
    client: Client, signer: DevSigner
) -> None:
    body = event_body(signer)  # its body systemIdToken is valid
    bad = system_token(signer, aud="https://evil.example/addon")
    assert client.post(body, authorization=f"Bearer {bad}", expect=401) == REFUSED


def test_the_body_token_alone_is_accepted_when_valid(client: Client, signer: DevSigner) -> None:
    """Workspace sends the systemIdToken in both places; dev-event output relies on the body."""
    assert only_card(client.post(event_body(signer), authorization=None))


USER_ATTACKS: list[tuple[str, dict[str, Any]]] = [
    ("expired", {"iat": int(time.time()) - 2 * HOUR, "exp": int(time.time()) - HOUR}),
    ("audience of another client", {"aud": "999-other.apps.googleusercontent.com"}),
    ("the endpoint URL as audience", {"aud": "https://addon.example.test/addon"}),
    ("wrong issuer", {"iss": "https://evil.example"}),
    ("no subject", {"sub": None}),
]


@pytest.mark.parametrize(("why", "claims"), USER_ATTACKS, ids=[a[0] for a in USER_ATTACKS])
def test_bad_user_tokens_are_refused(
    client: Client, signer: DevSigner, why: str, claims: dict[str, Any]
) -> None:
    body = event_body(signer)
    body["authorizationEventObject"]["userIdToken"] = user_token(signer, "alice", **claims)
    assert client.post(body, expect=401) == REFUSED


def test_a_missing_or_forged_user_token_is_refused(client: Client, signer: DevSigner) -> None:
    body = event_body(signer, with_user_token=False)
    assert client.post(body, expect=401) == REFUSED
    body = event_body(signer)
    body["authorizationEventObject"]["userIdToken"] = _tamper(
        body["authorizationEventObject"]["userIdToken"]
    )
    assert client.post(body, expect=401) == REFUSED
    body = event_body(signer)
    # The system token is Google-signed too, but it is not for our OAuth client.
    body["authorizationEventObject"]["userIdToken"] = body["authorizationEventObject"][
        "systemIdToken"
    ]
    assert client.post(body, expect=401) == REFUSED
    body = event_body(signer)
    body["authorizationEventObject"]["userIdToken"] = user_token(
        DevSigner.generate(), "alice", aud=CLIENT_ID
    )
    assert client.post(body, expect=401) == REFUSED


def _with(signer: DevSigner, path: tuple[str, ...], value: Any) -> dict[str, Any]:
    body = event_body(signer)
    node: Any = body
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    return body


MALFORMED_BODIES: list[tuple[str, tuple[str, ...], Any]] = [
    ("common is a list", ("commonEventObject",), []),
    ("auth is a string", ("authorizationEventObject",), "token"),
    ("parameters is a list", ("commonEventObject", "parameters"), ["op", "generate"]),
    ("parameter value is a number", ("commonEventObject", "parameters"), {"op": 3}),
    (
        "too many parameters",
        ("commonEventObject", "parameters"),
        {f"k{i}": "v" for i in range(MAX_PARAMETERS + 1)},
    ),
    ("huge parameter", ("commonEventObject", "parameters"), {"op": "x" * (MAX_FIELD + 1)}),
    ("form input not an object", ("commonEventObject", "formInputs"), {"a": "b"}),
    (
        "form values not a list",
        ("commonEventObject", "formInputs"),
        {"a": {"stringInputs": {"value": "b"}}},
    ),
    ("scopes not a list", ("authorizationEventObject", "authorizedScopes"), "all"),
    ("calendar is a string", ("calendar",), "primary"),
    ("event id is a number", ("calendar",), {"id": 7}),
    ("unknown action", ("commonEventObject", "parameters"), {"op": "format_disk"}),
    ("action without its event id", ("commonEventObject", "parameters"), {"op": "generate"}),
]


@pytest.mark.parametrize(
    ("why", "path", "value"), MALFORMED_BODIES, ids=[m[0] for m in MALFORMED_BODIES]
)
def test_malformed_bodies_get_400(
    client: Client, signer: DevSigner, why: str, path: tuple[str, ...], value: Any
) -> None:
    body = _with(signer, path, value)
    header = f"Bearer {system_token(signer)}"
    assert client.post(body, authorization=header, expect=400) == MALFORMED


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b"null", b"\xff\xfe", b'"string"'])
def test_non_object_bodies_get_400(client: Client, signer: DevSigner, raw: bytes) -> None:
    token = event_body(signer)["authorizationEventObject"]["systemIdToken"]
    resp = client.raw(raw, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 400
    assert resp.get_json() == MALFORMED


def test_an_unauthenticated_malformed_body_gets_401_not_400(client: Client) -> None:
    resp = client.raw(b"{", headers={"Authorization": "Bearer nope"})
    assert resp.status_code == 401
    assert resp.get_json() == REFUSED


def test_other_methods_and_huge_bodies_are_refused(client: Client, signer: DevSigner) -> None:
    assert client.http.get("/addon").status_code == 405
    token = event_body(signer)["authorizationEventObject"]["systemIdToken"]
    huge = b'{"pad": "' + b"x" * MAX_BODY_BYTES + b'"}'
    resp = client.raw(huge, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 413


def test_refusals_say_nothing_about_why(client: Client, signer: DevSigner) -> None:
    answers = set()
    for claims in (
        {"aud": "https://evil.example"},
        {"exp": int(time.time()) - HOUR},
        {"email": "x@y"},
    ):
        bad = system_token(signer, **claims)
        resp = client.raw(
            json.dumps(event_body(signer)), headers={"Authorization": f"Bearer {bad}"}
        )
        answers.add(resp.get_data(as_text=True))
    assert len(answers) == 1  # byte-identical whatever the reason


def test_the_deployed_entry_point_answers_on_its_root_path(
    services: Bootstrap, signer: DevSigner
) -> None:
    """`main.addon` is what Cloud Functions runs: its URL lands on `/`."""
    import flask

    import main

    body = event_body(signer)
    token = body["authorizationEventObject"]["systemIdToken"]
    app = flask.Flask(__name__)

    def call(path: str, data: str, headers: dict[str, str]) -> flask.Response:
        with app.test_request_context(path, method="POST", data=data, headers=headers):
            resp = main.addon(flask.request)
        assert isinstance(resp, flask.Response)
        return resp

    set_services(services)
    try:
        for path in ("/", "/addon"):
            resp = call(path, json.dumps(body), {"Authorization": f"Bearer {token}"})
            assert resp.status_code == 200
            assert "Next 7 days" in texts(only_card(resp.get_json()))
        assert call("/", json.dumps(body), {}).status_code == 200  # body token only
        assert call("/", "{}", {}).status_code == 401
    finally:
        set_services(None)
