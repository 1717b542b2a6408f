"""Google Chat adapter: a direct message from the Chat app, through google-api-python-client.

Cards with buttons can only be posted with app authentication (`chat.bot`),
so this runs as the Chat app's service account, never as the user. The DM
space is looked up on every send (spaces.findDirectMessage): it is one cheap
call, and it is how we learn that the user removed the app (404).

A message that became wrong (the meeting moved, was cancelled or declined)
is corrected with spaces.messages.patch on the name `send_direct` returned.
With app authentication Chat lets the app update only messages it created,
and card fields (`cardsV2`) only with app authentication, which is what this
adapter always uses. The update mask names exactly `text,cardsV2`: a mask is
required, and a path Chat does not support is refused. `allowMissing` is
never set: a message that is gone stays gone rather than reappearing as a
new one (its 404 is answered with False, not an error).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from functions.logs import log
from functions.notify import problems
from functions.notify.google_errors import ApiError, api_error
from functions.notify.port import (
    Channel,
    ChatSender,
    PermanentDeliveryError,
    TransientDeliveryError,
)

if TYPE_CHECKING:
    from google.auth.credentials import Credentials

CHAT_BOT_SCOPE = "https://www.googleapis.com/auth/chat.bot"

_log = logging.getLogger(__name__)

#: The fields a correction replaces (spaces.messages.patch `updateMask`).
UPDATE_MASK = "text,cardsV2"


def default_app_credentials() -> Credentials:
    """The runtime service account (ADC); it must belong to the Chat app's project."""
    import google.auth

    credentials, _ = google.auth.default(scopes=[CHAT_BOT_SCOPE])
    return credentials


def _permanent_or_transient(err: ApiError, step: str) -> Exception:
    if err.transient:
        return TransientDeliveryError(Channel.CHAT, f"{step}: http {err.status}")
    if err.status == 404:
        problem = problems.CHAT_NO_DM
    elif err.status in (401, 403):
        problem = problems.CHAT_FORBIDDEN
    else:
        problem = problems.CHAT_REJECTED
    log(_log, logging.WARNING, "chat refused", step=step, status=err.status, problem=problem)
    return PermanentDeliveryError(Channel.CHAT, problem, f"{step}: http {err.status}")


class ChatAppSender(ChatSender):
    def __init__(
        self,
        credentials: Callable[[], Credentials] = default_app_credentials,
        *,
        api_endpoint: str | None = None,
    ) -> None:
        self._credentials_factory = credentials
        self._credentials: Credentials | None = None
        self._lock = threading.Lock()
        self._api_endpoint = api_endpoint
        self._local = threading.local()

    def _spaces(self) -> Any:
        """The spaces resource, built once per thread (httplib2 is not thread-safe, and
        building a resource renders every method's docstring, ~50 ms)."""
        spaces = getattr(self._local, "spaces", None)
        if spaces is None:
            from functions.google_clients import authorized_http, discovery_service

            with self._lock:
                if self._credentials is None:
                    self._credentials = self._credentials_factory()
                credentials = self._credentials
            service = discovery_service(
                "chat", "v1", http=authorized_http(credentials), api_endpoint=self._api_endpoint
            )
            spaces = self._local.spaces = service.spaces()
            self._local.messages = spaces.messages()
        return spaces

    def send_direct(self, user_id: str, message: Mapping[str, Any], *, request_id: str) -> str:
        import httplib2  # type: ignore[import-untyped, unused-ignore]
        from google.auth import exceptions as auth_errors
        from googleapiclient.errors import HttpError

        step = "findDirectMessage"
        try:
            spaces = self._spaces()
            space = spaces.findDirectMessage(name=f"users/{user_id}").execute()
            step = "messages.create"
            created = self._local.messages.create(
                parent=space["name"], body=dict(message), requestId=request_id
            ).execute()
        except HttpError as exc:
            raise _permanent_or_transient(api_error(exc), step) from None
        except (auth_errors.GoogleAuthError, OSError, httplib2.HttpLib2Error) as exc:
            # The app's own credentials failing is our outage, not the user's problem.
            raise TransientDeliveryError(Channel.CHAT, type(exc).__name__) from None
        return str(created.get("name", ""))

    def update_message(self, name: str, message: Mapping[str, Any]) -> bool:
        import httplib2  # type: ignore[import-untyped, unused-ignore]
        from google.auth import exceptions as auth_errors
        from googleapiclient.errors import HttpError

        if not name.startswith("spaces/") or "/messages/" not in name:
            raise ValueError("not a Chat message name")
        body = {k: message[k] for k in ("text", "cardsV2") if k in message}
        try:
            self._spaces()
            self._local.messages.patch(name=name, updateMask=UPDATE_MASK, body=body).execute()
        except HttpError as exc:
            err = api_error(exc)
            if err.status == 404:
                log(_log, logging.INFO, "chat message gone", step="messages.patch")
                return False
            raise _permanent_or_transient(err, "messages.patch") from None
        except (auth_errors.GoogleAuthError, OSError, httplib2.HttpLib2Error) as exc:
            raise TransientDeliveryError(Channel.CHAT, type(exc).__name__) from None
        return True
