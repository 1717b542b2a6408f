"""The embedded default's calendar: an .ics file, served as if it were the Calendar API.

`IcsCalendarSource` turns iCalendar (RFC 5545) into Calendar-API-shaped event
JSON, expands recurrences the way `singleEvents=true` does, and emulates sync
tokens, so the local product runs the very same sync code as production
(paging, incremental listing, cancellations, even 410), attachments included
(`ATTACH` lines become `attachments[]`, so local prep reads documents too):

- A sync token is `ics1.<window start>.<digest of the listing>`. An unchanged
  file lists nothing on the incremental run; a changed one lists exactly the
  new or changed events and every event that disappeared, as `cancelled`.
- Working out *what* changed needs the listing the token was issued for. Those
  are remembered in this process (a small bounded cache); a token this
  process has not seen, or one older than `TOKEN_MAX_AGE`, answers like
  Google's 410, and the sync does a clean full resync, which costs no store
  writes for events that did not change.

The sample week: a calendar carrying `X-PREP-SAMPLE-WEEK:<a Monday>` is a
demo, written for that week. It is rolled forward by whole weeks to the
current week (weekdays and wall-clock times stay put, DST included), and a
one-off event that has already ended this week moves one week further, so
`make run` always shows a realistic *upcoming* week. Files without the
property, such as an export of your own calendar, are never shifted.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from functions.calendar.port import (
    MAX_PAGE_SIZE,
    CalendarSource,
    CalendarUnavailable,
    Event,
    EventNotFound,
    EventPage,
    SyncTokenExpired,
)
from functions.domain.clock import Clock, SystemClock

#: Recurrences are expanded this far ahead of now by default (the sync passes its own
#: horizon setting); the window end advances by day.
HORIZON = timedelta(days=90)
#: Default window start for a listing without time_min or token.
DEFAULT_LOOKBACK = timedelta(days=1)
#: Older tokens answer 410, so the expansion window cannot grow without bound.
TOKEN_MAX_AGE = timedelta(days=28)
#: A calendar export this large is almost certainly not what the user meant to load.
MAX_ICS_BYTES = 32 * 1024 * 1024
SAMPLE_WEEK_PROPERTY = "X-PREP-SAMPLE-WEEK"
#: One series contributes at most this many instances to a listing (an hourly
#: series over the ~90-day window would be ~2,200 "meetings"; a daily one is ~90);
#: the rest are reported and never expanded.
MAX_OCCURRENCES_PER_SERIES = 250
#: A whole file contributes at most this many instances to a listing.
MAX_OCCURRENCES_PER_FILE = 10_000
#: Recurrence steps a series may cost to expand from its DTSTART to the window's
#: end (dateutil walks every step, even those before the window): ~11 years of an
#: hourly series. Beyond it, the series is refused before anything is expanded.
MAX_EXPANSION_STEPS = 100_000
#: Rules recurring more often than this per day are refused outright: no meeting
#: repeats every minute, and FREQ=SECONDLY in a 200-byte file is a bomb.
MAX_PER_DAY = 24
_FREQ_SECONDS = {
    "SECONDLY": 1,
    "MINUTELY": 60,
    "HOURLY": 3600,
    "DAILY": 86_400,
    "WEEKLY": 7 * 86_400,
    "MONTHLY": 28 * 86_400,
    "YEARLY": 365 * 86_400,
}
#: Properties whose parse errors make an event unusable (icalendar keeps the
#: raw text as vBroken and notes the error on the component).
_EXPANSION_ERRORS = (ValueError, TypeError, KeyError, AttributeError, OverflowError)
_VITAL = ("DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE", "RECURRENCE-ID")
_CACHE_SIZE = 32

_PARTSTAT = {
    "ACCEPTED": "accepted",
    "DECLINED": "declined",
    "TENTATIVE": "tentative",
    "NEEDS-ACTION": "needsAction",
}


#: Outlook's "Show as" (X-MICROSOFT-CDO-BUSYSTATUS): free and away map to the
#: Calendar API's fields for the same thing.
_FREE_STATUSES = frozenset({"FREE"})
_AWAY_STATUSES = frozenset({"OOF"})


def _free_and_type(component: Any) -> tuple[bool, str]:
    """(marked free, Calendar API eventType) from TRANSP and Outlook's busy status."""
    busy = _text(component, "X-MICROSOFT-CDO-BUSYSTATUS").strip().upper()
    free = _text(component, "TRANSP").strip().upper() == "TRANSPARENT" or busy in _FREE_STATUSES
    return free, "outOfOffice" if busy in _AWAY_STATUSES else "default"


