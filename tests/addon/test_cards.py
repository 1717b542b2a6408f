"""Card builders and views: escaping, host limits, and every view against Google's schema."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, time, timedelta

import pytest

from addon import cards as c
from addon import scopes, views
from addon.timefmt import TimeFormat
from functions.config import DEFAULT_MEETING_TYPES
from functions.domain.classification import Classification, Classifier
from functions.domain.meeting_types import load_rules
from functions.domain.meetings import Meeting
from functions.domain.prep_state import PrepState
from functions.domain.users import ConnectionState, Preferences, QuietHours, User
from tests.addon.helpers import assert_valid_card, button_ops, texts

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
RULES = load_rules(DEFAULT_MEETING_TYPES)
VIEW = views.View(
    url="https://addon.example.test/addon",
    fmt=TimeFormat.for_user("Europe/Paris", "fr-FR"),
    rules=RULES,
    now=NOW,
)


def _meeting(state: PrepState = PrepState.SCHEDULED, **changes: object) -> Meeting:
    m = Meeting(
        user_id="u",
        event_id="e1",
        calendar_id="primary",
        title="Planning <b>x</b>",
        start=NOW + timedelta(days=1),
        end=NOW + timedelta(days=1, hours=1),
        series_id="s1",
        meeting_type="qbr",
        prep_trigger_at=NOW + timedelta(hours=3),
        prep_state=state,
    )
    return dataclasses.replace(m, **changes)  # type: ignore[arg-type]


def _classification(decided_by: str = "rule") -> Classification:
    return Classification("qbr", "Quarterly business review", 336, decided_by)


def test_esc_escapes_markup_but_not_our_own() -> None:
    assert c.esc("<script>&") == "&lt;script&gt;&amp;"
    assert c.esc(c.bold("<x>")) == "<b>&lt;x&gt;</b>"
    long = c.esc("a" * 500)
    assert len(long) == c.MAX_SHOWN_TEXT and long.endswith("…")
    with pytest.raises(ValueError, match="#rrggbb"):
        c.colored("x", "red")


def test_card_problems_catches_what_the_schema_does_not() -> None:
    many = c.card("t", [c.section([c.paragraph(str(i)) for i in range(c.MAX_WIDGETS + 1)])])
    assert_card = c.card_problems(many)
    assert assert_card == [f"{c.MAX_WIDGETS + 1} widgets; hosts ignore those past {c.MAX_WIDGETS}"]
    no_footer_button = {**c.card("t", [c.section([c.paragraph("x")])]), "fixedFooter": {}}
    assert c.card_problems(no_footer_button) == [
        "a fixed footer needs a primary button with an onClick"
    ]
    bare: dict[str, list[dict[str, list[object]]]] = {"sections": [{"widgets": []}]}
    assert set(c.card_problems(bare)) == {
        "section 0 has no widgets",
        "a card needs a header title",
    }
    dead_button = c.card("t", [c.section([c.buttons({"text": "x"})])])
    assert c.card_problems(dead_button) == ["button 'x' has no onClick"]
    # Exactly at the limit is fine.
    full = c.card("t", [c.section([c.paragraph(str(i)) for i in range(c.MAX_WIDGETS)])])
    assert c.card_problems(full) == []


def test_cards_in_finds_pushed_and_updated_cards() -> None:
    card = c.card("t", [c.section([c.paragraph("x")])])
    assert c.cards_in(c.push_card(card)) == [card]
    assert c.cards_in(c.update_card(card)) == [card]
    assert c.cards_in(c.notify("hi")) == []
    assert c.cards_in(c.request_scopes(["https://www.googleapis.com/auth/calendar.freebusy"])) == []


@pytest.mark.parametrize("state", list(PrepState))
@pytest.mark.parametrize("decided_by", ["rule", "default", "override:event", "override:series"])
def test_every_event_card_state_is_valid(state: PrepState, decided_by: str) -> None:
    meeting = _meeting(
        state, materials_ref="m/1" if state in (PrepState.READY, PrepState.DELIVERED) else None
    )
    card = views.event_card(VIEW, meeting, _classification(decided_by))
    assert_valid_card(card)
    ops = button_ops(card)
    assert ("Generate prep" in ops) == (
        state in {PrepState.NOT_STARTED, PrepState.SCHEDULED, PrepState.NOTIFIED, PrepState.FAILED}
    )
    assert ("Regenerate" in ops) == (state in {PrepState.READY, PrepState.DELIVERED})
    assert ("Open materials" in ops) == (state in {PrepState.READY, PrepState.DELIVERED})
    assert "Planning &lt;b&gt;x&lt;/b&gt;" in texts(card)


def test_event_card_in_french() -> None:
    card = views.event_card(VIEW, _meeting(), _classification())
    # 2026-12-01 11:00 UTC is 12:00 in Paris.
    assert "mar. 1 déc., 12:00" in texts(card)
    assert "heure normale d’Europe centrale" in texts(card)


def test_a_past_meeting_shows_no_trigger_and_a_skipped_one_says_why() -> None:
    past = _meeting(
        start=NOW - timedelta(hours=2),
        end=NOW - timedelta(hours=1),
        prep_state=PrepState.NOT_STARTED,
    )
    assert "Prep starts" not in texts(views.event_card(VIEW, past, _classification()))
    skipped = _meeting(PrepState.CANCELLED, skip_reason="all_day")
    card = views.event_card(VIEW, skipped, _classification())
    assert "Because it is an all-day event." in texts(card)


@pytest.mark.parametrize("connection", list(ConnectionState))
def test_every_home_card_is_valid(connection: ConnectionState) -> None:
    user = User(
        user_id="u", email="u@example.com", connection=connection, delivery_problem="no DM <space>"
    )
    meetings = [
        _meeting(
            event_id=f"e{i}", start=NOW + timedelta(hours=i + 1), end=NOW + timedelta(hours=i + 2)
        )
        for i in range(60)
    ]
    card = views.home_card(VIEW, user, meetings)
    assert_valid_card(card)
    assert "…and 20 more." in texts(card)


def test_settings_and_confirm_cards_are_valid() -> None:
    prefs = Preferences(
        email_enabled=False, lead_hours={"qbr": 100}, quiet_hours=QuietHours(time(22), time(7))
    )
    card = views.settings_card(VIEW, User(user_id="u", email="u@example.com", preferences=prefs))
    assert_valid_card(card)
    text_inputs = {
        w["textInput"]["name"]: w["textInput"]["value"]
        for s in card["sections"]
        for w in s["widgets"]
        if "textInput" in w
    }
    assert text_inputs["lead_qbr"] == "100"
    assert text_inputs["lead_one_on_one"] == "24"
    assert (text_inputs["quiet_start"], text_inputs["quiet_end"]) == ("22:00", "07:00")
    switches = next(
        w["selectionInput"] for s in card["sections"] for w in s["widgets"] if "selectionInput" in w
    )
    assert [(i["value"], i["selected"]) for i in switches["items"]] == [
        ("email", False),
        ("chat", True),
    ]
    assert_valid_card(views.confirm_delete_card(VIEW))
    assert_valid_card(views.not_synced_card(VIEW))
    assert_valid_card(views.unsaved_event_card(VIEW))
    assert_valid_card(views.message_card(VIEW, "x", "y", retry=VIEW.act("home")))


def test_type_choices_follow_the_rules_file() -> None:
    names = [n for n, _ in views.type_choices(RULES)]
    assert names == list(RULES.type_names)
    assert names[-1] == "default"
    assert Classifier(RULES).rules is RULES


def test_scope_needs_are_satisfied_by_broader_grants() -> None:
    assert scopes.missing(scopes.EVENT_FETCH, {scopes.EXECUTE, scopes.USER_EMAIL}) == [
        scopes.EVENTS_READ
    ]
    assert (
        scopes.missing(
            scopes.EVENT_FETCH,
            {scopes.EXECUTE, "email", "https://www.googleapis.com/auth/calendar"},
        )
        == []
    )
    assert scopes.missing(scopes.BASE, set()) == [scopes.EXECUTE, scopes.USER_EMAIL]
