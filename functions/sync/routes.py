"""The sync's HTTP routes for `functions.bootstrap` to mount (lazy imports: cheap cold start).

The root hands in itself as `SyncDeps`; each handler is bound to it here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from functions.web import Handler, bound

if TYPE_CHECKING:
    from functions.sync.deps import SyncDeps

WEBHOOK_PATH = "/calendar/webhook"


def task_routes(services: SyncDeps) -> dict[str, Handler]:
    """OIDC-verified task handlers (Cloud Tasks, Cloud Scheduler)."""
    from functions.sync.handlers import handle_fanout, handle_sync
    from functions.sync.tasks import FANOUT_PATH, SYNC_PATH
    from functions.tasks.endpoint import task_endpoint

    return {
        SYNC_PATH: task_endpoint("sync", handle_sync, services),
        FANOUT_PATH: task_endpoint("fanout", handle_fanout, services),
    }


def webhook_routes(services: SyncDeps) -> dict[str, Handler]:
    """Google's push pings: public, authenticated by the channel token instead of OIDC."""
    from functions.sync.webhook import calendar_webhook

    return {WEBHOOK_PATH: bound(calendar_webhook, services)}
