"""Domain-wide delegation behind the same provider: the service account acts as the user.

google-auth signs a JWT-bearer assertion with `sub` = the user's email; the
fake token endpoint checks the signature against the registered key and the
admin's delegation (user and scopes), as Google does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from functions.auth.dev_keys import dev_signer
from functions.bootstrap import Bootstrap, set_services
from functions.config import load_settings
from functions.domain.clock import FixedClock
from functions.domain.users import ConnectionState, User
from functions.oauth.credentials import ReconnectNeeded
from functions.oauth.flow import connect_delegated
from functions.oauth.scopes import DEFAULT_SCOPES
from tests.oauth.conftest import ALICE, BOB, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, make_settings
from tests.support.fake_oauth import (
    JWT_BEARER,
    FakeGoogleOAuth,
    ServiceAccount,
    fake_google_oauth,
)

SA_EMAIL = "prep-dwd@p.iam.gserviceaccount.com"


@pytest.fixture
def delegated(tmp_path: Path, dev_key_path: Path) -> Iterator[tuple[Bootstrap, FakeGoogleOAuth]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with fake_google_oauth(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uri=REDIRECT_URI,
        signer=dev_signer(dev_key_path),
    ) as fake:
        fake.service_accounts[SA_EMAIL] = ServiceAccount(
            SA_EMAIL,
            public_pem,
            delegated={ALICE.email: frozenset(DEFAULT_SCOPES)},
        )
        key_file = tmp_path / "dwd-key.json"
        key_file.write_text(
            json.dumps(
                {
                    "type": "service_account",
                    "project_id": "p",
                    "private_key_id": "k1",
                    "private_key": private_pem,
                    "client_email": SA_EMAIL,
                    "client_id": "1",
                    "token_uri": fake.token_uri,
                }
            )
        )
        env = make_settings(tmp_path, fake, dev_key_path, PREP_DWD_KEY_FILE=str(key_file))
        services = Bootstrap(load_settings(env), clock=FixedClock(datetime.now(UTC)))
        set_services(services)
        try:
            yield services, fake
        finally:
            set_services(None)
            services.store.close()


def test_the_service_account_acts_as_the_user(
    delegated: tuple[Bootstrap, FakeGoogleOAuth],
) -> None:
    services, fake = delegated
    services.store.put_user(User(ALICE.subject, ALICE.email, connection=ConnectionState.CONNECTED))

    creds = services.credentials.credentials_for(ALICE.subject)

    assert creds.token is not None and creds.token.startswith("ya29.fake-dwd-")
    [request] = fake.requests_of(JWT_BEARER)
    from google.auth import jwt

    claims = jwt.decode(request.form["assertion"], verify=False)
    assert claims["sub"] == ALICE.email
    assert claims["iss"] == SA_EMAIL
    assert claims["scope"].split() == list(DEFAULT_SCOPES)
    # Nothing is stored per user with delegation.
    assert services.store.get_credentials(ALICE.subject) is None


def test_a_user_outside_the_delegation_needs_an_admin(
    delegated: tuple[Bootstrap, FakeGoogleOAuth],
) -> None:
    services, _ = delegated
    services.store.put_user(User(BOB.subject, BOB.email, connection=ConnectionState.CONNECTED))

    with pytest.raises(ReconnectNeeded):
        services.credentials.credentials_for(BOB.subject)

    bob = services.store.get_user(BOB.subject)
    assert bob is not None and bob.connection is ConnectionState.RECONNECT_NEEDED


def test_connect_delegated_proves_access_before_marking_connected(
    delegated: tuple[Bootstrap, FakeGoogleOAuth],
) -> None:
    services, _ = delegated
    assert connect_delegated(services, ALICE.subject, ALICE.email) is ConnectionState.CONNECTED
    assert connect_delegated(services, BOB.subject, BOB.email) is ConnectionState.RECONNECT_NEEDED
    alice, bob = services.store.get_user(ALICE.subject), services.store.get_user(BOB.subject)
    assert alice is not None and alice.connection is ConnectionState.CONNECTED
    assert bob is not None and bob.connection is ConnectionState.RECONNECT_NEEDED
