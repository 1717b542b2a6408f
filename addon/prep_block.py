""" "Block 30 min to prepare": book a private focus block before a meeting.

Opt-in twice over. The button asks nothing of anyone who never clicks it,
and the two scopes it needs (`calendar.events.owned` to write,
`calendar.freebusy` to find free time) are requested at the click: when
`authorizedScopes` lacks them the answer is Workspace's scope request, and
Workspace re-runs the click after consent with a token that carries them.

Where the block goes: the latest free 30 minutes before the meeting, inside
working hours in the user's own time zone, on the meeting's day or the working
day before it (so a Monday 9:00 meeting can get Friday afternoon). Windows are
built per local day with zoneinfo, so a DST change between the two days moves
the UTC instants, not the wall-clock hours.

Exactly one block per meeting, however often the button is pressed: the
block's event id is derived from the user and the meeting (Calendar accepts
client-chosen ids), so a second click finds the first block, and two
simultaneous clicks race on the id, which Calendar settles with a 409.
Calendar keeps a deleted event's id taken; a user who deleted the block and
clicks again gets the next id of a short deterministic sequence.

Which calendar is written is the root's choice (`Sidebar.block_writer`,
`functions.bootstrap`): Google Calendar as the user in production; locally
(the .ics default) the same booking runs against
`functions.sync.local_blocks.LocalCalendarWriter`: the .ics meetings are the
busy time and the blocks go to `prep-blocks.json` beside the database.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from addon import cards as c
from addon import handlers, scopes
from addon.sidebar import Call
from functions.calendar.mapping import UnusableEvent, meeting_from_event
from functions.calendar.port import (
    CalendarError,
    EventNotFound,
    PermissionDenied,
    SyncTokenExpired,
)
from functions.calendar.writer import (
    PREP_FOR_KEY,
    PREP_MARKER_KEY,
    PREP_MARKER_VALUE,
    Busy,
    CalendarWriter,
    EventExists,
)
from functions.delegation.keys import is_delegated
from functions.domain.classification import SkipReason, prep_wanted
from functions.domain.meetings import EventStatus
from functions.logs import log
from functions.timefmt import valid_zone

_log = logging.getLogger(__name__)

BLOCK_LENGTH = timedelta(minutes=30)
#: Blocks go on the user's own main calendar, whatever calendar the meeting is on.
BLOCK_CALENDAR = "primary"
#: Ids tried per meeting: each deleted block uses one up (Calendar keeps deleted ids taken).
MAX_BLOCK_IDS = 5
#: Longest meeting title carried into the block's summary.
MAX_TITLE = 100
#: Calendar's limit on an extended property value.
MAX_PROPERTY = 1024


@dataclass(frozen=True, slots=True)
class WorkingHours:
    """When a prep block may be placed, in the user's own time zone."""

    start: time = time(9)
    end: time = time(18)
    #: Monday is 0.
    days: frozenset[int] = frozenset(range(5))

    def windows(self, meeting_start: datetime, zone: ZoneInfo, now: datetime) -> list[Busy]:
        """Searchable stretches, earliest first: the meeting's day up to the meeting,
        and the whole working day before it, never before `now`."""
        day = meeting_start.astimezone(zone).date()
        days: list[date] = []
        if day.weekday() in self.days:
            days.append(day)
        earlier = day - timedelta(days=1)
        for _ in range(7):
            if earlier.weekday() in self.days:
                days.append(earlier)
                break
            earlier -= timedelta(days=1)
        out: list[Busy] = []
        for d in sorted(days):
            opens = datetime.combine(d, self.start, tzinfo=zone).astimezone(UTC)
            closes = datetime.combine(d, self.end, tzinfo=zone).astimezone(UTC)
            lo, hi = max(opens, now), min(closes, meeting_start)
            if hi > lo:
                out.append(Busy(lo, hi))
        return out


DEFAULT_HOURS = WorkingHours()


def latest_free_slot(
    windows: Sequence[Busy], busy: Sequence[Busy], length: timedelta = BLOCK_LENGTH
) -> Busy | None:
    """The latest `length` of time inside a window that overlaps no busy period."""
    for window in sorted(windows, key=lambda w: w.end, reverse=True):
        end = window.end
        for period in sorted(busy, key=lambda b: b.end, reverse=True):
            if period.end <= window.start:
                break
            if period.start >= end:
                continue
            if end - period.end >= length:
                return Busy(end - length, end)
            end = min(end, period.start)
        if end - window.start >= length:
            return Busy(end - length, end)
    return None


