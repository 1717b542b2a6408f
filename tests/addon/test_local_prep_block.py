"""Issue 17: "Block 30 min to prepare" can be tried locally.

The local server's own sidebar (local tokens, the .ics calendar) books the block
into `prep-blocks.json` beside the database; the booking logic is the one
production runs against Google Calendar (tests/addon/test_prep_block.py).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from addon.dev_event import event_object, local_email, pick_meeting
from addon.sidebar import Call
from addon.views import BLOCK_TIME
from functions.bootstrap import Bootstrap, set_services
from functions.calendar.writer import Busy, CalendarWriter, EventExists
from functions.domain.meetings import Meeting
from functions.sync.local import LOCAL_USER_ID, LocalCalendars, sync_local
from functions.sync.local_blocks import LocalCalendarWriter, blocks_path
from tests.support.addon_helpers import Client, button_ops, note, only_card
from tests.support.factories import NOW
from tests.support.roots import make_services


@pytest.fixture
def root(tmp_path: Path) -> Iterator[Bootstrap]:
    services = make_services(tmp_path)
    sync_local(services)  # the sample week, for the local user
    set_services(services)
    yield services
    set_services(None)
    services.store.close()


def _post(root: Bootstrap, meeting: Meeting, **params: str) -> dict[str, Any]:
    body = event_object(
        root,
        user_id=LOCAL_USER_ID,
        email=local_email(root, LOCAL_USER_ID),
        meeting=meeting,
        parameters=params or None,
        time_zone="America/New_York",
    )
    return Client(root.sidebar).post(body, authorization=None)


def test_the_local_card_offers_the_block_and_books_it_once(root: Bootstrap) -> None:
    meeting = pick_meeting(root, LOCAL_USER_ID, None)
    card = only_card(_post(root, meeting))
    assert button_ops(card)[BLOCK_TIME] == {"op": "prep_block", "eventId": meeting.event_id}

    first = note(_post(root, meeting, op="prep_block", eventId=meeting.event_id)) or ""
    assert first.startswith("Blocked ") and "(private)" in first
    blocks = json.loads(blocks_path(root.settings.sqlite_path).read_text(encoding="utf-8"))
    [block] = blocks.values()
    assert block["summary"] == f"Prep: {meeting.title}"
    assert block["visibility"] == "private" and block["transparency"] == "opaque"
    start = datetime.fromisoformat(block["start"]["dateTime"])
    assert start.astimezone(UTC) < meeting.start  # before the meeting

    again = note(_post(root, meeting, op="prep_block", eventId=meeting.event_id)) or ""
    assert again.startswith("Your prep time is already booked")
    assert len(json.loads(blocks_path(root.settings.sqlite_path).read_text())) == 1


def test_the_click_books_through_the_writer_the_sidebar_is_handed(
    root: Bootstrap, tmp_path: Path
) -> None:
    """Where the block goes is the root's choice (`Sidebar.block_writer`): the add-on
    writes through what it is handed and never picks an adapter from the settings itself."""
    elsewhere = tmp_path / "elsewhere.json"

    def writer(call: Call, _token: str) -> CalendarWriter:
        calendars = LocalCalendars(call.app.settings, root.clock, call.user)
        return LocalCalendarWriter(calendars, elsewhere, user_id=call.user_id)

    sidebar = dataclasses.replace(root.sidebar, block_writer=writer)
    meeting = pick_meeting(root, LOCAL_USER_ID, None)
    body = event_object(
        root,
        user_id=LOCAL_USER_ID,
        email=local_email(root, LOCAL_USER_ID),
        meeting=meeting,
        parameters={"op": "prep_block", "eventId": meeting.event_id},
        time_zone="America/New_York",
    )
    booked = note(Client(sidebar).post(body, authorization=None)) or ""
    assert booked.startswith("Blocked ")
    assert len(json.loads(elsewhere.read_text(encoding="utf-8"))) == 1
    assert not blocks_path(root.settings.sqlite_path).exists()


def test_the_local_writer_keeps_calendars_rules(root: Bootstrap, tmp_path: Path) -> None:
    user = root.store.get_user(LOCAL_USER_ID)
    assert user is not None
    calendars = LocalCalendars(root.settings, root.clock, user)
    writer = LocalCalendarWriter(calendars, tmp_path / "blocks.json", user_id=LOCAL_USER_ID)
    day = NOW.replace(hour=0) + timedelta(days=1)
    body = {
        "id": "abc123",
        "summary": "Prep: x",
        "start": {"dateTime": (day + timedelta(hours=15)).isoformat()},
        "end": {"dateTime": (day + timedelta(hours=15, minutes=30)).isoformat()},
    }
    writer.insert_event("primary", body)
    with pytest.raises(EventExists):
        writer.insert_event("primary", body)  # a taken id, as Calendar answers 409
    busy = writer.busy_periods("primary", time_min=day, time_max=day + timedelta(days=1))
    assert Busy(day + timedelta(hours=15), day + timedelta(hours=15, minutes=30)) in busy
    # The sample week's meetings that day are busy too (free or declined ones are not).
    stored = root.store.list_meetings(
        LOCAL_USER_ID, start_from=day, start_before=day + timedelta(days=1)
    )
    counted = [m for m in stored if not m.declined and m.transparency != "transparent"]
    assert counted and all(
        any(b.start <= m.start and m.end <= b.end for b in busy) for m in counted if not m.all_day
    )
    assert writer.get_event("primary", "abc123")["summary"] == "Prep: x"
