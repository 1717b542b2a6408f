"""Counters built from one-time claims: the per-user daily cap and bounded retries.

The store has no counter primitive, but `claim` is atomic on every adapter
(SQLite INSERT OR IGNORE, Firestore create()). Taking "slot n" for the first
free n in 1..limit is therefore an exact, race-free counter, at the cost of
up to `limit` claim attempts; limits here are small (tens). Claims carry
`claimed_at`, so a store-side TTL can sweep old days away.
"""

from __future__ import annotations

from datetime import UTC

from functions.domain.clock import Clock
from functions.store.port import Store


def take_slot(store: Store, user_id: str, prefix: str, limit: int) -> str | None:
    """Claim the first free `prefix:n` for n in 1..limit; None when all are taken."""
    for n in range(1, limit + 1):
        key = f"{prefix}:{n}"
        if store.claim(user_id, key):
            return key
    return None


class DailyCap:
    """At most `limit` metered generations per user per UTC day."""

    def __init__(self, store: Store, limit: int, clock: Clock) -> None:
        self.store = store
        self.limit = limit
        self.clock = clock

    def take(self, user_id: str) -> str | None:
        day = self.clock.now().astimezone(UTC).date().isoformat()
        return take_slot(self.store, user_id, f"gen-day:{day}", self.limit)

    def give_back(self, user_id: str, slot: str) -> None:
        """Return a slot whose generation cost nothing (it failed before the model answered)."""
        self.store.release_claim(user_id, slot)
