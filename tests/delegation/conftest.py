"""Fixtures for assistant mode: two users of ours on the fake Calendar, Gmail and Chat.

Nothing is mocked between the pieces: the sync runs the production Calendar
adapter (google-api-python-client) against `tests/support/fake_calendar.py`
with each user's sealed grant refreshed through the real credentials
provider, and reminders go out through the production Gmail and Chat
adapters to `tests/support/fake_google_apis.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from google.oauth2.credentials import Credentials

from functions.bootstrap import Bootstrap, set_services
from functions.config import Mode, Settings
from functions.domain.clock import FixedClock
from functions.domain.users import ConnectionState, User
from functions.notify.gmail import GmailSender
from functions.notify.google_chat import ChatAppSender
from functions.notify.port import Notifiers
from functions.oauth import scopes as oauth_scopes
from functions.oauth.credentials import StoredGrant
from functions.store.sqlite import SqliteStore
from tests.support.fake_calendar import FakeCalendar, fake_calendar
from tests.support.fake_google_apis import FakeGoogle, fake_google_apis
from tests.support.recording_queue import RecordingQueue
from tests.support.roots import shared_dev_key

#: Tuesday 2026-03-10, 15:00 in Berlin.
NOW = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
ASSISTANT = "asha@example.com"
ASSISTANT_ID = "100000000000000000001"
EXEC = "exec@example.com"
EXEC_ID = "100000000000000000002"
WEBHOOK_URL = "https://prep.example.test/calendar/webhook"
#: What a user who turned assistant mode on has granted.
DELEGATE_GRANT = (oauth_scopes.CALENDAR_EVENTS_READONLY, oauth_scopes.GMAIL_SEND)


@dataclass
class World:
    fake: FakeCalendar
    google: FakeGoogle
    services: Bootstrap
    queue: RecordingQueue
    clock: FixedClock

    @property
    def store(self) -> SqliteStore:
        store = self.services.store
        assert isinstance(store, SqliteStore)
        return store

    def add_user(
        self, user_id: str, email: str, *, scopes: tuple[str, ...] = DELEGATE_GRANT, **kw: object
    ) -> User:
        """A connected user of ours: consented (a grant at the fake), sealed credentials stored."""
        grant = self.fake.add_user(email, client_id="web-client", client_secret="web-secret")
        grant.scope = " ".join(scopes)
        user = User(
            user_id,
            email,
            time_zone="Europe/Berlin",
            connection=ConnectionState.CONNECTED,
            **kw,  # type: ignore[arg-type]
        )
        self.store.put_user(user)
        self.services.credentials.save(
            user_id, StoredGrant(refresh_token=grant.refresh_token, scopes=scopes)
        )
        self.google.add_dm(user_id)
        return user

    def user(self, user_id: str) -> User:
        found = self.store.get_user(user_id)
        assert found is not None
        return found


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with fake_calendar() as fake, fake_google_apis() as google:
        fake.now = NOW
        fake.register_client("web-client", "web-secret")
        settings = Settings(
            mode=Mode.LOCAL,
            sqlite_path=tmp_path / "prep.db",
            dev_key_path=shared_dev_key(),
            token_kek_path=tmp_path / "kek",
            calendar_api_endpoint=fake.api_endpoint,
            oauth_token_uri=fake.token_uri,
            oauth_web_client_id="web-client",
            oauth_web_client_secret="web-secret",
            webhook_url=WEBHOOK_URL,
            webhook_secret="test-webhook-secret",
        )
        clock = FixedClock(NOW)
        queue = RecordingQueue()
        notifiers = Notifiers(
            email=GmailSender(
                lambda uid: Credentials(token=f"user-{uid}"), api_endpoint=google.url
            ),
            chat=ChatAppSender(lambda: Credentials(token="app"), api_endpoint=google.url),
        )
        services = Bootstrap(settings, clock=clock, tasks=queue, notifiers=notifiers)
        set_services(services)
        try:
            yield World(fake, google, services, queue, clock)
        finally:
            set_services(None)
            services.store.close()
