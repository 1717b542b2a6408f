"""Builders shared by the notification and workflow tests: users, meetings, services, fakes."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from functions.domain.meetings import Attendee, Meeting, ResponseStatus
from functions.domain.prep_state import PrepState
from functions.domain.users import ConnectionState, User
from functions.notify.port import ChatSender, EmailSender

if TYPE_CHECKING:
    pass

#: A Monday morning in March 2026 (before the DST change in Europe).
NOW = datetime(2026, 3, 16, 8, 0, tzinfo=UTC)
USER_ID = "108234567890123456789"
EMAIL = "ana@example.com"


def make_user(**changes: Any) -> User:
    user = User(
        user_id=USER_ID,
        email=EMAIL,
        time_zone="Europe/Berlin",
        locale="en-US",
        connection=ConnectionState.CONNECTED,
    )
    return dataclasses.replace(user, **changes)


def make_meeting(**changes: Any) -> Meeting:
    start = changes.pop("start", NOW + timedelta(hours=6))
    meeting = Meeting(
        user_id=USER_ID,
        event_id="evt0001",
        calendar_id=EMAIL,
        title="Weekly 1:1 with Sam",
        start=start,
        end=start + timedelta(minutes=30),
        time_zone="Europe/Berlin",
        attendees=(
            Attendee(EMAIL, "Ana Núñez", ResponseStatus.ACCEPTED, is_self=True),
            Attendee("sam@example.com", "Sam Ó Briain", ResponseStatus.ACCEPTED),
        ),
        version="v1",
        meeting_type="one_on_one",
        prep_trigger_at=NOW,
        prep_state=PrepState.SCHEDULED,
    )
    return dataclasses.replace(meeting, **changes)


class MemoryEmail(EmailSender):
    def __init__(self) -> None:
        self.sent: list[tuple[str, EmailMessage]] = []
        self.failures: list[Exception] = []
        self.lock = threading.Lock()
        self.before_send: Callable[[], None] | None = None

    def send(self, user_id: str, message: EmailMessage) -> str:
        if self.before_send is not None:
            self.before_send()
        with self.lock:
            if self.failures:
                raise self.failures.pop(0)
            self.sent.append((user_id, message))
            return f"m{len(self.sent)}"


class MemoryChat(ChatSender):
    def __init__(self) -> None:
        self.sent: list[tuple[str, Mapping[str, Any], str]] = []
        self.updates: list[tuple[str, Mapping[str, Any]]] = []
        self.failures: list[Exception] = []
        self.lock = threading.Lock()
        self.before_send: Callable[[], None] | None = None

    def send_direct(self, user_id: str, message: Mapping[str, Any], *, request_id: str) -> str:
        if self.before_send is not None:
            self.before_send()
        with self.lock:
            if self.failures:
                raise self.failures.pop(0)
            self.sent.append((user_id, message, request_id))
            return f"spaces/x/messages/{len(self.sent)}"

    def update_message(self, name: str, message: Mapping[str, Any]) -> bool:
        """Chat's patch: the message at `name` now reads `message` (False if none)."""
        with self.lock:
            if self.failures:
                raise self.failures.pop(0)
            number = name.rpartition("/")[2]
            if not number.isdigit() or not 0 < int(number) <= len(self.sent):
                return False
            self.updates.append((name, message))
            return True
