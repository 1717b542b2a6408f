"""Events that need no prep, as the two calendar sources describe them.

Calendar marks them with `transparency` ("Show me as: Available") and
`eventType` (out of office, focus time, working location); an .ics export
with TRANSP and, from Outlook, X-MICROSOFT-CDO-BUSYSTATUS. Both must reach
the `Meeting`, so the classifier can say "no prep planned" and why.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from functions.calendar.google_api import GoogleCalendarSource
from functions.calendar.ics import IcsCalendarSource, forget_snapshots, list_all
from functions.calendar.mapping import meeting_from_event
from functions.domain.classification import skip_reason
from functions.domain.clock import FixedClock
from functions.domain.prep_state import PrepState
from functions.sync.handlers import handle_sync
from tests.support.fake_calendar import FakeCalendar, fake_calendar, timed_event
from tests.sync.conftest import NOW, World

ALICE = "alice@example.com"
WEDNESDAY = datetime(2026, 3, 11, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_snapshots() -> Iterator[None]:
    forget_snapshots()
    yield
    forget_snapshots()


def _ics(*events: list[str]) -> bytes:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//test//EN"]
    for i, body in enumerate(events):
        lines += ["BEGIN:VEVENT", f"UID:e{i}", "DTSTAMP:20260101T000000Z"]
        lines += [f"DTSTART:202603{12 + i}T090000Z", f"DTEND:202603{12 + i}T100000Z", *body]
        lines += ["END:VEVENT"]
    return ("\r\n".join([*lines, "END:VCALENDAR"]) + "\r\n").encode()


GUESTS = ["ATTENDEE:mailto:you@example.com", "ATTENDEE:mailto:sam@example.com"]


def test_ics_free_away_and_alone_events_reach_the_meeting(tmp_path: Path) -> None:
    path = tmp_path / "cal.ics"
    path.write_bytes(
        _ics(
            ["SUMMARY:Review", *GUESTS],
            ["SUMMARY:Optional talk", "TRANSP:TRANSPARENT", *GUESTS],
            ["SUMMARY:Busy", "TRANSP:OPAQUE", *GUESTS],
            ["SUMMARY:Tentative", "X-MICROSOFT-CDO-BUSYSTATUS:FREE", *GUESTS],
            ["SUMMARY:Vacation", "X-MICROSOFT-CDO-BUSYSTATUS:OOF", *GUESTS],
            ["SUMMARY:Focus"],
            ["SUMMARY:Lunch", "ATTENDEE:mailto:you@example.com"],
        )
    )
    source = IcsCalendarSource(path, self_email="you@example.com", clock=FixedClock(WEDNESDAY))
    events = {e["summary"]: e for e in list_all(source, "primary")}
    # Like the API: eventType always there, transparency only when not the default.
    assert {e["eventType"] for e in events.values()} == {"default", "outOfOffice"}
    assert "transparency" not in events["Review"] and "transparency" not in events["Busy"]
    assert events["Optional talk"]["transparency"] == "transparent"
    meetings = {
        title: meeting_from_event(e, user_id="u1", calendar_id="primary")
        for title, e in events.items()
    }
    reasons = {title: skip_reason(m) for title, m in meetings.items()}
    assert reasons == {
        "Review": None,
        "Optional talk": "free",
        "Busy": None,
        "Tentative": "free",
        "Vacation": "out_of_office",
        "Focus": "no_guests",
        "Lunch": "no_guests",
    }
    assert meetings["Vacation"].event_type == "outOfOffice"
    assert meetings["Optional talk"].transparency == "transparent"


@pytest.fixture
def fake() -> Iterator[FakeCalendar]:
    with fake_calendar() as server:
        server.now = NOW
        yield server


def test_calendar_api_transparency_and_event_type_reach_the_meeting(fake: FakeCalendar) -> None:
    grant = fake.add_user(ALICE)
    source = GoogleCalendarSource(fake.credentials(grant), api_endpoint=fake.api_endpoint)
    people = (ALICE, "sam@example.com")
    at = NOW + timedelta(hours=3)
    fake.put_event(ALICE, timed_event("plain", at, attendees=people))
    fake.put_event(ALICE, timed_event("free", at, attendees=people, transparency="transparent"))
    fake.put_event(ALICE, timed_event("focus", at, eventType="focusTime"))
    fake.put_event(ALICE, timed_event("where", at, eventType="workingLocation"))
    page = source.list_events("primary", time_min=NOW)
    events = {e["id"]: e for e in page.events}
    assert events["plain"]["eventType"] == "default"  # the API always says which type
    assert "transparency" not in events["plain"]
    meetings = {
        k: meeting_from_event(e, user_id="u1", calendar_id="primary") for k, e in events.items()
    }
    assert {k: (m.transparency, m.event_type) for k, m in meetings.items()} == {
        "plain": ("opaque", "default"),
        "free": ("transparent", "default"),
        "focus": ("opaque", "focusTime"),
        "where": ("opaque", "workingLocation"),
    }
    assert {k: skip_reason(m) for k, m in meetings.items()} == {
        "plain": None,
        "free": "free",
        "focus": "focus_time",
        "where": "working_location",
    }


def test_unknown_or_hostile_values_fall_back_to_a_busy_ordinary_event() -> None:
    raw = {
        "id": "x",
        "start": {"dateTime": "2026-03-12T09:00:00Z"},
        "end": {"dateTime": "2026-03-12T10:00:00Z"},
        "transparency": "TRANSPARENT; DROP TABLE",
        "eventType": "../../etc",
    }
    m = meeting_from_event(raw, user_id="u1", calendar_id="primary")
    assert (m.transparency, m.event_type) == ("opaque", "default")


def test_a_focus_block_the_user_prepared_anyway_survives_later_syncs(world: World) -> None:
    """The sidebar's "Prepare anyway" on a focus block must not be undone by the next sync.

    Calendar lists focus time, out of office and working location with the
    meetings; the sync stores none of them unless the user already has them
    (opened in the sidebar and prepared), and then plans them like any
    meeting: the prep the user asked for stays.
    """
    world.add_user("alice", ALICE)
    at = NOW + timedelta(days=2)
    focus = world.fake.put_event(
        ALICE, timed_event("focus", at, summary="Deep work", eventType="focusTime")
    )
    world.fake.put_event(ALICE, timed_event("away", at, summary="Away", eventType="outOfOffice"))
    opened = meeting_from_event(focus, user_id="alice", calendar_id="primary")
    world.db.upsert_meetings(
        [dataclasses.replace(opened, prep_state=PrepState.READY, materials_ref="m/focus")]
    )

    for _ in range(2):  # the first (full) sync, then an incremental one
        handle_sync(world.services, {"user_id": "alice"})
        world.clock.advance(timedelta(minutes=15))

    stored = world.db.get_meetings("alice", ["focus", "away"])
    assert set(stored) == {"focus"}  # the one nobody asked about is not stored
    kept = stored["focus"]
    assert (kept.prep_state, kept.materials_ref) == (PrepState.READY, "m/focus")
    assert kept.skip_reason == "focus_time" and kept.prep_trigger_at is None
