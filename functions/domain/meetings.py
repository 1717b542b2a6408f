"""Meetings as the product sees them, independent of where they came from.

A `Meeting` is one occurrence on one user's calendar (recurring events are
expanded by the calendar source, so each instance is its own meeting and
`series_id` ties them together). Instances are immutable: code that changes a
meeting builds a new one with `dataclasses.replace`, which keeps the store's
"did anything change?" comparison honest.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from functions.domain.followups import FollowUp
from functions.domain.prep_state import PrepState, advance


class ResponseStatus(StrEnum):
    NEEDS_ACTION = "needsAction"
    DECLINED = "declined"
    TENTATIVE = "tentative"
    ACCEPTED = "accepted"

    @classmethod
    def parse(cls, value: str | None) -> ResponseStatus:
        """Unknown or missing values mean "not answered yet", as in the Calendar API."""
        try:
            return cls(value or cls.NEEDS_ACTION.value)
        except ValueError:
            return cls.NEEDS_ACTION


#: Calendar API `transparency`: "transparent" events are marked free ("Show me as: Available").
TRANSPARENT = "transparent"
#: Calendar API `eventType` of an ordinary event (others: outOfOffice, focusTime, ...).
DEFAULT_EVENT_TYPE = "default"


class EventStatus(StrEnum):
    CONFIRMED = "confirmed"
    TENTATIVE = "tentative"
    CANCELLED = "cancelled"

    @classmethod
    def parse(cls, value: str | None) -> EventStatus:
        try:
            return cls(value or cls.CONFIRMED.value)
        except ValueError:
            return cls.CONFIRMED


@dataclass(frozen=True, slots=True)
class Attendee:
    email: str
    display_name: str = ""
    response_status: ResponseStatus = ResponseStatus.NEEDS_ACTION
    organizer: bool = False
    is_self: bool = False
    resource: bool = False
    optional: bool = False

    @property
    def domain(self) -> str:
        return self.email.rpartition("@")[2].lower()

    @property
    def is_human(self) -> bool:
        """Rooms and equipment are attendees in Calendar but not people to prepare for."""
        return not self.resource and not self.domain.endswith("resource.calendar.google.com")


@dataclass(frozen=True, slots=True)
class Attachment:
    title: str
    url: str
    mime_type: str = ""
    #: Drive's file id (`attachments[].fileId`), "" when the source gives none.
    file_id: str = ""


@dataclass(frozen=True, slots=True)
class Meeting:
    """One occurrence of a calendar event, owned by exactly one user."""

    user_id: str
    event_id: str
    calendar_id: str
    title: str
    start: datetime
    end: datetime
    time_zone: str = "UTC"
    description: str = ""
    series_id: str | None = None
    status: EventStatus = EventStatus.CONFIRMED
    all_day: bool = False
    attendees: tuple[Attendee, ...] = ()
    organizer_email: str = ""
    conference_link: str | None = None
    #: Calendar's own link to this event (`htmlLink`); None when the source has none.
    html_link: str | None = None
    attachments: tuple[Attachment, ...] = ()
    version: str = ""
    #: "opaque" (busy, the default) or "transparent" (marked free), as in the Calendar API.
    transparency: str = "opaque"
    #: The Calendar API's `eventType`: "default", "outOfOffice", "focusTime", "workingLocation", ...
    event_type: str = DEFAULT_EVENT_TYPE
    meeting_type: str = "default"
    prep_trigger_at: datetime | None = None
    prep_state: PrepState = PrepState.NOT_STARTED
    materials_ref: str | None = None
    skip_reason: str | None = None
    #: When the current generation started (set on every move into `generating`
    #: and on a takeover); its lease runs from here. None on meetings stored before.
    generating_since: datetime | None = None
    #: What the user recorded after the meeting (functions.domain.followups); ours, not Calendar's.
    followup: FollowUp | None = None
    updated_at: datetime | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.user_id or not self.event_id:
            raise ValueError("a meeting needs a user_id and an event_id")
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("meeting start and end must be timezone-aware")
        if self.end < self.start:
            raise ValueError("meeting ends before it starts")

    @property
    def self_attendee(self) -> Attendee | None:
        return next((a for a in self.attendees if a.is_self), None)

    @property
    def human_attendees(self) -> tuple[Attendee, ...]:
        return tuple(a for a in self.attendees if a.is_human)

    @property
    def has_other_people(self) -> bool:
        """Someone besides the user (and besides rooms) is invited."""
        return any(not a.is_self for a in self.human_attendees)

    @property
    def attendee_count(self) -> int:
        """People in the meeting, counting the user even when Calendar lists nobody."""
        humans = self.human_attendees
        if not humans:
            return 1
        return len(humans) if any(a.is_self for a in humans) else len(humans) + 1

    @property
    def declined(self) -> bool:
        me = self.self_attendee
        return me is not None and me.response_status is ResponseStatus.DECLINED

    def with_prep_state(self, target: PrepState) -> Meeting:
        """Move prep state through the one state machine (raises on illegal moves)."""
        return dataclasses.replace(self, prep_state=advance(self.prep_state, target))

    def generation_overdue(self, now: datetime, lease: timedelta) -> bool:
        """Generating for longer than `lease`: its worker is presumed dead.

        The lease outlasts any live attempt, so past it a new generation may
        take over (the card offers "Try again"). A generating meeting with no
        start time was stored before leases existed and counts as overdue.
        """
        if self.prep_state is not PrepState.GENERATING:
            return False
        return self.generating_since is None or now - self.generating_since >= lease

    def same_event_content(self, other: Meeting) -> bool:
        """True when the calendar side is unchanged, ignoring our own prep bookkeeping."""
        return _calendar_fields(self) == _calendar_fields(other)


_PREP_FIELDS = frozenset(
    {
        "meeting_type",
        "prep_trigger_at",
        "prep_state",
        "materials_ref",
        "skip_reason",
        "generating_since",
        "followup",
        "updated_at",
    }
)


def _calendar_fields(m: Meeting) -> tuple[object, ...]:
    return tuple(getattr(m, f.name) for f in dataclasses.fields(m) if f.name not in _PREP_FIELDS)


def email_domains(emails: Iterable[str]) -> frozenset[str]:
    return frozenset(e.rpartition("@")[2].lower() for e in emails if "@" in e)
