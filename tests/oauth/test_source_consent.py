"""Turning a context source on asks Google for that one scope, and the grant then covers all."""

from __future__ import annotations

import dataclasses
import urllib.parse

from functions.domain.users import ContextSource, Preferences
from functions.materials.sources import SourceState, source_state
from functions.oauth.flow import start_authorization
from functions.oauth.scopes import DEFAULT_SCOPES, GMAIL_READONLY
from tests.oauth.conftest import ALICE, World


def _scope(url: str) -> list[str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))["scope"].split()


MAIL_ON = Preferences(context_sources=frozenset({ContextSource.MAIL}))


def test_a_connected_user_is_asked_for_gmail_readonly_only_and_keeps_everything(
    world: World,
) -> None:
    assert world.connect(ALICE).status_code == 200
    before = world.services.credentials.load(ALICE.subject)
    assert before is not None
    assert source_state(MAIL_ON, ContextSource.MAIL, before.scopes) is SourceState.NEEDS_CONSENT

    url = start_authorization(
        world.services,
        ALICE.subject,
        ALICE.email,
        extra_scopes=(GMAIL_READONLY,),
        only_extra=True,
    )
    assert _scope(url) == ["openid", GMAIL_READONLY]
    assert (
        dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))["include_granted_scopes"]
        == "true"
    )
    response = world.callback(world.fake.consent(url, ALICE))

    assert response.status_code == 200 and "Connected" in response.get_data(as_text=True)
    after = world.services.credentials.load(ALICE.subject)
    assert after is not None
    # include_granted_scopes: the new grant covers the earlier scopes and the new one.
    assert set(after.scopes) >= {*DEFAULT_SCOPES, GMAIL_READONLY}
    assert source_state(MAIL_ON, ContextSource.MAIL, after.scopes) is SourceState.ON
    # Background work still has everything it needs with the new refresh token.
    assert world.services.credentials.credentials_for(ALICE.subject).token


def test_declining_the_new_scope_keeps_the_old_grant(world: World) -> None:
    assert world.connect(ALICE).status_code == 200
    before = world.services.credentials.load(ALICE.subject)
    url = start_authorization(
        world.services, ALICE.subject, ALICE.email, extra_scopes=(GMAIL_READONLY,), only_extra=True
    )
    world.callback(world.fake.consent(url, ALICE, deny=True))

    assert world.services.credentials.load(ALICE.subject) == before
    off = dataclasses.replace(MAIL_ON)
    assert before is not None
    assert source_state(off, ContextSource.MAIL, before.scopes) is SourceState.NEEDS_CONSENT


def test_without_a_grant_asking_only_for_the_source_scope_connects_nothing(world: World) -> None:
    """Why a user who is not connected gets the full connect with the source scope in it."""
    url = start_authorization(
        world.services, ALICE.subject, ALICE.email, extra_scopes=(GMAIL_READONLY,), only_extra=True
    )
    response = world.callback(world.fake.consent(url, ALICE))

    assert world.services.credentials.load(ALICE.subject) is None
    assert response.status_code != 200 or "Connected" not in response.get_data(as_text=True)
    full = start_authorization(
        world.services, ALICE.subject, ALICE.email, extra_scopes=(GMAIL_READONLY,)
    )
    assert _scope(full) == ["openid", *DEFAULT_SCOPES, GMAIL_READONLY]
