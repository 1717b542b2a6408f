"""Granular consent: the sidebar asks for exactly the scopes an action lacks, and never loops.

Workspace re-runs a request after the consent screen. So a scope request that
names more than the action needs puts write access in front of a user who only
opened an event, and a request answered when Workspace sent no
`authorizedScopes` at all would be re-run with the same body, forever.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from addon import scopes
from functions.auth.dev_keys import DevSigner
from functions.bootstrap import Bootstrap
from functions.domain.users import User
from functions.store.port import Store
from tests.addon.conftest import NOW
from tests.support.addon_helpers import (
    Client,
    StubCalendar,
    calendar_event,
    event_body,
    only_card,
    opened_event,
    seed_meeting,
    texts,
)

START = NOW + timedelta(days=2, hours=7)
BASE_GRANT = [scopes.EXECUTE, scopes.USER_EMAIL, scopes.CURRENT_EVENT_READ]


def _without_authorized_scopes(body: dict[str, Any]) -> dict[str, Any]:
    del body["authorizationEventObject"]["authorizedScopes"]
    return body


def test_missing_lists_each_lacking_scope_once_in_order_and_nothing_when_unknown() -> None:
    need = (*scopes.PREP_BLOCK, scopes.FREEBUSY)
    assert scopes.missing(need, [scopes.EXECUTE]) == [
        scopes.USER_EMAIL,
        scopes.EVENTS_WRITE,
        scopes.FREEBUSY,
    ]
    assert scopes.missing(need, frozenset()) == list(dict.fromkeys(need))
    # Workspace did not say: unknown, not "nothing granted".
    assert scopes.missing(need, None) == []
    from addon.cards import request_scopes

    with pytest.raises(ValueError, match="at least one"):
        request_scopes([])


def test_opening_an_event_without_the_event_scope_asks_for_that_scope_only(
    client: Client, signer: DevSigner
) -> None:
    granted = [scopes.EXECUTE, scopes.USER_EMAIL]
    body = event_body(signer, opened=opened_event("ev1"), authorized=granted)
    assert client.post(body) == {
        "requesting_google_scopes": {"scopes": [scopes.CURRENT_EVENT_READ]}
    }


def test_an_unseen_event_asks_for_the_read_scope_and_not_the_prep_block_scopes(
    client: Client, signer: DevSigner, calendar: StubCalendar
) -> None:
    body = event_body(signer, opened=opened_event("new1"), authorized=BASE_GRANT)
    answer = client.post(body)
    assert answer == {"requesting_google_scopes": {"scopes": [scopes.EVENTS_READ]}}
    assert calendar.gets == []


def test_without_authorized_scopes_the_homepage_and_a_stored_event_open_without_asking(
    client: Client, signer: DevSigner, db: Store, alice: User, services: Bootstrap
) -> None:
    seed_meeting(
        db,
        alice,
        calendar_event("ev1", START, title="Roadmap"),
        now=NOW,
        classifier=services.classifier,
    )
    home = client.post(_without_authorized_scopes(event_body(signer)))
    assert "requesting_google_scopes" not in home
    opened = client.post(_without_authorized_scopes(event_body(signer, opened=opened_event("ev1"))))
    assert "Roadmap" in texts(only_card(opened))


def test_without_authorized_scopes_an_unseen_event_is_fetched_rather_than_asked_for(
    client: Client, signer: DevSigner, calendar: StubCalendar
) -> None:
    calendar.events[("ya29.user-access-token", "new1")] = calendar_event(
        "new1", START, title="Kickoff"
    )
    body = _without_authorized_scopes(event_body(signer, opened=opened_event("new1")))
    card = only_card(client.post(body))
    assert "Kickoff" in texts(card)
    assert len(calendar.gets) == 1
