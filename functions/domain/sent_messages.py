"""What we told a user about one meeting, kept so the message can be kept true.

A reminder or a "prep is ready" message says when the meeting is. When the
meeting then moves, is cancelled or declined, that message is wrong; a
`SentMessage` is the record that lets a later task find it (the Chat
message's resource name, the email's id) and know what it announced, so the
Chat message is corrected in place and an email gets at most one correction
per change that matters. Plain data: the notify feature decides what to send.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from functions.domain.meetings import EventStatus, Meeting

#: Facts as a message shows them: the meeting is off (either way) or at a time.
CANCELLED = "cancelled"
DECLINED = "declined"


def facts_of(meeting: Meeting) -> str:
    """The facts a message about `meeting` states, as one comparable string.

    Only what a reminder says and a change makes false: whether it happens
    for the user, and when. A new description or guest list changes nothing.
    """
    if meeting.status is EventStatus.CANCELLED:
        return CANCELLED
    if meeting.declined:
        return DECLINED
    return "at:" + meeting.start.astimezone(UTC).isoformat()


@dataclass(frozen=True, slots=True)
class SentMessage:
    user_id: str
    event_id: str
    #: The delivery claim key it was sent under: one record per message.
    key: str
    #: "email" or "chat".
    channel: str
    #: "prep_due" or "prep_ready".
    kind: str
    #: Chat: the message's resource name (spaces/../messages/..); email: the provider's id.
    name: str
    #: The start the message announced.
    start: datetime
    sent_at: datetime
    #: The facts (`facts_of`) the message shows now: as sent, or as last corrected.
    shows: str = ""

    def __post_init__(self) -> None:
        if not self.user_id or not self.event_id or not self.key:
            raise ValueError("a sent message needs a user, an event and a key")
        if self.start.tzinfo is None or self.sent_at.tzinfo is None:
            raise ValueError("sent message times must be timezone-aware")


def change_matters(message: SentMessage, meeting: Meeting, lead: timedelta) -> bool:
    """Whether an email already sent deserves a correction (Chat is always corrected).

    An email cannot be edited, so a second one is sent only when acting on
    the first would go wrong: the meeting is cancelled (or on again after a
    cancellation email), or it moved by more than its lead time (the prep
    would be done on the wrong day). A decline is the user's own act and a
    small move is still inside the prep window.
    """
    now_shows = facts_of(meeting)
    if now_shows == CANCELLED:
        return message.shows != CANCELLED
    if now_shows == DECLINED:
        return False
    if message.shows == CANCELLED:
        return True  # on again: the user was told it was off
    return abs(meeting.start - message.start) > lead
