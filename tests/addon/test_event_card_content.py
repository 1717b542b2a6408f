"""Issue 17, cards: no header repeating Calendar's, who is coming, and the invitation's
first lines, so the user sees what the type was chosen from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from addon import cards as c
from addon import views
from functions.config import DEFAULT_MEETING_TYPES
from functions.domain.classification import Classification
from functions.domain.meeting_types import load_rules
from functions.domain.meetings import Attendee, Meeting, ResponseStatus
from functions.domain.prep_state import PrepState
from functions.domain.users import User
from functions.timefmt import TimeFormat
from tests.support.addon_helpers import assert_valid_card, texts, widgets

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
VIEW = views.View(
    url="https://addon.example.test/addon",
    fmt=TimeFormat.for_user("Europe/Paris", "en-GB"),
    rules=load_rules(DEFAULT_MEETING_TYPES),
    now=NOW,
)
OURS = frozenset({"example.com"})
HOSTILE_NAME = "<img src=x onerror=alert(1)> Eve & <b>Co</b>"


def _meeting(**changes: object) -> Meeting:
    base: dict[str, object] = {
        "user_id": "u",
        "event_id": "e1",
        "calendar_id": "primary",
        "title": "Acme QBR",
        "start": NOW + timedelta(days=1),
        "end": NOW + timedelta(days=1, hours=1),
        "meeting_type": "qbr",
        "prep_state": PrepState.SCHEDULED,
        "prep_trigger_at": NOW + timedelta(hours=2),
        "attendees": (
            Attendee("me@example.com", "Me", ResponseStatus.ACCEPTED, is_self=True),
            Attendee("sam@example.com", "Sam", ResponseStatus.ACCEPTED),
            Attendee("ann@acme.com", "Ann Lee", ResponseStatus.ACCEPTED),
            Attendee("bob@acme.com", "", ResponseStatus.DECLINED),
            Attendee("room-1@resource.calendar.google.com", "Room 1", resource=True),
        ),
    }
    base.update(changes)
    return Meeting(**base)  # type: ignore[arg-type]


def _card(m: Meeting, internal: frozenset[str] = OURS) -> dict[str, object]:
    why = Classification("qbr", "QBR", 48.0, "rule", reason="keyword 'QBR'")
    card = views.event_card(VIEW, m, why, internal_domains=internal)
    assert_valid_card(card)
    return card


def _decorated(card: dict[str, object], top: str) -> dict[str, str]:
    found = [w["decoratedText"] for w in widgets(card) if "decoratedText" in w]
    return next(d for d in found if d.get("topLabel") == top)


def test_the_event_card_has_no_header_to_repeat_calendars() -> None:
    card = _card(_meeting())
    assert "header" not in card
    assert c.ADDON_NAME not in texts(card)
    user = User(user_id="u", email="me@example.com", time_zone="Europe/Paris")
    home = views.home_card(VIEW, user, [_meeting()])
    message = views.message_card(VIEW, "Not synced yet", "Sync first.")
    for other in (home, message):
        assert_valid_card(other)
        assert "header" not in other


def test_the_card_says_who_is_coming_and_names_the_external_guests() -> None:
    guests = _decorated(_card(_meeting()), "Guests")
    # People, not rooms; the declined one is counted as such; outsiders by name or address.
    assert guests["text"] == "4 people · 1 declined · 2 external"
    assert guests["bottomLabel"] == "External: Ann Lee, bob@acme.com"


def test_hostile_guest_names_are_escaped_and_long_lists_counted() -> None:
    many = tuple(Attendee(f"p{i}@acme.com", f"Person {i}") for i in range(8))
    hostile = Attendee("eve@evil.example", HOSTILE_NAME)
    me = Attendee("me@example.com", is_self=True)
    guests = _decorated(_card(_meeting(attendees=(me, hostile, *many))), "Guests")
    assert "<img" not in guests["bottomLabel"] and "<b>" not in guests["bottomLabel"]
    assert (
        "&lt;img src=x onerror=alert(1)&gt; Eve &amp; &lt;b&gt;Co&lt;/b&gt;"
        in (guests["bottomLabel"])
    )
    assert guests["bottomLabel"].endswith(" and 4 more")  # 9 outsiders, 5 named


def test_without_known_domains_nobody_is_called_external() -> None:
    guests = _decorated(_card(_meeting(), internal=frozenset()), "Guests")
    assert "external" not in guests["text"] and "bottomLabel" not in guests


def test_the_card_shows_the_invitations_first_lines_as_text() -> None:
    description = (
        "<p>Agenda:</p><ul><li>Renewal <b>pricing</b></li><li>Roadmap</li>"
        "<li>Support <script>alert(1)</script>escalations</li></ul>"
        '<p><a href="https://docs.example.com/x">Deck</a></p>'
    )
    invite = _decorated(_card(_meeting(description=description)), "Invitation")
    text = invite["text"]
    assert text.split("<br>") == ["Agenda:", "- Renewal pricing", "- Roadmap …"]
    assert "<b>" not in text and "script" not in text and "docs.example.com" not in text


def test_a_long_or_hostile_plain_invitation_is_bounded_and_escaped() -> None:
    description = "<img src=x> " + "word " * 200
    invite = _decorated(_card(_meeting(description=description)), "Invitation")
    [line] = invite["text"].split("<br>")
    assert line.startswith("&lt;img src=x&gt; word") and len(line) < 140
    assert line.endswith("…")


def test_no_invitation_no_line() -> None:
    card = _card(_meeting(description="   \n  "))
    tops = {w["decoratedText"].get("topLabel") for w in widgets(card) if "decoratedText" in w}
    assert "Invitation" not in tops
