""" "Block 30 min to prepare": scopes at the click, one block per meeting, free time, DST.

The booking runs google-api-python-client against `tests/support/fake_calendar.py`
(events.get, freeBusy.query, events.insert with Google's 409 on a taken id), with
access tokens that carry only the scopes the user granted, checked per method
against the scopes in Calendar's discovery document.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from addon import scopes, views
from addon.prep_block import (
    AlreadyBooked,
    WorkingHours,
    block_event_id,
    block_summary,
    book_prep_block,
    latest_free_slot,
)
from addon.sidebar import Sidebar
from functions.auth.dev_keys import DevSigner
from functions.bootstrap import Bootstrap
from functions.calendar.google_api import GoogleCalendarWriter
from functions.calendar.port import CalendarUnavailable, PermissionDenied
from functions.calendar.writer import PREP_FOR_KEY, Busy, EventExists, is_prep_block
from functions.config import Settings
from functions.domain.clock import FixedClock
from functions.domain.meetings import Meeting
from functions.domain.users import User
from functions.store.port import Store
from functions.timefmt import TimeFormat
from tests.addon.conftest import NOW
from tests.support.addon_helpers import (
    ALL_SCOPES,
    Client,
    button_ops,
    calendar_event,
    event_body,
    note,
    only_card,
    opened_event,
    seed_meeting,
)
from tests.support.fake_calendar import FakeCalendar, fake_calendar, html_link, timed_event

ALICE = "alice@example.com"
NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
#: Wednesday 2026-12-02 10:00 in New York (NOW is Tuesday 03:00 there).
START = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
GRANTED = [*ALL_SCOPES]
WITHOUT_WRITE = [s for s in ALL_SCOPES if s not in (scopes.EVENTS_WRITE, scopes.FREEBUSY)]
LINK = html_link(ALICE, "ev1")


@pytest.fixture
def fake() -> Iterator[FakeCalendar]:
    with fake_calendar() as server:
        yield server


@pytest.fixture
def settings(settings: Settings, fake: FakeCalendar) -> Settings:
    return dataclasses.replace(settings, calendar_api_endpoint=fake.api_endpoint)


@dataclass
class Env:
    """One test's sidebar client, store, fake Calendar and clock, with shortcuts."""

    client: Client
    signer: DevSigner
    db: Store
    fake: FakeCalendar
    alice: User
    services: Bootstrap
    clock: FixedClock

    def seed(
        self,
        start: datetime = START,
        *,
        event_id: str = "ev1",
        title: str = "Weekly 1:1 with Bob",
        **kw: Any,
    ) -> Meeting:
        event = calendar_event(event_id, start, title=title, **kw)
        self.fake.put_event(ALICE, event)
        return seed_meeting(
            self.db, self.alice, event, now=self.clock.now(), classifier=self.services.classifier
        )

    def busy(self, event_id: str, start: datetime, minutes: int, **kw: Any) -> None:
        self.fake.put_event(
            ALICE, timed_event(event_id, start, minutes=minutes, summary="Busy", **kw)
        )

    def token(self, granted: Sequence[str] = GRANTED) -> str:
        return self.fake.access_token_for(ALICE, scopes=granted)

    def click(
        self,
        token: str | None = None,
        *,
        event_id: str = "ev1",
        authorized: Sequence[str] = GRANTED,
        user: str = "alice",
        time_zone: str = "America/New_York",
    ) -> str | None:
        """The click's notification text (asserting the answer carries no card)."""
        return note(
            self.answer(
                token, event_id=event_id, authorized=authorized, user=user, time_zone=time_zone
            )
        )

    def answer(
        self,
        token: str | None = None,
        *,
        event_id: str = "ev1",
        authorized: Sequence[str] = GRANTED,
        user: str = "alice",
        time_zone: str = "America/New_York",
    ) -> dict[str, Any]:
        return self.client.post(
            event_body(
                self.signer,
                user,
                op="prep_block",
                params={"eventId": event_id},
                authorized=authorized,
                oauth_token=token or self.token(),
                time_zone=time_zone,
            )
        )

    def blocks(self) -> list[dict[str, Any]]:
        return [
            e for e in self.fake.events(ALICE) if is_prep_block(e) and e["status"] != "cancelled"
        ]


