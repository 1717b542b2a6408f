"""The homepage: next week's meetings that need prep, and whether background access works."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest

from addon import views
from addon.cards import MAX_WIDGETS
from functions.auth.dev_keys import DevSigner
from functions.bootstrap import Bootstrap
from functions.domain.users import ConnectionState, User
from functions.store.port import Store
from tests.addon.conftest import NOW
from tests.support.addon_helpers import (
    Client,
    button_ops,
    calendar_event,
    event_body,
    only_card,
    seed_meeting,
    texts,
    widgets,
)


def _home(client: Client, signer: DevSigner, user: str = "alice") -> dict[str, object]:
    return only_card(client.post(event_body(signer, user)))


def test_lists_only_this_weeks_meetings_that_need_prep(
    client: Client, signer: DevSigner, db: Store, alice: User, services: Bootstrap
) -> None:
    seed: dict[str, Any] = {"now": NOW, "classifier": services.classifier}
    seed_meeting(
        db, alice, calendar_event("a", NOW + timedelta(days=1), title="Weekly 1:1 with Bob"), **seed
    )
    seed_meeting(
        db,
        alice,
        calendar_event(
            "b",
            NOW + timedelta(days=3),
            title="Acme QBR",
            guests=("x@acme.example", "y@acme.example"),
        ),
        **seed,
    )
    seed_meeting(
        db,
        alice,
        calendar_event(
            "c", NOW + timedelta(days=2), title="Declined thing", my_response="declined"
        ),
        **seed,
    )
    seed_meeting(
        db, alice, calendar_event("d", NOW + timedelta(days=9), title="Too far ahead"), **seed
    )
    seed_meeting(
        db, alice, calendar_event("e", NOW - timedelta(hours=2), title="Already over"), **seed
    )
    bob = User(user_id="bob", email="bob@example.com")
    seed_meeting(
        db, bob, calendar_event("f", NOW + timedelta(days=1), title="Bob's secret"), **seed
    )

    card = _home(client, signer)
    shown = texts(card)
    assert "Weekly 1:1 with Bob" in shown and "Acme QBR" in shown
    assert "1:1 · Scheduled" in shown and "Quarterly business review · Scheduled" in shown
    for hidden in ("Declined thing", "Too far ahead", "Already over", "Bob's secret"):
        assert hidden not in shown
    # Earliest first, each opening its own card.
    assert shown.index("Weekly 1:1") < shown.index("Acme QBR")
    clickable = [
        w["decoratedText"]["onClick"]["action"]
        for w in widgets(card)
        if "onClick" in w.get("decoratedText", {})
    ]
    assert [{p["key"]: p["value"] for p in a["parameters"]} for a in clickable] == [
        {"op": "event", "eventId": "a"},
        {"op": "event", "eventId": "b"},
    ]


def test_an_empty_week_says_so(client: Client, signer: DevSigner, alice: User) -> None:
    assert "No meetings need prep in the next 7 days." in texts(_home(client, signer))


@pytest.mark.parametrize(
    ("state", "shown", "button"),
    [
        (ConnectionState.NOT_CONNECTED, "Not connected", "Connect"),
        (ConnectionState.RECONNECT_NEEDED, "Reconnect needed", "Reconnect"),
        (ConnectionState.CONNECTED, "Connected", None),
    ],
)
def test_shows_background_access(
    *,
    client: Client,
    signer: DevSigner,
    db: Store,
    alice: User,
    state: ConnectionState,
    shown: str,
    button: str | None,
) -> None:
    db.put_user(dataclasses.replace(alice, connection=state))
    card = _home(client, signer)
    assert shown in texts(card)
    ops = button_ops(card)
    if button is None:
        assert "Connect" not in ops and "Reconnect" not in ops
    else:
        assert ops[button] == {"op": "connect"}


def test_shows_the_users_delivery_problem_escaped(
    client: Client, signer: DevSigner, db: Store, alice: User
) -> None:
    db.put_user(dataclasses.replace(alice, delivery_problem="Chat app removed <again> & again"))
    shown = texts(_home(client, signer))
    assert "Delivery problem" in shown
    assert "Chat app removed &lt;again&gt; &amp; again" in shown


def test_a_crowded_week_stays_within_the_widget_limit(
    client: Client, signer: DevSigner, db: Store, alice: User, services: Bootstrap
) -> None:
    for i in range(150):
        seed_meeting(
            db,
            alice,
            calendar_event(f"m{i:03}", NOW + timedelta(hours=2 + i)),
            now=NOW,
            classifier=services.classifier,
        )
    card = _home(client, signer)  # the client also checks card_problems (100-widget limit)
    assert len(list(widgets(card))) < MAX_WIDGETS
    assert f"…and {150 - views.HOME_LIST_LIMIT} more." in texts(card)


def test_viewing_stores_nothing_about_a_new_user(
    client: Client, signer: DevSigner, db: Store
) -> None:
    card = _home(client, signer, "newcomer")
    assert "Not connected" in texts(card)
    assert db.get_user("newcomer") is None


def test_the_footer_has_settings_and_refresh(
    client: Client, signer: DevSigner, alice: User
) -> None:
    card = _home(client, signer)
    footer = card["fixedFooter"]
    assert isinstance(footer, dict)
    assert footer["primaryButton"]["text"] == "Settings"
    assert button_ops(card)["Refresh"] == {"op": "home"}
