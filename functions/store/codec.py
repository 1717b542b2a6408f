"""Domain objects <-> plain dicts, shared by every store adapter.

Every field is always written, `None` included. That makes a write a full
replace even on a backend (or emulator) that merges on `set`, and it keeps
both adapters byte-for-byte compatible. Datetimes are UTC ISO-8601 strings of
one fixed shape, so they sort as text and range queries work on any backend.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from functions.domain.followups import (
    DEFAULT_FOLLOWUP_TYPES,
    ActionItem,
    FollowUp,
    FollowupMode,
)
from functions.domain.meetings import (
    Attachment,
    Attendee,
    EventStatus,
    Meeting,
    ResponseStatus,
)
from functions.domain.prep_state import PrepState
from functions.domain.sent_messages import SentMessage
from functions.domain.sync_state import SyncState
from functions.domain.users import (
    DEFAULT_DIGEST_TIME,
    DEFAULT_WORKING_DAYS,
    ConnectionState,
    ContextSource,
    DeliveryMode,
    Preferences,
    QuietHours,
    User,
)

Doc = dict[str, Any]


def ts(value: datetime | None) -> str | None:
    """Fixed-width UTC text, so lexical order is time order."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_ts(value: str | None) -> datetime | None:
    if value is None:
        return None
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _req_ts(value: str) -> datetime:
    parsed = parse_ts(value)
    assert parsed is not None
    return parsed


def meeting_to_doc(m: Meeting) -> Doc:
    return {
        "user_id": m.user_id,
        "event_id": m.event_id,
        "calendar_id": m.calendar_id,
        "title": m.title,
        "description": m.description,
        "start": ts(m.start),
        "end": ts(m.end),
        "time_zone": m.time_zone,
        "series_id": m.series_id,
        "status": m.status.value,
        "all_day": m.all_day,
        "attendees": [
            {
                "email": a.email,
                "display_name": a.display_name,
                "response_status": a.response_status.value,
                "organizer": a.organizer,
                "is_self": a.is_self,
                "resource": a.resource,
                "optional": a.optional,
            }
            for a in m.attendees
        ],
        "organizer_email": m.organizer_email,
        "conference_link": m.conference_link,
        "html_link": m.html_link,
        "attachments": [
            {"title": a.title, "url": a.url, "mime_type": a.mime_type, "file_id": a.file_id}
            for a in m.attachments
        ],
        "version": m.version,
        "transparency": m.transparency,
        "event_type": m.event_type,
        "meeting_type": m.meeting_type,
        "prep_trigger_at": ts(m.prep_trigger_at),
        "prep_state": m.prep_state.value,
        "materials_ref": m.materials_ref,
        "skip_reason": m.skip_reason,
        "generating_since": ts(m.generating_since),
        "followup": followup_to_doc(m.followup),
        "updated_at": ts(m.updated_at),
    }


def followup_to_doc(f: FollowUp | None) -> Doc | None:
    if f is None:
        return None
    return {
        "asked_at": ts(f.asked_at),
        "channel": f.channel,
        "answered_at": ts(f.answered_at),
        "nothing_to_record": f.nothing_to_record,
        "decisions": list(f.decisions),
        "items": [
            {
                "item_id": i.item_id,
                "text": i.text,
                "owner": i.owner,
                "done": i.done,
                "done_at": ts(i.done_at),
            }
            for i in f.items
        ],
    }


def followup_from_doc(d: object) -> FollowUp | None:
    """Meetings stored before follow-ups existed carry none."""
    if not isinstance(d, dict):
        return None
    return FollowUp(
        asked_at=parse_ts(d.get("asked_at")),
        channel=str(d.get("channel") or ""),
        answered_at=parse_ts(d.get("answered_at")),
        nothing_to_record=bool(d.get("nothing_to_record")),
        decisions=tuple(str(x) for x in d.get("decisions") or ()),
        items=tuple(
            ActionItem(
                item_id=str(i["item_id"]),
                text=str(i.get("text") or ""),
                owner=str(i.get("owner") or ""),
                done=bool(i.get("done")),
                done_at=parse_ts(i.get("done_at")),
            )
            for i in d.get("items") or ()
        ),
    )