@pytest.fixture
def env(
    client: Client,
    signer: DevSigner,
    *,
    db: Store,
    fake: FakeCalendar,
    alice: User,
    services: Bootstrap,
    clock: FixedClock,
) -> Env:
    return Env(client, signer, db, fake, alice, services, clock)


# ---------------------------------------------------------------- the button


def test_upcoming_meetings_offer_the_button_where_google_is_reachable(env: Env) -> None:
    env.seed()
    card = only_card(env.client.post(event_body(env.signer, opened=opened_event("ev1"))))
    assert button_ops(card)[views.BLOCK_TIME] == {"op": "prep_block", "eventId": "ev1"}


def test_no_button_for_past_or_declined_meetings_or_without_a_writable_calendar(
    env: Env, sidebar: Sidebar
) -> None:
    """Locally the .ics has a writable stand-in (tests/addon/test_local_prep_block.py); a
    root with neither Google nor the .ics (here: the fake API's, without a factory) has none."""
    env.seed()
    env.seed(NOW - timedelta(hours=1), event_id="past")
    env.seed(event_id="declined", my_response="declined")
    for event_id in ("past", "declined"):
        card = only_card(env.client.post(event_body(env.signer, opened=opened_event(event_id))))
        assert views.BLOCK_TIME not in button_ops(card)
    unwritable = Client(dataclasses.replace(sidebar, calendar_for=None, block_writer=None))
    card = only_card(unwritable.post(event_body(env.signer, opened=opened_event("ev1"))))
    assert views.BLOCK_TIME not in button_ops(card)
    answer = unwritable.post(event_body(env.signer, op="prep_block", params={"eventId": "ev1"}))
    assert "needs a calendar Meeting prep can write to" in (note(answer) or "")


# ---------------------------------------------------------------- scopes at the click


def test_without_the_write_scopes_the_click_asks_for_them_and_calls_nothing(env: Env) -> None:
    env.seed()
    env.fake.reset_calls()
    answer = env.answer(env.token(WITHOUT_WRITE), authorized=WITHOUT_WRITE)
    assert answer == {
        "requesting_google_scopes": {"scopes": [scopes.EVENTS_WRITE, scopes.FREEBUSY]}
    }
    # One of the two is not enough either: the request names the other one only.
    answer = env.answer(authorized=[*WITHOUT_WRITE, scopes.EVENTS_WRITE])
    assert answer == {"requesting_google_scopes": {"scopes": [scopes.FREEBUSY]}}
    assert env.fake.count() == 0


def test_the_manifest_declares_the_write_scopes_and_broader_grants_satisfy_them() -> None:
    from addon.manifest import TEMPLATE

    declared = json.loads(TEMPLATE.read_text(encoding="utf-8"))["oauthScopes"]
    assert scopes.EVENTS_WRITE in declared and scopes.FREEBUSY in declared
    base = list(scopes.BASE)
    assert scopes.missing(scopes.PREP_BLOCK, [*base, scopes.EVENTS_WRITE, scopes.FREEBUSY]) == []
    broad = "https://www.googleapis.com/auth/calendar"
    assert scopes.missing(scopes.PREP_BLOCK, [*base, broad]) == []
    read_only = [*base, "https://www.googleapis.com/auth/calendar.readonly"]
    assert scopes.missing(scopes.PREP_BLOCK, read_only) == [scopes.EVENTS_WRITE]


def test_a_token_without_the_write_scope_is_refused_by_calendar_and_told_plainly(
    env: Env,
) -> None:
    env.seed()
    # The event object claims the scopes, but the token does not carry the write one.
    text = env.click(env.token([*WITHOUT_WRITE, scopes.FREEBUSY]))
    assert text == "Google Calendar did not allow adding an event to your calendar."
    assert env.blocks() == []


