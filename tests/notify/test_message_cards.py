"""Card checks for the digest and the corrections, and the rule that no long URL is body text."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from google.apps.card_v1 import Card

from addon.cards import Host, card_problems
from functions.delegation.keys import as_delegated
from functions.domain.sent_messages import CANCELLED, DECLINED
from functions.notify.chat_message import chat_message_for
from functions.notify.content import Notice, NoticeKind, build_notice
from functions.notify.correction_message import build_correction_email, correction_chat_message
from functions.notify.digest import window
from functions.notify.digest_message import (
    build_digest,
    build_digest_email,
    digest_card,
    digest_chat_message,
)
from functions.notify.email_message import MAX_TEXT_URL, build_email, text_url
from tests.support.factories import NOW, make_meeting, make_user

HOSTILE = "<users/all> <b>x</b> & <a href='https://evil.example'>y</a>"
SIGNED = (
    "https://storage.googleapis.com/prep-bucket/u/evt/prep.html?X-Goog-Algorithm=GOOG4-RSA-SHA256"
    "&X-Goog-Credential=sa%40p.iam.gserviceaccount.com%2F20260310%2Fauto%2Fstorage%2Fgoog4_request"
    "&X-Goog-Date=20260310T140000Z&X-Goog-Expires=604800&X-Goog-SignedHeaders=host"
    "&X-Goog-Signature=" + "ab12" * 128
)
URL = re.compile(r"https?://\S+")


def digest_of(*titles: str) -> Any:
    user = make_user()
    meetings = [
        make_meeting(event_id=f"evt{i}", title=t, start=NOW + timedelta(hours=2 + i))
        for i, t in enumerate(titles)
    ]
    win = window(date(2026, 3, 10), NOW.time(), ZoneInfo("UTC"))
    return build_digest(user, win, meetings, label_of=lambda _: "1:1")


def generate_ids(section: dict[str, Any]) -> list[str]:
    return [
        {p["key"]: p["value"] for p in b["onClick"]["action"]["parameters"]}["event_id"]
        for w in section["widgets"]
        for b in w.get("buttonList", {}).get("buttons", [])
        if "action" in b["onClick"]
    ]


# ---------------------------------------------------------------- the digest card


def test_digest_card_gives_each_meeting_a_section_with_its_title_time_and_button() -> None:
    digest = digest_of("Standup", HOSTILE, "Roadmap review", "Budget")
    card = digest_card(digest)
    Card.from_json(json.dumps(card), ignore_unknown_fields=False)
    assert card_problems(card, Host.CHAT) == []
    meeting_sections = [s for s in card["sections"] if generate_ids(s)]
    assert len(meeting_sections) == 4
    for item, section in zip(digest.items, meeting_sections, strict=True):
        notice = item.notice
        # Exactly one Generate prep button, for the meeting the section is titled with.
        assert generate_ids(section) == [notice.meeting.event_id]
        assert section["header"] == (notice.title if notice.title != HOSTILE else section["header"])
        details = section["widgets"][0]["decoratedText"]
        assert notice.when in details["text"]
    hostile = meeting_sections[1]["header"]
    assert "<b>" not in hostile and "<a" not in hostile and "&lt;b&gt;" in hostile
    # No section holds the buttons of more than one meeting.
    assert all(len(generate_ids(s)) <= 1 for s in card["sections"])


def test_digest_card_names_the_executive_and_guests_escaped() -> None:
    user = make_user()
    meeting = as_delegated(
        make_meeting(calendar_id="boss@example.com", title="Board prep", event_id="evtB")
    )
    win = window(date(2026, 3, 10), NOW.time(), ZoneInfo("UTC"))
    digest = build_digest(user, win, [meeting], label_of=lambda _: "1:1")
    [section] = [s for s in digest_card(digest)["sections"] if generate_ids(s)]
    details = section["widgets"][0]["decoratedText"]
    assert details["topLabel"].startswith("For ")
    assert details["bottomLabel"].startswith("With: ")
    assert card_problems(digest_card(digest), Host.CHAT) == []


# ---------------------------------------------------------------- corrections


def notice(kind: NoticeKind = NoticeKind.PREP_DUE, title: str = HOSTILE) -> Notice:
    return build_notice(kind, make_user(), make_meeting(title=title), type_label="1:1")


@pytest.mark.parametrize("kind", list(NoticeKind))
@pytest.mark.parametrize("facts", [CANCELLED, DECLINED, "at:2026-03-12T10:00:00+00:00"])
def test_correction_cards_validate_and_keep_calendar_text_out_of_text(
    kind: NoticeKind, facts: str
) -> None:
    message = correction_chat_message(notice(kind), facts, "Mon, Mar 9, 3:00 PM")
    card = message["cardsV2"][0]["card"]
    Card.from_json(json.dumps(card), ignore_unknown_fields=False)
    assert card_problems(card, Host.CHAT) == []
    assert "users/all" not in message["text"] and "<" not in message["text"]
    assert "<b>x</b>" not in json.dumps(card)
    labels = [
        b["text"]
        for s in card["sections"]
        for w in s["widgets"]
        for b in w.get("buttonList", {}).get("buttons", [])
    ]
    off = facts in (CANCELLED, DECLINED)
    assert ("Generate prep" in labels) == (not off and kind is NoticeKind.PREP_DUE)
    assert "Open in Calendar" in labels


def test_correction_email_is_short_threaded_and_header_safe() -> None:
    n = notice(title="Sync\r\nBcc: victim@example.com")
    mail = build_correction_email(
        n,
        CANCELLED,
        "Mon, Mar 9, 3:00 PM",
        sender_name="Meeting prep",
        sent_at=NOW,
        message_id="<fix@example.test>",
        corrects="<orig@example.test>",
    )
    assert mail["Bcc"] is None
    assert str(mail["Subject"]).startswith("Cancelled: Sync Bcc:")
    assert mail["In-Reply-To"] == "<orig@example.test>" == mail["References"]
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "was cancelled" in text and len(text.splitlines()) <= 8
    html_part = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert ">Open in Calendar</a>" in html_part


# ---------------------------------------------------------------- no raw URL in a body


def test_text_url_keeps_short_plain_links_and_drops_signed_or_long_ones() -> None:
    assert text_url("https://www.google.com/calendar/event?eid=abc") is not None
    assert text_url(SIGNED) is None
    assert text_url("https://x.example/p?token=s3cr3t") is None
    assert text_url("https://x.example/" + "a" * MAX_TEXT_URL) is None
    assert text_url("javascript:alert(1)") is None


def bodies(mail: Any) -> tuple[str, str]:
    text = mail.get_body(("plain",)).get_content()
    html_part = mail.get_body(("html",)).get_content()
    return text, html_part


def test_the_ready_email_never_shows_a_signed_url_as_text() -> None:
    ready = build_notice(
        NoticeKind.PREP_READY,
        make_user(),
        make_meeting(),
        type_label="1:1",
        materials_url=SIGNED,
    )
    text, html_part = bodies(
        build_email(ready, sender_name="Meeting prep", sent_at=NOW, message_id="<m@x>")
    )
    assert "X-Goog-Signature" not in text
    assert 'the "Open your prep" button' in text
    # In HTML the link is a labelled button: its URL is an href, never the text.
    hrefs = re.findall(r'href="([^"]+)"', html_part)
    visible = re.sub(r"<[^>]+>", " ", html_part)
    assert any("X-Goog-Signature" in h for h in hrefs)
    assert URL.search(visible) is None
    assert ">Open your prep</a>" in html_part


def test_no_message_body_shows_a_long_url_as_text() -> None:
    long_link = "https://calendar.example/event?eid=" + "x" * 300
    meeting = make_meeting(html_link=long_link)
    user = make_user()
    due = build_notice(NoticeKind.PREP_DUE, user, meeting, type_label="1:1")
    win = window(date(2026, 3, 10), NOW.time(), ZoneInfo("UTC"))
    digest = build_digest(user, win, [meeting], label_of=lambda _: "1:1")
    mails = [
        build_email(due, sender_name="P", sent_at=NOW, message_id="<a@x>"),
        build_digest_email(digest, sender_name="P", sent_at=NOW, message_id="<b@x>"),
        build_correction_email(
            due,
            CANCELLED,
            "Mon",
            sender_name="P",
            sent_at=NOW,
            message_id="<c@x>",
            corrects="<a@x>",
        ),
    ]
    for mail in mails:
        text, html_part = bodies(mail)
        assert long_link not in text
        assert URL.search(re.sub(r"<[^>]+>", " ", html_part)) is None
        assert long_link in html_part  # still there, as a labelled link
    chats = [
        chat_message_for(due),
        digest_chat_message(digest),
        correction_chat_message(due, CANCELLED, "Mon"),
    ]
    for message in chats:
        assert URL.search(message["text"]) is None
        widgets_text = json.dumps(
            [
                w
                for s in message["cardsV2"][0]["card"]["sections"]
                for w in s["widgets"]
                if "buttonList" not in w
            ]
        )
        assert URL.search(widgets_text) is None