def meeting_from_doc(d: Doc) -> Meeting:
    return Meeting(
        user_id=d["user_id"],
        event_id=d["event_id"],
        calendar_id=d["calendar_id"],
        title=d["title"],
        description=d.get("description") or "",
        start=_req_ts(d["start"]),
        end=_req_ts(d["end"]),
        time_zone=d.get("time_zone") or "UTC",
        series_id=d.get("series_id"),
        status=EventStatus.parse(d.get("status")),
        all_day=bool(d.get("all_day")),
        attendees=tuple(
            Attendee(
                email=a["email"],
                display_name=a.get("display_name") or "",
                response_status=ResponseStatus.parse(a.get("response_status")),
                organizer=bool(a.get("organizer")),
                is_self=bool(a.get("is_self")),
                resource=bool(a.get("resource")),
                optional=bool(a.get("optional")),
            )
            for a in d.get("attendees") or []
        ),
        organizer_email=d.get("organizer_email") or "",
        conference_link=d.get("conference_link"),
        html_link=d.get("html_link"),
        attachments=tuple(
            Attachment(a["title"], a["url"], a.get("mime_type") or "", a.get("file_id") or "")
            for a in d.get("attachments") or []
        ),
        version=d.get("version") or "",
        transparency=d.get("transparency") or "opaque",
        event_type=d.get("event_type") or "default",
        meeting_type=d.get("meeting_type") or "default",
        prep_trigger_at=parse_ts(d.get("prep_trigger_at")),
        prep_state=PrepState(d.get("prep_state") or PrepState.NOT_STARTED.value),
        materials_ref=d.get("materials_ref"),
        skip_reason=d.get("skip_reason"),
        generating_since=parse_ts(d.get("generating_since")),
        followup=followup_from_doc(d.get("followup")),
        updated_at=parse_ts(d.get("updated_at")),
    )


def _hm(t: time) -> str:
    return t.strftime("%H:%M")


def user_to_doc(u: User) -> Doc:
    p = u.preferences
    return {
        "user_id": u.user_id,
        "email": u.email,
        "time_zone": u.time_zone,
        "locale": u.locale,
        "connection": u.connection.value,
        "connected": u.connection is ConnectionState.CONNECTED,
        "delivery_problem": u.delivery_problem,
        "created_at": ts(u.created_at),
        "calendar_problems": dict(u.calendar_problems),
        "workspace_domain": u.workspace_domain,
        "preferences": {
            "email_enabled": p.email_enabled,
            "chat_enabled": p.chat_enabled,
            "lead_hours": dict(p.lead_hours),
            "quiet_hours": (
                {"start": _hm(p.quiet_hours.start), "end": _hm(p.quiet_hours.end)}
                if p.quiet_hours
                else None
            ),
            "type_overrides": dict(p.type_overrides),
            "auto_prep_types": sorted(p.auto_prep_types),
            "delivery_mode": p.delivery_mode.value,
            "digest_time": _hm(p.digest_time),
            "delegated_calendars": list(p.delegated_calendars),
            "type_keywords": {k: list(v) for k, v in p.type_keywords.items()},
            "working_days": sorted(p.working_days),
            "context_sources": sorted(s.value for s in p.context_sources),
            "followup_mode": p.followup_mode.value,
            "followup_types": sorted(p.followup_types),
        },
    }


def _delivery_mode(raw: object) -> DeliveryMode:
    """Documents written before digest mode existed (or by a newer version) read as EACH."""
    try:
        return DeliveryMode(str(raw))
    except ValueError:
        return DeliveryMode.EACH


def _working_days(raw: object) -> frozenset[int]:
    """Documents written before working days existed read as Monday to Friday."""
    if not isinstance(raw, list):
        return DEFAULT_WORKING_DAYS
    days = frozenset(d for d in raw if isinstance(d, int) and 0 <= d < 7)
    return days or DEFAULT_WORKING_DAYS


def _context_sources(raw: object) -> frozenset[ContextSource]:
    """Documents written before the switches existed read as none; unknown names are dropped."""
    if not isinstance(raw, list):
        return frozenset()
    known = {s.value for s in ContextSource}
    return frozenset(ContextSource(v) for v in raw if isinstance(v, str) and v in known)


