"""Which paths the sidebar answers, deployed on its own and inside the local server.

The root hands in where the sidebar comes from (`root.sidebar`, built on the
first request) and itself as `AddonDeps` for the local preview pages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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
    """In the local server: the endpoint and the card preview (which refuses outside local mode)."""
    from addon import preview
    from addon.endpoint import make_endpoint

    return {"/addon": make_endpoint(sidebar), **preview.routes(services)}
