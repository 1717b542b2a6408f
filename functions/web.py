"""HTTP plumbing shared by every entry point: JSON errors, health, path routing.

Errors are always a small JSON object with a stable `error` code and a short
human message; never a stack trace, a token or an echo of the request.

Body size: every entry point (`dispatch`, `guarded`, `health`) checks the body
against MAX_BODY_BYTES before routing, and a refused body is detached from
the request so nothing reads it afterwards. That matters because
functions-framework reads the whole request after every response
(`read_request`, to spare clients a connection error): a refusal that left the
stream in place still cost the body's size in memory. What is left on the
socket is the server's to discard: werkzeug's development server drains it in
10 MB reads after answering, gunicorn in 1 KiB reads or closes the connection;
Cloud Functions itself refuses requests over 32 MiB.

Failures: what a handler lets escape is answered here by its base in
`functions.errors`, the one table for every entry point. A task target
(`task_failure`) answers a `TransientError` with 503, which Cloud Tasks
retries with backoff (any answer outside 2xx is retried; 503 and 429 also
slow the queue down), and a `PermanentError` with 200 "dropped", so the queue
stops. Everywhere else `guarded` answers a `TransientError` with 503 and
anything else with a bare 500.
"""

from __future__ import annotations

import io
import ipaddress
import json as std_json
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Request, Response, json

from functions.errors import PermanentError, TransientError
from functions.logs import log

Handler = Callable[[Request], Response]

_Deps = TypeVar("_Deps")

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


def health(request: Request) -> Response:
    """Liveness only: touches no store or Google client, so it stays the cheapest path."""
    if not _within_limit(request):
        return _too_large()
    return json_response({"status": "ok"})


def dispatch(routes: Mapping[str, Handler], request: Request) -> Response:
    """Route by path; unknown paths are 404 and any crash is a bare 500 with no detail."""
    if not _within_limit(request):  # before the 404 too: nothing may read a refused body
        return _too_large()
    handler = routes.get(request.path.rstrip("/") or "/")
    if handler is None:
        return json_error(404, "not_found", "no such endpoint")
    return guarded(handler, request)


#: Host names a local-only page answers to (any port): this machine, by name or address.
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def _loopback_peer(address: str | None) -> bool:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)  # ::ffff:127.0.0.1 from a dual-stack socket
    return bool(ip.is_loopback or (mapped is not None and mapped.is_loopback))


def local_only(request: Request) -> Response | None:
    """A 403 unless the caller is on this machine and the Host header names it.

    For the local server's own pages (card preview and its token minting, the
    outbox, the task list, the OAuth stand-in). The peer address keeps out the
    network when `serve --host 0.0.0.0`; the Host check keeps out DNS
    rebinding, where a web page's own name resolves to 127.0.0.1 and the
    user's browser is the peer. Neither alone is enough.
    """
    host = urlsplit(f"//{request.host}").hostname or ""
    if _loopback_peer(request.remote_addr) and host in LOOPBACK_HOSTS:
        return None
    log(_log, logging.WARNING, "local page refused", path=request.path)
    return json_error(403, "forbidden", "this page answers on this machine only")


def _too_large() -> Response:
    return json_error(413, "too_large", "request body is too large")


def _replace_body(wsgi: dict[str, Any], body: bytes) -> None:
    """Hand on `body` as an ordinary sized body in place of what the server gave."""
    wsgi["wsgi.input"] = io.BytesIO(body)
    wsgi["CONTENT_LENGTH"] = str(len(body))
    wsgi.pop("HTTP_TRANSFER_ENCODING", None)  # else Werkzeug ignores the length
    wsgi.pop("wsgi.input_terminated", None)


def _read_at_most(stream: Any, limit: int) -> bytes:
    """Up to `limit` bytes; a raw stream may answer a read with less than asked."""
    parts: list[bytes] = []
    got = 0
    while got < limit:
        part = stream.read(limit - got)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _within_limit(request: Request) -> bool:
    """Whether the body fits MAX_BODY_BYTES; a refused body is detached unread.

    A declared length over the limit is refused without reading a byte. A
    chunked upload has no Content-Length, so the header check cannot see it;
    the server marks such a stream `wsgi.input_terminated`. Read it here, at
    most one byte past the limit, and hand handlers the bytes as an ordinary
    sized body, so no handler ever reads an unbounded stream. Either way a
    refused body is replaced by an empty one, so functions-framework's read
    of the whole request after the response finds nothing to read.
    """
    wsgi = request.environ  # the WSGI environment (not the process's)
    if request.content_length is not None:
        if request.content_length <= MAX_BODY_BYTES:
            request.max_content_length = MAX_BODY_BYTES  # and no handler reads past it
            return True
        _replace_body(wsgi, b"")
        return False
    if not wsgi.get("wsgi.input_terminated"):
        return True  # no length and no terminated stream: Werkzeug reads nothing
    body = _read_at_most(wsgi["wsgi.input"], MAX_BODY_BYTES + 1)
    fits = len(body) <= MAX_BODY_BYTES
    _replace_body(wsgi, body if fits else b"")
    return fits


def guarded(handler: Handler, request: Request) -> Response:
    """Run one handler behind the size limit and the last line of defence."""
    if not _within_limit(request):
        return _too_large()
    try:
        return handler(request)
    except TransientError as exc:  # retrying later may work: say so rather than "a bug"
        error = type(exc).__name__
        log(_log, logging.WARNING, "request unavailable", path=request.path, error=error)
        return json_error(503, "unavailable", "temporarily unavailable; try again shortly")
    except Exception as exc:  # the last line of defence: log the type, answer generically
        log(_log, logging.ERROR, "unhandled error", path=request.path, error=type(exc).__name__)
        return json_error(500, "internal", "something went wrong; it has been logged")


def task_failure(exc: TransientError | PermanentError, **context: str) -> Response:
    """The answer to Cloud Tasks (or Scheduler) for a failure a task handler raised.

    Transient: 503, so the queue retries with its backoff. Permanent: 200, so
    the queue drops the task instead of retrying it until it gives up; the
    reason goes into the answer and the log (messages of these exceptions
    name the failure, never content); `context` (kind, task, attempt) is logged too.
    """
    error = type(exc).__name__
    if isinstance(exc, TransientError):
        log(_log, logging.WARNING, "task will retry", reason=str(exc), error=error, **context)
        return json_error(503, "retry", "transient failure; retry later")
    log(_log, logging.ERROR, "task dropped", reason=str(exc), error=error, **context)
    return json_response({"status": "dropped", "reason": str(exc)})


def bound(handler: Callable[[_Deps, Request], Response], deps: _Deps) -> Handler:
    """`handler` with what it needs bound in: how every route table turns one into a `Handler`.

    A handler names its dependencies as its first parameter (a feature's
    Protocol, which the composition root satisfies), so nothing below the
    root reaches for a process-wide object; tests bind their own.
    """

    def serve(request: Request) -> Response:
        return handler(deps, request)

    serve.__name__ = getattr(handler, "__name__", "handler")
    serve.__qualname__ = serve.__name__
    return serve
