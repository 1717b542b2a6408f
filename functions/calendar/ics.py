"""The embedded default's calendar: an .ics file, served as if it were the Calendar API.

`IcsCalendarSource` turns iCalendar (RFC 5545) into Calendar-API-shaped event
JSON, expands recurrences the way `singleEvents=true` does, and emulates sync
tokens, so the local product runs the very same sync code as production
(paging, incremental listing, cancellations, even 410):

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

#: Recurrences are expanded this far ahead of now; the window end advances by day.
HORIZON = timedelta(days=60)
#: Default window start for a listing without time_min or token.
DEFAULT_LOOKBACK = timedelta(days=1)
#: Older tokens answer 410, so the expansion window cannot grow without bound.
TOKEN_MAX_AGE = timedelta(days=28)
#: A calendar export this large is almost certainly not what the user meant to load.
MAX_ICS_BYTES = 32 * 1024 * 1024
SAMPLE_WEEK_PROPERTY = "X-PREP-SAMPLE-WEEK"
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


def _event_time(value: date | datetime, tz: str) -> dict[str, str]:
    if isinstance(value, datetime):
        aware = _as_aware(value, tz)
        return {"dateTime": aware.isoformat(), "timeZone": _zone_name(aware, tz)}
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


class IcsCalendarSource(CalendarSource):
    """One .ics file as the calendar of one local user (`self_email`)."""

    def __init__(
        self,
        path: Path | str,
        *,
        self_email: str,
        clock: Clock | None = None,
        default_tz: str = "UTC",
    ) -> None:
        self.path = Path(path)
        self.self_email = self_email.strip().lower()
        self._clock: Clock = clock or SystemClock()
        try:
            ZoneInfo(default_tz)
        except (ZoneInfoNotFoundError, ValueError):
            default_tz = "UTC"
        self._default_tz = default_tz
        #: Listings computed (one per page request); for tests and reports.
        self.calls = 0

    # ------------------------------------------------------------------ port
    def list_events(
        self,
        calendar_id: str,
        *,
        sync_token: str | None = None,
        page_token: str | None = None,
        time_min: datetime | None = None,
    ) -> EventPage:
        if sync_token is not None and time_min is not None:
            raise ValueError("time_min cannot be combined with a sync token")
        self.calls += 1
        now = self._clock.now()
        if sync_token is not None:
            window_start = self._window_of(sync_token, now)
        else:
            window_start = time_min or now - DEFAULT_LOOKBACK
        listing = self._listing(window_start, now)
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
        """The calendar's own zone (X-WR-TIMEZONE), for a user who has none yet."""
        return self._calendar_zone(self._read())

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

    def _listing(self, window_start: datetime, now: datetime) -> _Listing:
        import recurring_ical_events

        calendar = self._read()
        tz = self._calendar_zone(calendar)
        weeks = self._sample_weeks(calendar, now)
        window_end = datetime.combine(now.date() + HORIZON, time(0), UTC)
        recurring = {
            _text(c, "UID")
            for c in calendar.walk("VEVENT")
            if any(c.get(k) is not None for k in ("RRULE", "RDATE", "RECURRENCE-ID"))
        }
        # Expand in the file's own time, then shift; one week of slack either side
        # covers one-off events that roll forward by an extra week.
        lo = window_start - timedelta(weeks=weeks + 1)
        hi = window_end - timedelta(weeks=weeks - 1)
        try:
            occurrences = recurring_ical_events.of(calendar, skip_bad_series=True).between(lo, hi)
        except (ValueError, TypeError, KeyError) as exc:
            raise IcsFileError(f"{self.path}: bad recurrence ({type(exc).__name__})") from None
        events: dict[str, dict[str, Any]] = {}
        for component in occurrences:
            uid = _text(component, "UID")
            if not uid:
                continue
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
        name = _text(calendar, "X-WR-TIMEZONE") or self._default_tz
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            return self._default_tz
        return name

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

        base = _event_id(uid)
        event: dict[str, Any] = {
            "kind": "calendar#event",
            "id": base,
            "status": (_text(component, "STATUS").lower() or "confirmed"),
            "summary": _text(component, "SUMMARY"),
            "description": _text(component, "DESCRIPTION"),
            "location": _text(component, "LOCATION"),
            "start": _event_time(start, tz),
            "end": _event_time(end, tz),
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
            event["originalStartTime"] = _event_time(original, tz)
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