def _followup_mode(raw: object) -> FollowupMode:
    """Documents written before follow-ups existed read as the default (Chat)."""
    try:
        return FollowupMode(str(raw))
    except ValueError:
        return FollowupMode.CHAT


def _followup_types(raw: object) -> frozenset[str]:
    if not isinstance(raw, list):
        return DEFAULT_FOLLOWUP_TYPES
    return frozenset(str(t) for t in raw)


def user_from_doc(d: Doc) -> User:
    p = d.get("preferences") or {}
    qh = p.get("quiet_hours")
    return User(
        user_id=d["user_id"],
        email=d.get("email") or "",
        time_zone=d.get("time_zone") or "UTC",
        locale=d.get("locale") or "en-US",
        connection=ConnectionState(d.get("connection") or ConnectionState.NOT_CONNECTED.value),
        delivery_problem=d.get("delivery_problem"),
        created_at=parse_ts(d.get("created_at")),
        calendar_problems={str(k): str(v) for k, v in (d.get("calendar_problems") or {}).items()},
        workspace_domain=str(d.get("workspace_domain") or ""),
        preferences=Preferences(
            email_enabled=bool(p.get("email_enabled", True)),
            chat_enabled=bool(p.get("chat_enabled", True)),
            lead_hours={k: float(v) for k, v in (p.get("lead_hours") or {}).items()},
            quiet_hours=(
                QuietHours(time.fromisoformat(qh["start"]), time.fromisoformat(qh["end"]))
                if qh
                else None
            ),
            type_overrides=dict(p.get("type_overrides") or {}),
            auto_prep_types=frozenset(p.get("auto_prep_types") or ()),
            delivery_mode=_delivery_mode(p.get("delivery_mode")),
            digest_time=(
                time.fromisoformat(p["digest_time"])
                if p.get("digest_time")
                else DEFAULT_DIGEST_TIME
            ),
            delegated_calendars=tuple(str(c) for c in p.get("delegated_calendars") or ()),
            type_keywords={
                str(k): tuple(str(w) for w in v) for k, v in (p.get("type_keywords") or {}).items()
            },
            working_days=_working_days(p.get("working_days")),
            context_sources=_context_sources(p.get("context_sources")),
            followup_mode=_followup_mode(p.get("followup_mode")),
            followup_types=_followup_types(p.get("followup_types")),
        ),
    )


def sync_state_to_doc(s: SyncState) -> Doc:
    return {
        "user_id": s.user_id,
        "calendar_id": s.calendar_id,
        "sync_token": s.sync_token,
        "last_full_sync_at": ts(s.last_full_sync_at),
        "last_sync_at": ts(s.last_sync_at),
        "channel_id": s.channel_id,
        "channel_resource_id": s.channel_resource_id,
        "channel_expires_at": ts(s.channel_expires_at),
    }


def sync_state_from_doc(d: Doc) -> SyncState:
    return SyncState(
        user_id=d["user_id"],
        calendar_id=d["calendar_id"],
        sync_token=d.get("sync_token"),
        last_full_sync_at=parse_ts(d.get("last_full_sync_at")),
        last_sync_at=parse_ts(d.get("last_sync_at")),
        channel_id=d.get("channel_id"),
        channel_resource_id=d.get("channel_resource_id"),
        channel_expires_at=parse_ts(d.get("channel_expires_at")),
    )


def sent_message_to_doc(m: SentMessage) -> Doc:
    return {
        "user_id": m.user_id,
        "event_id": m.event_id,
        "key": m.key,
        "channel": m.channel,
        "kind": m.kind,
        "name": m.name,
        "start": ts(m.start),
        "sent_at": ts(m.sent_at),
        "shows": m.shows,
    }


def sent_message_from_doc(d: Doc) -> SentMessage:
    return SentMessage(
        user_id=d["user_id"],
        event_id=d["event_id"],
        key=d["key"],
        channel=d["channel"],
        kind=d["kind"],
        name=d.get("name") or "",
        start=_req_ts(d["start"]),
        sent_at=_req_ts(d["sent_at"]),
        shows=d.get("shows") or "",
    )
