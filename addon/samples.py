"""A few sample meetings for local mode, so the card preview has something to show.

They are Calendar API `Event` JSON run through the same mapping and planning
as synced events (one is recurring, one has a hostile title), stored for the
local user under fixed ids: adding them twice refreshes them, nothing more.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from functions.calendar.mapping import meeting_from_event
from functions.domain.meetings import Meeting
from functions.domain.planning import plan_meeting
from functions.domain.users import User

if TYPE_CHECKING:
    from addon.deps import AddonDeps


def _person(email: str, *, me: bool = False, status: str = "accepted") -> dict[str, Any]:
    return {"email": email, "responseStatus": status, **({"self": True} if me else {})}


def sample_events(user: User, now: datetime) -> list[dict[str, Any]]:
    zone = ZoneInfo(user.time_zone)
    today = now.astimezone(zone).date()
    me = _person(user.email or "you@example.com", me=True)
    colleagues = [
        _person(f"{n}@{user.domain or 'example.com'}") for n in ("sam", "kim", "lee", "ana")
    ]

    def at(days: int, hour: int, minutes: int = 60) -> dict[str, Any]:
        start = datetime.combine(today + timedelta(days=days), time(hour), zone)
        end = start + timedelta(minutes=minutes)
        return {
            "start": {"dateTime": start.isoformat(), "timeZone": user.time_zone},
            "end": {"dateTime": end.isoformat(), "timeZone": user.time_zone},
        }

    one_on_one_day = (today + timedelta(days=1)).strftime("%Y%m%d")
    return [
        {
            "id": f"sample-1on1_{one_on_one_day}T090000Z",
            "recurringEventId": "sample-1on1",
            "summary": "Weekly 1:1 with Sam",
            "attendees": [me, colleagues[0]],
            **at(1, 10, 30),
        },
        {
            "id": "sample-incident",
            "summary": "Incident review: SEV2 checkout outage",
            "attendees": [me, *colleagues],
            **at(2, 16),
        },
        {
            "id": "sample-qbr",
            "summary": "Acme QBR",
            "attendees": [
                me,
                colleagues[1],
                _person("cfo@acme.example"),
                _person("ops@acme.example"),
            ],
            **at(3, 14, 90),
        },
        {
            "id": "sample-hostile",
            "summary": "<script>alert('hi')</script> <b>Roadmap</b> & planning",
            "attendees": [me, colleagues[2]],
            **at(4, 11),
        },
        {
            "id": "sample-leadership",
            "summary": "Leadership team sync",
            "attendees": [me, *colleagues],
            **at(5, 9),
        },
        {
            "id": "sample-declined",
            "summary": "Optional vendor demo",
            "attendees": [_person(user.email or "you@example.com", me=True, status="declined")],
            **at(2, 13),
        },
    ]


def add_sample_meetings(services: AddonDeps, user: User) -> list[Meeting]:
    """Store the samples (and the user, if new) and return them, planned."""
    now = services.clock.now()
    if services.store.get_user(user.user_id) is None:
        services.store.put_user(user)
    existing = services.store.get_meetings(
        user.user_id, [e["id"] for e in sample_events(user, now)]
    )
    planned = []
    for event in sample_events(user, now):
        incoming = meeting_from_event(
            event, user_id=user.user_id, calendar_id="primary", default_tz=user.time_zone
        )
        planned.append(
            plan_meeting(
                incoming,
                existing.get(incoming.event_id),
                user=user,
                classifier=services.classifier,
                now=now,
            )
        )
    services.store.upsert_meetings(planned)
    return planned
