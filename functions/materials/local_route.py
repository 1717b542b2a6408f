"""`GET /materials?object=...&X-Goog-...`: local mode's stand-in for a Cloud Storage signed URL.

Every request is checked like Cloud Storage would check it (V4 signature over
method, host, path and query; not expired), then the object is served with
headers that keep it inert: the page's own CSP repeated as a header, no
sniffing, no framing, no referrer, no caching. Refused outside local mode.
"""

from __future__ import annotations

import logging

from flask import Request, Response

from functions.bootstrap import get_services
from functions.logs import log
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


def serve_materials(request: Request) -> Response:
    from functions.materials.local_files import LocalMaterialsStorage
    from functions.materials.v4 import InvalidSignedUrl

    services = get_services()
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
        return json_error(403, "forbidden", "this link is not valid or has expired")
    name = verified.params.get("object", "")
    body = storage.read(name) if is_object_name(name) else None
    if body is None:
        return json_error(404, "not_found", "these materials no longer exist")
    suffix = name[name.rindex(".") :]
    return Response(body, status=200, content_type=CONTENT_TYPES[suffix], headers=SECURITY_HEADERS)
