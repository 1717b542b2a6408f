"""Which adapters deliver, and how OAuth failures read in delivery terms."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest
from google.oauth2.credentials import Credentials

from functions.bootstrap import build_notifiers, user_credentials
from functions.notify import problems
from functions.notify.gmail import GmailSender
from functions.notify.google_chat import ChatAppSender
from functions.notify.outbox import OutboxChatSender, OutboxEmailSender
from functions.notify.port import PermanentDeliveryError, TransientDeliveryError
from functions.oauth.credentials import (
    CredentialsProvider,
    CredentialsUnavailable,
    ReconnectNeeded,
)
from tests.support.factories import USER_ID
from tests.support.roots import make_services


class Provider:
    def __init__(self, failure: Exception | None = None) -> None:
        self.failure = failure
        self.asked: list[str] = []

    def credentials_for(self, user_id: str) -> Credentials:
        self.asked.append(user_id)
        if self.failure is not None:
            raise self.failure
        return Credentials(token="t")


def test_local_mode_uses_the_outbox(tmp_path: Path) -> None:
    notifiers = build_notifiers(make_services(tmp_path))
    assert isinstance(notifiers.email, OutboxEmailSender)
    assert isinstance(notifiers.chat, OutboxChatSender)
    assert notifiers.email.outbox.path == tmp_path / "outbox.db"


def test_google_delivery_uses_the_client_library_adapters(tmp_path: Path) -> None:
    services = make_services(tmp_path, env={"PREP_NOTIFY": "google"})
    notifiers = build_notifiers(services)
    assert isinstance(notifiers.email, GmailSender)
    assert isinstance(notifiers.chat, ChatAppSender)


def test_gmail_credentials_come_from_the_users_stored_grant(tmp_path: Path) -> None:
    provider = Provider()
    services = make_services(tmp_path, credentials=cast("CredentialsProvider", provider))
    creds = user_credentials(services)(USER_ID)
    assert creds.token == "t" and provider.asked == [USER_ID]


@pytest.mark.parametrize(
    ("failure", "kind"),
    [
        (ReconnectNeeded(USER_ID, "grant revoked"), PermanentDeliveryError),
        (CredentialsUnavailable("token endpoint down"), TransientDeliveryError),
    ],
)
def test_credential_failures_become_delivery_failures(
    tmp_path: Path, failure: Exception, kind: type[Exception]
) -> None:
    services = make_services(tmp_path, credentials=cast("CredentialsProvider", Provider(failure)))
    with pytest.raises(kind) as caught:
        user_credentials(services)(USER_ID)
    if isinstance(caught.value, PermanentDeliveryError):
        assert caught.value.problem == problems.EMAIL_NOT_AUTHORIZED
