"""Small 500s found by hand (issue 13, item 9): each odd input gets a clean 4xx or a card."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.app_harness import ALICE, App


@pytest.mark.parametrize("parameters", [5, True, 1.5, "op=generate", {"op": "generate"}, None])
def test_chat_click_with_parameters_that_are_not_a_list(shared_app: App, parameters: Any) -> None:
    body = {
        "type": "CARD_CLICKED",
        "user": {"name": f"users/{ALICE}"},
        "space": {"name": "spaces/dm", "type": "DM", "singleUserBotDm": True},
        "common": {"invokedFunction": "generate_prep"},
        "action": {"actionMethodName": "generate_prep", "parameters": parameters},
    }
    before = shared_app.fingerprint()
    resp = shared_app.post_json("/chat", body, bearer=shared_app.chat_token())
    assert resp.status_code in (200, 400), resp.get_data(as_text=True)[:200]
    assert shared_app.fingerprint() == before  # no meeting named: nothing queued


NON_ASCII_TOKENS = [
    "1//dev-\u00e9t\u00e9.\u00fc",
    "1//dev-abc.d\u00e9f",
    "1//dev-\U0001f600",
    "caf\u00e9",
]


@pytest.mark.parametrize("token", NON_ASCII_TOKENS)
def test_local_token_endpoint_with_a_non_ascii_refresh_token(shared_app: App, token: str) -> None:
    settings = shared_app.settings
    form = {
        "grant_type": "refresh_token",
        "refresh_token": token,
        "client_id": settings.oauth_web_client_id,
        "client_secret": settings.oauth_web_client_secret,
    }
    resp = shared_app.call("POST", "/dev/oauth/token", data=form)
    assert resp.status_code == 400
    assert resp.get_json()["error"] == "invalid_grant"
    revoked = shared_app.call("POST", "/dev/oauth/revoke", data={"token": token})
    assert revoked.status_code == 400
