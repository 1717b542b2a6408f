""" "Open in Calendar": Calendar's own `htmlLink`, or the meeting's day when there is none.

Calendar builds `htmlLink` from the calendar's real id (the owner's address),
which cannot be rebuilt from the `primary` the sync reads the calendar as; a
hand-built link named `primary` and pointed nowhere. The link is shown in
emails and Chat, so only https links on Calendar's own hosts are kept.
"""

from __future__ import annotations

import base64
import dataclasses
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from functions.calendar.google_api import GoogleCalendarSource
from functions.calendar.mapping import meeting_from_event
from functions.notify.content import NoticeKind, build_notice, calendar_event_url
from tests.support.factories import make_meeting, make_user
from tests.support.fake_calendar import FakeCalendar, fake_calendar, timed_event

ALICE = "alice@example.com"
START = datetime(2026, 12, 9, 15, 0, tzinfo=UTC)


@pytest.fixture
def fake() -> Iterator[FakeCalendar]:
    with fake_calendar() as server:
        yield server


def _eid_of(url: str) -> str:
    eid = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["eid"][0]
    return base64.urlsafe_b64decode(eid + "=" * (-len(eid) % 4)).decode()


def test_a_synced_meeting_links_to_calendars_own_htmllink_on_the_real_calendar_id(
    fake: FakeCalendar,
) -> None:
    from google.oauth2.credentials import Credentials

    token = fake.access_token_for(ALICE)
    fake.put_event(ALICE, timed_event("evt1", START))
    source = GoogleCalendarSource(Credentials(token=token), api_endpoint=fake.api_endpoint)
    raw = source.get_event("primary", "evt1")
    meeting = meeting_from_event(raw, user_id="alice", calendar_id="primary")
    assert meeting.html_link == raw["htmlLink"]
    url = calendar_event_url(meeting)
    assert url == raw["htmlLink"]
    # The link names Alice's calendar by its address: `primary` means nothing to Calendar.
    assert _eid_of(url) == f"evt1 {ALICE}"
    notice = build_notice(NoticeKind.PREP_DUE, make_user(), meeting, type_label="1:1")
    assert notice.calendar_url == raw["htmlLink"]


def test_without_a_link_the_meetings_day_opens_in_the_meetings_zone() -> None:
    # 23:30 UTC on the 17th is already the 18th in Berlin.
    late = datetime(2026, 3, 17, 23, 30, tzinfo=UTC)
    m = make_meeting(start=late, html_link=None, time_zone="Europe/Berlin")
    assert calendar_event_url(m) == "https://calendar.google.com/calendar/r/day/2026/3/18"
    utc = dataclasses.replace(m, time_zone="UTC")
    assert calendar_event_url(utc) == "https://calendar.google.com/calendar/r/day/2026/3/17"
    # The local .ics has no links: its meetings get the day view too.
    ics_like = meeting_from_event(
        timed_event("ics1", late, minutes=60), user_id="u", calendar_id="primary"
    )
    assert ics_like.html_link is None
    assert calendar_event_url(ics_like).startswith("https://calendar.google.com/calendar/r/day/")


@pytest.mark.parametrize(
    ("link", "kept"),
    [
        ("https://www.google.com/calendar/event?eid=ZXZ0MSBhQGIuYw", True),
        ("https://calendar.google.com/calendar/event?eid=ZXZ0MQ", True),
        ("http://www.google.com/calendar/event?eid=x", False),
        ("javascript:alert(1)", False),
        ("https://evil.example/calendar/event?eid=x", False),
        ("https://www.google.com.evil.example/calendar/event?eid=x", False),
        ("https://user@www.google.com/calendar/event?eid=x", False),
        ("https://www.google.com:8443/calendar/event?eid=x", False),
        ("https://[::1/x", False),
        ("https://www.google.com/calendar/event?eid=" + "A" * 3000, False),
        (42, False),
    ],
)
def test_only_https_links_on_calendars_hosts_are_kept(link: object, kept: bool) -> None:
    event = {**timed_event("e1", START), "htmlLink": link}
    m = meeting_from_event(event, user_id="u", calendar_id="primary")
    assert (m.html_link == link) is kept
    assert (m.html_link is None) is not kept
