"""Issue 17: the card checks run over every card the product can produce.

Every function named `*_card` in the modules that build cards is found by
introspection, and each must have samples here (in the states that change
its shape): a new card builder without samples fails
`test_every_card_builder_has_samples`. Each sample is checked with Google's
own schema (`google-apps-card`) and `card_problems` for the host that draws
it, and its built-in icons must be ones the local preview draws (no letter
circles, no Chat-only `materialIcon` on a Calendar card).
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from google.apps import card_v1

from addon import cards as c
from addon import delegates, views
from functions.config import DEFAULT_MEETING_TYPES
from functions.delegation.keys import as_delegated
from functions.domain.classification import Classification
from functions.domain.meeting_types import load_rules
from functions.domain.meetings import Attendee, Meeting, ResponseStatus
from functions.domain.prep_state import PrepState
from functions.domain.users import CalendarProblem, ConnectionState, Preferences, User
from functions.notify import chat_message, digest_message
from functions.notify.content import NoticeKind, build_notice
from functions.notify.digest import window
from functions.timefmt import TimeFormat
from tests.support.addon_helpers import texts

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
RULES = load_rules(DEFAULT_MEETING_TYPES)
VIEW = views.View(
    url="https://addon.example.test/addon",
    fmt=TimeFormat.for_user("America/New_York", "en-US"),
    rules=RULES,
    now=NOW,
)
HOSTILE = "<script>alert(1)</script> & <b>Roadmap</b>"
PREVIEW_JS = Path(__file__).resolve().parents[2] / "addon" / "preview_static" / "preview.js"
#: Modules whose `*_card` functions build cards, and the host that draws them.
BUILDER_MODULES: dict[str, c.Host] = {
    "addon.views": c.Host.ADDON,
    "addon.delegates": c.Host.ADDON,
    "functions.notify.chat_message": c.Host.CHAT,
    "functions.notify.digest_message": c.Host.CHAT,
}
#: `*_card` functions that only wrap a builder sampled here.
WRAPPERS = {
    "addon.views.not_synced_card": "message_card with fixed text",
    "addon.views.unsaved_event_card": "message_card with fixed text",
}

USER = User(
    user_id="u",
    email="me@example.com",
    time_zone="America/New_York",
    connection=ConnectionState.CONNECTED,
)


def _meeting(state: PrepState = PrepState.SCHEDULED, **changes: Any) -> Meeting:
    fields: dict[str, Any] = {
        "user_id": "u",
        "event_id": "e1",
        "calendar_id": "primary",
        "title": HOSTILE,
        "start": NOW + timedelta(days=1),
        "end": NOW + timedelta(days=1, hours=1),
        "series_id": "s1",
        "meeting_type": "qbr",
        "prep_state": state,
        "prep_trigger_at": NOW + timedelta(hours=2),
        "description": "<p>Agenda</p><ul><li>Pricing</li></ul>",
        "attendees": (
            Attendee("me@example.com", "Me", ResponseStatus.ACCEPTED, is_self=True),
            Attendee("ann@acme.com", HOSTILE),
        ),
    }
    if state in (PrepState.READY, PrepState.DELIVERED):
        fields["materials_ref"] = "m/e1"
    fields.update(changes)
    return Meeting(**fields)


def _classified(decided_by: str = "rule") -> Classification:
    return Classification("qbr", "QBR", 48.0, decided_by, reason="keyword 'QBR'")


def _addon_samples() -> Iterator[tuple[str, dict[str, Any]]]:
    for state in PrepState:
        for can_block in (False, True):
            yield (
                "addon.views.event_card",
                views.event_card(
                    VIEW,
                    _meeting(state),
                    _classified(),
                    can_block_time=can_block,
                    internal_domains=frozenset({"example.com"}),
                ),
            )
    for skip in ("declined", "no_guests", "cancelled"):
        yield (
            "addon.views.event_card",
            views.event_card(VIEW, _meeting(skip_reason=skip), _classified()),
        )
    executive = as_delegated(_meeting(calendar_id="boss@example.com"))
    yield (
        "addon.views.event_card",
        views.event_card(VIEW, executive, _classified("override:series")),
    )
    for connection in ConnectionState:
        user = User(user_id="u", email="me@example.com", connection=connection)
        yield (
            "addon.views.home_card",
            views.home_card(VIEW, user, [_meeting(), _meeting(PrepState.READY)]),
        )
    yield "addon.views.home_card", views.home_card(VIEW, USER, [])
    yield "addon.views.wrong_type_card", views.wrong_type_card(VIEW, _meeting())
    yield "addon.views.message_card", views.message_card(VIEW, "Heading", HOSTILE)
    yield (
        "addon.views.message_card",
        views.message_card(VIEW, "Heading", "text", retry=VIEW.act("home")),
    )
    yield "addon.views.settings_card", views.settings_card(VIEW, USER)
    yield (
        "addon.views.settings_card",
        views.settings_card(
            VIEW, USER, typed={"digest_time": ["25:00"]}, errors={"digest_time": "Use HH:MM"}
        ),
    )
    yield "addon.views.confirm_delete_card", views.confirm_delete_card(VIEW)
    assistant = User(
        user_id="u",
        email="me@example.com",
        preferences=Preferences(delegated_calendars=("boss@example.com", "cto@example.com")),
        calendar_problems={"cto@example.com": CalendarProblem.NO_ACCESS.value},
    )
    yield "addon.delegates.delegates_card", delegates.delegates_card(VIEW, USER)
    yield (
        "addon.delegates.delegates_card",
        delegates.delegates_card(VIEW, assistant, ask_scope=True, typed=HOSTILE),
    )


def _chat_samples() -> Iterator[tuple[str, dict[str, Any]]]:
    due = build_notice(NoticeKind.PREP_DUE, USER, _meeting(), type_label="QBR")
    ready = build_notice(
        NoticeKind.PREP_READY,
        USER,
        _meeting(PrepState.READY),
        type_label="QBR",
        materials_url="https://storage.example.test/m?X-Goog-Signature=abc",
    )
    yield "functions.notify.chat_message.prep_due_card", chat_message.prep_due_card(due)
    yield "functions.notify.chat_message.generating_card", chat_message.generating_card(due)
    yield "functions.notify.chat_message.status_card", chat_message.status_card(due, HOSTILE)
    yield "functions.notify.chat_message.prep_ready_card", chat_message.prep_ready_card(ready)
    win = window(date(2026, 12, 2), time(8), ZoneInfo(USER.time_zone))
    meetings = [_meeting(event_id=f"e{i}") for i in range(3)]
    digest = digest_message.build_digest(USER, win, meetings, label_of=RULES.label_of)
    yield "functions.notify.digest_message.digest_card", digest_message.digest_card(digest)


def _samples() -> list[tuple[str, dict[str, Any]]]:
    return [*_addon_samples(), *_chat_samples()]


def _builders() -> set[str]:
    found = set()
    for module_name in BUILDER_MODULES:
        module = importlib.import_module(module_name)
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if name.endswith("_card") and fn.__module__ == module_name:
                found.add(f"{module_name}.{name}")
    return found


def _host(builder: str) -> c.Host:
    return BUILDER_MODULES[builder.rsplit(".", 1)[0]]


def _icons(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("icon", "startIcon", "endIcon") and isinstance(value, dict):
                yield value
            yield from _icons(value)
    elif isinstance(node, list):
        for item in node:
            yield from _icons(item)


def _preview_icons() -> set[str]:
    source = PREVIEW_JS.read_text(encoding="utf-8")
    block = source[
        source.index("const ICONS = {") : source.index("};", source.index("const ICONS"))
    ]
    return set(re.findall(r"^\s*([A-Z_]+):", block, re.MULTILINE))


SAMPLES = _samples()


def test_every_card_builder_has_samples() -> None:
    sampled = {name for name, _ in SAMPLES}
    missing = _builders() - sampled - set(WRAPPERS)
    assert not missing, f"card builders without samples here: {sorted(missing)}"
    assert set(WRAPPERS) <= _builders()


@pytest.mark.parametrize(
    ("builder", "card"),
    SAMPLES,
    ids=[f"{n.rsplit('.', 1)[1]}-{i}" for i, (n, _) in enumerate(SAMPLES)],
)
def test_every_card_passes_the_card_checks(builder: str, card: dict[str, Any]) -> None:
    host = _host(builder)
    card_v1.Card.from_json(json.dumps(card), ignore_unknown_fields=False)
    assert c.card_problems(card, host) == []
    # Hostile calendar text never becomes markup (an input's value is not markup).
    shown = texts(card)
    assert "<script" not in shown and "<b>Roadmap" not in shown
    if host is c.Host.ADDON:
        # Calendar draws these icons; the local preview draws every one the cards use.
        drawn = _preview_icons()
        for icon in _icons(card):
            assert set(icon) <= {"knownIcon", "iconUrl", "altText", "imageType"}, icon
            if "knownIcon" in icon:
                assert icon["knownIcon"] in c.KNOWN_ICONS
                assert icon["knownIcon"] in drawn, f"the preview has no drawing for {icon}"


def test_the_preview_draws_only_built_in_icons() -> None:
    assert _preview_icons() <= c.KNOWN_ICONS
    assert _preview_icons()  # the map was found
