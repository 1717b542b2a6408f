"""The add-on's one HTTP endpoint: verify, parse, check scopes, route, answer.

Order matters. A bearer token in the Authorization header is verified before
the body is even parsed, so an unauthenticated caller learns nothing (not
even whether its body was well formed). Refusals are a bare 401; malformed
bodies a 400; anything that goes wrong past that point becomes a friendly
card (HTTP 200) so Calendar shows a message instead of a broken sidebar, and
only the error's type is logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from flask import Request, Response
from werkzeug.exceptions import RequestEntityTooLarge

from addon import cards as c
from addon import handlers, scopes
from addon.event_object import AddonEvent, MalformedEvent, parse_event
from addon.sidebar import Sidebar, open_call
from addon.verify import verify_system_token, verify_user_token
from functions.auth.id_tokens import TokenRejected, WrongAudience, bearer_token
from functions.logs import log
from functions.store.port import StoreBusy
from functions.web import (
    MAX_BODY_BYTES,
    Handler,
    UnusableJson,
    json_error,
    json_response,
    parse_json,
)

_log = logging.getLogger(__name__)

SidebarSource = Callable[[], Sidebar]


#: Logged with an audience mismatch in local mode, where it nearly always means this.
PORT_HINT = (
    "local tokens name the server's address: `main.py dev-event` signs for the running "
    "server (or pass --port PORT), and the preview signs for the page's own address"
)


def _unauthenticated(exc: TokenRejected, *, local: bool = False) -> Response:
    if isinstance(exc, WrongAudience):
        # Which address each side names, never the token: enough to see a wrong port.
        hint = PORT_HINT if local else "check PREP_ADDON_AUDIENCE against the deployment URL"
        log(
            _log,
            logging.WARNING,
            "add-on request rejected",
            reason="audience mismatch",
            expected=exc.expected,
            received=exc.received,
            hint=hint,
        )
    else:
        log(_log, logging.WARNING, "add-on request rejected", reason=exc.reason)
    return json_error(401, "unauthenticated", "caller is not allowed")


def _malformed() -> Response:
    return json_error(400, "bad_request", "not an add-on event object")


def _read_event(request: Request) -> AddonEvent:
    request.max_content_length = MAX_BODY_BYTES
    raw = request.get_data(cache=False)
    try:
        body = parse_json(raw)
    except UnusableJson:
        raise MalformedEvent("body is not JSON") from None
    return parse_event(body)


def make_endpoint(source: SidebarSource) -> Handler:
    """The add-on endpoint over the sidebar `source` gives.

    The composition root's route table passes its own (`root.sidebar`, built on
    the first request); tests pass theirs.
    """

    def endpoint(request: Request) -> Response:
        if request.method != "POST":
            return json_error(405, "method_not_allowed", "add-on events are POSTed")
        started = time.perf_counter()
        app = source()
        settings = app.settings
        header_token = bearer_token(request.headers.get("Authorization"))
        try:
            if header_token is not None:
                verify_system_token(app.id_tokens, settings, header_token)
        except TokenRejected as exc:
            return _unauthenticated(exc, local=settings.is_local)
        try:
            event = _read_event(request)
        except RequestEntityTooLarge:
            return json_error(413, "too_large", "request body is too large")
        except MalformedEvent:
            return _malformed()
        try:
            if header_token is None:
                # Workspace sends the same token in the body; it gets the same checks.
                verify_system_token(app.id_tokens, settings, event.system_id_token)
        except TokenRejected as exc:
            return _unauthenticated(exc, local=settings.is_local)

        needed = handlers.needed_scopes(event.op, event.opened is not None)
        lacking = scopes.missing(needed, event.authorized_scopes)
        if lacking:
            return json_response(c.request_scopes(lacking))
        try:
            who = verify_user_token(app.id_tokens, settings, event.user_id_token)
        except TokenRejected as exc:
            return _unauthenticated(exc, local=settings.is_local)

        try:
            call = open_call(app, event, who)
            if event.op is None:
                answer = handlers.route(call)
            else:
                # Imported on a click only: the first card never pays for the click modules.
                from addon import actions

                answer = actions.run(call)
        except MalformedEvent:
            return _malformed()
        except StoreBusy:  # another writer held the store past a request's short wait
            log(_log, logging.WARNING, "add-on request failed", op=event.op, error="StoreBusy")
            answer = _trouble(event, BUSY_TEXT)
        except Exception as exc:  # a message card rather than a broken sidebar
            log(_log, logging.ERROR, "add-on request failed", op=event.op, error=type(exc).__name__)
            answer = _trouble(event)
        for card in c.cards_in(answer):
            problems = c.card_problems(card)
            if problems:  # a bug in a builder: visible in logs, the card still goes out
                log(_log, logging.ERROR, "card breaks host limits", problems=problems)
        log(
            _log,
            logging.INFO,
            "add-on request",
            op=event.op or ("event_open" if event.opened else "homepage"),
            user_id=who.user_id,
            ms=round((time.perf_counter() - started) * 1000, 1),
        )
        return json_response(answer)

    endpoint.__name__ = "addon"
    return endpoint


BUSY_TEXT = "Your meeting data is busy being saved elsewhere. Please try again in a few seconds."


def _trouble(
    event: AddonEvent, text: str = "Meeting prep ran into a problem. Please try again in a moment."
) -> c.Json:
    if event.op is not None:
        return c.notify(text)
    view_card = c.card(
        None,
        [c.section([c.decorated(text, top="Something went wrong", icon="DESCRIPTION")])],
        name="trouble",
    )
    return c.push_card(view_card)
