"""HTTP plumbing shared by every entry point: JSON errors, health, path routing.

Errors are always a small JSON object with a stable `error` code and a short
human message; never a stack trace, a token or an echo of the request.
"""

from __future__ import annotations

import io
import json as std_json
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

from flask import Request, Response, json

from functions.logs import log

Handler = Callable[[Request], Response]

_log = logging.getLogger(__name__)

#: Request bodies larger than this are refused before parsing (cards are small).
MAX_BODY_BYTES = 256 * 1024

_SURROGATE = re.compile("[\ud800-\udfff]")


class UnusableJson(ValueError):
    """The body is not JSON a handler can use (see `parse_json`)."""


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def parse_json(raw: bytes | str) -> Any:
    """Parse a request body, refusing what would otherwise fail later and deeper.

    Refused with `UnusableJson`: text that is not JSON (NaN and Infinity, which
    `json` accepts by default, included); nesting deeper than the
    parser's recursion limit (`json` raises RecursionError, which is no
    ValueError and would escape as a 500); and strings holding lone UTF-16
    surrogates (from `\\ud800` escapes, or from invalid UTF-8, which `json`
    decodes with surrogatepass). RFC 7493 (I-JSON) forbids those, and neither
    SQLite, Firestore nor any UTF-8 encoder accepts them, so an id carrying one
    would crash the first store call instead of being refused here.
    """
    try:
        value = std_json.loads(raw, parse_constant=_not_json)
    except (ValueError, RecursionError):
        raise UnusableJson("not JSON") from None
    pending: list[Any] = [value]
    while pending:  # iterative: the value may be nested right up to the parser's limit
        item = pending.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise UnusableJson("lone surrogate in a string")
        elif isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return value


def json_body(request: Request) -> Any:
    """The body of an application/json request, or None when there is none usable.

    `request.get_json(silent=True)` with `parse_json`'s refusals on top.
    """
    if not request.is_json:
        return None
    try:
        return parse_json(request.get_data(cache=True))
    except UnusableJson:
        return None


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


def _within_limit(request: Request) -> bool:
    """Whether the body fits MAX_BODY_BYTES, checking a streamed body too.

    A chunked upload has no Content-Length, so the header check cannot see
    it; the server marks such a stream `wsgi.input_terminated`. Read it here,
    at most one byte past the limit, and hand handlers the bytes as an
    ordinary sized body, so no handler ever reads an unbounded stream (and
    the framework's own drain after the response finds nothing left to read).
    """
    if request.content_length is not None:
        return request.content_length <= MAX_BODY_BYTES
    wsgi = request.environ  # the WSGI environment (not the process's)
    if not wsgi.get("wsgi.input_terminated"):
        return True  # no length and no terminated stream: Werkzeug reads nothing
    body = wsgi["wsgi.input"].read(MAX_BODY_BYTES + 1)
    fits = len(body) <= MAX_BODY_BYTES
    wsgi["wsgi.input"] = io.BytesIO(body if fits else b"")
    wsgi["CONTENT_LENGTH"] = str(len(body)) if fits else "0"
    wsgi.pop("HTTP_TRANSFER_ENCODING", None)  # else Werkzeug ignores the length
    wsgi.pop("wsgi.input_terminated", None)
    return fits


def guarded(handler: Handler, request: Request) -> Response:
    """Run one handler behind the size limit and the last line of defence."""
    if not _within_limit(request):
        return json_error(413, "too_large", "request body is too large")
    try:
        return handler(request)
    except Exception as exc:  # the last line of defence: log the type, answer generically
        log(_log, logging.ERROR, "unhandled error", path=request.path, error=type(exc).__name__)
        return json_error(500, "internal", "something went wrong; it has been logged")
