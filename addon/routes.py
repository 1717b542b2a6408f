"""Which paths the sidebar answers, deployed on its own and inside the local server.

The root hands in where the sidebar comes from (`root.sidebar`, built on the
first request) and itself as `AddonDeps` for the local preview pages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Request, Response

from functions.web import Handler

if TYPE_CHECKING:
    from addon.deps import AddonDeps
    from addon.endpoint import SidebarSource


def addon_routes(sidebar: SidebarSource) -> dict[str, Handler]:
    """The `addon` Cloud Function: `/` is where its URL lands; `/addon` as locally."""
    from addon.endpoint import make_endpoint

    handle = make_endpoint(sidebar)
    return {"/": handle, "/addon": handle}


def local_routes(services: AddonDeps, sidebar: SidebarSource) -> dict[str, Handler]:
    """In the local server: the endpoint, the card preview and the shared-agenda stand-in
    (both refuse outside local mode)."""
    from addon import preview
    from addon.endpoint import make_endpoint
    from functions.share.local import SHARED_PATH
    from functions.web import bound

    return {
        "/addon": make_endpoint(sidebar),
        **preview.routes(services),
        SHARED_PATH: bound(shared_agenda, services),
    }


def shared_agenda(services: AddonDeps, request: Request) -> Response:
    """The local Drive stand-in's document page ("Share agenda with guests", local mode)."""
    from functions.share.local import serve_shared_agenda

    return serve_shared_agenda(request, services.settings)
