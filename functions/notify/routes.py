"""Notifications' HTTP routes, for `functions.bootstrap` to mount (imports stay inside).

The Chat app's endpoint and the local outbox; the prep tasks that send the
messages are mounted from `functions/prep/routes.py`. The root hands in
itself (`ChatDeps`); each handler is bound to it here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from functions.web import Handler, bound

if TYPE_CHECKING:
    from functions.chat.deps import ChatDeps

CHAT_PATH = "/chat"
OUTBOX_PATH = "/dev/outbox"
OUTBOX_CLICK_PATH = "/dev/outbox/click"


def chat_routes(services: ChatDeps) -> dict[str, Handler]:
    """The Chat app's interaction endpoint (verified Chat bearer token)."""
    from functions.chat.endpoint import chat_endpoint

    return {CHAT_PATH: bound(chat_endpoint, services)}


def dev_routes(services: ChatDeps) -> dict[str, Handler]:
    """Local mode only (404 otherwise): the outbox page and its Chat-click stand-in."""
    from functions.notify.outbox_page import outbox_click, outbox_page

    return {
        OUTBOX_PATH: bound(outbox_page, services),
        OUTBOX_CLICK_PATH: bound(outbox_click, services),
    }
