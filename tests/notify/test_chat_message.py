"""Chat cards validate with Google's own card schema and keep hostile text inert."""

from __future__ import annotations

import json
from typing import Any

import pytest
from google.apps.card_v1 import Card

from functions.notify.chat_message import (
    GENERATE_ACTION,
    chat_message_for,
    generating_card,
    prep_due_card,
    prep_ready_card,
    status_card,
)
from functions.notify.content import Notice, NoticeKind, build_notice
from tests.support.factories import USER_ID, make_meeting, make_user

HOSTILE = "<users/all> *ping* <a href='https://evil.example'>click</a> & co"


def notice(kind: NoticeKind = NoticeKind.PREP_DUE) -> Notice:
    meeting = make_meeting(title=HOSTILE)
    url = "https://storage.example/p?x=1&y=2" if kind is NoticeKind.PREP_READY else None
    return build_notice(kind, make_user(), meeting, type_label="1:1", materials_url=url)


def validate(card: dict[str, Any]) -> Card:
    parsed: Card = Card.from_json(json.dumps(card), ignore_unknown_fields=False)
    return parsed


def all_text(card: dict[str, Any]) -> list[str]:
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    found.append(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card)
    return found


@pytest.mark.parametrize(
    "build",
    [
        lambda: prep_due_card(notice()),
        lambda: generating_card(notice()),
        lambda: prep_ready_card(notice(NoticeKind.PREP_READY)),
        lambda: status_card(notice(), "Prep cannot start <now>."),
    ],
)
def test_every_card_validates_with_google_apps_card(build: Any) -> None:
    card = build()
    parsed = validate(card)
    assert parsed.header.title == "Meeting prep"
    # Chat is the host: nothing only add-on cards accept (a card name, openAs, ...).
    from addon.cards import Host, card_problems

    assert card_problems(card, Host.CHAT) == []


def test_the_validator_would_catch_a_malformed_card() -> None:
    card = prep_due_card(notice())
    card["sections"][0]["widgets"][0]["textParagraf"] = {"text": "typo"}
    with pytest.raises(Exception, match="textParagraf"):
        validate(card)


def test_generate_button_carries_the_event_but_never_a_user() -> None:
    n = notice()
    card = prep_due_card(n)
    parsed = validate(card)
    buttons = [
        b
        for w in parsed.sections[0].widgets
        for b in (w.button_list.buttons if w.button_list else [])
    ]
    generate = next(b for b in buttons if b.text == "Generate prep")
    action = generate.on_click.action
    assert action.function == GENERATE_ACTION
    params = {p.key: p.value for p in action.parameters}
    assert params == {"op": "generate", "event_id": n.meeting.event_id, "version": "v1"}
    assert USER_ID not in json.dumps(card)
    links = [b.on_click.open_link.url for b in buttons if b.on_click.open_link.url]
    assert links == [n.calendar_url]


def test_hostile_title_is_escaped_in_card_text_and_absent_from_message_text() -> None:
    message = chat_message_for(notice())
    texts = all_text(message["cardsV2"][0]["card"])
    joined = "".join(texts)
    assert "<users/all>" not in joined and "&lt;users/all&gt;" in joined
    assert "<a href" not in joined and "&amp; co" in joined
    assert "users/all" not in message["text"] and "ping" not in message["text"]
    assert message["cardsV2"][0]["cardId"] == "prep-due"


def test_generating_card_has_no_generate_button() -> None:
    card = generating_card(notice())
    assert "Generate prep" not in [
        b["text"]
        for w in card["sections"][0]["widgets"]
        for b in w.get("buttonList", {}).get("buttons", [])
    ]


def test_ready_message_opens_the_materials() -> None:
    message = chat_message_for(notice(NoticeKind.PREP_READY))
    card = validate(message["cardsV2"][0]["card"])
    urls = [
        b.on_click.open_link.url
        for w in card.sections[0].widgets
        for b in (w.button_list.buttons if w.button_list else [])
    ]
    assert urls[0] == "https://storage.example/p?x=1&y=2"
    assert message["cardsV2"][0]["cardId"] == "prep-ready"


def test_message_stays_far_below_chats_size_limit() -> None:
    long_title = "x" * 5000
    n = build_notice(
        NoticeKind.PREP_DUE, make_user(), make_meeting(title=long_title), type_label="1:1"
    )
    body = json.dumps(chat_message_for(n)).encode()
    assert len(body) < 32_000 // 4
