"""Users, their connection to Google and the preferences that shape their prep."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from enum import StrEnum
from types import MappingProxyType

#: Lead times beyond a month are almost certainly typos (hours vs minutes).
MAX_LEAD_HOURS = 24 * 30


class ConnectionState(StrEnum):
    """Whether background access (a stored refresh token) works for this user."""

    NOT_CONNECTED = "not_connected"
    CONNECTED = "connected"
    RECONNECT_NEEDED = "reconnect_needed"


class OverrideScope(StrEnum):
    EVENT = "event"
    SERIES = "series"


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily window in the user's own time zone when nothing is sent.

    `start > end` means the window wraps midnight (22:00-07:00).
    """

    start: time
    end: time

    def contains(self, local: time) -> bool:
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


def _frozen(mapping: Mapping[str, object] | None) -> Mapping[str, object]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True, slots=True)
class Preferences:
    email_enabled: bool = True
    chat_enabled: bool = True
    #: Per meeting type, hours before the meeting to start prep; wins over config.
    lead_hours: Mapping[str, float] = field(default_factory=dict)
    quiet_hours: QuietHours | None = None
    #: Type chosen by the user, keyed "event:<event id>" or "series:<series id>".
    type_overrides: Mapping[str, str] = field(default_factory=dict)
    #: Meeting types prepared automatically at trigger time ("ready" message, no button).
    auto_prep_types: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        for meeting_type, hours in self.lead_hours.items():
            if not 0 <= hours <= MAX_LEAD_HOURS:
                raise ValueError(
                    f"lead time for {meeting_type!r} must be between 0 and {MAX_LEAD_HOURS} hours"
                )
        object.__setattr__(self, "lead_hours", _frozen(self.lead_hours))
        object.__setattr__(self, "type_overrides", _frozen(self.type_overrides))
        object.__setattr__(self, "auto_prep_types", frozenset(self.auto_prep_types))

    def override_for(self, event_id: str, series_id: str | None) -> str | None:
        """The user's chosen type: one occurrence beats its series."""
        chosen = self.type_overrides.get(override_key(OverrideScope.EVENT, event_id))
        if chosen is None and series_id:
            chosen = self.type_overrides.get(override_key(OverrideScope.SERIES, series_id))
        return chosen


def override_key(scope: OverrideScope, ident: str) -> str:
    return f"{scope.value}:{ident}"


@dataclass(frozen=True, slots=True)
class User:
    user_id: str
    email: str
    time_zone: str = "UTC"
    locale: str = "en-US"
    connection: ConnectionState = ConnectionState.NOT_CONNECTED
    preferences: Preferences = field(default_factory=Preferences)
    #: A delivery failure the user must act on (app removed, no DM space), shown on the card.
    delivery_problem: str | None = None
    created_at: datetime | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.user_id:
            raise ValueError("a user needs a user_id")

    @property
    def domain(self) -> str:
        return self.email.rpartition("@")[2].lower()
