"""Quiet hours against an oracle that shares no code with `QuietHours.contains` or `quiet_until`.

The oracle lists the window's minutes of the day by walking the clock from
start to end, and finds the end of a quiet spell by stepping through UTC
minutes and reading the local wall clock at each one. Windows are set to the
minute, and every zone below has whole-minute offsets, so the first moment
a message may go out is always a whole UTC minute (or `now` itself): the
minute scan finds exactly the instant `quiet_until` must return.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import example, given, settings
from hypothesis import strategies as st

from functions.domain.users import QuietHours
from functions.notify.quiet_hours import quiet_until

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]
#: 2026 clock changes (UTC instants): spring forward and fall back in each zone with DST.
CHANGES = [
    ("Europe/Berlin", datetime(2026, 3, 29, 1, 0, tzinfo=UTC)),
    ("Europe/Berlin", datetime(2026, 10, 25, 1, 0, tzinfo=UTC)),
    ("America/New_York", datetime(2026, 3, 8, 7, 0, tzinfo=UTC)),
    ("America/New_York", datetime(2026, 11, 1, 6, 0, tzinfo=UTC)),
    ("Australia/Lord_Howe", datetime(2026, 4, 4, 15, 0, tzinfo=UTC)),
    ("Australia/Lord_Howe", datetime(2026, 10, 3, 15, 30, tzinfo=UTC)),
]
MINUTE = timedelta(minutes=1)


def quiet_minutes(start: time, end: time) -> frozenset[int]:
    """The minutes of the day inside the window, by walking the clock from start to end."""
    first, last = start.hour * 60 + start.minute, end.hour * 60 + end.minute
    minutes, m = set(), first
    while m != last:
        minutes.add(m)
        m = (m + 1) % 1440
    return frozenset(minutes)


def oracle(now: datetime, start: time, end: time, zone: str) -> datetime | None:
    tz, window = ZoneInfo(zone), quiet_minutes(start, end)

    def quiet(at: datetime) -> bool:
        wall = at.astimezone(tz)
        return wall.hour * 60 + wall.minute in window

    if not quiet(now):
        return None
    at = now.replace(second=0, microsecond=0) + MINUTE
    for _ in range(3 * 1440):
        if not quiet(at):
            return at
        at += MINUTE
    raise AssertionError("still quiet after three days")


MINUTE_TIMES = st.times().map(lambda t: t.replace(second=0, microsecond=0))


@settings(max_examples=150, deadline=None)
@given(
    now=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
    ),
    start=MINUTE_TIMES,
    end=MINUTE_TIMES,
    zone=st.sampled_from(ZONES),
)
@example(datetime(2026, 6, 1, 20, 0, tzinfo=UTC), time(22, 0), time(7, 0), "Europe/Berlin")
@example(datetime(2026, 6, 1, 4, 59, 59, tzinfo=UTC), time(22, 0), time(7, 0), "Europe/Berlin")
@example(datetime(2026, 6, 1, 5, 0, tzinfo=UTC), time(22, 0), time(7, 0), "Europe/Berlin")
@example(datetime(2026, 6, 1, 12, 0, tzinfo=UTC), time(9, 0), time(9, 0), "UTC")
def test_quiet_until_matches_the_oracle(now: datetime, start: time, end: time, zone: str) -> None:
    assert quiet_until(now, QuietHours(start, end), zone) == oracle(now, start, end, zone)


@settings(max_examples=300, deadline=None)
@given(
    change=st.sampled_from(CHANGES),
    now_offset=st.integers(min_value=-180 * 60, max_value=180 * 60),
    start_offset=st.integers(min_value=-240, max_value=120),
    end_offset=st.integers(min_value=-120, max_value=120),
)
def test_quiet_until_matches_the_oracle_around_clock_changes(
    change: tuple[str, datetime], now_offset: int, start_offset: int, end_offset: int
) -> None:
    """Window edges within hours of a change, asked about (to the second) within three hours."""
    zone, at = change
    wall = at.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    start = (wall + timedelta(minutes=start_offset)).time()
    end = (wall + timedelta(minutes=end_offset)).time()
    now = at + timedelta(seconds=now_offset)
    assert quiet_until(now, QuietHours(start, end), zone) == oracle(now, start, end, zone)


def test_the_window_boundaries_themselves() -> None:
    """Start is quiet, end is not: 22:00 defers, 06:59:59 defers to 07:00, 07:00 sends."""
    window, zone = QuietHours(time(22, 0), time(7, 0)), "UTC"
    day = datetime(2026, 6, 1, tzinfo=UTC)
    assert quiet_until(day.replace(hour=21, minute=59, second=59), window, zone) is None
    assert quiet_until(day.replace(hour=22), window, zone) == day.replace(day=2, hour=7)
    assert quiet_until(day.replace(hour=6, minute=59, second=59), window, zone) == day.replace(
        hour=7
    )
    assert quiet_until(day.replace(hour=7), window, zone) is None
