"""Recording the answer: from the Chat card (a verified click) or the email's form (a signed,
expiring, single-use token), once, bounded, and escaped wherever it is shown."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from typing import Any

import flask
import pytest
from google.apps.card_v1 import Card

from functions import bootstrap
from functions.domain.followups import (
    MAX_ACTION_ITEMS,
    MAX_TEXT,
    BadAnswer,
    FollowUp,
    parse_answers,
)
from functions.followup.messages import FOLLOWUP_ACTION, chat_question
from functions.followup.task import FORM_PATH
from functions.followup.token import FORM_TTL, issue
from functions.notify.content import NoticeKind, build_notice
from functions.web import dispatch
from tests.support.factories import NOW, USER_ID, make_user
from tests.support.google_world import World, body

HOSTILE = '<img src=x onerror=alert(1)> "Q3" & <script>x</script>'


# ---------------------------------------------------------------- the answer itself


def test_one_item_per_line_with_an_owner_before_a_colon() -> None:
    answer = parse_answers(
        "Ship v2 in April\n\n  Hire a PM  ",
        "Sam: send the deck\nbook the room\nThe plan: a very long owner name that is no name: x",
        nothing_to_record=False,
        at=NOW,
    )
    assert answer.decisions == ("Ship v2 in April", "Hire a PM")
    assert [(i.item_id, i.owner, i.text) for i in answer.items] == [
        ("a1", "Sam", "send the deck"),
        ("a2", "", "book the room"),
        ("a3", "The plan", "a very long owner name that is no name: x"),
    ]
    assert not answer.nothing_to_record and answer.answered_at == NOW


def test_bounds_refuse_too_many_lines_and_cut_long_ones() -> None:
    with pytest.raises(BadAnswer, match="At most 15 action items"):
        parse_answers(
            "", "\n".join(f"item {i}" for i in range(16)), nothing_to_record=False, at=NOW
        )
    with pytest.raises(BadAnswer, match="At most 10 decisions"):
        parse_answers("\n".join("d" * 5 for _ in range(11)), "", nothing_to_record=False, at=NOW)
    long = parse_answers("x" * 5000, "y" * 5000, nothing_to_record=False, at=NOW)
    assert len(long.decisions[0]) == MAX_TEXT and long.decisions[0].endswith("…")
    assert len(long.items[0].text) == MAX_TEXT
    full = parse_answers(
        "", "\n".join(f"i{n}" for n in range(MAX_ACTION_ITEMS)), nothing_to_record=False, at=NOW
    )
    assert len(full.items) == MAX_ACTION_ITEMS


def test_control_characters_and_bidi_overrides_are_dropped() -> None:
    answer = parse_answers("a\x00b\u202ec\u2028d", "", nothing_to_record=False, at=NOW)
    # U+2028 is a line break to Python as to browsers: two decisions.
    assert answer.decisions == ("a b c", "d")


def test_empty_or_nothing_means_nothing_to_record() -> None:
    assert parse_answers(" \n ", "", nothing_to_record=False, at=NOW).nothing_to_record
    said = parse_answers("a decision", "an item", nothing_to_record=True, at=NOW)
    assert said.nothing_to_record and said.decisions == () and said.items == ()


# ---------------------------------------------------------------- Chat


def _chat_token(world: World) -> str:
    from functions.chat.auth import CHAT_ISSUER

    return world.services.dev_signer.id_token(
        audience=world.services.settings.notify.chat_audience, subject="chat", email=CHAT_ISSUER
    )


def _click(
    *, user: str = USER_ID, choice: str = "save", decisions: str = "", items: str = ""
) -> dict[str, Any]:
    params = {"op": "followup", "event_id": "evt0001", "choice": choice}
    return {
        "type": "CARD_CLICKED",
        "space": {"name": "spaces/dm", "type": "DM", "spaceType": "DIRECT_MESSAGE"},
        "user": {"name": f"users/{user}", "type": "HUMAN"},
        "common": {
            "invokedFunction": FOLLOWUP_ACTION,
            "parameters": params,
            "formInputs": {
                "decisions": {"stringInputs": {"value": [decisions]}},
                "action_items": {"stringInputs": {"value": [items]}},
            },
        },
    }


def _post_chat(world: World, event: dict[str, Any], token: str | None = None) -> flask.Response:
    app = flask.Flask(__name__)
    with app.test_request_context(
        "/chat",
        method="POST",
        data=json.dumps(event),
        headers={
            "Authorization": f"Bearer {token or _chat_token(world)}",
            "Content-Type": "application/json",
        },
    ):
        return dispatch(bootstrap.chat_routes(bootstrap.get_services()), flask.request)


def test_the_chat_card_is_valid_and_escapes_a_hostile_title(world: World) -> None:
    meeting = dataclasses.replace(world.meeting(), title=HOSTILE)
    notice = build_notice(NoticeKind.PREP_DUE, make_user(), meeting, type_label="1:1")
    message = chat_question(notice, [("Sam", "<b>owner</b>")])
    card = message["cardsV2"][0]["card"]
    Card.from_json(json.dumps(card), ignore_unknown_fields=False)
    dumped = json.dumps(card)
    assert "<img" not in dumped and "<script>" not in dumped and "&lt;img" in dumped
    assert "Q3" not in message["text"] and "<" not in message["text"]


def test_a_chat_click_saves_once_and_replaces_the_card(world: World) -> None:
    resp = _post_chat(world, _click(decisions="Ship it", items=f"Sam: {HOSTILE}"))
    assert resp.status_code == 200
    answer = resp.get_json()
    assert answer["actionResponse"] == {"type": "UPDATE_MESSAGE"}
    card = answer["cardsV2"][0]["card"]
    Card.from_json(json.dumps(card), ignore_unknown_fields=False)
    assert "<script>" not in json.dumps(card) and "&lt;script&gt;" in json.dumps(card)
    stored = world.meeting().followup
    assert stored is not None and stored.decisions == ("Ship it",)
    assert [(i.owner, i.text) for i in stored.items] == [("Sam", " ".join(HOSTILE.split()))]
    # A replayed or second click cannot overwrite the first answer.
    again = _post_chat(world, _click(choice="nothing")).get_json()
    assert again["text"] == "Already recorded."
    assert world.meeting().followup == stored


def test_nothing_to_record_from_chat(world: World) -> None:
    _post_chat(world, _click(choice="nothing", decisions="ignored"))
    stored = world.meeting().followup
    assert stored is not None and stored.nothing_to_record and stored.decisions == ()


def test_a_click_reaches_only_the_verified_clickers_meetings(world: World) -> None:
    world.services.store.put_user(dataclasses.replace(make_user(), user_id="mallory"))
    answer = _post_chat(world, _click(user="mallory", decisions="pwned")).get_json()
    assert "no longer on your calendar" in answer["text"]
    assert world.meeting().followup is None


def test_an_unverified_click_is_refused(world: World) -> None:
    resp = _post_chat(world, _click(decisions="x"), token="not-a-token")
    assert resp.status_code == 401
    assert world.meeting().followup is None


def test_too_many_lines_from_chat_keep_the_card(world: World) -> None:
    items = "\n".join(f"item {i}" for i in range(20))
    answer = _post_chat(world, _click(items=items)).get_json()
    assert answer["actionResponse"] == {"type": "NEW_MESSAGE"} and "At most 15" in answer["text"]
    assert world.meeting().followup is None


# ---------------------------------------------------------------- the email's form


def _form(world: World, method: str, token: str, **fields: str) -> flask.Response:
    app = flask.Flask(__name__)
    if method == "GET":
        ctx = app.test_request_context(FORM_PATH, method="GET", query_string={"t": token})
    else:
        ctx = app.test_request_context(FORM_PATH, method="POST", data={"t": token, **fields})
    with ctx:
        return dispatch(bootstrap.oauth_routes(bootstrap.get_services()), flask.request)


def _token(world: World, user_id: str = USER_ID, event_id: str = "evt0001") -> str:
    return issue(world.services.credentials.sealer.keyring, user_id, event_id, NOW)


def test_the_form_shows_escaped_and_locked_down_and_a_get_uses_nothing(world: World) -> None:
    world.put(dataclasses.replace(world.meeting(), title=HOSTILE))
    token = _token(world)
    for _ in range(2):  # a mail scanner's GET, then the person's
        page = _form(world, "GET", token)
        assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<img src=x" not in html and "&lt;img src=x" in html and "<script>x" not in html
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "form-action 'self'" in csp
    assert page.headers["X-Frame-Options"] == "DENY"
    assert world.meeting().followup is None


def test_the_form_saves_once_and_the_token_is_single_use(world: World) -> None:
    token = _token(world)
    saved = _form(world, "POST", token, decisions="Go", action_items="Sam: deck", choice="save")
    assert saved.status_code == 200 and "Saved" in saved.get_data(as_text=True)
    stored = world.meeting().followup
    assert stored is not None and stored.decisions == ("Go",)
    replay = _form(world, "POST", token, decisions="Changed", choice="save")
    assert "already recorded" in replay.get_data(as_text=True)
    assert world.meeting().followup == stored


def test_a_refused_answer_keeps_what_was_typed_and_the_token(world: World) -> None:
    token = _token(world)
    items = "\n".join(f"<i>item {i}</i>" for i in range(16))
    page = _form(world, "POST", token, action_items=items, choice="save")
    html = page.get_data(as_text=True)
    assert "At most 15" in html and "&lt;i&gt;item 0&lt;/i&gt;" in html and "<i>item" not in html
    ok = _form(world, "POST", token, action_items="one", choice="save")
    assert "Saved" in ok.get_data(as_text=True)


@pytest.mark.parametrize("kind", ["forged", "expired", "other_keyring", "empty", "tampered"])
def test_bad_tokens_reach_nothing(world: World, kind: str) -> None:
    from functions.oauth.sealing import Keyring

    token = _token(world)
    if kind == "forged":
        token = "k1.AAAA" + "B" * 60
    elif kind == "expired":
        world.clock.set(NOW + FORM_TTL + timedelta(seconds=1))
    elif kind == "other_keyring":
        token = issue(Keyring({"k9": b"\x01" * 32}, "k9"), USER_ID, "evt0001", NOW)
    elif kind == "empty":
        token = ""
    else:
        token = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    resp = _form(world, "POST", token, decisions="x", choice="save")
    assert resp.status_code == 400
    assert world.meeting().followup is None


def test_a_token_names_its_own_meeting_whatever_the_form_sends(world: World) -> None:
    other = dataclasses.replace(world.meeting(), event_id="evt0002")
    world.put(other)
    token = _token(world, event_id="evt0002")
    _form(world, "POST", token, decisions="for 2", event_id="evt0001", choice="save")
    assert world.meeting().followup is None
    second = world.meeting("evt0002").followup
    assert second is not None and second.decisions == ("for 2",)


def test_the_form_after_a_chat_answer_says_it_is_recorded(world: World) -> None:
    world.put(dataclasses.replace(world.meeting(), followup=FollowUp(answered_at=NOW)))
    page = _form(world, "GET", _token(world))
    assert "already recorded" in page.get_data(as_text=True)


def test_the_task_result_is_reported_without_content(world: World, caplog: Any) -> None:
    from functions.followup.scheduling import followup_task

    world.put(dataclasses.replace(world.meeting(), title="Secret merger talk"))
    caplog.set_level("INFO")
    assert body(world.run(followup_task(world.meeting())))["outcome"] == "asked"
    assert "Secret merger" not in caplog.text


def test_the_link_points_at_the_function_that_serves_the_form() -> None:
    from functions.followup.task import form_url

    # Deployed, the form is served by the `oauth` function, whose callback is the redirect URI.
    deployed = form_url("https://prep-oauth-123.europe-west1.run.app/oauth/callback", "k1.a+b/c")
    assert deployed == "https://prep-oauth-123.europe-west1.run.app/followup?t=k1.a%2Bb%2Fc"
    assert form_url("http://127.0.0.1:8080/oauth/callback", "t") == (
        "http://127.0.0.1:8080/followup?t=t"
    )
