"""Prep on working days only: moving a trigger off the user's days off.

A trigger that falls on a non-working day moves to the previous working day
at the same wall-clock time in the user's zone (a Monday 09:00 1:1 with a
24 h lead is prepared on Friday 09:00), so DST changes in between do not
shift it by an hour. A wall-clock time that does not exist that day (the
hour skipped in spring) becomes the first instant after the jump.

Quiet hours are applied later, by the prep task, and push a message to the
end of the quiet window; a trigger in the evening part of a window that wraps
midnight would then be pushed into a day off, so it moves to just before the
window instead (`before_quiet_night`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from functions.domain.users import DEFAULT_WORKING_DAYS, QuietHours

__all__ = ["DEFAULT_WORKING_DAYS"]

ALL_DAYS: frozenset[int] = frozenset(range(7))
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


Zone = str | tzinfo


def _zone(name: Zone) -> tzinfo:
    """An IANA name (unknown ones read as UTC), or a zone object as it is."""
    if not isinstance(name, str):
        return name
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def wall_clock(day: date, wall: time, zone: tzinfo) -> datetime:
    """The instant the clock in `zone` shows `wall` on `day` (first time, if twice);
    a skipped wall time gives the instant after the jump."""
    naive = datetime.combine(day, wall)
    # fold=0 on a skipped time uses the offset from before the jump, which lands after it.
    return naive.replace(tzinfo=zone, fold=0).astimezone(UTC).astimezone(zone)


def previous_working_time(
    moment: datetime, time_zone: Zone, working_days: Iterable[int]
) -> datetime:
    """`moment`, or the latest earlier working day at the same local time."""
    days = frozenset(working_days)
    if not days or days == ALL_DAYS:
        return moment
    zone = _zone(time_zone)
    local = moment.astimezone(zone)
    if local.weekday() in days:
        return moment
    day = local.date()
    for _ in range(7):
        day -= timedelta(days=1)
        if day.weekday() in days:
            return wall_clock(day, local.time().replace(fold=0), zone).astimezone(moment.tzinfo)
    return moment


def next_working_start(moment: datetime, time_zone: Zone, working_days: Iterable[int]) -> datetime:
    """`moment` on a working day; otherwise the start (00:00) of the next one."""
    days = frozenset(working_days)
    zone = _zone(time_zone)
    local = moment.astimezone(zone)
    if not days or local.weekday() in days:
        return moment
    day = local.date()
    for _ in range(7):
        day += timedelta(days=1)
        if day.weekday() in days:
            return wall_clock(day, time(0), zone).astimezone(moment.tzinfo)
    return moment


def before_quiet_night(
    moment: datetime, time_zone: Zone, working_days: Iterable[int], quiet: QuietHours | None
) -> datetime:
    """Keep a trigger from being pushed past quiet hours into a day off.

    Only the evening part of a window that wraps midnight can do that: its end
    is tomorrow. If tomorrow is not a working day, the trigger moves to the
    last minute before the window starts today.
    """
    days = frozenset(working_days)
    if quiet is None or not days or quiet.start <= quiet.end:
        return moment
    zone = _zone(time_zone)
    local = moment.astimezone(zone)
    if local.time() < quiet.start:
        return moment
    tomorrow = local.date() + timedelta(days=1)
    if tomorrow.weekday() in days:
        return moment
    start = wall_clock(local.date(), quiet.start, zone)
    return (start - timedelta(minutes=1)).astimezone(moment.tzinfo)


def parse_working_days(values: Iterable[str]) -> frozenset[int]:
    """Day numbers from form values ("0".."6"); unknown values are ignored."""
    out = set()
    for value in values:
        if value.isdigit() and int(value) < 7:
            out.add(int(value))
    return frozenset(out)