# ---------------------------------------------------------------- booking


def test_one_click_books_one_private_block_right_before_the_meeting(env: Env) -> None:
    env.seed()
    # Exactly the two narrow scopes reach every call the booking makes.
    text = env.click(env.token([scopes.EVENTS_WRITE, scopes.FREEBUSY]))
    assert text == "Blocked Wed, Dec 2, 9:30\u202fAM – 10:00\u202fAM to prepare (private)."
    [block] = env.blocks()
    assert re.fullmatch(r"[a-v0-9]{5,1024}", block["id"])
    assert block["id"] == block_event_id("alice", "ev1", 0)
    assert block["summary"] == "Prep: Weekly 1:1 with Bob"
    assert block["visibility"] == "private" and block["transparency"] == "opaque"
    assert block["start"] == {"dateTime": "2026-12-02T09:30:00-05:00", "timeZone": NY.key}
    assert block["end"] == {"dateTime": "2026-12-02T10:00:00-05:00", "timeZone": NY.key}
    assert block["extendedProperties"]["private"][PREP_FOR_KEY] == "ev1"
    assert LINK in block["description"]
    assert "attendees" not in block
    insert = next(c for c in env.fake.calls if c.method == "events.insert")
    assert insert.params.get("sendUpdates") == "none"


def test_clicking_again_books_nothing_more(env: Env) -> None:
    env.seed()
    token = env.token()
    env.click(token)
    for _ in range(2):
        assert env.click(token) == (
            "Your prep time is already booked: Wed, Dec 2, 9:30\u202fAM – 10:00\u202fAM."
        )
    assert len(env.blocks()) == 1
    assert env.fake.count("events.insert") == 1
    assert env.fake.count("freebusy.query") == 1  # a known block needs no free-time search


class _RacingWriter(GoogleCalendarWriter):
    """Another click books the same block between our free-time search and our insert."""

    def __init__(self, fake: FakeCalendar, token: str, rival: dict[str, Any]) -> None:
        from google.oauth2.credentials import Credentials

        super().__init__(Credentials(token=token), api_endpoint=fake.api_endpoint)
        self.fake, self.rival = fake, rival

    def busy_periods(self, calendar_id: str, *, time_min: datetime, time_max: datetime) -> Any:
        found = super().busy_periods(calendar_id, time_min=time_min, time_max=time_max)
        self.fake.put_event(ALICE, self.rival)
        return found


def test_two_clicks_at_once_leave_one_block(env: Env) -> None:
    env.seed()
    rival = timed_event(
        block_event_id("alice", "ev1", 0), START - timedelta(minutes=30), summary="Prep"
    )
    writer = _RacingWriter(env.fake, env.token(), rival)
    outcome = book_prep_block(
        writer, user_id="alice", calendar_id="primary", event_id="ev1", zone=NY, now=NOW
    )
    assert outcome == AlreadyBooked(Busy(START - timedelta(minutes=30), START))
    inserts = [c for c in env.fake.calls if c.method == "events.insert"]
    assert [c.status for c in inserts] == [409]
    assert [e["id"] for e in env.fake.events(ALICE)].count(rival["id"]) == 1


def test_the_fake_answers_409_for_a_taken_or_deleted_id(fake: FakeCalendar) -> None:
    from google.oauth2.credentials import Credentials

    token = fake.access_token_for(ALICE)
    writer = GoogleCalendarWriter(Credentials(token=token), api_endpoint=fake.api_endpoint)
    body = timed_event("abcdefgh0123", START)
    writer.insert_event("primary", body)
    with pytest.raises(EventExists):
        writer.insert_event("primary", body)
    fake.delete_event(ALICE, "abcdefgh0123")
    with pytest.raises(EventExists):
        writer.insert_event("primary", body)


