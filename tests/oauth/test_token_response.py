"""What the callback does with a token response it cannot trust or cannot use.

Google's token endpoint answers the code exchange with an id_token (who
consented) and, for offline access, a refresh token. If the id_token does not
verify, the response may not come from Google, or not for this client: nothing
is kept. If no refresh token comes back, background work would stop at the
first expiry: nothing is kept either, rather than a connection that breaks later.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from functions.auth.dev_keys import DevSigner
from functions.domain.users import ConnectionState
from tests.oauth.conftest import ALICE, World


class _Forging:
    """A signer whose id_tokens are wrong in one way, for the fake token endpoint."""

    def __init__(self, honest: DevSigner, **override: Any) -> None:
        self._signer: DevSigner = override.pop("signer", honest)
        self._override = override

    def id_token(self, **claims: Any) -> str:
        return self._signer.id_token(**{**claims, **self._override})


def _nothing_kept(world: World) -> None:
    assert world.services.store.get_credentials(ALICE.subject) is None
    user = world.services.store.get_user(ALICE.subject)
    assert user is None or user.connection != ConnectionState.CONNECTED


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param({"signer": "stranger"}, id="signed-by-an-unknown-key"),
        pytest.param({"audience": "another-client.apps.googleusercontent.com"}, id="other-client"),
        pytest.param({"lifetime_seconds": -3600}, id="expired"),
    ],
)
def test_an_untrusted_id_token_connects_nothing(
    world: World, tmp_path: Path, forge: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    if forge.get("signer") == "stranger":
        forge = {"signer": DevSigner.load_or_create(tmp_path / "stranger.pem")}
    world.fake.signer = _Forging(world.fake.signer, **forge)  # type: ignore[assignment]
    caplog.set_level(logging.INFO)

    response = world.connect(ALICE)

    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)
    _nothing_kept(world)
    # Dropped, not revoked: revoking could end a working connection of that account.
    assert world.fake.revoke_requests == []
    assert [r.getMessage() for r in caplog.records if "not trusted" in r.getMessage()] == [
        "token response not trusted"
    ]


def test_a_token_response_without_a_refresh_token_connects_nothing(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    redirect = world.fake.consent(world.start(ALICE), ALICE)
    [grant] = world.fake.grants
    grant.refresh_token = None  # as Google answers when offline access was not granted again
    caplog.set_level(logging.INFO)

    response = world.callback(redirect)

    assert response.status_code == 400
    _nothing_kept(world)
    assert [r for r in caplog.records if r.getMessage() == "no refresh token issued"]
    assert [r.levelno for r in caplog.records if r.getMessage() == "user connected"] == []
