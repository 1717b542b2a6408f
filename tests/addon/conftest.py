"""Fixtures for the sidebar: production-mode services verifying against a local cert endpoint."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from addon.sidebar import Sidebar
from functions.auth.dev_keys import DevSigner
from functions.bootstrap import Bootstrap, google_block_writer
from functions.config import DEFAULT_MEETING_TYPES, Mode, Settings
from functions.domain.clock import FixedClock
from functions.domain.users import User
from functions.store.port import Store
from tests.support.addon_helpers import AUDIENCE, CLIENT_ID, SA_EMAIL, Client, StubCalendar
from tests.support.google_certs import CertServer, cert_server
from tests.support.recording_queue import RecordingQueue

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def certs() -> Iterator[CertServer]:
    with cert_server() as server:
        yield server


@pytest.fixture
def signer(certs: CertServer) -> DevSigner:
    return certs.signer


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def settings(tmp_path: Path, certs: CertServer) -> Settings:
    """Production mode: tokens are checked against the (local) certificate endpoint."""
    return Settings(
        mode=Mode.PRODUCTION,
        store="sqlite",
        sqlite_path=tmp_path / "prep.db",
        meeting_types_path=DEFAULT_MEETING_TYPES,
        google_certs_url=certs.url,
        public_url="https://addon.example.test",
        addon_audience=AUDIENCE,
        addon_sa_email=SA_EMAIL,
        oauth_client_id=CLIENT_ID,
    )


@pytest.fixture
def services(settings: Settings, clock: FixedClock) -> Iterator[Bootstrap]:
    s = Bootstrap(settings, clock=clock)
    yield s
    s.store.close()


@pytest.fixture
def db(services: Bootstrap) -> Store:
    """The services' store (not named `store`: that name is the contract suite's fixture)."""
    return services.store


@pytest.fixture
def queue(clock: FixedClock) -> RecordingQueue:
    return RecordingQueue(clock=clock)


@pytest.fixture
def calendar() -> StubCalendar:
    return StubCalendar()


@pytest.fixture
def sidebar(services: Bootstrap, queue: RecordingQueue, calendar: StubCalendar) -> Sidebar:
    # Calendar as the user is the stub, so the prep-time block goes where production's
    # would: the root's choice (the .ics locally), else Google's client (a fake's endpoint).
    return Sidebar(
        services=services,
        task_queue=queue,
        calendar_for=calendar.as_user,
        block_writer=services.sidebar.block_writer or google_block_writer,
    )


@pytest.fixture
def client(sidebar: Sidebar) -> Client:
    return Client(sidebar)


@pytest.fixture
def alice(db: Store) -> User:
    user = User(user_id="alice", email="alice@example.com", time_zone="America/New_York")
    db.put_user(user)
    return user