def test_the_fake_free_busy_merges_clips_and_reports_unknown_calendars(fake: FakeCalendar) -> None:
    from google.oauth2.credentials import Credentials

    token = fake.access_token_for(ALICE, scopes=[scopes.FREEBUSY])
    writer = GoogleCalendarWriter(Credentials(token=token), api_endpoint=fake.api_endpoint)
    fake.put_event(ALICE, timed_event("a", START, minutes=60))
    fake.put_event(ALICE, timed_event("b", START + timedelta(minutes=30), minutes=60))
    fake.put_event(ALICE, timed_event("c", START + timedelta(hours=3), minutes=60))
    got = writer.busy_periods(
        "primary", time_min=START + timedelta(minutes=15), time_max=START + timedelta(minutes=80)
    )
    assert got == [Busy(START + timedelta(minutes=15), START + timedelta(minutes=80))]
    with pytest.raises(CalendarUnavailable):
        writer.busy_periods("nobody@example.com", time_min=START, time_max=START + timedelta(1))
    with pytest.raises(PermissionDenied):  # freebusy scope alone cannot write
        writer.insert_event("primary", timed_event("abcdefgh9", START))


def test_a_deleted_block_is_booked_again_under_the_next_id(env: Env) -> None:
    env.seed()
    env.click()
    env.fake.delete_event(ALICE, block_event_id("alice", "ev1", 0))
    assert (env.click() or "").startswith("Blocked")
    [block] = env.blocks()
    assert block["id"] == block_event_id("alice", "ev1", 1)


def test_a_busy_morning_moves_the_block_to_the_previous_working_day(env: Env) -> None:
    env.seed()
    env.busy("morning", START - timedelta(hours=1), 60)  # Wed 9:00-10:00 New York
    env.busy("late", START - timedelta(hours=17, minutes=30), 30)  # Tue 16:30-17:00
    env.busy("free", START - timedelta(hours=16), 30, transparency="transparent")  # Tue 17:30
    declined = timed_event("declined", START - timedelta(hours=16, minutes=30), minutes=30)
    declined["attendees"] = [{"email": ALICE, "responseStatus": "declined"}]
    env.fake.put_event(ALICE, declined)  # Tue 17:00-17:30, declined
    # Available and declined events do not block; the busy 16:30-17:00 ends before 17:30.
    assert env.click() == "Blocked Tue, Dec 1, 5:30\u202fPM – 6:00\u202fPM to prepare (private)."
    [block] = env.blocks()
    assert block["start"]["dateTime"] == "2026-12-01T17:30:00-05:00"


def test_no_free_half_hour_is_said_clearly_and_books_nothing(env: Env) -> None:
    env.seed()
    env.busy("long", START - timedelta(hours=24), 24 * 60)  # Tue 10:00 to Wed 10:00
    env.busy("early", START - timedelta(hours=25, minutes=15), 60)  # Tue 8:45-9:45
    assert env.click() == (
        "No free 30 minutes in your working hours before this meeting since "
        "Tue, Dec 1, 9:00\u202fAM. Nothing was booked."
    )
    assert env.blocks() == []
    assert env.fake.count("events.insert") == 0


def test_only_time_still_ahead_is_used(env: Env) -> None:
    env.seed()
    env.clock.set(START - timedelta(minutes=20))  # 9:40 on the meeting's day
    # 9:40-10:00 is too short, and the day before is over: nothing fits.
    assert (env.click() or "").startswith("No free 30 minutes")
    env.clock.set(START + timedelta(minutes=1))
    assert env.click() == "This meeting has already started."
    assert env.blocks() == []


def test_a_meeting_before_working_hours_with_nothing_left_to_search(env: Env) -> None:
    # Monday 8:00 New York, asked at 7:59: Monday's hours have not begun, Friday's are over.
    monday = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)
    assert WorkingHours().windows(monday, NY, now=monday - timedelta(minutes=1)) == []
    env.clock.set(monday - timedelta(minutes=1))
    env.seed(monday)
    assert env.click() == (
        "No free 30 minutes in your working hours before this meeting. Nothing was booked."
    )
    assert env.fake.count("freebusy.query") == 0


