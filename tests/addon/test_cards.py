"""Card builders and views: escaping, host limits, and every view against Google's schema."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, time, timedelta

import pytest

from addon import cards as c
from addon import scopes, views
from functions.config import DEFAULT_MEETING_TYPES
from functions.domain.classification import Classification, Classifier
from functions.domain.meeting_types import load_rules
from functions.domain.meetings import Meeting
from functions.domain.prep_state import PrepState
from functions.domain.users import ConnectionState, Preferences, QuietHours, User
from functions.timefmt import TimeFormat
from tests.support.addon_helpers import assert_valid_card, button_ops, texts

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
    # A header is optional (Calendar shows the add-on's name above the card), but a
    # header needs a title, and one that repeats the add-on's name is a wasted line.
    assert c.card_problems(bare) == ["section 0 has no widgets"]
    untitled = {"header": {"subtitle": "s"}, "sections": [{"widgets": [c.paragraph("x")]}]}
    assert c.card_problems(untitled) == ["a card header needs a title"]
    named = c.card(" meeting PREP ", [c.section([c.paragraph("x")])])
    assert c.card_problems(named) == [
        "the header repeats 'Meeting prep', which Calendar shows above every card"
    ]
    assert c.card_problems(named, c.Host.CHAT) == []  # Chat cards are the messages' business
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
    # French conventions (day before month, 24-hour clock), English words like the card.
    assert "Tue, 1 Dec, 12:00" in texts(card)
    assert "Central European Standard Time" in texts(card)


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
    assert text_inputs["lead_qbr"] == "4 days 4 hours"  # 100 hours, in words
    assert text_inputs["lead_one_on_one"] == "1 day"
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


# ---------------------------------------------------------------- hosts


def _reference_host_only() -> dict[c.Host, dict[str, set[str]]]:
    """Host-only fields as google-apps-card's reference text marks them.

    The Card framework reference (the docstrings of `google.apps.card_v1`)
    ends a field's or a type's description with "`Google Chat apps <.../chat>`__:"
    when only Chat apps accept it ("unavailable for Google Workspace add-ons"),
    and with "`Google Workspace add-ons <.../add-ons>`__:" for the reverse.
    A field is host-only if it is marked, or if its type is.
    """
    import inspect
    import re

    import proto  # type: ignore[import-untyped]
    from google.apps.card_v1.types import card as ref

    markers = {
        c.Host.CHAT: "`Google Chat apps <https://developers.google.com/workspace/chat>`__:",
        c.Host.ADDON: "`Google Workspace add-ons <https://developers.google.com/workspace/add-ons>`__:",
    }

    def marked(text: str) -> c.Host | None:
        flat = " ".join(text.split())
        return next((h for h, m in markers.items() if m in flat), None)

    def camel(name: str) -> str:
        head, *rest = name.rstrip("_").split("_")
        return head + "".join(p.title() for p in rest)

    types: dict[type, str] = {}

    def collect(cls: type, name: str) -> None:
        types[cls] = name
        for attr, value in vars(cls).items():
            if inspect.isclass(value) and issubclass(value, proto.Message | proto.Enum):
                collect(value, f"{name}.{attr}")

    for attr, value in vars(ref).items():
        kinds = proto.Message | proto.Enum
        if inspect.isclass(value) and issubclass(value, kinds) and value.__module__ == ref.__name__:
            collect(value, attr)
    type_host: dict[type, c.Host] = {}
    for cls in types:
        doc = inspect.getdoc(cls) or ""
        host = marked(re.split(r"\n(?:Attributes|Values):", doc)[0])
        if host is not None:
            type_host[cls] = host
    out: dict[c.Host, dict[str, set[str]]] = {c.Host.CHAT: {}, c.Host.ADDON: {}}
    for cls, name in types.items():
        if not issubclass(cls, proto.Message) or cls in type_host:
            continue  # a host-only message's fields are covered by the field that holds it
        doc = inspect.getdoc(cls) or ""
        parts = re.split(r"\n    (\w+) \(", "\n" + doc.partition("Attributes:")[2])[1:]
        described = dict(zip(parts[::2], parts[1::2], strict=True))
        for field_name, field in cls.meta.fields.items():  # type: ignore[attr-defined]
            host = marked(described.get(field_name, ""))
            kind = field.message or field.enum
            if host is None and kind in type_host:
                host = type_host[kind]
            if host is not None:
                out[host].setdefault(name, set()).add(camel(field_name))
    return out


def test_host_only_fields_are_the_ones_the_card_reference_marks() -> None:
    reference = _reference_host_only()
    ours = {h: {m: set(f) for m, f in by.items()} for h, by in c.HOST_ONLY.items()}
    assert ours == reference


def test_each_checked_key_always_holds_the_message_the_checks_assume() -> None:
    import proto
    from google.apps.card_v1.types import card as ref

    checked = {m for by in c.HOST_ONLY.values() for m in by}
    holders: dict[str, set[str]] = {}
    seen: set[type] = set()
    stack: list[type] = [ref.Card]
    while stack:
        cls = stack.pop()
        if cls in seen:
            continue
        seen.add(cls)
        for field_name, field in cls.meta.fields.items():  # type: ignore[attr-defined]
            kind = field.message
            if kind is None or not issubclass(kind, proto.Message):
                continue
            head, *rest = field_name.rstrip("_").split("_")
            key = head + "".join(p.title() for p in rest)
            holders.setdefault(key, set()).add(kind.__qualname__)
            stack.append(kind)
    for key, held in holders.items():
        if held & checked:
            # Every key that can hold a checked message is typed, and holds only that one.
            assert c.MESSAGE_OF_KEY.get(key) in held, (key, held)
    for key, message in c.MESSAGE_OF_KEY.items():
        assert message in holders.get(key, set()) or key == "widgets", (key, message)


def test_an_add_on_card_with_chat_only_fields_has_problems_and_a_chat_card_the_reverse() -> None:
    chat_style = c.card(
        "t",
        [
            c.section(
                [
                    {
                        "decoratedText": {
                            "text": "x",
                            "startIcon": {"materialIcon": {"name": "event"}},
                            "button": {"text": "b", "onClick": {}, "type": "FILLED"},
                        }
                    },
                    c.buttons({"text": "go", "onClick": {"openLink": {"url": "https://x"}}}),
                ]
            )
        ],
    )
    problems = c.card_problems(chat_style)
    assert any("materialIcon" in p for p in problems), problems
    assert any(".button.type" in p for p in problems), problems
    assert not [p for p in c.card_problems(chat_style, c.Host.CHAT) if "only" in p]
    add_on_style = c.card(
        "t",
        [c.section([c.buttons(c.button("go", c.open_link("https://x")))])],
        name="home",
    )
    assert [p for p in c.card_problems(add_on_style) if "only" in p] == []
    chat_problems = c.card_problems(add_on_style, c.Host.CHAT)
    assert "card.name: Card.name is for addon cards only" in chat_problems
    assert any("openAs" in p for p in chat_problems) and any("onClose" in p for p in chat_problems)
    typo = c.card(
        "t", [c.section([{"decoratedText": {"text": "x", "startIcon": {"knownIcon": "EVENT"}}}])]
    )
    assert any("'EVENT' is not a built-in icon" in p for p in c.card_problems(typo))
    with pytest.raises(ValueError, match="built-in"):
        c.decorated("x", icon="event")


def test_add_on_cards_use_built_in_icons_and_colored_primary_buttons() -> None:
    card = views.event_card(VIEW, _meeting(), _classification())
    icons = [
        w["decoratedText"]["startIcon"]
        for s in card["sections"]
        for w in s["widgets"]
        if "startIcon" in w.get("decoratedText", {})
    ]
    assert icons and all(set(i) == {"knownIcon"} for i in icons)
    generate = next(
        b
        for s in card["sections"]
        for w in s["widgets"]
        for b in w.get("buttonList", {}).get("buttons", [])
        if b["text"] == "Generate prep"
    )
    assert "type" not in generate and generate["color"] == c.PRIMARY_COLOR
