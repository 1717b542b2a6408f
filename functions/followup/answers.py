"""Storing the answer, ticking items off, and finding the items still open for a meeting.

The answer is written into the meeting (`Meeting.followup`) by one
read-modify-write: the first answer wins, whichever way it came (the Chat
card, the email's form, a replayed click), and every later one is refused
with `AlreadyAnswered`, so the answer cannot be overwritten by a stale tab or
a replayed request. Ticking an item off is idempotent.

Which items a meeting shows (its sidebar card): its own open items once it
has happened, then those of earlier related meetings (the same series, or
the same people by the materials' rule, `materials.context.related_by_people`)
in the last `LOOKBACK`, newest first. That is one range read of the user's
meetings (at most `SCAN_LIMIT`), made only for users who have follow-ups on.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta

from functions.domain.followups import ActionItem, FollowUp, FollowupMode
from functions.domain.meetings import Meeting
from functions.domain.users import User
from functions.store.port import Store

LOOKBACK = timedelta(days=30)
SCAN_LIMIT = 200
#: Shown on the card at most (the oldest beyond this wait for the next ones to be ticked).
MAX_SHOWN = 10


class AlreadyAnswered(Exception):
    """The meeting's follow-up was answered before; the first answer stands."""


def record_answer(store: Store, user_id: str, event_id: str, answer: FollowUp) -> Meeting:
    """Store `answer` for the meeting (raises `AlreadyAnswered`, or the store's `NotFound`)."""

    def change(m: Meeting) -> Meeting:
        if m.followup is not None and m.followup.answered:
            raise AlreadyAnswered
        asked = m.followup or FollowUp()
        kept = dataclasses.replace(answer, asked_at=asked.asked_at, channel=asked.channel)
        return dataclasses.replace(m, followup=kept)

    return store.update_meeting(user_id, event_id, change)


def tick_item(store: Store, user_id: str, event_id: str, item_id: str, at: datetime) -> Meeting:
    """Mark one item done (again: nothing changes). Raises the store's `NotFound`."""

    def change(m: Meeting) -> Meeting:
        if m.followup is None:
            return m
        return dataclasses.replace(m, followup=m.followup.ticked(item_id, at))

    return store.update_meeting(user_id, event_id, change)


@dataclass(frozen=True, slots=True)
class OpenItem:
    """One open action item and the meeting it was recorded for."""

    item: ActionItem
    source: Meeting


def _people(m: Meeting, own: str) -> frozenset[str]:
    return frozenset(
        a.email.lower()
        for a in m.human_attendees
        if not a.is_self and a.email and a.email.lower() != own
    )


def related(meeting: Meeting, other: Meeting, own_email: str) -> bool:
    if meeting.series_id and other.series_id == meeting.series_id:
        return True
    # Imported here: the card's cold path loads the materials' context (pydantic) only
    # when an earlier meeting has open items to relate.
    from functions.materials.context import related_by_people

    own = own_email.lower()
    return related_by_people(_people(meeting, own), _people(other, own))


def open_items_for(store: Store, user: User, meeting: Meeting, now: datetime) -> list[OpenItem]:
    """The open action items the card of `meeting` shows (see the module doc)."""
    if user.preferences.followup_mode is FollowupMode.OFF and meeting.followup is None:
        return []
    out: list[OpenItem] = []
    if meeting.followup is not None:
        out += [OpenItem(i, meeting) for i in meeting.followup.open_items]
    if user.preferences.followup_mode is not FollowupMode.OFF:
        before = min(meeting.start, now)
        earlier = store.list_meetings(
            user.user_id, start_from=before - LOOKBACK, start_before=before, limit=SCAN_LIMIT
        )
        for other in sorted(earlier, key=lambda m: m.start, reverse=True):
            if other.event_id == meeting.event_id or other.followup is None:
                continue
            if other.followup.open_items and related(meeting, other, user.email):
                out += [OpenItem(i, other) for i in other.followup.open_items]
    return out[:MAX_SHOWN]
