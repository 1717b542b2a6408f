"""The settings card: lead times in words, working days, Save at the end, and
every invalid field reported at once without losing what the user typed."""

from __future__ import annotations

from typing import Any

import pytest

from addon.durations import BadDuration, format_lead, parse_lead
from functions.auth.dev_keys import DevSigner
from functions.domain.users import User
from functions.store.port import Store
from tests.support.addon_helpers import (
    Client,
    button_ops,
    event_body,
    note,
    only_card,
    texts,
    widgets,
)


def _act(client: Client, signer: DevSigner, op: str, **kwargs: object) -> dict[str, object]:
    return client.post(event_body(signer, "alice", op=op, **kwargs))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("hours", "text"),
    [
        (336, "2 weeks"),
        (96, "4 days"),
        (48, "2 days"),
        (24, "1 day"),
        (30, "1 day 6 hours"),
        (3, "3 hours"),
        (1, "1 hour"),
        (1.5, "90 minutes"),
        (0, "0 hours"),
    ],
)
def test_lead_times_read_as_words_and_back(hours: float, text: str) -> None:
    assert format_lead(hours) == text
    assert parse_lead(text) == hours


@pytest.mark.parametrize(
    ("text", "hours"),
    [
        ("336", 336),  # a bare number is hours, as before
        ("1,5", 1.5),
        ("2d", 48),
        ("3h", 3),
        ("3 hrs", 3),
        ("1 day and 4 hours", 28),
        ("  2   DAYS ", 48),
        ("45 min", 0.75),
        ("1 week", 168),
    ],
)
def test_lead_times_accept_what_people_type(text: str, hours: float) -> None:
    assert parse_lead(text) == hours


@pytest.mark.parametrize("text", ["", "soon", "2 fortnights", "days 2", "2 days later", "1e999"])
def test_nonsense_lead_times_are_refused(text: str) -> None:
    with pytest.raises(BadDuration):
        parse_lead(text)


def _inputs(card: dict[str, Any]) -> dict[str, str]:
    return {
        w["textInput"]["name"]: w["textInput"]["value"] for w in widgets(card) if "textInput" in w
    }


def test_settings_card_is_short_with_save_at_the_end(
    client: Client, signer: DevSigner, alice: User
) -> None:
    card = only_card(_act(client, signer, "settings"))
    values = _inputs(card)
    assert values["lead_qbr"] == "2 weeks" and values["lead_one_on_one"] == "1 day"
    assert values["lead_incident_review"] == "2 hours"
    # Save is the card's fixed footer: after every field, always in reach.
    assert card["fixedFooter"]["primaryButton"]["text"] == "Save settings"
    assert button_ops(card)["Save settings"] == {"op": "save_settings"}
    # Rarely used options (quiet hours, keywords) are folded away.
    folded = [s for s in card["sections"] if s.get("collapsible")]
    assert len(folded) == 1 and folded[0]["uncollapsibleWidgetsCount"] == 1
    names = {w["textInput"]["name"] for w in folded[0]["widgets"][1:] if "textInput" in w}
    assert "quiet_end" in names and "keywords_qbr" in names
    days = next(
        w["selectionInput"]
        for w in widgets(card)
        if "selectionInput" in w and w["selectionInput"]["name"] == "working_days"
    )
    assert days["type"] == "CHECK_BOX"
    assert [i["selected"] for i in days["items"]] == [True] * 5 + [False] * 2


def test_saving_lead_times_in_words_and_working_days(
    client: Client, signer: DevSigner, db: Store, alice: User
) -> None:
    form = {
        "channels": ["email"],
        "lead_qbr": ["3 days"],
        "lead_one_on_one": ["1 day"],  # the default: not stored as an override
        "working_days": ["0", "1", "2", "3", "6"],
    }
    answer = _act(client, signer, "save_settings", form=form)
    assert note(answer) == "Settings saved."
    user = db.get_user("alice")
    assert user is not None
    assert dict(user.preferences.lead_hours) == {"qbr": 72.0}
    assert user.preferences.working_days == frozenset({0, 1, 2, 3, 6})
    assert _inputs(only_card(answer))["lead_qbr"] == "3 days"


def test_every_invalid_field_is_reported_at_once_keeping_what_was_typed(
    client: Client, signer: DevSigner, db: Store, alice: User
) -> None:
    form = {
        "channels": ["email", "chat"],
        "lead_qbr": ["two weeks"],
        "lead_staff": ["40 days"],
        "lead_one_on_one": ["12 hours"],  # valid, and kept as typed
        "quiet_start": ["25:00"],
        "quiet_end": ["07:00"],
        "digest_time": ["8 am"],
        "keywords_qbr": ["?!"],
    }
    answer = _act(client, signer, "save_settings", form=form)
    assert db.get_user("alice") == alice  # nothing saved
    text = note(answer) or ""
    assert text.startswith("5 fields need a fix: ")
    card = only_card(answer)
    shown = texts(card)
    for problem in (
        "Quarterly business review: enter a time like 2 days or 3 hours",
        "Staff meeting / all-hands: between 0 hours and 30 days",
        "Quiet from: use HH:MM, like 22:00",
        "Digest time: use HH:MM, like 22:00",
        "Quarterly business review: a keyword needs a letter or a digit",
    ):
        assert problem in text and problem in shown
    values = _inputs(card)
    assert values["lead_qbr"] == "two weeks" and values["lead_one_on_one"] == "12 hours"
    assert values["quiet_start"] == "25:00" and values["digest_time"] == "8 am"
    assert values["keywords_qbr"] == "?!"
    # With errors inside, the rarely used section opens so they are seen.
    assert not any(s.get("collapsible") for s in card["sections"])


def test_a_refused_save_keeps_both_reminder_switches_off_as_typed(
    client: Client, signer: DevSigner, db: Store, alice: User
) -> None:
    """Workspace sends no `channels` at all when every switch is off.

    Before: the redrawn card fell back to the stored switches (both on), so
    fixing the other field and saving silently turned reminders back on.
    """
    assert alice.preferences.email_enabled and alice.preferences.chat_enabled
    answer = _act(client, signer, "save_settings", form={"digest_time": ["8 am"]})
    assert db.get_user("alice") == alice  # refused: nothing saved
    switches = {
        item["value"]: item.get("selected", False)
        for w in widgets(only_card(answer))
        if w.get("selectionInput", {}).get("name") == "channels"
        for item in w["selectionInput"]["items"]
    }
    assert switches == {"email": False, "chat": False}
