"""Prep never starts on a day off: triggers move to the previous working day,
same local time, across DST changes and time zones; quiet hours still apply."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from functions.config import DEFAULT_MEETING_TYPES
from functions.domain.classification import Classifier, prep_trigger_time
from functions.domain.meeting_types import load_rules
from functions.domain.meetings import Attendee, Meeting, ResponseStatus
from functions.domain.planning import plan_meeting
from functions.domain.users import DEFAULT_WORKING_DAYS, Preferences, QuietHours, User
from functions.domain.working_days import previous_working_time

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")
CLASSIFIER = Classifier(load_rules(DEFAULT_MEETING_TYPES))


def one_on_one(start: datetime) -> Meeting:
    return Meeting(
        user_id="u1",
        event_id="e1",
        calendar_id="primary",
        title="Weekly 1:1 with Sam",
        start=start,
        end=start + timedelta(minutes=30),
        attendees=(
            Attendee("me@example.com", is_self=True, response_status=ResponseStatus.ACCEPTED),
            Attendee("sam@example.com"),
        ),
    )


def planned_trigger(start: datetime, zone: str, now: datetime, **prefs: object) -> datetime:
    user = User("u1", "me@example.com", time_zone=zone, preferences=Preferences(**prefs))  # type: ignore[arg-type]
    m = plan_meeting(one_on_one(start), None, user=user, classifier=CLASSIFIER, now=now)
    assert m.prep_trigger_at is not None
    return m.prep_trigger_at


def test_monday_morning_one_on_one_is_prepared_on_friday() -> None:
    monday = datetime(2026, 12, 7, 9, 0, tzinfo=BERLIN)
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    trigger = planned_trigger(monday, "Europe/Berlin", now)
    assert trigger.astimezone(BERLIN) == datetime(2026, 12, 4, 9, 0, tzinfo=BERLIN)
    assert trigger.astimezone(BERLIN).strftime("%A %H:%M") == "Friday 09:00"


def test_same_local_time_across_the_spring_dst_change() -> None:
    # Berlin moves to summer time on Sunday 29 March 2026: Friday is UTC+1, Monday UTC+2.
    monday = datetime(2026, 3, 30, 9, 0, tzinfo=BERLIN)
    trigger = planned_trigger(monday, "Europe/Berlin", datetime(2026, 3, 20, tzinfo=UTC))
    assert trigger.astimezone(BERLIN).replace(tzinfo=None) == datetime(2026, 3, 27, 9, 0)
    assert trigger == datetime(2026, 3, 27, 8, 0, tzinfo=UTC)
    # Three days of plain elapsed time back would have given 08:00 local on Friday.
    assert (monday.astimezone(UTC) - timedelta(hours=72)).astimezone(BERLIN).hour == 8


def test_same_local_time_across_the_autumn_dst_change_in_new_york() -> None:
    # New York falls back on Sunday 1 November 2026.
    monday = datetime(2026, 11, 2, 8, 30, tzinfo=NEW_YORK)
    trigger = planned_trigger(monday, "America/New_York", datetime(2026, 10, 20, tzinfo=UTC))
    assert trigger.astimezone(NEW_YORK).replace(tzinfo=None) == datetime(2026, 10, 30, 8, 30)


def test_the_users_zone_decides_which_day_it_is() -> None:
    # Monday 07:00 in Tokyo is Sunday 22:00 UTC: the day off is judged in Tokyo.
    monday = datetime(2026, 12, 7, 7, 0, tzinfo=TOKYO)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    trigger = planned_trigger(monday, "Asia/Tokyo", now)
    assert trigger.astimezone(TOKYO).replace(tzinfo=None) == datetime(2026, 12, 4, 7, 0)
    # The same instant for a user in UTC: Sunday 22:00 -> Friday 22:00 UTC.
    utc_trigger = planned_trigger(monday, "UTC", now)
    assert utc_trigger == datetime(2026, 12, 4, 22, 0, tzinfo=UTC)


def test_working_days_are_the_users_own() -> None:
    monday = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    # Sunday to Thursday week: Sunday's trigger stays.
    sun_thu = frozenset({6, 0, 1, 2, 3})
    assert planned_trigger(monday, "UTC", now, working_days=sun_thu) == monday - timedelta(days=1)
    # Tuesday and Wednesday only: back to Wednesday.
    assert planned_trigger(monday, "UTC", now, working_days=frozenset({1, 2})) == datetime(
        2026, 12, 2, 9, 0, tzinfo=UTC
    )
    # Every day: the plain lead time.
    every = frozenset(range(7))
    assert planned_trigger(monday, "UTC", now, working_days=every) == monday - timedelta(days=1)


def test_quiet_hours_still_apply_but_never_push_prep_into_a_day_off() -> None:
    quiet = QuietHours(time(22, 0), time(7, 0))
    now = datetime(2026, 12, 1, tzinfo=UTC)
    # Monday 23:00 -> Sunday 23:00 -> Friday 23:00, inside a quiet night that ends on
    # Saturday: it moves to just before the night instead.
    late = datetime(2026, 12, 7, 23, 0, tzinfo=UTC)
    assert planned_trigger(late, "UTC", now, quiet_hours=quiet) == datetime(
        2026, 12, 4, 21, 59, tzinfo=UTC
    )
    # Monday 06:00 -> Friday 06:00: quiet until 07:00 on Friday, a working day; the
    # prep task defers it then, as for any trigger in quiet hours.
    early = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
    assert planned_trigger(early, "UTC", now, quiet_hours=quiet) == datetime(
        2026, 12, 4, 6, 0, tzinfo=UTC
    )
    # A quiet night before a working day is left to the prep task too.
    tuesday = datetime(2026, 12, 8, 23, 0, tzinfo=UTC)
    assert planned_trigger(tuesday, "UTC", now, quiet_hours=quiet) == datetime(
        2026, 12, 7, 23, 0, tzinfo=UTC
    )


def test_short_notice_on_a_day_off_waits_for_the_next_working_day() -> None:
    monday = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    saturday = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
    # Booked on Saturday: Friday already passed; prep on Monday at the start of the day.
    assert planned_trigger(monday, "UTC", saturday) == datetime(2026, 12, 7, 0, 0, tzinfo=UTC)
    # A Sunday meeting booked on Saturday: no working day before it, so straight away.
    sunday = datetime(2026, 12, 6, 15, 0, tzinfo=UTC)
    assert planned_trigger(sunday, "UTC", saturday) == saturday
    # On a working day, short notice means now, as before.
    thursday = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    assert planned_trigger(monday, "UTC", thursday) == datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    assert planned_trigger(datetime(2026, 12, 3, 15, 0, tzinfo=UTC), "UTC", thursday) == thursday


def test_skipped_spring_hour_lands_after_the_jump() -> None:
    # 02:30 does not exist on Sunday 29 March 2026 in Berlin: with Sunday the only
    # working day, a Monday 02:30 trigger moves onto that skipped hour.
    monday_0230 = datetime(2026, 3, 30, 2, 30, tzinfo=BERLIN)
    moved = previous_working_time(monday_0230, "Europe/Berlin", frozenset({6}))
    assert moved.astimezone(BERLIN).replace(tzinfo=None) == datetime(2026, 3, 29, 3, 30)


def test_prep_trigger_time_keeps_its_old_meaning_without_working_days() -> None:
    start = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # a Monday
    now = datetime(2026, 12, 1, tzinfo=UTC)
    assert prep_trigger_time(start, 24, now) == start - timedelta(hours=24)
    assert frozenset(range(5)) == DEFAULT_WORKING_DAYS


@pytest.mark.parametrize("days", [frozenset(), frozenset({7}), frozenset({-1})])
def test_working_days_must_be_real_days(days: frozenset[int]) -> None:
    with pytest.raises(ValueError, match="working days"):
        Preferences(working_days=days)


def test_default_week_is_monday_to_friday() -> None:
    assert Preferences().working_days == frozenset({0, 1, 2, 3, 4})
    assert dataclasses.replace(
        Preferences(), working_days=frozenset({5})
    ).working_days == frozenset({5})


def test_a_short_notice_booking_on_a_quiet_friday_night_waits_for_monday_not_saturday() -> None:
    """Booked Friday 22:30 (quiet 22:00-07:00) for Monday 10:00 with a 24 h lead.

    Before: prep was due "now", and quiet hours then deferred the reminder to
    Saturday 07:00, a day off. Now it waits for the start of Monday, which
    quiet hours then move to 07:00, still before the meeting.
    """
    berlin = ZoneInfo("Europe/Berlin")
    now = datetime(2026, 12, 4, 22, 30, tzinfo=berlin)  # a Friday
    start = datetime(2026, 12, 7, 10, 0, tzinfo=berlin)  # the Monday after
    trigger = prep_trigger_time(
        start,
        24,
        now,
        time_zone="Europe/Berlin",
        working_days=DEFAULT_WORKING_DAYS,
        quiet_hours=QuietHours(time(22, 0), time(7, 0)),
    )
    local = trigger.astimezone(berlin)
    assert local.weekday() == 0 and trigger < start  # Monday, before the meeting
    assert local.time() == time(0, 0)
    # Without a quiet night in the way, short notice still means straight away.
    early = datetime(2026, 12, 4, 18, 0, tzinfo=berlin)
    assert (
        prep_trigger_time(
            start,
            24,
            early,
            time_zone="Europe/Berlin",
            working_days=DEFAULT_WORKING_DAYS,
            quiet_hours=QuietHours(time(22, 0), time(7, 0)),
        )
        == early
    )