# ---------------------------------------------------------------- DST


@pytest.mark.parametrize(
    ("zone", "meeting_start", "busy_minutes", "expected_local", "expected_utc"),
    [
        # New York springs forward on Sunday 2026-03-08: the meeting is in EDT (UTC-4),
        # Friday's block in EST (UTC-5).
        (
            NY,
            datetime(2026, 3, 9, 13, 30, tzinfo=UTC),  # Mon 9:30 EDT
            30,  # Mon 9:00-9:30 busy
            "2026-03-06T17:30:00-05:00",
            datetime(2026, 3, 6, 22, 30, tzinfo=UTC),
        ),
        # Berlin falls back on Sunday 2026-10-25: the meeting is in CET (UTC+1),
        # Friday's block in CEST (UTC+2).
        (
            BERLIN,
            datetime(2026, 10, 26, 8, 15, tzinfo=UTC),  # Mon 9:15 CET
            0,  # Mon 9:00-9:15 is free but too short
            "2026-10-23T17:30:00+02:00",
            datetime(2026, 10, 23, 15, 30, tzinfo=UTC),
        ),
    ],
)
def test_the_previous_working_day_keeps_its_own_utc_offset_across_dst(
    env: Env,
    *,
    zone: ZoneInfo,
    meeting_start: datetime,
    busy_minutes: int,
    expected_local: str,
    expected_utc: datetime,
) -> None:
    env.clock.set(meeting_start - timedelta(days=5))
    env.seed(meeting_start)
    if busy_minutes:
        env.busy("monday", meeting_start - timedelta(minutes=busy_minutes), busy_minutes)
    assert (env.click(time_zone=zone.key) or "").startswith("Blocked")
    [block] = env.blocks()
    assert block["start"] == {"dateTime": expected_local, "timeZone": zone.key}
    assert datetime.fromisoformat(block["start"]["dateTime"]) == expected_utc


def test_working_hours_are_wall_clock_hours_on_each_day() -> None:
    hours = WorkingHours()
    monday = datetime(2026, 3, 9, 13, 30, tzinfo=UTC)
    windows = hours.windows(monday, NY, now=monday - timedelta(days=5))
    assert windows == [
        Busy(datetime(2026, 3, 6, 14, 0, tzinfo=UTC), datetime(2026, 3, 6, 23, 0, tzinfo=UTC)),
        Busy(datetime(2026, 3, 9, 13, 0, tzinfo=UTC), monday),
    ]
    # A Saturday meeting looks at Friday only; a weekend is never searched.
    saturday = datetime(2026, 3, 14, 15, 0, tzinfo=UTC)
    [friday] = hours.windows(saturday, NY, now=saturday - timedelta(days=3))
    assert friday.start.astimezone(NY).weekday() == 4


# ---------------------------------------------------------------- the free-slot rule


def _t(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, 2, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("busy", "expected"),
    [
        ([], Busy(_t(9, 30), _t(10))),
        ([Busy(_t(9, 45), _t(10))], Busy(_t(9, 15), _t(9, 45))),
        ([Busy(_t(9, 40), _t(9, 50))], Busy(_t(9, 10), _t(9, 40))),
        ([Busy(_t(8), _t(9, 10)), Busy(_t(9, 35), _t(10))], None),
        ([Busy(_t(9, 0), _t(9, 29)), Busy(_t(9, 59), _t(11))], Busy(_t(9, 29), _t(9, 59))),
        ([Busy(_t(7), _t(8, 30))], Busy(_t(9, 30), _t(10))),
    ],
)
def test_latest_free_slot(busy: list[Busy], expected: Busy | None) -> None:
    assert latest_free_slot([Busy(_t(9), _t(10))], busy) == expected


