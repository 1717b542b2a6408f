"""A world for the consent flow: the app's services wired to a fake Google OAuth server.

Everything on the app's side is the production code path (google-auth-oauthlib,
google-auth, the sealing, the SQLite store); only the endpoints point at the
loopback fake, and ID tokens are signed by a local key that the app's
verifier trusts (local mode's certificate source).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import flask
import pytest
from werkzeug.test import TestResponse

import main
from functions.auth.dev_keys import dev_signer
from functions.bootstrap import Bootstrap, set_services
from functions.config import load_settings
from functions.domain.clock import FixedClock
from functions.oauth.flow import start_authorization
from tests.support.fake_oauth import Account, FakeGoogleOAuth, fake_google_oauth

CLIENT_ID = "1234-web.apps.googleusercontent.com"
CLIENT_SECRET = "GOCSPX-test-client-secret"
PUBLIC_URL = "http://127.0.0.1:8080"
REDIRECT_URI = f"{PUBLIC_URL}/oauth/callback"

ALICE = Account(subject="111111111111111111111", email="alice@example.com")
BOB = Account(subject="222222222222222222222", email="bob@example.com")


@dataclass
class World:
    services: Bootstrap
    fake: FakeGoogleOAuth
    clock: FixedClock
    tmp: Path

    def start(self, account: Account) -> str:
        return start_authorization(self.services, account.subject, account.email)

    def callback(self, redirect_url: str) -> TestResponse:
        """The browser following Google's redirect to the deployed `oauth` entry point."""
        parsed = urllib.parse.urlsplit(redirect_url)
        app = flask.Flask("oauth-under-test")
        app.add_url_rule(
            "/<path:_p>", "oauth", lambda _p: main.oauth(flask.request), methods=["GET", "POST"]
        )
        return app.test_client().get(f"{parsed.path}?{parsed.query}")

    def connect(self, account: Account) -> TestResponse:
        return self.callback(self.fake.consent(self.start(account), account))


@pytest.fixture(scope="session")
def dev_key_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One local signing key for the session: RSA key generation is the slow part."""
    return tmp_path_factory.mktemp("dev-key") / "dev-key.pem"


def make_settings(tmp: Path, fake: FakeGoogleOAuth, dev_key: Path, **extra: str) -> dict[str, str]:
    return {
        "PREP_SQLITE_PATH": str(tmp / "prep.db"),
        "PREP_DEV_KEY_PATH": str(dev_key),
        "PREP_TOKEN_KEK_PATH": str(tmp / "token-kek"),
        "PREP_PUBLIC_URL": PUBLIC_URL,
        "PREP_OAUTH_WEB_CLIENT_ID": CLIENT_ID,
        "PREP_OAUTH_WEB_CLIENT_SECRET": CLIENT_SECRET,
        "PREP_OAUTH_AUTH_URI": fake.auth_uri,
        "PREP_OAUTH_TOKEN_URI": fake.token_uri,
        "PREP_OAUTH_REVOKE_URI": fake.revoke_uri,
        **extra,
    }


@pytest.fixture
def world(tmp_path: Path, dev_key_path: Path) -> Iterator[World]:
    signer = dev_signer(dev_key_path)
    with fake_google_oauth(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uri=REDIRECT_URI, signer=signer
    ) as fake:
        settings = load_settings(make_settings(tmp_path, fake, dev_key_path))
        # Near real time: google-auth stamps refreshed tokens with the real clock.
        clock = FixedClock(datetime.now(UTC).replace(microsecond=0))
        services = Bootstrap(settings, clock=clock)
        set_services(services)
        try:
            yield World(services, fake, clock, tmp_path)
        finally:
            set_services(None)
            services.store.close()