class IcsFileError(CalendarUnavailable):
    """The .ics file is missing, too large or not iCalendar; the message says which."""


@dataclass(frozen=True, slots=True)
class SkippedEvent:
    """An event of the file that is not (or not wholly) in the listing, and why.

    `reason` is a stable code (no_uid, bad_dtstart, bad_rrule, bad_exdate, ...,
    recurs_more_than_hourly, too_many_steps, too_many_occurrences, file_limit,
    bad_recurrence); `detail` says more for a person reading the import report.
    """

    uid: str
    summary: str
    reason: str
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        return {
            "uid": self.uid,
            "summary": self.summary[:120],
            "reason": self.reason,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class _Listing:
    window_start: datetime
    #: Every instance in the window, cancelled ones included, in a stable order.
    events: tuple[dict[str, Any], ...]

    @property
    def versions(self) -> dict[str, str]:
        return {e["id"]: e["etag"] for e in self.events}

    @property
    def digest(self) -> str:
        h = hashlib.sha256()
        for event_id, etag in sorted(self.versions.items()):
            h.update(f"{event_id}\x1f{etag}\x1e".encode())
        return h.hexdigest()[:32]

    @property
    def token(self) -> str:
        return f"ics1.{int(self.window_start.timestamp())}.{self.digest}"


class _Snapshots:
    """Listings this process issued tokens for: token -> {event id: etag}."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: OrderedDict[tuple[str, str], dict[str, str]] = OrderedDict()

    def remember(self, path: str, listing: _Listing) -> None:
        with self._lock:
            self._data[(path, listing.token)] = listing.versions
            self._data.move_to_end((path, listing.token))
            while len(self._data) > _CACHE_SIZE:
                self._data.popitem(last=False)

    def recall(self, path: str, token: str) -> dict[str, str] | None:
        with self._lock:
            return self._data.get((path, token))

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


_SNAPSHOTS = _Snapshots()


def forget_snapshots() -> None:
    """Forget every issued token's listing, as a process restart does (tests, tools)."""
    _SNAPSHOTS.clear()


def _event_id(uid: str) -> str:
    """A Calendar-style id (base32hex alphabet, here its hex subset) stable per UID."""
    return hashlib.sha256(uid.encode()).hexdigest()[:26]


def _zone_name(value: datetime, fallback: str) -> str:
    key = getattr(value.tzinfo, "key", None)
    if isinstance(key, str):
        return key
    if value.tzinfo is not None and value.utcoffset() == timedelta(0):
        return "UTC"
    return fallback


def _as_aware(value: datetime, fallback_tz: str) -> datetime:
    """Floating times (no zone) are read in the calendar's zone, as Calendar does."""
    return value if value.tzinfo is not None else value.replace(tzinfo=ZoneInfo(fallback_tz))


def _shift(value: date | datetime, weeks: int) -> date | datetime:
    """Move by whole weeks of wall-clock time, so 09:00 stays 09:00 across a DST change."""
    if weeks == 0:
        return value
    if isinstance(value, datetime) and value.tzinfo is not None:
        return (value.replace(tzinfo=None) + timedelta(weeks=weeks)).replace(tzinfo=value.tzinfo)
    return value + timedelta(weeks=weeks)


def _instant(value: date | datetime, tz: str) -> datetime:
    if isinstance(value, datetime):
        return _as_aware(value, tz)
    return datetime.combine(value, time(0), ZoneInfo(tz))


def _event_time(value: date | datetime, tz: str, zone: str | None = None) -> dict[str, str]:
    if isinstance(value, datetime):
        aware = _as_aware(value, tz)
        return {"dateTime": aware.isoformat(), "timeZone": _zone_name(aware, zone or tz)}
    return {"date": value.isoformat()}


def _email(address: Any) -> str:
    text = str(address or "").strip()
    if text.lower().startswith("mailto:"):
        text = text[7:]
    return text.strip()


def _param(prop: Any, name: str) -> str:
    params = getattr(prop, "params", None) or {}
    value = params.get(name)
    return str(value) if value is not None else ""


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _text(component: Any, name: str) -> str:
    value = component.get(name)
    return str(value) if value is not None else ""


#: The Calendar API holds at most 25 attachments per event.
MAX_ATTACHMENTS = 25


def _attachments(component: Any) -> list[dict[str, str]]:
    """`ATTACH` links (RFC 5545: FMTTYPE, and Google's FILENAME) as the API's `attachments[]`.

    Only https links: inline binary attachments (`VALUE=BINARY`) are not files in
    Drive. The file id is not in an .ics; readers take it from the Drive link.
    """
    out = []
    for prop in _as_list(component.get("ATTACH"))[:MAX_ATTACHMENTS]:
        url = str(prop)
        if not url.startswith("https://") or _param(prop, "VALUE").upper() == "BINARY":
            continue
        item = {"fileUrl": url, "title": _param(prop, "FILENAME") or url}
        if _param(prop, "FMTTYPE"):
            item["mimeType"] = _param(prop, "FMTTYPE")
        out.append(item)
    return out


@dataclass(frozen=True, slots=True)
class CalendarFacts:
    #: The address the file belongs to, or None when the file does not tell.
    owner: str | None
    #: How it was found: "X-WR-CALNAME", "most events (N of M with people)", or why not.
    owner_source: str
    time_zone: str
    #: "X-WR-TIMEZONE", "TZID (N of M events)", "Windows zone ... (N of M events)", "default".
    time_zone_source: str


def _iana(name: str) -> str | None:
    """An IANA zone for a TZID: itself, or a Windows name through CLDR's table."""
    from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

    name = name.strip().strip('"')
    for candidate in (name, WINDOWS_TO_OLSON.get(name, "")):
        if not candidate or candidate.startswith(("/", ".")):
            continue
        try:
            ZoneInfo(candidate)
        except (ZoneInfoNotFoundError, ValueError):
            continue
        return candidate
    return None


def zone_of(calendar: Any) -> tuple[str | None, str]:
    """The calendar's own zone and where it came from.

    X-WR-TIMEZONE (Google, Apple) first; else the zone most events start in,
    by their DTSTART's TZID, Windows names ("W. Europe Standard Time", as
    Outlook writes them) mapped to IANA through the CLDR table icalendar
    ships. UTC start times say nothing about the user and are not counted.
    """
    declared = _text(calendar, "X-WR-TIMEZONE").strip()
    if declared and _iana(declared) == declared:
        return declared, "X-WR-TIMEZONE"
    counts: dict[str, int] = {}
    raw_names: dict[str, str] = {}
    events = 0
    for component in calendar.walk("VEVENT"):
        events += 1
        tzid = _param(component.get("DTSTART"), "TZID")
        zone = _iana(tzid) if tzid else None
        if zone is None:
            continue
        counts[zone] = counts.get(zone, 0) + 1
        raw_names.setdefault(zone, tzid.strip().strip('"'))
    if not counts:
        return None, "default"
    zone = max(sorted(counts), key=lambda z: counts[z])
    raw = raw_names[zone]
    how = "TZID" if raw == zone else f"Windows zone {raw!r}"
    return zone, f"{how} ({counts[zone]} of {events} events)"


def _is_email(text: str) -> bool:
    local, at, domain = text.partition("@")
    return bool(at and local and "." in domain and not any(c.isspace() for c in text))


def owner_of(calendar: Any) -> tuple[str | None, str]:
    """Whose calendar this is: X-WR-CALNAME when it is an address (Google's exports
    name the calendar after its owner), else the person on most events with people.

    A tie at the top decides by who organises more, then says so: a file of
    one-to-ones with a single colleague cannot tell the two apart.
    """
    name = _text(calendar, "X-WR-CALNAME").strip()
    if _is_email(name):
        return name.lower(), "X-WR-CALNAME"
    seen: dict[str, int] = {}
    organised: dict[str, int] = {}
    uids: set[str] = set()
    with_people = 0
    for component in calendar.walk("VEVENT"):
        uid = _text(component, "UID")
        if uid and uid in uids:
            continue  # a series' overrides are the same meeting
        uids.add(uid)
        organizer = _email(component.get("ORGANIZER")).lower()
        people = {organizer} if _is_email(organizer) else set()
        for prop in _as_list(component.get("ATTENDEE")):
            email = _email(prop).lower()
            if _is_email(email) and _param(prop, "CUTYPE").upper() not in ("ROOM", "RESOURCE"):
                people.add(email)
        if not people:
            continue
        with_people += 1
        for person in people:
            seen[person] = seen.get(person, 0) + 1
        if organizer in people:
            organised[organizer] = organised.get(organizer, 0) + 1
    if not seen:
        return None, "no event names its people"
    ranked = sorted(seen, key=lambda p: (-seen[p], -organised.get(p, 0), p))
    owner = ranked[0]
    how = f"most events ({seen[owner]} of {with_people} with people)"
    if len(ranked) > 1 and seen[ranked[1]] == seen[owner]:
        how += f"; tied with {ranked[1]}"
    return owner, how


class IcsCalendarSource(CalendarSource):
    """One .ics file as the calendar of one local user (`self_email`)."""

    def __init__(
        self,
        path: Path | str,
        *,
        self_email: str,
        clock: Clock | None = None,
        default_tz: str = "UTC",
        horizon: timedelta = HORIZON,
    ) -> None:
        self.path = Path(path)
        #: How far ahead of today instances are listed (the sync's horizon setting).
        self.horizon = horizon
        self.self_email = self_email.strip().lower()
        self._clock: Clock = clock or SystemClock()
        try:
            ZoneInfo(default_tz)
        except (ZoneInfoNotFoundError, ValueError):
            default_tz = "UTC"
        self._default_tz = default_tz
        #: Listings computed (one per page request); for tests and reports.
        self.calls = 0
        #: What the last listing left out, and why (the import report shows it).
        self.skipped: tuple[SkippedEvent, ...] = ()

    # ------------------------------------------------------------------ port
    def list_events(
        self,
        calendar_id: str,
        *,
        sync_token: str | None = None,
        page_token: str | None = None,
        time_min: datetime | None = None,
        time_max: datetime | None = None,
    ) -> EventPage:
        if sync_token is not None and (time_min is not None or time_max is not None):
            raise ValueError("time_min and time_max cannot be combined with a sync token")
        self.calls += 1
        now = self._clock.now()
        if sync_token is not None:
            window_start = self._window_of(sync_token, now)
        else:
            window_start = time_min or now - DEFAULT_LOOKBACK
        listing = self._listing(window_start, now, time_max)
        if sync_token is None:
            items = [e for e in listing.events if e.get("status") != "cancelled"]
        else:
            items = self._changes(sync_token, listing)
        offset = self._offset(page_token, listing)
        page = items[offset : offset + MAX_PAGE_SIZE]
        if offset + MAX_PAGE_SIZE < len(items):
            return EventPage(page, next_page_token=f"{listing.digest}:{offset + MAX_PAGE_SIZE}")
        _SNAPSHOTS.remember(str(self.path), listing)
        return EventPage(page, next_sync_token=listing.token)

    def get_event(self, calendar_id: str, event_id: str) -> Event:
        self.calls += 1
        now = self._clock.now()
        for event in self._listing(now - TOKEN_MAX_AGE, now).events:
            if event["id"] == event_id:
                return event
        raise EventNotFound("no such event in the .ics file")

    # ------------------------------------------------------------------ tokens
    @staticmethod
    def _window_of(token: str, now: datetime) -> datetime:
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != "ics1" or not parts[1].isdigit():
            raise SyncTokenExpired("not a token this source issued")
        window_start = datetime.fromtimestamp(int(parts[1]), UTC)
        if window_start < now - TOKEN_MAX_AGE:
            raise SyncTokenExpired("token too old")
        return window_start

    def _changes(self, token: str, listing: _Listing) -> list[dict[str, Any]]:
        if token == listing.token:
            return []
        before = _SNAPSHOTS.recall(str(self.path), token)
        if before is None:
            raise SyncTokenExpired("token unknown to this process")
        now = listing.versions
        changed = [e for e in listing.events if before.get(e["id"]) != e["etag"]]
        gone = [
            {
                "kind": "calendar#event",
                "id": event_id,
                "status": "cancelled",
                "etag": '"' + hashlib.sha256(f"gone:{etag}".encode()).hexdigest()[:20] + '"',
            }
            for event_id, etag in sorted(before.items())
            if event_id not in now
        ]
        return changed + gone

    @staticmethod
    def _offset(page_token: str | None, listing: _Listing) -> int:
        if page_token is None:
            return 0
        digest, _, offset = page_token.partition(":")
        if digest != listing.digest or not offset.isdigit():
            # The file changed between pages: start over, as after a 410.
            raise SyncTokenExpired("the file changed while paging")
        return int(offset)

    def time_zone(self) -> str:
        """The calendar's own zone, for a user who has none yet (see `zone_of`)."""
        return self._calendar_zone(self._read())

    def describe(self) -> CalendarFacts:
        """Whose calendar this is and in which zone, read from the file (import report)."""
        calendar = self._read()
        zone, zone_source = zone_of(calendar)
        owner, owner_source = owner_of(calendar)
        return CalendarFacts(
            owner=owner,
            owner_source=owner_source,
            time_zone=zone or self._default_tz,
            time_zone_source=zone_source if zone else "default",
        )

    # ------------------------------------------------------------------ parsing
    def _read(self) -> Any:
        import icalendar

        try:
            size = self.path.stat().st_size
            if size > MAX_ICS_BYTES:
                raise IcsFileError(f"{self.path} is larger than {MAX_ICS_BYTES} bytes")
            raw = self.path.read_bytes()
        except FileNotFoundError:
            raise IcsFileError(f"{self.path} does not exist") from None
        except IsADirectoryError:
            raise IcsFileError(f"{self.path} is a directory") from None
        try:
            return icalendar.Calendar.from_ical(raw)
        except (ValueError, KeyError, IndexError) as exc:
            raise IcsFileError(
                f"{self.path} is not valid iCalendar: {type(exc).__name__}"
            ) from None

    def _listing(
        self, window_start: datetime, now: datetime, time_max: datetime | None = None
    ) -> _Listing:
        calendar = self._read()
        tz = self._calendar_zone(calendar)
        weeks = self._sample_weeks(calendar, now)
        # By day, so the incremental listings that follow end where this one did.
        window_end = datetime.combine(now.date() + self.horizon, time(0), UTC)
        if time_max is not None:
            window_end = min(window_end, time_max)
        recurring = {
            _text(c, "UID")
            for c in calendar.walk("VEVENT")
            if any(c.get(k) is not None for k in ("RRULE", "RDATE", "RECURRENCE-ID"))
        }
        # Expand in the file's own time, then shift; one week of slack either side
        # covers one-off events that roll forward by an extra week.
        lo = window_start - timedelta(weeks=weeks + 1)
        hi = window_end - timedelta(weeks=weeks - 1)
        occurrences, skipped = _expand(calendar, lo, hi, tz)
        self.skipped = tuple(skipped)
        events: dict[str, dict[str, Any]] = {}
        for component in occurrences:
            uid = _text(component, "UID")
            event = self._to_event(
                component, uid, is_series=uid in recurring, tz=tz, weeks=weeks, now=now
            )
            if event is None:
                continue
            start = _instant(_parse_back(event["start"]), tz)
            end = _instant(_parse_back(event["end"]), tz)
            if end <= window_start or start >= window_end:
                continue
            events[event["id"]] = event
        ordered = sorted(events.values(), key=lambda e: (e["_sort"], e["id"]))
        for e in ordered:
            del e["_sort"]
        return _Listing(window_start, tuple(ordered))

    def _calendar_zone(self, calendar: Any) -> str:
        return zone_of(calendar)[0] or self._default_tz

    @staticmethod
    def _sample_weeks(calendar: Any, now: datetime) -> int:
        raw = _text(calendar, SAMPLE_WEEK_PROPERTY).strip()
        if not raw:
            return 0
        try:
            anchor = date.fromisoformat(raw[:10])
        except ValueError:
            return 0
        anchor -= timedelta(days=anchor.weekday())
        today = now.date()
        this_monday = today - timedelta(days=today.weekday())
        return (this_monday - anchor).days // 7

    def _to_event(
        self,
        component: Any,
        uid: str,
        *,
        is_series: bool,
        tz: str,
        weeks: int,
        now: datetime,
    ) -> dict[str, Any] | None:
        start_raw = component.decoded("DTSTART", None)
        if not isinstance(start_raw, date):
            return None
        try:
            end_raw = component.end
        except (ValueError, KeyError, AttributeError):
            end_raw = None
        if not isinstance(end_raw, date) or type(end_raw) is not type(start_raw):
            end_raw = (
                start_raw + timedelta(days=1) if not isinstance(start_raw, datetime) else start_raw
            )
        original_raw = start_raw
        recurrence_id = component.get("RECURRENCE-ID")
        if is_series and recurrence_id is not None:
            original_raw = getattr(recurrence_id, "dt", start_raw)
        shift = weeks
        if weeks and not is_series and _instant(_shift(end_raw, shift), tz) <= now:
            shift += 1  # a one-off sample event already over: show next week's
        start, end, original = (_shift(v, shift) for v in (start_raw, end_raw, original_raw))
        # A zone built from the file's VTIMEZONE has no IANA key: name it from its
        # TZID (Outlook's "Pacific Standard Time" -> America/Los_Angeles) rather
        # than claim the calendar's own zone for it.
        zone = _iana(_param(component.get("DTSTART"), "TZID")) or tz

        base = _event_id(uid)
        event: dict[str, Any] = {
            "kind": "calendar#event",
            "id": base,
            "status": (_text(component, "STATUS").lower() or "confirmed"),
            "summary": _text(component, "SUMMARY"),
            "description": _text(component, "DESCRIPTION"),
            "location": _text(component, "LOCATION"),
            "start": _event_time(start, tz, zone),
            "end": _event_time(end, tz, zone),
            "iCalUID": uid,
        }
        free, event_type = _free_and_type(component)
        event["eventType"] = event_type
        if free:  # like the API: the field is left out when it has its default, opaque
            event["transparency"] = "transparent"
        if event["status"] not in ("confirmed", "tentative", "cancelled"):
            event["status"] = "confirmed"
        if is_series:
            if isinstance(original, datetime):
                stamp = _as_aware(original, tz).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
            else:
                stamp = original.strftime("%Y%m%d")
            event["id"] = f"{base}_{stamp}"
            event["recurringEventId"] = base
            event["originalStartTime"] = _event_time(original, tz, zone)
        organizer_email = _email(component.get("ORGANIZER"))
        if organizer_email:
            organizer: dict[str, Any] = {"email": organizer_email}
            cn = _param(component.get("ORGANIZER"), "CN")
            if cn:
                organizer["displayName"] = cn
            if organizer_email.lower() == self.self_email:
                organizer["self"] = True
            event["organizer"] = organizer
        attendees = list(self._attendees(component, organizer_email))
        if attendees:
            event["attendees"] = attendees
        files = _attachments(component)
        if files:
            event["attachments"] = files
        link = _text(component, "X-GOOGLE-CONFERENCE") or _text(component, "URL")
        if link.startswith("https://"):
            event["hangoutLink"] = link
        updated = component.decoded("LAST-MODIFIED", None) or component.decoded("DTSTAMP", None)
        if isinstance(updated, datetime):
            event["updated"] = _as_aware(updated, "UTC").astimezone(UTC).isoformat()
        content = json.dumps(event, sort_keys=True, default=str)
        event["etag"] = '"' + hashlib.sha256(content.encode()).hexdigest()[:20] + '"'
        event["_sort"] = _instant(start, tz).timestamp()
        return event

    def _attendees(self, component: Any, organizer_email: str) -> Iterable[dict[str, Any]]:
        for prop in _as_list(component.get("ATTENDEE")):
            email = _email(prop)
            if not email:
                continue
            entry: dict[str, Any] = {
                "email": email,
                "responseStatus": _PARTSTAT.get(_param(prop, "PARTSTAT").upper(), "needsAction"),
            }
            cn = _param(prop, "CN")
            if cn:
                entry["displayName"] = cn
            if _param(prop, "CUTYPE").upper() in ("ROOM", "RESOURCE"):
                entry["resource"] = True
            if _param(prop, "ROLE").upper() == "OPT-PARTICIPANT":
                entry["optional"] = True
            if organizer_email and email.lower() == organizer_email.lower():
                entry["organizer"] = True
            if email.lower() == self.self_email:
                entry["self"] = True
            yield entry


def _vet(component: Any, uid: str, hi: datetime) -> tuple[str, str] | None:
    """Why this VEVENT cannot be listed (reason, detail), or None when it can.

    Decided from the component alone, before anything is expanded, so a
    hostile rule costs nothing: the expansion's cost is bounded here.
    """
    if not uid:
        return "no_uid", "an event needs a UID to be tracked across imports"
    errors = {str(name).upper(): str(msg) for name, msg in getattr(component, "errors", ())}
    for name in _VITAL:
        if name in errors:
            return f"bad_{name.lower().replace('-', '_')}", errors[name][:200]
    start = component.decoded("DTSTART", None)
    if not isinstance(start, date):
        return "bad_dtstart", "no DTSTART"
    for rule in _as_list(component.get("RRULE")):
        if not rule:
            continue  # "RRULE:" with nothing after it: no recurrence, as the expander reads it
        shape = _rule_shape(rule)
        if isinstance(shape, str):
            return "bad_rrule", shape
        freq, period, per_period, count, candidates = shape
        per_day = per_period * max(86_400 / period, 1)
        if per_day > MAX_PER_DAY:
            return "recurs_more_than_hourly", f"FREQ={freq} repeats ~{per_day:,.0f} times a day"
        first = _first(start)
        steps = max((hi - first).total_seconds(), 0.0) / period * candidates
        if count is not None:
            steps = min(steps, count * candidates / per_period)
        if steps > MAX_EXPANSION_STEPS:
            return (
                "too_many_steps",
                f"FREQ={freq} from {first.date().isoformat()} needs ~{steps:,.0f} steps "
                f"(limit {MAX_EXPANSION_STEPS:,})",
            )
    return None


def _first(start: date) -> datetime:
    first = start if isinstance(start, datetime) else datetime.combine(start, time(0))
    return first if first.tzinfo is not None else first.replace(tzinfo=UTC)


_DAYS_PER_PERIOD = {"DAILY": 1, "WEEKLY": 7, "MONTHLY": 31, "YEARLY": 366}
_DAY_PARTS = ("BYMONTH", "BYWEEKNO", "BYYEARDAY", "BYMONTHDAY", "BYDAY", "BYSETPOS")


def _rule_shape(rule: Any) -> tuple[str, float, int, int | None, int] | str:
    """(FREQ, seconds per period, instances per period, COUNT, candidates per period)
    or what is wrong.

    Instances: at most one per selected day times the BYHOUR x BYMINUTE x
    BYSECOND combinations. Candidates: what dateutil looks at per period, every
    day of it when a day-level BYxxx part is present (the expansion's cost).
    """

    def values(key: str) -> list[Any]:
        got = rule.get(key) if hasattr(rule, "get") else None
        return list(got) if isinstance(got, list | tuple) else ([] if got is None else [got])

    freq = str((values("FREQ") or [""])[0]).upper()
    if freq not in _FREQ_SECONDS:
        return f"unknown FREQ {freq!r}"
    try:
        interval = max(int((values("INTERVAL") or [1])[0]), 1)
        count = int(values("COUNT")[0]) if values("COUNT") else None
    except (TypeError, ValueError):
        return "INTERVAL and COUNT must be whole numbers"
    per_period = 1
    for key in ("BYHOUR", "BYMINUTE", "BYSECOND"):
        per_period *= max(len(values(key)), 1)
    days = _DAYS_PER_PERIOD.get(freq, 1) if any(values(k) for k in _DAY_PARTS) else 1
    return freq, float(_FREQ_SECONDS[freq] * interval), per_period, count, per_period * days


def _rate(component: Any) -> float:
    """Instances per second an RRULE series produces at most (0: not a rule)."""
    rate = 0.0
    for rule in _as_list(component.get("RRULE")):
        shape = _rule_shape(rule)
        if not isinstance(shape, str):
            rate += shape[2] / shape[1]
    return rate


def _summary_of(components: Sequence[Any]) -> str:
    return next((_text(c, "SUMMARY") for c in components if _text(c, "SUMMARY")), "")


def _expand(
    calendar: Any, lo: datetime, hi: datetime, tz: str
) -> tuple[list[Any], list[SkippedEvent]]:
    """Every instance between lo and hi, series by series, within the caps.

    Each series (one UID: its master and its overrides) is vetted on its
    own, so a bad one is reported by name instead of silently taking nothing
    or everything with it. Its size is estimated from its rule first: a dense
    series is expanded alone and only as far as its cap reaches, a series that
    would take the file past its cap is not expanded at all, and the rest go
    through the expander in one call (retried one series at a time, to name
    the culprit, if that call fails).
    """
    import icalendar
    import recurring_ical_events

    skipped: list[SkippedEvent] = []
    series: dict[str, list[Any]] = {}
    refused: set[str] = set()
    for component in calendar.walk("VEVENT"):
        uid = _text(component, "UID").strip()
        problem = _vet(component, uid, hi)
        if problem is not None:
            skipped.append(SkippedEvent(uid, _text(component, "SUMMARY"), *problem))
            if component.get("RECURRENCE-ID") is None:
                refused.add(uid)  # the master: its overrides go with it
            continue
        series.setdefault(uid, []).append(component)
    zones = list(calendar.walk("VTIMEZONE"))

    def expand(components: Sequence[Any], until: datetime) -> list[Any]:
        one = icalendar.Calendar()
        if calendar.get("X-WR-TIMEZONE") is not None:
            one.add("X-WR-TIMEZONE", calendar.get("X-WR-TIMEZONE"))
        for zone in zones:
            one.add_component(zone)
        for component in components:
            one.add_component(component)
        return list(recurring_ical_events.of(one).between(lo, until))

    def file_limit(uid: str, summary: str) -> SkippedEvent:
        detail = f"the file already gave {MAX_OCCURRENCES_PER_FILE:,} instances"
        return SkippedEvent(uid, summary, "file_limit", detail)

    def by_start(components: list[Any]) -> list[Any]:
        return sorted(components, key=lambda c: _instant(c.decoded("DTSTART"), tz))

    # Plan: how far each series is expanded. A light series (most of them) goes
    # into one batch call with the others; a dense one alone, and only as far
    # as its cap reaches. The file's cap is charged with the estimates first.
    light: list[str] = []
    dense: dict[str, datetime] = {}
    budget = MAX_OCCURRENCES_PER_FILE
    for uid, components in series.items():
        if uid in refused:
            continue
        master = next((c for c in components if c.get("RECURRENCE-ID") is None), components[0])
        rate = _rate(master)
        begin = max(lo, _first(master.decoded("DTSTART")))
        expected = rate * max((hi - begin).total_seconds(), 0.0) + len(components)
        expected = min(expected, MAX_OCCURRENCES_PER_SERIES)
        if expected > budget:
            skipped.append(file_limit(uid, _summary_of(components)))
            continue
        budget -= int(expected)
        if rate and expected >= MAX_OCCURRENCES_PER_SERIES:
            dense[uid] = min(hi, begin + timedelta(seconds=MAX_OCCURRENCES_PER_SERIES / rate))
        else:
            light.append(uid)
    found: dict[str, list[Any]] = {}
    try:
        for component in expand([c for uid in light for c in series[uid]], hi):
            found.setdefault(_text(component, "UID").strip(), []).append(component)
    except _EXPANSION_ERRORS:
        # Someone's series breaks the expander: find whose, one series at a time.
        found.clear()
        for uid in light:
            try:
                found[uid] = expand(series[uid], hi)
            except _EXPANSION_ERRORS as exc:
                summary = _summary_of(series[uid])
                skipped.append(SkippedEvent(uid, summary, "bad_recurrence", type(exc).__name__))
    for uid, until in dense.items():
        try:
            found[uid] = expand(series[uid], until)
        except _EXPANSION_ERRORS as exc:
            summary = _summary_of(series[uid])
            skipped.append(SkippedEvent(uid, summary, "bad_recurrence", type(exc).__name__))
    out: list[Any] = []
    for uid, components in series.items():
        instances = found.get(uid)
        if not instances:
            continue
        if uid in dense or len(instances) > MAX_OCCURRENCES_PER_SERIES:
            instances = by_start(instances)[:MAX_OCCURRENCES_PER_SERIES]
            last = _instant(instances[-1].decoded("DTSTART"), tz)
            detail = (
                f"at most {MAX_OCCURRENCES_PER_SERIES} instances per series: "
                f"listed until {last.date().isoformat()}"
            )
            skipped.append(
                SkippedEvent(uid, _summary_of(components), "too_many_occurrences", detail)
            )
        if len(out) + len(instances) > MAX_OCCURRENCES_PER_FILE:
            skipped.append(file_limit(uid, _summary_of(components)))
            continue
        out.extend(instances)
    return out, skipped


def _parse_back(value: Mapping[str, str]) -> date | datetime:
    if "dateTime" in value:
        return datetime.fromisoformat(value["dateTime"])
    return date.fromisoformat(value["date"])


def list_all(source: CalendarSource, calendar_id: str, **kwargs: Any) -> Sequence[Event]:
    """Every event of one listing, following page tokens (small helper for tools and tests)."""
    out: list[Event] = []
    page = source.list_events(calendar_id, **kwargs)
    out.extend(page.events)
    while page.next_page_token:
        page = source.list_events(calendar_id, page_token=page.next_page_token, **kwargs)
        out.extend(page.events)
    return out