def test_latest_free_slot_falls_back_to_an_earlier_window() -> None:
    windows = [Busy(_t(1), _t(2)), Busy(_t(9), _t(10))]
    assert latest_free_slot(windows, [Busy(_t(9), _t(10))]) == Busy(_t(1, 30), _t(2))
    assert latest_free_slot(windows, [Busy(_t(0), _t(11))]) is None


# ---------------------------------------------------------------- hostile input and isolation


def test_a_hostile_title_is_one_bounded_line() -> None:
    summary = block_summary("<b>Q3</b>\n\u202eevil\x00\ttitle " + "x" * 300)
    assert summary.startswith("Prep: <b>Q3</b> evil title xxx")
    assert "\n" not in summary and "\u202e" not in summary and "\x00" not in summary
    assert len(summary) == len("Prep: ") + 100 and summary.endswith("…")
    assert block_summary(" \n ") == "Prep: (no title)"


def test_another_users_meeting_cannot_be_booked(env: Env) -> None:
    env.seed()
    env.db.put_user(User(user_id="mallory", email="mallory@example.com"))
    env.fake.reset_calls()
    token = env.fake.access_token_for("mallory@example.com")
    assert "not in your prep list" in (env.click(token, user="mallory") or "")
    assert env.fake.count() == 0


def test_a_calendar_outage_or_a_meeting_gone_from_calendar(env: Env) -> None:
    env.seed()
    env.fake.fail("freebusy.query", 500)
    assert env.click() == "Google Calendar did not answer. Please try again in a moment."
    assert env.blocks() == []
    env.fake.delete_event(ALICE, "ev1")
    assert env.click() == "This meeting was cancelled."
    env.fake.calendars[ALICE].pop("ev1")
    assert "no longer exists" in (env.click() or "")
    assert env.blocks() == []


def test_the_sync_can_tell_a_block_from_a_meeting(env: Env) -> None:
    env.seed()
    env.click()
    events = {e["id"]: e for e in env.fake.events(ALICE)}
    assert is_prep_block(events[block_event_id("alice", "ev1", 0)])
    assert not is_prep_block(events["ev1"])


def test_an_executives_meeting_gets_no_block(env: Env) -> None:
    from functions.delegation.keys import delegated_key

    own = env.seed()
    exec_calendar = "exec@example.com"
    theirs = dataclasses.replace(
        own, event_id=delegated_key(exec_calendar, "ev1"), calendar_id=exec_calendar
    )
    env.db.upsert_meetings([theirs])
    env.fake.reset_calls()
    text = env.click(event_id=theirs.event_id)
    assert text == "Prep time can be booked only for meetings on your own calendar."
    assert env.fake.count() == 0
    rules = env.services.classifier.rules
    view = views.View(
        url="https://x", fmt=TimeFormat.for_user(NY.key, "en-US"), rules=rules, now=NOW
    )
    classification = env.services.classifier.classify(theirs, user_domain="example.com")
    card = views.event_card(view, theirs, classification, can_block_time=True)
    assert views.BLOCK_TIME not in button_ops(card)
    card = views.event_card(view, own, classification, can_block_time=True)
    assert views.BLOCK_TIME in button_ops(card)


def test_the_block_keeps_to_the_users_own_working_days(env: Env) -> None:
    """A user who does not work Tuesdays gets no block on Tuesday.

    Their working day before this Wednesday meeting is Monday, already past,
    and Wednesday is busy until the meeting: nothing is booked. Before: the
    block searched a fixed Monday-to-Friday and booked Tuesday, a day off.
    """
    import dataclasses

    user = env.db.get_user("alice")
    assert user is not None
    prefs = dataclasses.replace(user.preferences, working_days=frozenset({0, 2, 3, 4}))
    env.db.put_user(dataclasses.replace(user, preferences=prefs))
    env.seed()
    env.busy("morning", START - timedelta(hours=1), 60)  # Wed 9:00-10:00 New York
    answer = env.click()
    assert answer is not None and answer.startswith("No free 30 minutes")
    assert env.blocks() == []
