"""Fixtures for the sync tests: the fake Calendar API, a counting store, a recording queue.

Every test runs the real google-api-python-client against `tests/support/
fake_calendar.py` on a free loopback port; nothing here mocks the client.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest
from flask import Request, Response
from werkzeug.test import EnvironBuilder

from functions.bootstrap import Bootstrap, set_services
from functions.config import Mode, Settings
from functions.domain.clock import FixedClock
from functions.domain.meetings import Meeting
from functions.domain.users import ConnectionState, User
from functions.store.sqlite import SqliteStore
from functions.tasks.port import Task, TaskQueue
from tests.support.fake_calendar import FakeCalendar, Grant, fake_calendar, timed_event

if TYPE_CHECKING:
    from functions.oauth.credentials import CredentialsProvider

NOW = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)  # a Tuesday
WEBHOOK_URL = "https://prep.example.test/calendar/webhook"


class CountingStore(SqliteStore):
    """SQLite, counting the batch writes the sync actually makes."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.meeting_writes = 0
        self.write_batches = 0

    def _write_meetings(self, meetings: Sequence[Meeting]) -> None:
        self.meeting_writes += len(meetings)
        self.write_batches += 1
        super()._write_meetings(meetings)


class RecordingQueue(TaskQueue):
    """Dedupes by name like Cloud Tasks; remembers every attempt."""

    def __init__(self, clock: FixedClock | None = None) -> None:
        #: With a clock, a schedule more than 720 h ahead is refused as Cloud Tasks does.
        self.clock = clock
        self.tasks: dict[str, Task] = {}
        self.attempts: list[Task] = []
        self.fail_next = 0
        self._lock = threading.Lock()

    def enqueue(self, task: Task) -> bool:
        with self._lock:
            self.attempts.append(task)
            if self.fail_next > 0:
                self.fail_next -= 1
                raise ConnectionError("queue unavailable")
            if self.clock is not None:
                task.check_schedule(self.clock.now())
            if task.name in self.tasks:
                return False
            self.tasks[task.name] = task
            return True

    def on_path(self, path: str) -> list[Task]:
        return [t for t in self.tasks.values() if t.path == path]


@dataclass
class FakeProvider:
    """Stands in for the OAuth engineer's CredentialsProvider: grants per user id."""

    fake: FakeCalendar
    grants: dict[str, Grant] = field(default_factory=dict)
    reconnect: set[str] = field(default_factory=set)
    #: One credentials object per user: refreshed once, then reused like a stored access token.
    issued: dict[str, Any] = field(default_factory=dict)

    def credentials_for(self, user_id: str) -> Any:
        if user_id in self.reconnect:
            from functions.oauth.credentials import ReconnectNeeded

            raise ReconnectNeeded(user_id, "test")
        if user_id not in self.issued:
            self.issued[user_id] = self.fake.credentials(self.grants[user_id])
        return self.issued[user_id]


@dataclass
class World:
    fake: FakeCalendar
    services: Bootstrap
    db: CountingStore
    queue: RecordingQueue
    clock: FixedClock
    provider: FakeProvider

    def add_user(self, user_id: str, email: str, **kwargs: Any) -> User:
        grant = self.fake.add_user(email)
        self.provider.grants[user_id] = grant
        user = User(user_id=user_id, email=email, connection=ConnectionState.CONNECTED, **kwargs)
        self.db.put_user(user)
        return user

    def user(self, user_id: str) -> User:
        got = self.db.get_user(user_id)
        assert got is not None
        return got


def make_services(
    settings: Settings,
    clock: FixedClock,
    db: SqliteStore,
    *,
    tasks: TaskQueue | None = None,
    credentials: FakeProvider | None = None,
) -> Bootstrap:
    return Bootstrap(
        settings,
        clock=clock,
        store=db,
        tasks=tasks,
        credentials=cast("CredentialsProvider", credentials),
    )


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with fake_calendar() as fake:
        fake.now = NOW
        clock = FixedClock(NOW)
        settings = Settings(
            mode=Mode.LOCAL,
            sqlite_path=tmp_path / "prep.db",
            dev_key_path=tmp_path / "dev-key.pem",
            calendar_api_endpoint=fake.api_endpoint,
            webhook_url=WEBHOOK_URL,
            webhook_secret="test-webhook-secret",
        )
        db = CountingStore(settings.sqlite_path)
        queue = RecordingQueue(clock)
        provider = FakeProvider(fake)
        services = make_services(settings, clock, db, tasks=queue, credentials=provider)
        set_services(services)
        try:
            yield World(fake, services, db, queue, clock, provider)
        finally:
            set_services(None)
            db.close()


def seed(
    fake: FakeCalendar,
    calendar_id: str,
    count: int,
    *,
    start: datetime = NOW + timedelta(hours=2),
    step: timedelta = timedelta(minutes=30),
    attendees: tuple[str, ...] = ("sam@example.com",),
    summary: str = "1:1 with Sam",
) -> list[str]:
    ids = []
    for i in range(count):
        event = timed_event(
            f"ev{i:05d}",
            start + i * step,
            summary=summary,
            attendees=(calendar_id, *attendees),
        )
        ids.append(fake.put_event(calendar_id, event)["id"])
    return ids


def task_request(services: Bootstrap, path: str, payload: dict[str, Any]) -> Request:
    """A Cloud-Tasks-shaped POST with an OIDC token the local verifier accepts."""
    token = services.dev_signer.id_token(
        audience=services.settings.tasks_audience,
        subject="tasks-sa",
        email=services.settings.tasks_sa_email,
    )
    builder = EnvironBuilder(
        path=path,
        method="POST",
        json=payload,
        headers=[("Authorization", f"Bearer {token}")],
    )
    return Request(builder.get_environ())


def call(handler: Any, request: Request) -> Response:
    response: Response = handler(request)
    return response