def block_event_id(user_id: str, event_id: str, attempt: int) -> str:
    """A Calendar event id (base32hex, lowercase) that only this user+meeting+attempt yields."""
    digest = hashlib.sha256(f"prep-block\n{user_id}\n{event_id}\n{attempt}".encode()).digest()
    return base64.b32hexencode(digest).decode("ascii").rstrip("=").lower()


def block_summary(title: str) -> str:
    """ "Prep: <title>", the title reduced to one bounded line of printable text.

    The title is whoever created the meeting's text: control and format
    characters (newlines, bidi overrides) are dropped and the length capped.
    """
    kept = "".join(
        " " if ch.isspace() else "" if unicodedata.category(ch)[0] == "C" else ch for ch in title
    )
    line = " ".join(kept.split())
    if len(line) > MAX_TITLE:
        line = line[: MAX_TITLE - 1] + "…"
    return f"Prep: {line or '(no title)'}"


def block_body(
    *,
    block_id: str,
    slot: Busy,
    zone: ZoneInfo,
    title: str,
    event_id: str,
    event_link: str | None,
) -> dict[str, Any]:
    """The events.insert body: private, busy, marked as ours and linked to its meeting."""
    about = "Time to prepare for a meeting, booked by Meeting prep."
    if event_link:
        about += f"\nThe meeting: {event_link}"
    marker_for = (
        event_id if len(event_id) <= MAX_PROPERTY else hashlib.sha256(event_id.encode()).hexdigest()
    )
    return {
        "id": block_id,
        "summary": block_summary(title),
        "description": about,
        "start": {"dateTime": slot.start.astimezone(zone).isoformat(), "timeZone": zone.key},
        "end": {"dateTime": slot.end.astimezone(zone).isoformat(), "timeZone": zone.key},
        "visibility": "private",
        "transparency": "opaque",
        "extendedProperties": {
            "private": {PREP_MARKER_KEY: PREP_MARKER_VALUE, PREP_FOR_KEY: marker_for}
        },
    }


# ---------------------------------------------------------------- outcomes


@dataclass(frozen=True, slots=True)
class Booked:
    slot: Busy


@dataclass(frozen=True, slots=True)
class AlreadyBooked:
    slot: Busy


@dataclass(frozen=True, slots=True)
class NoFreeSlot:
    searched_from: datetime | None


@dataclass(frozen=True, slots=True)
class NotBookable:
    """The meeting cannot get a block; `text` tells the user why."""

    text: str


Outcome = Booked | AlreadyBooked | NoFreeSlot | NotBookable

_NOT_AVAILABLE = "This meeting is not on a calendar you own, or no longer exists."


def _get_or_none(writer: CalendarWriter, calendar_id: str, event_id: str) -> Mapping[str, Any]:
    """events.get, with "never existed" and "deleted long ago" both as an empty answer."""
    try:
        return writer.get_event(calendar_id, event_id)
    except (EventNotFound, SyncTokenExpired):  # 404, or 410 "Resource has been deleted"
        return {}


def _existing_block(raw: Mapping[str, Any], user_id: str, zone: ZoneInfo) -> Busy | None:
    """The times of a live block, None for a deleted one (whose id stays taken)."""
    if not raw or raw.get("status") == "cancelled":
        return None
    try:
        block = meeting_from_event(raw, user_id=user_id, calendar_id=BLOCK_CALENDAR)
    except UnusableEvent:
        return None
    return Busy(block.start.astimezone(UTC), block.end.astimezone(UTC))


