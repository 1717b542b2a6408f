"""HTTP plumbing shared by every entry point: JSON errors, health, path routing.

Errors are always a small JSON object with a stable `error` code and a short
human message; never a stack trace, a token or an echo of the request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from flask import Request, Response, json

from functions.logs import log

Handler = Callable[[Request], Response]

_log = logging.getLogger(__name__)

#: Request bodies larger than this are refused before parsing (cards are small).
MAX_BODY_BYTES = 256 * 1024


def json_response(payload: Mapping[str, Any], status: int = 200) -> Response:
    return Response(
        json.dumps(payload, ensure_ascii=False),
        status=status,
        mimetype="application/json",
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


def json_error(status: int, code: str, message: str) -> Response:
    return json_response({"error": code, "message": message}, status)


def health(_: Request) -> Response:
    """Liveness only: touches no store or Google client, so it stays the cheapest path."""
    return json_response({"status": "ok"})


def dispatch(routes: Mapping[str, Handler], request: Request) -> Response:
    """Route by path; unknown paths are 404 and any crash is a bare 500 with no detail."""
    handler = routes.get(request.path.rstrip("/") or "/")
    if handler is None:
        return json_error(404, "not_found", "no such endpoint")
    return guarded(handler, request)


def guarded(handler: Handler, request: Request) -> Response:
    """Run one handler behind the size limit and the last line of defence."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return json_error(413, "too_large", "request body is too large")
    try:
        return handler(request)
    except Exception as exc:  # the last line of defence: log the type, answer generically
        log(_log, logging.ERROR, "unhandled error", path=request.path, error=type(exc).__name__)
        return json_error(500, "internal", "something went wrong; it has been logged")
