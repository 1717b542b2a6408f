"""Prep materials' HTTP routes, for `functions.bootstrap` to mount (imports stay inside)."""

from __future__ import annotations

from functions.web import Handler

GENERATE_PATH = "/tasks/generate"
LOCAL_MATERIALS_PATH = "/materials"


def task_routes() -> dict[str, Handler]:
    """The generation task queued by the sidebar and Chat buttons (OIDC-verified)."""
    from functions.materials.handler import handle_generate
    from functions.tasks.endpoint import task_endpoint

    return {GENERATE_PATH: task_endpoint("generate", handle_generate)}


def reader_routes() -> dict[str, Handler]:
    """The stable links in messages and their Google sign-in (browser-facing, public)."""
    from functions.materials.reader import READER_PATH, SIGNIN_PATH, reader_page, signin_callback

    return {READER_PATH: reader_page, SIGNIN_PATH: signin_callback}


def dev_routes() -> dict[str, Handler]:
    """Local mode only (404 otherwise): materials behind signed, expiring links."""
    from functions.materials.local_route import serve_materials

    return {LOCAL_MATERIALS_PATH: serve_materials}
