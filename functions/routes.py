"""Which handler answers which path, for each deployed entry point and for local mode.

Each Cloud Function is deployed with one entry point from `main.py`; locally
the `local` entry point serves them all from one process under the same paths.
"""

from __future__ import annotations

from functions.web import Handler, health


def local_routes() -> dict[str, Handler]:
    """Every route of every entry point (imports stay inside: cheap cold start)."""
    routes: dict[str, Handler] = {"/healthz": health}
    return routes
