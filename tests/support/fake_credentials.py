"""A credentials provider for tests: each user's grant on the fake Calendar, no OAuth round trip.

Handed to the root in place of `CredentialsProvider` (`credentials=`), so the
sync and delegation code reach the fake Calendar through the real client
library with a per-user token, and a user can be made to need reconnecting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.support.fake_calendar import FakeCalendar, Grant


@dataclass
class FakeProvider:
    """Stands in for the OAuth engineer's CredentialsProvider: grants per user id."""

    fake: FakeCalendar
    grants: dict[str, Grant] = field(default_factory=dict)
    reconnect: set[str] = field(default_factory=set)
    #: One credentials object per user: refreshed once, then reused like a stored access token.
    issued: dict[str, Any] = field(default_factory=dict)

    def credentials_for(self, user_id: str) -> Any:
        if user_id in self.reconnect:
            from functions.oauth.credentials import ReconnectNeeded

            raise ReconnectNeeded(user_id, "test")
        if user_id not in self.issued:
            self.issued[user_id] = self.fake.credentials(self.grants[user_id])
        return self.issued[user_id]
