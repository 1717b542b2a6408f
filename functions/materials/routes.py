"""Prep materials' HTTP routes, for `functions.bootstrap` to mount (imports stay inside).

The root hands in itself as `MaterialsDeps`; each handler is bound to it here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from functions.web import Handler, bound

if TYPE_CHECKING:
    from functions.materials.deps import MaterialsDeps, ReaderDeps

GENERATE_PATH = "/tasks/generate"
LOCAL_MATERIALS_PATH = "/materials"


def task_routes(services: MaterialsDeps) -> dict[str, Handler]:
    """The generation task queued by the sidebar and Chat buttons (OIDC-verified)."""
    from functions.materials.handler import handle_generate
    from functions.tasks.endpoint import task_endpoint

    return {GENERATE_PATH: task_endpoint("generate", handle_generate, services)}


def reader_routes(services: ReaderDeps) -> dict[str, Handler]:
    """The stable links in messages and their Google sign-in (browser-facing, public)."""
    from functions.materials.reader import READER_PATH, SIGNIN_PATH, reader_page, signin_callback

    return {
        READER_PATH: bound(reader_page, services),
        SIGNIN_PATH: bound(signin_callback, services),
    }


def dev_routes(services: MaterialsDeps) -> dict[str, Handler]:
    """Local mode only (404 otherwise): materials behind signed, expiring links."""
    from functions.materials.local_route import serve_materials

    return {LOCAL_MATERIALS_PATH: bound(serve_materials, services)}
