"""The sync through the real credentials port: sealed grant, refresh, revocation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from functions.bootstrap import Bootstrap, set_services
from functions.config import Mode, Settings
from functions.domain.clock import FixedClock
from functions.domain.users import ConnectionState, User
from functions.oauth.credentials import StoredGrant
from functions.sync.handlers import handle_sync
from tests.support.fake_calendar import FakeCalendar, fake_calendar
from tests.support.recording_queue import RecordingQueue
from tests.support.roots import root_on
from tests.sync.conftest import NOW, CountingStore, seed

ALICE = "alice@example.com"


@pytest.fixture
def wired(tmp_path: Path) -> Iterator[tuple[FakeCalendar, Bootstrap, CountingStore]]:
    with fake_calendar() as fake:
        fake.now = NOW
        fake.register_client("web-client", "web-secret")
        settings = Settings(
            mode=Mode.LOCAL,
            sqlite_path=tmp_path / "prep.db",
            dev_key_path=tmp_path / "dev-key.pem",
            token_kek_path=tmp_path / "kek",
            calendar_api_endpoint=fake.api_endpoint,
            oauth_token_uri=fake.token_uri,
            oauth_web_client_id="web-client",
            oauth_web_client_secret="web-secret",
        )
        db = CountingStore(settings.sqlite_path)
        services = root_on(settings, FixedClock(NOW), db, tasks=RecordingQueue())
        set_services(services)
        try:
            yield fake, services, db
        finally:
            set_services(None)
            db.close()


def test_sync_refreshes_through_the_credentials_port_and_notices_revocation(
    wired: tuple[FakeCalendar, Bootstrap, CountingStore],
) -> None:
    fake, services, db = wired
    grant = fake.add_user(ALICE, client_id="web-client", client_secret="web-secret")
    db.put_user(User("alice", ALICE, connection=ConnectionState.CONNECTED))
    services.credentials.save(
        "alice",
        StoredGrant(refresh_token=grant.refresh_token, scopes=services.settings.oauth_scopes),
    )
    seed(fake, ALICE, 3)
    assert handle_sync(services, {"user_id": "alice"})["written"] == 3
    assert fake.count("token") == 1
    # The refreshed access token was sealed and stored: the next sync does not refresh.
    handle_sync(services, {"user_id": "alice"})
    assert fake.count("token") == 1
    fake.revoke(ALICE)
    assert handle_sync(services, {"user_id": "alice"}) == {"sync": "reconnect_needed"}
    user = db.get_user("alice")
    assert user is not None and user.connection is ConnectionState.RECONNECT_NEEDED
