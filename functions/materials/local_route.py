"""`GET /materials?object=...&X-Goog-...`: local mode's stand-in for a Cloud Storage signed URL.

Every request is checked like Cloud Storage would check it (V4 signature over
method, host, path and query; not expired), then the object is served with
headers that keep it inert: the page's own CSP repeated as a header, no
sniffing, no framing, no referrer, no caching. Refused outside local mode.

Whoever opens a refused link is a person in a browser, so a refusal is a
short page that says what to do (expired: ask the sidebar for a fresh link;
invalid: the link was changed or was signed for another server; gone: the
materials were replaced) with the status codes Cloud Storage would give
(403, 404). The page echoes nothing from the request.
"""

from __future__ import annotations

import html
import logging

from flask import Request, Response

from functions.logs import log
from functions.materials.deps import MaterialsLinks
from functions.materials.storage import CONTENT_TYPES, is_object_name
from functions.web import json_error

_log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "private, no-store",
}


#: The refusal pages: (heading, what to do). Fixed text: nothing from the request is echoed.
_EXPIRED = (
    "This prep link has expired",
    "Prep links only work for a limited time. Open the meeting in Calendar and use "
    "\u201cOpen materials\u201d in the Meeting prep sidebar for a fresh link.",
)
_INVALID = (
    "This prep link is not valid",
    "The link was changed (perhaps cut short when it was copied) or it was made for "
    "another server. Open the meeting in Calendar and use the Meeting prep sidebar "
    "for a fresh link.",
)
_GONE = (
    "These prep materials no longer exist",
    "They were replaced or removed. Open the meeting in Calendar and use the Meeting "
    "prep sidebar to see the current materials, or generate them again.",
)


def refusal_page(status: int, text: tuple[str, str]) -> Response:
    heading, advice = text
    body = (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f"<title>{html.escape(heading)}</title><style>body{{font-family:Arial,sans-serif;"
        "max-width:40rem;margin:3rem auto;color:#202124}</style></head><body>"
        f"<h1>{html.escape(heading)}</h1><p>{html.escape(advice)}</p></body></html>"
    )
    return Response(body, status=status, mimetype="text/html", headers=SECURITY_HEADERS)


def serve_materials(services: MaterialsLinks, request: Request) -> Response:
    from functions.materials.local_files import LocalMaterialsStorage
    from functions.materials.v4 import InvalidSignedUrl

    storage = services.materials_storage if services.settings.is_local else None
    if not isinstance(storage, LocalMaterialsStorage):
        return json_error(404, "not_found", "no such endpoint")
    if request.method != "GET":
        return json_error(405, "method_not_allowed", "materials are read with GET")
    query = request.query_string.decode("ascii", errors="replace")
    url = f"{request.scheme}://{request.host}{request.path}?{query}"
    try:
        verified = storage.verify(url)
    except InvalidSignedUrl as exc:
        log(_log, logging.WARNING, "materials link refused", reason=exc.reason)
        return refusal_page(403, _EXPIRED if exc.reason == "expired" else _INVALID)
    name = verified.params.get("object", "")
    body = storage.read(name) if is_object_name(name) else None
    if body is None:
        return refusal_page(404, _GONE)
    suffix = name[name.rindex(".") :]
    return Response(body, status=200, content_type=CONTENT_TYPES[suffix], headers=SECURITY_HEADERS)
