"""What a notification says, independent of the channel that carries it.

Everything here is plain data; the email and Chat builders decide how to
render it (and escape it: titles and names come from other people's
calendars and are hostile until proven otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from functions.delegation.keys import Owner, owner_of
from functions.domain.meetings import Meeting
from functions.domain.users import User

#: Calendar's day view: the fallback link for a meeting without its own `htmlLink`.
CALENDAR_DAY_URL = "https://calendar.google.com/calendar/r/day/"
#: Shown at most; a 200-person all-hands does not need every name in a reminder.
MAX_NAMES = 8


class NoticeKind(StrEnum):
    #: "Your meeting is coming up" with a Generate prep button.
    PREP_DUE = "prep_due"
    #: "Your prep is ready" with the materials link.
    PREP_READY = "prep_ready"


def calendar_event_url(meeting: Meeting) -> str:
    """A link that opens the meeting in Google Calendar.

    The event's own `htmlLink`, stored by the sync: Calendar builds it from the
    calendar's real id (an address), which we cannot rebuild from `primary`, and
    an executive's meeting (assistant mode) carries the link to their
    calendar's copy. A meeting without one (the local .ics import has no
    links; meetings stored before links were kept, until their next change)
    opens Calendar's day view of the meeting's date in the meeting's zone:
    always a valid page, and the meeting is on it.
    """
    if meeting.html_link:
        return meeting.html_link
    try:
        zone = ZoneInfo(meeting.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    day = meeting.start.astimezone(zone).date()
    return f"{CALENDAR_DAY_URL}{day.year}/{day.month}/{day.day}"


@dataclass(frozen=True, slots=True)
class Notice:
    kind: NoticeKind
    user: User
    meeting: Meeting
    #: The meeting type as people read it ("1:1", "QBR"): from config, not from the event.
    type_label: str
    #: The start in the user's zone and locale ("Tue, Mar 17, 3:00 PM").
    when: str
    #: The zone's name in the user's language ("Central European Standard Time").
    zone: str
    calendar_url: str
    materials_url: str | None = None
    #: Assistant mode: whose meeting this is (the user prepares it for them); else None.
    owner: Owner | None = None

    @property
    def title(self) -> str:
        """The event title on one line (hostile text: escape wherever it is rendered)."""
        return " ".join(self.meeting.title.split()) or "(no title)"

    @property
    def people(self) -> tuple[str, ...]:
        """Other people in the meeting by name (or address), at most MAX_NAMES."""
        names = [
            a.display_name.strip() or a.email for a in self.meeting.human_attendees if not a.is_self
        ]
        return tuple(names[:MAX_NAMES])

    @property
    def more_people(self) -> int:
        others = sum(1 for a in self.meeting.human_attendees if not a.is_self)
        return max(0, others - MAX_NAMES)


def build_notice(
    kind: NoticeKind,
    user: User,
    meeting: Meeting,
    *,
    type_label: str,
    materials_url: str | None = None,
) -> Notice:
    from functions.timefmt import TimeFormat

    fmt = TimeFormat.for_user(user.time_zone, user.locale)
    return Notice(
        kind=kind,
        user=user,
        meeting=meeting,
        type_label=type_label,
        when=fmt.day_time(meeting.start),
        zone=fmt.zone_name(meeting.start),
        calendar_url=calendar_event_url(meeting),
        materials_url=materials_url,
        owner=owner_of(meeting),
    )
