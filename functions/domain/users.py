"""Users, their connection to Google and the preferences that shape their prep."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from enum import StrEnum
from types import MappingProxyType

from functions.domain.followups import DEFAULT_FOLLOWUP_TYPES, FollowupMode

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


class DeliveryMode(StrEnum):
    """One reminder per meeting, or one morning digest of the day's meetings."""

    EACH = "each"
    DIGEST = "digest"


class CalendarProblem(StrEnum):
    """Why a delegated calendar is not synced (shown to the assistant in settings)."""

    #: Google answered 403/404 on the calendar: the delegation was revoked or never existed.
    NO_ACCESS = "no_access"
    #: Our grant lacks the scope for calendars the user does not own; they must allow it.
    NEEDS_SCOPE = "needs_scope"


class ContextSource(StrEnum):
    """A source of meeting context beyond the calendar, each turned on by the user.

    Off by default: each needs a Google scope of its own, asked for only when
    the user turns it on (functions/materials/sources.py).
    """

    #: Recent mail threads with the attendees (Gmail, gmail.readonly).
    MAIL = "mail"
    #: Documents attached to the event (Drive).
    DOCUMENTS = "documents"


#: Monday to Friday (`date.weekday()` numbers): prep triggers move off other days.
DEFAULT_WORKING_DAYS: frozenset[int] = frozenset(range(5))
#: A digest at 08:00 local time unless the user picks another time.
DEFAULT_DIGEST_TIME = time(8, 0)
#: Executives' calendars one assistant may prepare for (each costs a sync per interval).
MAX_DELEGATED_CALENDARS = 10
#: A user's own keywords per meeting type: enough for real vocabularies, and
#: bounded so classifying a meeting stays cheap however the settings are filled.
MAX_KEYWORDS_PER_TYPE = 10
MAX_KEYWORD_LENGTH = 40


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


def _frozen_str(mapping: Mapping[str, str] | None) -> Mapping[str, str]:
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
    #: One message per meeting, or one digest a day at `digest_time` (user's zone).
    delivery_mode: DeliveryMode = DeliveryMode.EACH
    digest_time: time = DEFAULT_DIGEST_TIME
    #: Assistant mode: other people's calendars (their ids, lower-case addresses) that
    #: this user prepares for. Synced under this user; the owners' own records are
    #: never touched.
    delegated_calendars: tuple[str, ...] = ()
    #: The user's own words for a meeting type ("board prep" -> executive), matched
    #: as whole words in the title; they win over the configured rules.
    type_keywords: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: Days prep may start (`date.weekday()` numbers); a trigger on another day
    #: moves to the previous working day at the same local time.
    working_days: frozenset[int] = DEFAULT_WORKING_DAYS
    #: Context sources the user turned on; turning one off stops its use at once.
    context_sources: frozenset[ContextSource] = frozenset()
    #: After a prepared meeting of one of `followup_types` ends: one question
    #: about its outcomes, in Chat or by email, or none (functions/followup).
    followup_mode: FollowupMode = FollowupMode.CHAT
    followup_types: frozenset[str] = DEFAULT_FOLLOWUP_TYPES

    def __post_init__(self) -> None:
        for meeting_type, hours in self.lead_hours.items():
            if not 0 <= hours <= MAX_LEAD_HOURS:
                raise ValueError(
                    f"lead time for {meeting_type!r} must be between 0 and {MAX_LEAD_HOURS} hours"
                )
        object.__setattr__(self, "lead_hours", _frozen(self.lead_hours))
        object.__setattr__(self, "type_overrides", _frozen(self.type_overrides))
        object.__setattr__(self, "auto_prep_types", frozenset(self.auto_prep_types))
        days = frozenset(self.working_days)
        if not days or not days <= frozenset(range(7)):
            raise ValueError("working days are one to seven of the days 0 (Monday) to 6 (Sunday)")
        object.__setattr__(self, "working_days", days)
        object.__setattr__(self, "delivery_mode", DeliveryMode(self.delivery_mode))
        object.__setattr__(self, "followup_mode", FollowupMode(self.followup_mode))
        object.__setattr__(self, "followup_types", frozenset(self.followup_types))
        object.__setattr__(
            self, "context_sources", frozenset(ContextSource(s) for s in self.context_sources)
        )
        object.__setattr__(
            self, "delegated_calendars", tuple(dict.fromkeys(self.delegated_calendars))
        )
        keywords: dict[str, tuple[str, ...]] = {}
        for meeting_type, words in self.type_keywords.items():
            kept = tuple(dict.fromkeys(w.strip() for w in words if w.strip()))
            if len(kept) > MAX_KEYWORDS_PER_TYPE:
                raise ValueError(f"at most {MAX_KEYWORDS_PER_TYPE} keywords for {meeting_type!r}")
            if any(len(w) > MAX_KEYWORD_LENGTH for w in kept):
                raise ValueError(f"keywords are at most {MAX_KEYWORD_LENGTH} characters")
            if kept:
                keywords[meeting_type] = kept
        object.__setattr__(self, "type_keywords", MappingProxyType(keywords))

    def override_for(self, event_id: str, series_id: str | None) -> str | None:
        """The user's chosen type: one occurrence beats its series."""
        chosen = self.type_overrides.get(override_key(OverrideScope.EVENT, event_id))
        if chosen is None and series_id:
            chosen = self.type_overrides.get(override_key(OverrideScope.SERIES, series_id))
        return chosen

    @property
    def documents_enabled(self) -> bool:
        """Documents (attachments, last meeting's notes, standing context) are read from
        Drive as this user only once they turned the source on in Settings."""
        return ContextSource.DOCUMENTS in self.context_sources


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
    #: Delegated calendars that are not synced right now, and why (`CalendarProblem` values).
    calendar_problems: Mapping[str, str] = field(default_factory=dict)
    #: The Workspace domain from the verified userIdToken's `hd` claim ("" if none).
    workspace_domain: str = ""

    def __post_init__(self) -> None:
        if not self.user_id:
            raise ValueError("a user needs a user_id")
        object.__setattr__(self, "calendar_problems", _frozen_str(self.calendar_problems))

    @property
    def domain(self) -> str:
        return self.email.rpartition("@")[2].lower()

    @property
    def domains(self) -> frozenset[str]:
        """The user's own domains: their address's and their Workspace's (`hd`).

        Meetings with people from these are internal; an admin adds more (other
        domains of the organisation) under `internal_domains` in the rules file.
        """
        return frozenset(d for d in (self.domain, self.workspace_domain.lower()) if d)
