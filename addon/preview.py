"""The local card preview: the sidebar's real cards, rendered in a browser.

Served only in local mode. The page asks `/preview/event-object` for a signed
event object (tokens minted here, with the local development key) and POSTs
it to the real `/addon` endpoint, so every click runs the real handlers and
the page shows exactly the cards Calendar would get.

Token minting is the dangerous part, so every preview route answers only in
local mode, only to a caller on this machine naming it in the Host header
(`web.local_only`: not the network under `--host 0.0.0.0`, no DNS rebinding
from a web page), and the minting route only to a JSON POST (which a
cross-site form cannot send).
"""

from __future__ import annotations

import functools
import logging
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flask import Request, Response

from addon.dev_event import (
    LOCAL_USER_ID,
    event_object,
    local_email,
    next_to_open,
    pick_meeting,
)
from addon.event_object import MAX_FORM_INPUTS, MAX_PARAMETERS
from addon.samples import add_sample_meetings
from functions.config import Settings
from functions.domain.users import User
from functions.logs import log
from functions.timefmt import valid_locale, valid_zone
from functions.web import Handler, bound, json_body, json_error, json_response, local_only

if TYPE_CHECKING:
    from addon.deps import AddonDeps

_log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "preview_static"
_ASSETS = {
    "/preview": ("index.html", "text/html; charset=utf-8"),
    "/preview/app.js": ("preview.js", "text/javascript; charset=utf-8"),
    "/preview/app.css": ("preview.css", "text/css; charset=utf-8"),
}
_CSP = (
    "default-src 'self'; img-src 'self' https: data:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'none'"
)


@functools.lru_cache(maxsize=8)
def _asset(name: str) -> bytes:
    return (STATIC / name).read_bytes()


def _refusal(request: Request, settings: Settings) -> Response | None:
    if not settings.is_local:
        return json_error(404, "not_found", "no such endpoint")
    return local_only(request)


def _user_id(raw: Any) -> str:
    return raw.strip()[:128] if isinstance(raw, str) and raw.strip() else LOCAL_USER_ID


def asset(services: AddonDeps, request: Request) -> Response:
    refused = _refusal(request, services.settings)
    if refused is not None:
        return refused
    name, mimetype = _ASSETS[request.path.rstrip("/")]
    return Response(
        _asset(name),
        content_type=mimetype,  # already names its charset (mimetype= would add a second)
        headers={
            "Content-Security-Policy": _CSP,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


def meetings(services: AddonDeps, request: Request) -> Response:
    """The local user's meetings for the picker (titles are text; the page escapes them).

    `next` is the one the page opens first: the next meeting that needs prep
    (not a declined, cancelled or skipped one), else the next one at all.
    """
    refused = _refusal(request, services.settings)
    if refused is not None:
        return refused
    user_id = _user_id(request.args.get("user"))
    now = services.clock.now()
    found = services.store.list_meetings(
        user_id,
        start_from=now - timedelta(days=1),
        start_before=now + timedelta(days=60),
        limit=200,
    )
    first = next_to_open([m for m in found if m.start >= now])
    return json_response(
        {
            "user": user_id,
            "next": first.event_id if first is not None else None,
            "meetings": [
                {"eventId": m.event_id, "title": m.title, "start": m.start.isoformat()}
                for m in found
            ],
        }
    )


def _strings(raw: Any, limit: int) -> dict[str, Any]:
    if not isinstance(raw, dict) or len(raw) > limit:
        raise ValueError("expected a small object")
    return raw


def _local_json_post(services: AddonDeps, request: Request) -> Any:
    """The gate every token-minting preview route shares: local, loopback, a JSON POST."""
    refused = _refusal(request, services.settings)
    if refused is not None:
        return refused
    if request.method != "POST" or not request.is_json:
        return json_error(405, "method_not_allowed", "POST JSON here")
    return json_body(request)


def signed_event(services: AddonDeps, request: Request) -> Response:
    """Mint a signed event object: trigger "homepage", "eventOpen" or "action"."""
    gate = _local_json_post(services, request)
    if isinstance(gate, Response):
        return gate
    body = gate
    if not isinstance(body, dict):
        return json_error(400, "bad_request", "body must be a JSON object")
    trigger = body.get("trigger")
    user_id = _user_id(body.get("user"))
    try:
        params = {
            str(k): str(v)
            for k, v in _strings(body.get("parameters") or {}, MAX_PARAMETERS).items()
        }
        form = {
            str(k): [str(x) for x in v] if isinstance(v, list) else [str(v)]
            for k, v in _strings(body.get("formInputs") or {}, MAX_FORM_INPUTS).items()
        }
    except ValueError:
        return json_error(400, "bad_request", "parameters and formInputs are small objects")
    meeting = None
    if trigger == "eventOpen":
        event_id = body.get("eventId")
        if not isinstance(event_id, str) or not event_id:
            return json_error(400, "bad_request", "eventOpen needs an eventId")
        meeting = services.store.get_meeting(user_id, event_id)
        if meeting is None:
            return json_error(404, "not_found", "no such meeting for this user")
    elif trigger not in ("homepage", "action"):
        return json_error(400, "bad_request", "trigger is homepage, eventOpen or action")
    event = event_object(
        services,
        user_id=user_id,
        email=local_email(services, user_id),
        meeting=meeting,
        parameters=params if trigger == "action" else None,
        form=form if trigger == "action" else None,
        time_zone=valid_zone(
            body.get("timeZone") if isinstance(body.get("timeZone"), str) else None
        ),
        locale=valid_locale(body.get("locale") if isinstance(body.get("locale"), str) else None),
    )
    system_token = event["authorizationEventObject"]["systemIdToken"]
    return json_response(
        {
            "url": urlsplit(services.settings.addon_audience).path or "/addon",
            "authorization": f"Bearer {system_token}",
            "event": event,
        }
    )


def samples(services: AddonDeps, request: Request) -> Response:
    gate = _local_json_post(services, request)
    if isinstance(gate, Response):
        return gate
    body = gate
    body = body if isinstance(body, dict) else {}
    user_id = _user_id(body.get("user"))
    user = services.store.get_user(user_id) or User(
        user_id=user_id,
        email=services.settings.local_user_email,
        time_zone=valid_zone(
            body.get("timeZone") if isinstance(body.get("timeZone"), str) else None
        )
        or "UTC",
        locale=valid_locale(body.get("locale") if isinstance(body.get("locale"), str) else None)
        or "en-US",
    )
    added = add_sample_meetings(services, user)
    log(_log, logging.INFO, "sample meetings added", user_id=user_id, count=len(added))
    first = pick_meeting(services, user_id, None)
    return json_response({"added": len(added), "next": first.event_id})


def routes(services: AddonDeps) -> dict[str, Handler]:
    """The preview's pages, bound to the root the local server runs on."""
    out: dict[str, Handler] = dict.fromkeys(_ASSETS, bound(asset, services))
    out["/preview/meetings"] = bound(meetings, services)
    out["/preview/event-object"] = bound(signed_event, services)
    out["/preview/samples"] = bound(samples, services)
    return out
