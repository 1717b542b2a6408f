"""The event card's "Action items": open items recorded after meetings, ticked off from the card."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from functions.auth.dev_keys import DevSigner
from functions.bootstrap import Bootstrap
from functions.domain.followups import FollowupMode, parse_answers
from functions.domain.meetings import Meeting
from functions.domain.users import Preferences, User
from functions.store.port import Store
from tests.addon.conftest import NOW
from tests.support.addon_helpers import (
    Client,
    assert_valid_card,
    button_ops,
    calendar_event,
    event_body,
    note,
    only_card,
    opened_event,
    seed_meeting,
    texts,
)

HOSTILE = "<b>bold</b> & <script>x</script>"


def _seed(
    db: Store, services: Bootstrap, user: User, event_id: str, start_in: timedelta, **kw: Any
) -> Meeting:
    event = calendar_event(event_id, NOW + start_in, title=kw.pop("title", "1:1 with Bob"), **kw)
    return seed_meeting(db, user, event, now=NOW, classifier=services.classifier)


def _answer(db: Store, meeting: Meeting, items: str) -> None:
    answer = parse_answers("", items, nothing_to_record=False, at=NOW - timedelta(days=6))
    db.upsert_meetings([dataclasses.replace(meeting, followup=answer)])


def _card(client: Client, signer: DevSigner, event_id: str) -> dict[str, Any]:
    return only_card(client.post(event_body(signer, opened=opened_event(event_id))))


def test_the_next_meeting_with_the_same_people_shows_the_items_and_ticks_them_off(
    client: Client, signer: DevSigner, db: Store, alice: User, services: Bootstrap
) -> None:
    last = _seed(db, services, alice, "last", -timedelta(days=7), series_id="s1")
    _answer(db, last, f"Bob: send the deck\n{HOSTILE}")
    _seed(db, services, alice, "next", timedelta(days=1), series_id="s1")
    card = _card(client, signer, "next")
    assert_valid_card(card)
    shown = texts(card)
    assert "Action items" in shown and "send the deck" in shown and "Bob" in shown
    assert "&lt;script&gt;" in shown and "<script>" not in shown
    ops = button_ops(card)
    assert ops["Done"]["op"] == "tick_item"
    dones = [
        w["decoratedText"]["button"]["onClick"]["action"]["parameters"]
        for s in card["sections"]
        for w in s["widgets"]
        if "button" in w.get("decoratedText", {})
    ]
    first = {p["key"]: p["value"] for p in dones[0]}
    assert first == {"op": "tick_item", "eventId": "next", "source": "last", "item": "a1"}
    answer = client.post(
        event_body(
            signer, op="tick_item", params={"eventId": "next", "source": "last", "item": "a1"}
        )
    )
    assert note(answer) == "Done."
    stored = db.get_meeting("alice", "last")
    assert stored is not None and stored.followup is not None
    assert [i.done for i in stored.followup.items] == [True, False]
    after = texts(_card(client, signer, "next"))
    assert "send the deck" not in after and "&lt;script&gt;" in after
    # Ticking again changes nothing.
    client.post(
        event_body(
            signer, op="tick_item", params={"eventId": "next", "source": "last", "item": "a1"}
        )
    )
    again = db.get_meeting("alice", "last")
    assert again is not None and again.followup == stored.followup


def test_a_forged_source_reaches_only_the_clickers_own_meetings(
    client: Client, signer: DevSigner, db: Store, alice: User, services: Bootstrap
) -> None:
    last = _seed(db, services, alice, "last", -timedelta(days=7), series_id="s1")
    _answer(db, last, "Bob: send the deck")
    _seed(db, services, alice, "next", timedelta(days=1), series_id="s1")
    mallory = dataclasses.replace(alice, user_id="mallory", email="mallory@example.com")
    db.put_user(mallory)
    _seed(db, services, mallory, "next", timedelta(days=1))
    answer = client.post(
        event_body(
            signer,
            "mallory",
            op="tick_item",
            params={"eventId": "next", "source": "last", "item": "a1"},
        )
    )
    assert note(answer) == "That action item's meeting is gone."
    stored = db.get_meeting("alice", "last")
    assert stored is not None and stored.followup is not None
    assert not stored.followup.items[0].done


def test_no_section_without_open_items_or_for_unrelated_meetings(
    client: Client, signer: DevSigner, db: Store, alice: User, services: Bootstrap
) -> None:
    last = _seed(db, services, alice, "last", -timedelta(days=7), guests=("carol@example.com",))
    _answer(db, last, "Carol: review")
    _seed(db, services, alice, "next", timedelta(days=1))  # with Bob, not Carol
    assert "Action items" not in texts(_card(client, signer, "next"))
    # The meeting itself, once it happened, shows its own items.
    own = texts(_card(client, signer, "last"))
    assert "Action items" in own and "From this meeting" in own


def test_off_shows_nothing_carried(
    client: Client, signer: DevSigner, db: Store, alice: User, services: Bootstrap
) -> None:
    db.put_user(dataclasses.replace(alice, preferences=Preferences(followup_mode=FollowupMode.OFF)))
    last = _seed(db, services, alice, "last", -timedelta(days=7), series_id="s1")
    _answer(db, last, "Bob: send the deck")
    _seed(db, services, alice, "next", timedelta(days=1), series_id="s1")
    assert "Action items" not in texts(_card(client, signer, "next"))


def test_the_one_switch_in_settings(
    client: Client, signer: DevSigner, db: Store, alice: User
) -> None:
    card = only_card(client.post(event_body(signer, op="settings")))
    switch = next(
        w["selectionInput"]
        for s in card["sections"]
        for w in s["widgets"]
        if w.get("selectionInput", {}).get("name") == "followup_mode"
    )
    assert [(i["value"], i["selected"]) for i in switch["items"]] == [
        ("chat", True),
        ("email", False),
        ("off", False),
    ]
    for mode in (FollowupMode.EMAIL, FollowupMode.OFF):
        answer = client.post(
            event_body(
                signer,
                op="save_settings",
                form={"channels": ["chat"], "followup_mode": [mode.value]},
            )
        )
        assert note(answer) == "Settings saved."
        user = db.get_user("alice")
        assert user is not None and user.preferences.followup_mode is mode
    client.post(event_body(signer, op="save_settings", form={"followup_mode": ["sms"]}), expect=400)
