"""Fixtures for the sync tests: the fake Calendar API, a counting store, a recording queue.

Every test runs the real google-api-python-client against `tests/support/
fake_calendar.py` on a free loopback port; nothing here mocks the client.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
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
from tests.support.fake_calendar import FakeCalendar, fake_calendar, timed_event
from tests.support.fake_credentials import FakeProvider
from tests.support.recording_queue import RecordingQueue
from tests.support.roots import root_on

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
        services = root_on(
            settings, clock, db, tasks=queue, credentials=cast("CredentialsProvider", provider)
        )
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