def book_prep_block(
    writer: CalendarWriter,
    *,
    user_id: str,
    calendar_id: str,
    event_id: str,
    zone: ZoneInfo,
    now: datetime,
    hours: WorkingHours = DEFAULT_HOURS,
) -> Outcome:
    """Find or book the one prep block of this meeting. Raises `CalendarError`."""
    try:
        raw = writer.get_event(calendar_id, event_id)
        meeting = meeting_from_event(
            raw, user_id=user_id, calendar_id=calendar_id, default_tz=zone.key
        )
    except (EventNotFound, PermissionDenied):
        return NotBookable(_NOT_AVAILABLE)
    except UnusableEvent:
        return NotBookable("This event has no usable time.")
    if meeting.status is EventStatus.CANCELLED:
        return NotBookable("This meeting was cancelled.")
    if meeting.all_day:
        return NotBookable("All-day events get no prep block.")
    if meeting.declined:
        return NotBookable("You declined this meeting.")
    start = meeting.start.astimezone(UTC)
    if start <= now:
        return NotBookable("This meeting has already started.")

    free_id: str | None = None
    for attempt in range(MAX_BLOCK_IDS):
        candidate = block_event_id(user_id, event_id, attempt)
        found = _get_or_none(writer, BLOCK_CALENDAR, candidate)
        if not found:
            free_id = candidate
            break
        live = _existing_block(found, user_id, zone)
        if live is not None:
            return AlreadyBooked(live)
    if free_id is None:
        return NotBookable(
            "Prep blocks for this meeting were deleted several times; add one by hand."
        )

    windows = hours.windows(start, zone, now)
    if not windows:
        return NoFreeSlot(None)
    busy = writer.busy_periods(BLOCK_CALENDAR, time_min=windows[0].start, time_max=start)
    slot = latest_free_slot(windows, busy)
    if slot is None:
        return NoFreeSlot(windows[0].start)
    link = raw.get("htmlLink")
    body = block_body(
        block_id=free_id,
        slot=slot,
        zone=zone,
        title=meeting.title,
        event_id=event_id,
        event_link=link if isinstance(link, str) and link.startswith("https://") else None,
    )
    try:
        writer.insert_event(BLOCK_CALENDAR, body)
    except EventExists:
        # Another click took this id between our look and our insert: its block stands.
        live = _existing_block(_get_or_none(writer, BLOCK_CALENDAR, free_id), user_id, zone)
        if live is not None:
            return AlreadyBooked(live)
        raise
    return Booked(slot)


# ---------------------------------------------------------------- the sidebar action


def _span(call: Call, slot: Busy) -> str:
    fmt = call.view.fmt
    return f"{fmt.day_time(slot.start)} – {fmt.time(slot.end)}"


def block_prep_time(call: Call) -> c.Json:
    meeting = handlers.stored_meeting(call)
    if meeting is None:
        return c.notify(handlers.GONE)
    writer_for = call.app.block_writer  # the root's choice: Google's or the local .ics
    if writer_for is None:
        return c.notify("Booking prep time needs a calendar Meeting prep can write to.")
    if is_delegated(meeting):
        return c.notify("Prep time can be booked only for meetings on your own calendar.")
    if not prep_wanted(meeting):
        if meeting.skip_reason == SkipReason.DECLINED.value:
            return c.notify("You declined this meeting.")
        return c.notify("This meeting needs no prep.")
    lacking = scopes.missing(scopes.PREP_BLOCK, call.event.authorized_scopes)
    if lacking:
        return c.request_scopes(lacking)
    token = call.event.user_oauth_token
    if not token:
        return c.notify("Calendar did not share access to your calendar; please try again.")
    zone = ZoneInfo(valid_zone(call.user.time_zone) or "UTC")
    try:
        outcome = book_prep_block(
            writer_for(call, token),
            user_id=call.user_id,
            calendar_id=meeting.calendar_id,
            event_id=meeting.event_id,
            zone=zone,
            now=call.now,
            # The user's working days, as the prep reminder uses them (not a fixed Mon-Fri).
            hours=WorkingHours(days=frozenset(call.user.preferences.working_days)),
        )
    except PermissionDenied:
        return c.notify("Google Calendar did not allow adding an event to your calendar.")
    except CalendarError as exc:
        log(_log, logging.WARNING, "prep block not booked", error=type(exc).__name__)
        return c.notify("Google Calendar did not answer. Please try again in a moment.")
    if isinstance(outcome, Booked):
        log(_log, logging.INFO, "prep block booked", user_id=call.user_id)
        return c.notify(f"Blocked {_span(call, outcome.slot)} to prepare (private).")
    if isinstance(outcome, AlreadyBooked):
        return c.notify(f"Your prep time is already booked: {_span(call, outcome.slot)}.")
    if isinstance(outcome, NoFreeSlot):
        since = (
            f" since {call.view.fmt.day_time(outcome.searched_from)}"
            if outcome.searched_from is not None
            else ""
        )
        return c.notify(
            f"No free 30 minutes in your working hours before this meeting{since}. "
            "Nothing was booked."
        )
    return c.notify(outcome.text)
