"""The prep workflow's HTTP routes, for `functions.bootstrap` to mount (imports stay inside).

The root hands in itself (`PrepDeps`, `ChatDeps`); each handler is bound to it here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from functions.web import Handler, bound

if TYPE_CHECKING:
    from functions.chat.deps import ChatDeps
    from functions.prep.deps import PrepDeps

CHAT_PATH = "/chat"
OUTBOX_PATH = "/dev/outbox"
OUTBOX_CLICK_PATH = "/dev/outbox/click"


def task_routes(services: PrepDeps) -> dict[str, Handler]:
    """The prep task at each meeting's trigger time, the daily digest, and corrections of
    messages whose meeting changed (OIDC-verified)."""
    from functions.notify.corrections import CORRECT_PATH
    from functions.prep.digest_task import DIGEST_PATH, handle_digest_task
    from functions.prep.notify_task import handle_correction_task, handle_prep_task
    from functions.prep.queueing import PREP_PATH
    from functions.tasks.endpoint import task_endpoint

    return {
        PREP_PATH: task_endpoint("prep", handle_prep_task, services),
        DIGEST_PATH: task_endpoint("digest", handle_digest_task, services),
        CORRECT_PATH: task_endpoint("correct", handle_correction_task, services),
    }


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
