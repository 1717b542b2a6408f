"""Which delivery adapters serve this process, decided once from `Settings`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from functions.notify import problems
from functions.notify.port import (
    Channel,
    Notifiers,
    PermanentDeliveryError,
    TransientDeliveryError,
)

if TYPE_CHECKING:
    from google.auth.credentials import Credentials

    from functions.services import Services


def user_credentials(services: Services) -> Callable[[str], Credentials]:
    """The user's own Gmail credentials, with the OAuth module's failures in delivery terms."""

    def credentials_for(user_id: str) -> Credentials:
        from functions.oauth.credentials import CredentialsUnavailable, ReconnectNeeded

        try:
            return services.credentials.credentials_for(user_id)
        except ReconnectNeeded:
            raise PermanentDeliveryError(
                Channel.EMAIL, problems.EMAIL_NOT_AUTHORIZED, "reconnect needed"
            ) from None
        except CredentialsUnavailable:
            raise TransientDeliveryError(Channel.EMAIL, "token endpoint unavailable") from None

    return credentials_for


def build_notifiers(services: Services) -> Notifiers:
    settings = services.settings.notify
    if settings.delivery == "outbox":
        from functions.notify.outbox import Outbox, OutboxChatSender, OutboxEmailSender

        outbox = Outbox(settings.outbox_path, clock=services.clock)
        return Notifiers(email=OutboxEmailSender(outbox), chat=OutboxChatSender(outbox))
    from functions.notify.gmail import GmailSender
    from functions.notify.google_chat import ChatAppSender

    return Notifiers(
        email=GmailSender(user_credentials(services), api_endpoint=settings.gmail_api_endpoint),
        chat=ChatAppSender(api_endpoint=settings.chat_api_endpoint),
    )
