"""The prep workflow's task routes, for `functions.bootstrap` to mount (imports stay inside).

The root hands in itself (`PrepDeps`); each handler is bound to it here. The
handlers live in this folder (`notify_task.py`, `digest_task.py`); the
messages they send are the notify feature's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from functions.web import Handler

if TYPE_CHECKING:
    from functions.prep.deps import PrepDeps


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
