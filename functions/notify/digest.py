"""Digest mode: one morning message that lists what needs prep, instead of one per meeting.

Each digest owns a *window*: from its send time (the user's `digest_time`,
in their own zone) to the next day's send time. The digest of window D lists
every meeting that still needs prep (no skip reason, prep `scheduled` or
`notified`, not started yet, not a type the user auto-preps) and either

- starts within the window (today's meetings, and tomorrow's before the next
  digest: a 07:30 meeting is in the digest of the day before, not missed), or
- has its prep trigger within the window (a QBR two weeks out is announced
  on the morning its prep starts, and again on its own day).

Every instant belongs to exactly one window, so nothing falls between two
digests. The rule depends on the meetings alone, not on who sent what: a
retried digest lists the same meetings (its own state moves do not change
the answer), which is what lets each channel's claim make it exactly once.

Send times are wall-clock times, so DST matters: the send time of a day is
the first instant the wall clock shows it (`quiet_hours.first_instant_at`):
in the skipped spring hour that is the jump itself, in the repeated autumn
hour its first pass.

Per-meeting reminders are suppressed for digest users (the prep task answers
`in_digest`); the digest moves what it lists from `scheduled` to `notified`,
so the prep state advances as it would with one message per meeting. A
meeting booked after this morning's digest and starting before the next one
is not announced: the user chose one message a day (the sidebar lists it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from functions.domain.meetings import Meeting
from functions.domain.prep_state import PrepState
from functions.domain.users import DeliveryMode, Preferences, User
from functions.notify.content import Notice
from functions.notify.quiet_hours import first_instant_at, zone_of

#: States in which a meeting still waits for the user to start prep.
NEEDS_PREP_STATES = frozenset({PrepState.SCHEDULED, PrepState.NOTIFIED})
#: Most meetings listed in one digest (Chat cards take 100 widgets; nobody reads 30 items).
MAX_ITEMS = 20


def is_digest_user(user: User) -> bool:
    return user.preferences.delivery_mode is DeliveryMode.DIGEST


def send_time(day: date, at: time, zone: ZoneInfo) -> datetime:
    """When the digest of local `day` goes out: the first instant the wall clock reads `at`."""
    return first_instant_at(day, at, zone)


@dataclass(frozen=True, slots=True)
class Window:
    """The stretch of time one digest answers for: [starts, ends)."""

    day: date
    starts: datetime
    ends: datetime

    def __contains__(self, instant: datetime) -> bool:
        return self.starts <= instant < self.ends


def window(day: date, at: time, zone: ZoneInfo) -> Window:
    return Window(day, send_time(day, at, zone), send_time(day + timedelta(days=1), at, zone))


def window_of(instant: datetime, at: time, zone: ZoneInfo) -> Window:
    """The window `instant` falls in (the digest that answers for it)."""
    local_day = instant.astimezone(zone).date()
    today = window(local_day, at, zone)
    return today if instant >= today.starts else window(local_day - timedelta(days=1), at, zone)


def next_window(now: datetime, at: time, zone: ZoneInfo) -> Window:
    """The first window whose digest has not been sent by `now` (send time after `now`)."""
    current = window_of(now, at, zone)
    return window(current.day + timedelta(days=1), at, zone)


def user_zone(user: User) -> ZoneInfo:
    return zone_of(user.time_zone)


def needs_prep(meeting: Meeting, now: datetime, prefs: Preferences) -> bool:
    return (
        meeting.skip_reason is None
        and meeting.prep_state in NEEDS_PREP_STATES
        and meeting.start > now
        and meeting.meeting_type not in prefs.auto_prep_types
    )


def select(
    starting: Iterable[Meeting],
    triggering: Iterable[Meeting],
    *,
    win: Window,
    now: datetime,
    prefs: Preferences,
) -> list[Meeting]:
    """The meetings a digest lists (see the module doc), earliest first, each once."""
    chosen: dict[str, Meeting] = {}
    for m in starting:
        if m.start in win and needs_prep(m, now, prefs):
            chosen[m.event_id] = m
    for m in triggering:
        if m.prep_trigger_at is not None and m.prep_trigger_at in win and needs_prep(m, now, prefs):
            chosen.setdefault(m.event_id, m)
    return sorted(chosen.values(), key=lambda m: (m.start, m.event_id))


@dataclass(frozen=True, slots=True)
class DigestItem:
    notice: Notice
    #: True when the meeting itself is in this window; False: only its prep starts now.
    today: bool


@dataclass(frozen=True, slots=True)
class Digest:
    user: User
    win: Window
    #: The window's day in the user's words ("Tuesday, March 17").
    day_label: str
    items: Sequence[DigestItem]
    #: Listed beyond MAX_ITEMS and left out (counted, so the message says so).
    more: int = 0

    @property
    def key(self) -> str:
        """Stable per user and window: claims and message ids derive from it."""
        return f"digest:{self.win.day.isoformat()}"
