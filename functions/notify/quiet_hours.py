"""When a notification may go out, given the user's quiet hours in their own time zone.

Quiet hours are wall-clock times ("22:00 to 07:00 in Berlin"), so the end
of a quiet night is a local time that has to be turned back into an
instant, and twice a year that is not a plain conversion:

- spring forward: the end may fall in the skipped hour (02:30 does not
  exist on the last Sunday of March in Berlin). The night is over the
  moment the clocks jump past it, so that jump is the answer.
- fall back: the end may occur twice (02:30 CEST, then 02:30 CET). The
  first time the wall clock shows it ends the night; but if the clock has
  gone back into the window (02:10 CET, second pass), the wall clock says
  "quiet" again and the second 02:30 ends it. Likewise a window ending at
  02:00 that is entered at 02:59 CEST ends at 02:00 CET a second later, when
  the clocks go back, not at 02:00 the next day; and when the clocks go back
  into the allowed part of the day (from 02:59 CEST to 02:00 CET with a
  window 02:01-01:59), that moment ends the night.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from functions.domain.users import QuietHours


def zone_of(name: str) -> ZoneInfo:
    """The user's zone; an unknown name falls back to UTC rather than failing the task."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def first_instant_at(
    day: date, wall: time, zone: ZoneInfo, *, later_than: datetime | None = None
) -> datetime:
    """The earliest instant (after `later_than`, if given) at which the wall clock in
    `zone` reads `wall`, or later, on `day`."""
    naive = datetime.combine(day, wall)
    # fold=0: for a time that occurs twice, the first occurrence; for a time
    # that does not exist, the offset from before the jump, which lands after it.
    after = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if after.astimezone(zone).replace(tzinfo=None) == naive:
        if later_than is not None and after <= later_than:
            # Inside the repeated hour, past the first pass: the second pass is next.
            second = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
            if second > later_than:
                return second
        return after
    # `wall` was skipped. fold=1 lands before the jump; the jump lies between.
    lo = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    hi = after
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(zone).replace(tzinfo=None) >= naive:
            hi = mid
        else:
            lo = mid
    return hi.replace(microsecond=0)


def _clocks_go_back_between(start: datetime, end: datetime, zone: ZoneInfo) -> datetime | None:
    """The instant in (start, end] at which `zone` turns its clocks back, if it does."""
    before, after = start.astimezone(zone).utcoffset(), end.astimezone(zone).utcoffset()
    if before is None or after is None or after >= before:
        return None
    lo, hi = start, end
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(zone).utcoffset() == before:
            lo = mid
        else:
            hi = mid
    return hi.replace(microsecond=0)


def quiet_until(now: datetime, quiet: QuietHours | None, time_zone: str) -> datetime | None:
    """None if a message may go out at `now`; otherwise the instant the quiet window ends."""
    if quiet is None:
        return None
    zone = zone_of(time_zone)
    at = now
    # Normally one step. A jump can land back inside the window (a window with a
    # one-minute gap that the skipped hour swallows), so look again from there.
    for _ in range(3):
        local = at.astimezone(zone)
        if not quiet.contains(local.time()):
            return None if at == now else at
        # Inside the window: it ends today if today's end is still ahead, otherwise (the
        # evening part of a window that wraps midnight) tomorrow. "Ahead" is judged by the
        # instant, not the wall clock: in the first pass of a repeated hour the clock may
        # already show a later time than the end while the end's second pass is to come.
        until = first_instant_at(local.date(), quiet.end, zone, later_than=at)
        if until <= at:
            until = first_instant_at(
                local.date() + timedelta(days=1), quiet.end, zone, later_than=at
            )
        # Clocks going back can land outside the window before its end comes round.
        back = _clocks_go_back_between(at, until, zone)
        if back is not None and not quiet.contains(back.astimezone(zone).time()):
            until = back
        at = until
    return at
