"""Builders shared by the notification and workflow tests: users, meetings, services, fakes."""

from __future__ import annotations

import atexit
import dataclasses
import functools
import shutil
import tempfile
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

from functions.bootstrap import Bootstrap
from functions.config import load_settings
from functions.domain.clock import FixedClock
from functions.domain.meetings import Attendee, Meeting, ResponseStatus
from functions.domain.prep_state import PrepState
from functions.domain.users import ConnectionState, User
from functions.notify.port import ChatSender, EmailSender, Notifiers
from functions.tasks.port import Task, TaskQueue

if TYPE_CHECKING:
    from functions.oauth.credentials import CredentialsProvider

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


class RecordingQueue(TaskQueue):
    """A task queue that keeps what was enqueued; a repeated name is refused (Cloud Tasks)."""

    def __init__(self) -> None:
        self.tasks: dict[str, Task] = {}
        self.fail_next = 0

    def enqueue(self, task: Task) -> bool:
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("queue unavailable")
        if task.name in self.tasks:
            return False
        self.tasks[task.name] = task
        return True

    def on_path(self, path: str) -> list[Task]:
        return [t for t in self.tasks.values() if t.path == path]


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


@functools.cache
def shared_dev_key() -> Path:
    """One development signing key for the whole run: generating RSA keys is slow."""
    folder = Path(tempfile.mkdtemp(prefix="prep-dev-key-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder / "dev-key.pem"


def make_services(
    tmp_path: Path,
    *,
    clock: FixedClock | None = None,
    notifiers: Notifiers | None = None,
    tasks: TaskQueue | None = None,
    credentials: CredentialsProvider | None = None,
    env: Mapping[str, str] | None = None,
) -> Bootstrap:
    settings = load_settings(
        {
            "PREP_SQLITE_PATH": str(tmp_path / "prep.db"),
            "PREP_DEV_KEY_PATH": str(shared_dev_key()),
            "PREP_OUTBOX_PATH": str(tmp_path / "outbox.db"),
            "PREP_TOKEN_KEK_PATH": str(tmp_path / "kek"),
            **(env or {}),
        }
    )
    return Bootstrap(
        settings,
        clock=clock or FixedClock(NOW),
        notifiers=notifiers,
        tasks=tasks,
        credentials=credentials,
    )
