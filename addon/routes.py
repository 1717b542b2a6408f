"""Which paths the sidebar answers, deployed on its own and inside the local server."""

from __future__ import annotations

from functions.web import Handler


def addon_routes() -> dict[str, Handler]:
    """The `addon` Cloud Function: `/` is where its URL lands; `/addon` as locally."""
    from addon.endpoint import handle

    return {"/": handle, "/addon": handle}


def local_routes() -> dict[str, Handler]:
    """In the local server: the endpoint and the card preview (which refuses outside local mode)."""
    from addon import preview
    from addon.endpoint import handle

    return {"/addon": handle, **preview.routes()}
