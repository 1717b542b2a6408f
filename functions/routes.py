"""Which handler answers which path, for each deployed entry point and for local mode.

Each Cloud Function is deployed with one entry point from `main.py`; locally
the `local` entry point serves them all from one process under the same paths.
"""

from __future__ import annotations

from functions.web import Handler


def task_routes() -> dict[str, Handler]:
    """Every /tasks/* handler: the `tasks` entry point (Cloud Tasks and Cloud Scheduler).

    Each background feature adds its handlers here, so one deployed function
    serves all task paths behind the same OIDC check.
    """
    from functions.materials.routes import task_routes as materials_task_routes
    from functions.notify.routes import task_routes as prep_task_routes
    from functions.sync.routes import task_routes as sync_task_routes

    routes: dict[str, Handler] = {}
    routes.update(sync_task_routes())
    routes.update(prep_task_routes())
    routes.update(materials_task_routes())
    return routes


def webhook_routes() -> dict[str, Handler]:
    """Google's Calendar push pings: the `calendar_webhook` entry point (public)."""
    from functions.sync.routes import webhook_routes as sync_webhook_routes

    return sync_webhook_routes()


def oauth_routes() -> dict[str, Handler]:
    """The consent flow's browser redirect: the `oauth` entry point (public; state-checked)."""
    from functions.oauth.flow import callback

    return {"/oauth/callback": callback}


def chat_routes() -> dict[str, Handler]:
    """Google Chat's interaction events (card clicks): the `chat` entry point."""
    from functions.notify.routes import chat_routes as notify_chat_routes

    return notify_chat_routes()


def dev_routes() -> dict[str, Handler]:
    """Local mode only (each handler answers 404 otherwise): Google's stand-ins, task preview."""
    from functions.materials.routes import dev_routes as materials_dev_routes
    from functions.notify.routes import dev_routes as notify_dev_routes
    from functions.oauth import dev_server
    from functions.tasks.local_queue import preview

    return {
        "/dev/oauth/authorize": dev_server.authorize,
        "/dev/oauth/token": dev_server.token,
        "/dev/oauth/revoke": dev_server.revoke,
        "/dev/tasks": preview,
        **notify_dev_routes(),
        **materials_dev_routes(),
    }


def local_routes() -> dict[str, Handler]:
    """Every route of every entry point (imports stay inside: cheap cold start)."""
    from functions.local_server import health

    routes: dict[str, Handler] = {"/healthz": health}
    routes.update(task_routes())
    routes.update(webhook_routes())
    routes.update(oauth_routes())
    routes.update(chat_routes())
    routes.update(dev_routes())
    from addon.routes import local_routes as addon_local_routes

    routes.update(addon_local_routes())
    return routes
