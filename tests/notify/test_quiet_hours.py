"""Quiet hours in the user's own zone, across both DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from functions.domain.users import QuietHours
from functions.notify.quiet_hours import first_instant_at, quiet_until

BERLIN = "Europe/Berlin"
NIGHT = QuietHours(time(22, 0), time(7, 0))


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "expected", "why"),
    [
        # Spring forward (2026-03-29, 02:00 CET -> 03:00 CEST): the night is an hour shorter.
        (utc(2026, 3, 28, 22, 0), utc(2026, 3, 29, 5, 0), "23:00 CET -> 07:00 CEST"),
        (utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 5, 0), "01:30 CET, before the jump"),
        (utc(2026, 3, 29, 1, 30), utc(2026, 3, 29, 5, 0), "03:30 CEST, after the jump"),
        # Fall back (2026-10-25, 03:00 CEST -> 02:00 CET): the night is an hour longer.
        (utc(2026, 10, 24, 20, 30), utc(2026, 10, 25, 6, 0), "22:30 CEST -> 07:00 CET"),
        (utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 6, 0), "02:30 CEST (first pass)"),
        (utc(2026, 10, 25, 1, 30), utc(2026, 10, 25, 6, 0), "02:30 CET (second pass)"),
        # An ordinary night and an ordinary day.
        (utc(2026, 1, 10, 23, 0), utc(2026, 1, 11, 6, 0), "00:00 CET -> 07:00 CET"),
    ],
)
def test_berlin_night_across_dst(now: datetime, expected: datetime, why: str) -> None:
    assert quiet_until(now, NIGHT, BERLIN) == expected, why


def test_outside_quiet_hours_sends_now() -> None:
    assert quiet_until(utc(2026, 3, 29, 5, 0), NIGHT, BERLIN) is None  # 07:00 CEST exactly
    assert quiet_until(utc(2026, 3, 28, 20, 59), NIGHT, BERLIN) is None  # 21:59 CET
    assert quiet_until(utc(2026, 3, 28, 21, 0), NIGHT, BERLIN) is not None  # 22:00 CET


def test_window_ending_inside_the_skipped_hour_ends_at_the_jump() -> None:
    # 02:30 does not exist in Berlin on 2026-03-29; the clocks jump at 01:00 UTC.
    window = QuietHours(time(22, 0), time(2, 30))
    assert quiet_until(utc(2026, 3, 28, 23, 0), window, BERLIN) == utc(2026, 3, 29, 1, 0)


def test_window_ending_inside_the_repeated_hour_ends_at_its_first_pass() -> None:
    window = QuietHours(time(22, 0), time(2, 30))
    assert quiet_until(utc(2026, 10, 24, 21, 0), window, BERLIN) == utc(2026, 10, 25, 0, 30)
    # During the second pass of 02:00-03:00 the wall clock reads 02:xx again: 02:10 CET
    # is inside 22:00-02:30 once more, until the second 02:30; 02:40 CET is not quiet.
    assert quiet_until(utc(2026, 10, 25, 1, 10), window, BERLIN) == utc(2026, 10, 25, 1, 30)
    assert quiet_until(utc(2026, 10, 25, 1, 40), window, BERLIN) is None


def test_daytime_window_and_other_zones() -> None:
    lunch = QuietHours(time(12, 0), time(13, 30))
    # 12:15 in New York during EDT is 16:15 UTC; it ends at 13:30 EDT = 17:30 UTC.
    assert quiet_until(utc(2026, 7, 1, 16, 15), lunch, "America/New_York") == utc(
        2026, 7, 1, 17, 30
    )
    assert quiet_until(utc(2026, 7, 1, 16, 15), lunch, "Asia/Kolkata") is None


def test_no_window_and_empty_window_never_defer() -> None:
    assert quiet_until(utc(2026, 1, 1, 3, 0), None, BERLIN) is None
    assert quiet_until(utc(2026, 1, 1, 3, 0), QuietHours(time(3), time(3)), BERLIN) is None


def test_unknown_zone_falls_back_to_utc() -> None:
    assert quiet_until(utc(2026, 1, 1, 23, 0), NIGHT, "Mars/Olympus") == utc(2026, 1, 2, 7, 0)


def test_first_instant_handles_half_hour_dst() -> None:
    # Lord Howe moves by 30 minutes: 02:00 -> 02:30 on 2026-10-04.
    zone = ZoneInfo("Australia/Lord_Howe")
    got = first_instant_at(date(2026, 10, 4), time(2, 15), zone)
    assert got.astimezone(zone).replace(tzinfo=None) == datetime(2026, 10, 4, 2, 30)
    assert (got - timedelta(seconds=1)).astimezone(zone).time() < time(2, 0, 0)


ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]
#: 2026 DST changes (UTC instant) per zone: the hours around them are where bugs hide.
CHANGES = [
    ("Europe/Berlin", utc(2026, 3, 29, 1, 0)),
    ("Europe/Berlin", utc(2026, 10, 25, 1, 0)),
    ("America/New_York", utc(2026, 3, 8, 7, 0)),
    ("America/New_York", utc(2026, 11, 1, 6, 0)),
    ("Australia/Lord_Howe", utc(2026, 4, 4, 15, 0)),
    ("Australia/Lord_Howe", utc(2026, 10, 3, 15, 30)),
]


def check_deferral(now: datetime, window: QuietHours, zone: str) -> None:
    tz = ZoneInfo(zone)
    until = quiet_until(now, window, zone)
    if until is None:
        assert not window.contains(now.astimezone(tz).time())
        return
    assert window.contains(now.astimezone(tz).time())
    assert until > now
    assert until - now <= timedelta(hours=48)  # a window the jump swallowed: a day more
    assert not window.contains(until.astimezone(tz).time())
    # One second earlier it was still quiet: the deferral does not overshoot.
    assert window.contains((until - timedelta(seconds=1)).astimezone(tz).time())


MINUTE_TIMES = st.times().map(lambda t: t.replace(second=0, microsecond=0))


@settings(max_examples=300, deadline=None)
@given(
    now=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
    ),
    start=MINUTE_TIMES,
    end=MINUTE_TIMES,
    zone=st.sampled_from(ZONES),
)
def test_deferral_lands_on_the_first_allowed_instant(
    now: datetime, start: time, end: time, zone: str
) -> None:
    check_deferral(now, QuietHours(start, end), zone)


@settings(max_examples=500, deadline=None)
@given(
    change=st.sampled_from(CHANGES),
    now_offset=st.integers(min_value=-180, max_value=180),
    end_offset=st.integers(min_value=-120, max_value=120),
    start=MINUTE_TIMES,
)
def test_deferral_around_dst_changes(
    change: tuple[str, datetime], now_offset: int, end_offset: int, start: time
) -> None:
    """Windows that end within two hours of a change, asked about within three hours of it."""
    zone, at = change
    wall = at.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    end = (wall + timedelta(minutes=end_offset)).time()
    check_deferral(at + timedelta(minutes=now_offset), QuietHours(start, end), zone)
