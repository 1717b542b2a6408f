"""The new user fields survive both store adapters (keys with dots included)."""

from __future__ import annotations

from datetime import time

from functions.domain.users import ConnectionState, DeliveryMode, Preferences, User
from functions.store.port import Store


def test_digest_and_delegation_fields_round_trip(store: Store) -> None:
    user = User(
        "u1",
        "asha@example.com",
        connection=ConnectionState.CONNECTED,
        calendar_problems={"alex.kim@example.co.uk": "no_access"},
        preferences=Preferences(
            delivery_mode=DeliveryMode.DIGEST,
            digest_time=time(7, 15),
            delegated_calendars=("alex.kim@example.co.uk", "b.c@example.com"),
        ),
    )
    store.put_user(user)
    assert store.get_user("u1") == user
    assert store.list_connected_users(limit=10).users == (user,)
    cleared = User("u1", "asha@example.com", connection=ConnectionState.CONNECTED)
    store.put_user(cleared)  # a full replace: nothing of the old maps survives
    assert store.get_user("u1") == cleared
