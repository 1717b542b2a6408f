"""Sidebar requests for a given user against the services' own (local) token settings."""

from __future__ import annotations

from typing import Any

from addon.sidebar import Sidebar
from functions.bootstrap import Bootstrap
from tests.support.addon_helpers import Client, event_body, system_token, user_token


def sidebar_client(services: Bootstrap) -> Client:
    """The add-on endpoint over `services`, its task queue the services' own."""
    return Client(Sidebar(services=services, task_queue=services.tasks))


def sidebar_body(services: Bootstrap, user_id: str, email: str, **kwargs: Any) -> dict[str, Any]:
    """An event object signed for `services`' audiences, from `user_id` (<email>)."""
    settings = services.settings
    signer = services.dev_signer
    body = event_body(signer, user_id, time_zone="Europe/Berlin", **kwargs)
    auth = body["authorizationEventObject"]
    auth["systemIdToken"] = system_token(
        signer, aud=settings.addon_audience, email=settings.addon_sa_email
    )
    if "userIdToken" in auth:
        auth["userIdToken"] = user_token(signer, user_id, aud=settings.oauth_client_id, email=email)
    return body
