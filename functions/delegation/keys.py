"""How an executive's meetings are filed under their assistant, and how to tell them apart.

Meetings are keyed by user and event id. An assistant invited to one of the
executive's meetings sees the same event id on both calendars, yet the two
copies are different prep (one is "my meeting", the other is "the
executive's meeting", with the executive's response and guests), so a
delegated copy is filed under `<event id>~<calendar tag>`. Calendar event ids
never contain `~` (base32hex, plus `_` for instances), and the tag is a hash
of the calendar id, so the key is a valid store id whatever the calendar's
address holds, and it says which calendar it came from.

Pure functions: no store, no Google.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass

from functions.domain.meetings import Meeting
from functions.domain.users import User

PRIMARY = "primary"
SEPARATOR = "~"
#: Longest calendar id accepted (an email address is at most 254 characters).
MAX_CALENDAR_ID = 254
#: What an executive's calendar id looks like: their address. Deliberately narrow
#: (no quotes, slashes, spaces or angle brackets), because it is shown in messages.
_ADDRESS = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")


class BadCalendarId(ValueError):
    """Not an address we accept as an executive's calendar id; the message says why."""


def normalize_calendar_id(raw: str) -> str:
    """The canonical form of a typed calendar id (trimmed, lower case), or BadCalendarId."""
    value = raw.strip().lower()
    if not value:
        raise BadCalendarId("Enter the executive's email address.")
    if len(value) > MAX_CALENDAR_ID or not _ADDRESS.fullmatch(value):
        raise BadCalendarId("Enter an email address, like alex@example.com.")
    return value


def calendar_tag(calendar_id: str) -> str:
    return hashlib.sha256(calendar_id.lower().encode()).hexdigest()[:12]


def delegated_key(calendar_id: str, event_id: str) -> str:
    return f"{event_id}{SEPARATOR}{calendar_tag(calendar_id)}"


def is_delegated(meeting: Meeting) -> bool:
    """True for a meeting synced from someone else's calendar (assistant mode)."""
    raw, sep, tag = meeting.event_id.rpartition(SEPARATOR)
    return bool(sep and raw) and tag == calendar_tag(meeting.calendar_id)


def source_event_id(meeting: Meeting) -> str:
    """The event id Calendar knows the meeting by (for links and API calls)."""
    if is_delegated(meeting):
        return meeting.event_id.rpartition(SEPARATOR)[0]
    return meeting.event_id


def is_delegated_calendar(user: User, calendar_id: str) -> bool:
    return calendar_id.lower() in user.preferences.delegated_calendars


def meeting_key(user: User, calendar_id: str, event_id: str) -> str:
    """The stored id of `event_id` as seen on `calendar_id` by `user` (the sidebar's lookup)."""
    if calendar_id and is_delegated_calendar(user, calendar_id):
        return delegated_key(calendar_id.lower(), event_id)
    return event_id


def as_delegated(meeting: Meeting) -> Meeting:
    """File a meeting read from an executive's calendar under the assistant.

    Calendar sets `self` on the attendee "for the calendar on which this copy of
    the event appears", i.e. the executive; we set it from the address as well,
    so the executive's own answer decides (declined -> no prep) whatever the
    source did, and the assistant, if invited too, counts as one of the guests.
    """
    owner = meeting.calendar_id.lower()
    attendees = tuple(
        dataclasses.replace(a, is_self=a.email.lower() == owner) for a in meeting.attendees
    )
    return dataclasses.replace(
        meeting,
        event_id=delegated_key(owner, meeting.event_id),
        attendees=attendees,
    )


@dataclass(frozen=True, slots=True)
class Owner:
    """Whose meeting a delegated meeting is, for labels ("for Alex Kim")."""

    #: The calendar id the assistant added (a validated address): safe in plain text.
    address: str
    #: How the calendar names them (hostile text: escape wherever it is rendered).
    name: str


def owner_of(meeting: Meeting) -> Owner | None:
    """The executive a delegated meeting belongs to; None for the user's own meetings."""
    if not is_delegated(meeting):
        return None
    address = meeting.calendar_id.lower()
    me = meeting.self_attendee
    name = " ".join((me.display_name if me else "").split())
    return Owner(address=address, name=name or address)
