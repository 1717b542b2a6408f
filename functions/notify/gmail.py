"""Gmail adapter: users.messages.send through google-api-python-client.

The reminder is sent from the user's own mailbox to themselves, so it needs
their OAuth credentials with the `gmail.send` scope (the narrowest that can
send); where they come from (a stored refresh token, or domain-wide
delegation) is the `credentials_for` callable's business, not this module's:
it may raise a `DeliveryError` itself (the wiring translates the OAuth
module's "reconnect needed" and "token endpoint down"), and a LookupError
means "no stored grant".
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Callable
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from functions.logs import log
from functions.notify import problems
from functions.notify.google_errors import api_error
from functions.notify.port import (
    Channel,
    EmailSender,
    PermanentDeliveryError,
    TransientDeliveryError,
)

if TYPE_CHECKING:
    from google.auth.credentials import Credentials

GMAIL_SEND_SCOPE = "https://www.googleapis.com/auth/gmail.send"

_log = logging.getLogger(__name__)

CredentialsFor = Callable[[str], "Credentials"]


def raw_message(message: EmailMessage) -> str:
    """The base64url RFC 2822 text Gmail's `raw` field takes."""
    return base64.urlsafe_b64encode(message.as_bytes()).decode("ascii")


class GmailSender(EmailSender):
    def __init__(self, credentials_for: CredentialsFor, *, api_endpoint: str | None = None) -> None:
        self._credentials_for = credentials_for
        self._api_endpoint = api_endpoint
        self._local = threading.local()

    def _messages(self) -> Any:
        """users.messages, built once per thread.

        Building a resource renders every method's docstring (~50 ms), so it is
        kept; httplib2 connections are not thread-safe, so it is kept per thread.
        Each send passes the user's own authorized http to `execute`.
        """
        messages = getattr(self._local, "messages", None)
        if messages is None:
            from functions.google_clients import discovery_service, plain_http

            service = discovery_service(
                "gmail", "v1", http=plain_http(), api_endpoint=self._api_endpoint
            )
            messages = self._local.messages = service.users().messages()
        return messages

    def send(self, user_id: str, message: EmailMessage) -> str:
        import httplib2  # type: ignore[import-untyped, unused-ignore]
        from google.auth import exceptions as auth_errors
        from googleapiclient.errors import HttpError

        try:
            credentials = self._credentials_for(user_id)
        except LookupError:
            raise PermanentDeliveryError(
                Channel.EMAIL, problems.EMAIL_NOT_AUTHORIZED, "no stored credentials"
            ) from None
        try:
            request = self._messages().send(userId="me", body={"raw": raw_message(message)})
            from functions.google_clients import authorized_http

            sent = request.execute(http=authorized_http(credentials))
        except HttpError as exc:
            err = api_error(exc)
            if err.transient:
                raise TransientDeliveryError(Channel.EMAIL, f"http {err.status}") from None
            log(
                _log,
                logging.WARNING,
                "gmail refused",
                status=err.status,
                reasons=sorted(err.reasons),
            )
            problem = (
                problems.EMAIL_NOT_AUTHORIZED
                if err.status in (401, 403)
                else problems.EMAIL_REJECTED
            )
            raise PermanentDeliveryError(Channel.EMAIL, problem, f"http {err.status}") from None
        except auth_errors.RefreshError as exc:
            if getattr(exc, "retryable", False):
                raise TransientDeliveryError(Channel.EMAIL, "token refresh failed") from None
            raise PermanentDeliveryError(
                Channel.EMAIL, problems.EMAIL_NOT_AUTHORIZED, "grant revoked"
            ) from None
        except (auth_errors.TransportError, OSError, httplib2.HttpLib2Error) as exc:
            raise TransientDeliveryError(Channel.EMAIL, type(exc).__name__) from None
        return str(sent.get("id", ""))
