"""Calendar API `Event` JSON -> `Meeting`.

Defensive on purpose: events come from other people's calendars, so any field
may be missing, oddly typed or hostile. Titles and descriptions are kept as
plain data (escaping happens where they are rendered), but bounded in size so
one pathological event cannot bloat the store or a prompt: with every field
at its bound, a meeting's Firestore document stays far below the 1 MiB limit
(tests/contract checks the largest event this lets through).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, time
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from functions.domain.meetings import (
    Attachment,
    Attendee,
    EventStatus,
    Meeting,
    ResponseStatus,
)

MAX_TITLE = 500
MAX_DESCRIPTION = 8000
MAX_ATTENDEES = 200
#: Calendar's own ids are at most 1024 characters (base32hex); an .ics UID can be
#: anything. In bytes, so a stored id stays whole in Firestore's indexes (1,500 bytes).
MAX_ID_BYTES = 1024
#: Longest link kept (conference, attachment, the event's own `htmlLink`).
MAX_LINK = 2048


class UnusableEvent(ValueError):
    """The event lacks what a meeting needs (an id or a start)."""


def _zone(name: str | None, fallback: str) -> str:
    for candidate in (name, fallback):
        if candidate:
            try:
                ZoneInfo(candidate)
                return candidate
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return "UTC"


def _when(value: Any, tz_name: str) -> tuple[datetime, bool]:
    """Parse an EventDateTime; returns (aware datetime, is_all_day)."""
    if not isinstance(value, Mapping):
        raise UnusableEvent("event time is missing")
    if isinstance(value.get("dateTime"), str):
        try:
            parsed = datetime.fromisoformat(value["dateTime"].replace("Z", "+00:00"))
        except ValueError:
            raise UnusableEvent("event time is malformed") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=ZoneInfo(_zone(value.get("timeZone"), tz_name)))
        return parsed, False
    if isinstance(value.get("date"), str):
        try:
            day = datetime.fromisoformat(value["date"]).date()
        except ValueError:
            raise UnusableEvent("event date is malformed") from None
        return datetime.combine(day, time(0), ZoneInfo(tz_name)), True
    raise UnusableEvent("event time has neither dateTime nor date")


def _text(value: Any, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _attendee(raw: Any) -> Attendee | None:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("email"), str):
        return None
    return Attendee(
        email=raw["email"][:320],
        display_name=_text(raw.get("displayName"), 200),
        response_status=ResponseStatus.parse(raw.get("responseStatus")),
        organizer=raw.get("organizer") is True,
        is_self=raw.get("self") is True,
        resource=raw.get("resource") is True,
        optional=raw.get("optional") is True,
    )


def _transparency(event: Mapping[str, Any]) -> str:
    """Only the documented "transparent" marks an event free; anything else is busy."""
    return "transparent" if event.get("transparency") == "transparent" else "opaque"


def _event_type(event: Mapping[str, Any]) -> str:
    value = event.get("eventType")
    return value if isinstance(value, str) and value.isalnum() and len(value) <= 40 else "default"


def _conference_link(event: Mapping[str, Any]) -> str | None:
    data = event.get("conferenceData")
    if isinstance(data, Mapping):
        for entry in data.get("entryPoints") or []:
            if isinstance(entry, Mapping) and entry.get("entryPointType") == "video":
                uri = entry.get("uri")
                if _bounded_https(uri):
                    return str(uri)
    link = event.get("hangoutLink")
    return link if _bounded_https(link) else None


def _bounded_https(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("https://") and len(value) <= MAX_LINK


#: Where Calendar's `htmlLink` points (www.google.com/calendar/event?eid=...).
_CALENDAR_HOSTS = frozenset({"www.google.com", "calendar.google.com"})


def _html_link(value: Any) -> str | None:
    """Calendar's link to the event, if it is one: an https URL on Calendar's hosts.

    It is shown as "Open in Calendar" in emails and Chat, so anything else
    (another host, another scheme, an oversized value) is dropped rather than
    sent on.
    """
    if not isinstance(value, str) or len(value) > MAX_LINK:
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    ok = parts.scheme == "https" and parts.hostname in _CALENDAR_HOSTS and not parts.username
    return value if ok and parts.port is None else None


def _attachments(event: Mapping[str, Any]) -> tuple[Attachment, ...]:
    out = []
    for raw in event.get("attachments") or []:
        if isinstance(raw, Mapping) and isinstance(raw.get("fileUrl"), str):
            url = raw["fileUrl"]
            if _bounded_https(url):
                out.append(
                    Attachment(
                        _text(raw.get("title"), 300),
                        url,
                        _text(raw.get("mimeType"), 100),
                        _text(raw.get("fileId"), 200),
                    )
                )
    return tuple(out[:20])


def meeting_from_event(
    event: Mapping[str, Any], *, user_id: str, calendar_id: str, default_tz: str = "UTC"
) -> Meeting:
    """Build a `Meeting` with default prep fields; classification fills them in later.

    Cancelled events from an incremental sync may carry only `id` and
    `status`; they come back as cancelled meetings with placeholder times,
    which callers use only to find and cancel what they stored.
    """
    event_id = event.get("id")
    if not isinstance(event_id, str) or not event_id:
        raise UnusableEvent("event has no id")
    if len(event_id.encode("utf-8")) > MAX_ID_BYTES:
        raise UnusableEvent("event id is too long")
    status = EventStatus.parse(
        event.get("status") if isinstance(event.get("status"), str) else None
    )
    tz_name = _zone(None, default_tz)
    start_raw = event.get("start")
    if status is EventStatus.CANCELLED and not isinstance(start_raw, Mapping):
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        return Meeting(
            user_id=user_id,
            event_id=event_id,
            calendar_id=calendar_id,
            title="",
            start=epoch,
            end=epoch,
            status=status,
            series_id=event.get("recurringEventId")
            if isinstance(event.get("recurringEventId"), str)
            else None,
            version=_text(event.get("etag"), 200),
        )
    if isinstance(start_raw, Mapping):
        tz_name = _zone(start_raw.get("timeZone"), default_tz)
    start, all_day = _when(start_raw, tz_name)
    end, _ = _when(event.get("end", start_raw), tz_name)
    end = max(end, start)
    attendees = tuple(
        a for a in (_attendee(r) for r in (event.get("attendees") or [])[:MAX_ATTENDEES]) if a
    )
    organizer = event.get("organizer")
    organizer_email = organizer.get("email", "") if isinstance(organizer, Mapping) else ""
    series = event.get("recurringEventId")
    if isinstance(series, str) and len(series.encode("utf-8")) > MAX_ID_BYTES:
        series = None
    return Meeting(
        user_id=user_id,
        event_id=event_id,
        calendar_id=calendar_id,
        title=_text(event.get("summary"), MAX_TITLE),
        description=_text(event.get("description"), MAX_DESCRIPTION),
        start=start,
        end=end,
        time_zone=tz_name,
        series_id=series if isinstance(series, str) and series else None,
        status=status,
        all_day=all_day,
        attendees=attendees,
        organizer_email=_text(organizer_email, 320),
        conference_link=_conference_link(event),
        html_link=_html_link(event.get("htmlLink")),
        attachments=_attachments(event),
        version=_text(event.get("etag"), 200) or _text(event.get("updated"), 64),
        transparency=_transparency(event),
        event_type=_event_type(event),
    )
