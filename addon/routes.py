"""Which paths the sidebar answers, deployed on its own and inside the local server."""

from __future__ import annotations

from flask import Request, Response

from functions.web import Handler


def addon_routes() -> dict[str, Handler]:
    """The `addon` Cloud Function: `/` is where its URL lands; `/addon` as locally."""
    from addon.endpoint import handle

    return {"/": handle, "/addon": handle}


def local_routes() -> dict[str, Handler]:
    """In the local server: the endpoint, the card preview and the shared-agenda stand-in
    (both refuse outside local mode)."""
    from addon import preview
    from addon.endpoint import handle
    from functions.share.local import SHARED_PATH

    return {"/addon": handle, **preview.routes(), SHARED_PATH: shared_agenda}


def shared_agenda(request: Request) -> Response:
    """The local Drive stand-in's document page ("Share agenda with guests", local mode)."""
    from functions.bootstrap import get_services
    from functions.share.local import serve_shared_agenda

    return serve_shared_agenda(request, get_services().settings)
