"""Assistant mode in the sidebar: every card valid, every change the signed-in user's own.

Requests go through the add-on endpoint (signed tokens verified, every card
checked with google-apps-card by `Client.post`); access checks and syncs hit
the fake Calendar API with the assistant's sealed grant.
"""

from __future__ import annotations

import urllib.parse
from datetime import timedelta
from typing import Any

import pytest

from addon.delegates import FIELD
from functions.delegation.keys import delegated_key
from functions.oauth import scopes as oauth_scopes
from functions.store.codec import user_to_doc
from functions.sync.handlers import handle_sync
from tests.delegation.conftest import ASSISTANT, ASSISTANT_ID, EXEC, EXEC_ID, NOW, World
from tests.delegation.sidebar import sidebar_body, sidebar_client
from tests.support.addon_helpers import Client, button_ops, note, only_card, opened_event, texts
from tests.support.fake_calendar import timed_event


@pytest.fixture
def client(world: World) -> Client:
    return sidebar_client(world.services)


def _post(world: World, client: Client, op: str | None = None, **kwargs: Any) -> dict[str, Any]:
    return client.post(sidebar_body(world.services, ASSISTANT_ID, ASSISTANT, op=op, **kwargs))


def _setup(world: World, *, scopes: tuple[str, ...] | None = None) -> None:
    if scopes is None:
        world.add_user(ASSISTANT_ID, ASSISTANT)
    else:
        world.add_user(ASSISTANT_ID, ASSISTANT, scopes=scopes)
    world.add_user(EXEC_ID, EXEC)
    world.fake.share(EXEC, ASSISTANT)
    event = timed_event(
        "exec1on1",
        NOW + timedelta(hours=5),
        summary="1:1 Alex / Sam",
        attendees=(EXEC, "sam@example.com"),
        organizer=EXEC,
    )
    event["attendees"][0]["displayName"] = "Alex Exec"
    world.fake.put_event(EXEC, event)


def test_add_list_lose_check_and_remove(world: World, client: Client) -> None:
    _setup(world)
    exec_doc = user_to_doc(world.user(EXEC_ID))
    settings = only_card(_post(world, client, "settings"))
    assert "Prepare meetings on an executive's calendar you manage" in texts(settings)
    assert button_ops(settings)["Open"]["op"] == "delegates"

    card = only_card(_post(world, client, "delegates"))
    assert "You do not prepare for anyone else's calendar yet." in texts(card)

    added = _post(world, client, "add_delegate", form={FIELD: ["exec@example.com"]})
    assert note(added) == "Added. Their meetings show up here after the first sync, in a minute."
    card = only_card(added)
    assert EXEC in texts(card) and "Synced" in texts(card)
    assert button_ops(card)["Remove"] == {"op": "remove_delegate", "calendarId": EXEC}

    # The sync brings the meeting; opening it on the executive's calendar finds it.
    handle_sync(world.services, {"user_id": ASSISTANT_ID, "calendar_id": EXEC})
    opened = _post(world, client, opened=opened_event("exec1on1", calendar_id=EXEC))
    event_card = only_card(opened)
    assert "Preparing for" in texts(event_card) and "Alex Exec" in texts(event_card)
    assert button_ops(event_card)["Generate prep"]["eventId"] == delegated_key(EXEC, "exec1on1")
    home = only_card(_post(world, client))
    assert "For Alex Exec · 1:1" in texts(home)

    # The executive stops sharing: the next sync shows it on the card.
    with world.fake._lock:
        world.fake.shares[EXEC].discard(ASSISTANT)
    world.clock.advance(timedelta(minutes=15))
    assert handle_sync(world.services, {"user_id": ASSISTANT_ID, "calendar_id": EXEC}) == {
        "sync": "no_access"
    }
    card = only_card(_post(world, client, "delegates"))
    assert "No access any more: ask them to share it again" in texts(card)
    assert "1 needs attention" in texts(only_card(_post(world, client, "settings")))
    checked = _post(world, client, "check_delegate", params={"calendarId": EXEC})
    assert "share it with you" in (note(checked) or "")

    world.fake.share(EXEC, ASSISTANT)
    checked = _post(world, client, "check_delegate", params={"calendarId": EXEC})
    assert note(checked) == "Access works again; syncing their calendar."
    assert "Synced" in texts(only_card(checked))

    removed = _post(world, client, "remove_delegate", params={"calendarId": EXEC})
    assert note(removed) == "Removed. No more prep for that calendar."
    assert world.user(ASSISTANT_ID).preferences.delegated_calendars == ()
    assert user_to_doc(world.user(EXEC_ID)) == exec_doc


def test_a_refused_address_keeps_what_was_typed(world: World, client: Client) -> None:
    _setup(world)
    answer = _post(world, client, "add_delegate", form={FIELD: ["stranger@example.com"]})
    assert "We cannot read that calendar with your account." in (note(answer) or "")
    card = only_card(answer)
    field = next(
        w["textInput"]
        for s in card["sections"]
        for w in s["widgets"]
        if w.get("textInput", {}).get("name") == FIELD
    )
    assert field["value"] == "stranger@example.com"
    assert world.user(ASSISTANT_ID).preferences.delegated_calendars == ()


def test_allow_access_asks_for_the_extra_scope_only_then(world: World, client: Client) -> None:
    _setup(world, scopes=world.services.settings.oauth_scopes)
    answer = _post(world, client, "add_delegate", form={FIELD: [EXEC]})
    assert "Allow Meeting prep to read calendars shared with you" in (note(answer) or "")
    card = only_card(answer)
    assert button_ops(card)["Allow access"] == {"op": "allow_delegates"}
    consent = _post(world, client, "allow_delegates")
    url = consent["renderActions"]["action"]["link"]["url"]
    asked = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["scope"][0].split()
    assert oauth_scopes.CALENDAR_EVENTS_READONLY in asked
    # The plain "Connect" button still asks for the default scopes only.
    connect = _post(world, client, "connect")
    url = connect["renderActions"]["action"]["link"]["url"]
    asked = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["scope"][0].split()
    assert oauth_scopes.CALENDAR_EVENTS_READONLY not in asked


def test_a_forged_calendar_parameter_reaches_only_the_callers_record(
    world: World, client: Client
) -> None:
    _setup(world)
    _post(world, client, "add_delegate", form={FIELD: [EXEC]})
    # The executive (a user of ours) cannot remove what the assistant added, or anything.
    exec_body = sidebar_body(
        world.services, EXEC_ID, EXEC, op="remove_delegate", params={"calendarId": EXEC}
    )
    answer = client.post(exec_body)
    assert note(answer) == "That calendar is not in your list any more."
    assert world.user(ASSISTANT_ID).preferences.delegated_calendars == (EXEC,)
    assert world.user(EXEC_ID).preferences.delegated_calendars == ()
