"""`GET /`: the local server's front page, so a newcomer who opens the address sees something.

Local mode only (404 otherwise, as before this page existed) and this
machine only (`web.local_only`): it lists meeting titles, which are the
user's data. Every meeting field is escaped here, whatever it contains
(titles come from calendars and are hostile), and the page carries a CSP
that allows no script at all. It says what is running (mode, store,
generator, the .ics in force and why), the local user's next meetings in
their own time zone, and links to the other local pages and the README's
two commands.

`/healthz` of the local server lives here too (`health`), beside the other
local page: the root mounts both without importing the server that runs it.
"""

from __future__ import annotations

import html
import logging
from datetime import timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Request, Response

from functions import web
from functions.config import Settings
from functions.domain.classification import Classifier
from functions.domain.clock import Clock
from functions.domain.meetings import Meeting
from functions.logs import log
from functions.store.port import Store
from functions.web import json_error, local_only

_log = logging.getLogger(__name__)


class HomeDeps(Protocol):
    """What the local front page and health check read (the composition root satisfies it)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def store(self) -> Store: ...
    @property
    def classifier(self) -> Classifier: ...


#: How many upcoming meetings the page lists; the preview has the full picker.
NEXT_MEETINGS = 8

_STYLE = """
body{font-family:Arial,sans-serif;max-width:60rem;margin:2rem auto;color:#202124}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.3rem .6rem;
border-bottom:1px solid #dadce0}.meta{color:#5f6368}code{background:#f1f3f4;padding:0 .2rem}
"""
_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
}
_LINKS = (
    ("/preview", "the Calendar sidebar card for any meeting, with working buttons"),
    ("/dev/outbox", "the emails and Chat messages the product sent"),
    ("/dev/tasks", "the local Cloud Tasks queue: scheduled, retried and finished tasks"),
    ("/healthz", "liveness and whether the local database can be read"),
)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _running(services: HomeDeps) -> list[tuple[str, str]]:
    from functions.sync.local import active_ics_path
    from functions.sync.sources import uses_ics

    settings = services.settings
    if uses_ics(settings):
        path, why = active_ics_path(settings)
        calendar = f"{path} ({why})"
    else:
        calendar = f"Calendar API at {settings.calendar_api_endpoint}"
    store = settings.store
    if store == "sqlite":
        store = f"sqlite ({settings.sqlite_path})"
    return [
        ("mode", settings.mode.value),
        ("store", store),
        ("generator", settings.materials.generator),
        ("notifications", settings.notify.delivery),
        ("calendar", calendar),
    ]


def _meeting_row(meeting: Meeting, zone: ZoneInfo, type_label: str) -> str:
    start = meeting.start.astimezone(zone).strftime("%a %d %b %H:%M")
    state = meeting.prep_state.value.replace("_", " ")
    if meeting.skip_reason:
        state = f"no prep ({meeting.skip_reason})"
    return (
        f"<tr><td>{_e(start)}</td><td>{_e(meeting.title or '(no title)')}</td>"
        f"<td>{_e(type_label)}</td><td>{_e(state)}</td></tr>"
    )


def render_home(services: HomeDeps) -> str:
    from functions.sync.local import LOCAL_USER_ID

    user = services.store.get_user(LOCAL_USER_ID)
    zone_name = user.time_zone if user is not None else "UTC"
    zone = _zone(zone_name)
    now = services.clock.now()
    upcoming = services.store.list_meetings(
        LOCAL_USER_ID, start_from=now, start_before=now + timedelta(days=60), limit=NEXT_MEETINGS
    )
    rules = services.classifier.rules
    rows = "".join(_meeting_row(m, zone, rules.label_of(m.meeting_type)) for m in upcoming)
    meetings = (
        f"<table><tr><th>when ({_e(zone.key)})</th><th>title</th><th>type</th>"
        f"<th>prep</th></tr>{rows}</table>"
        if rows
        else "<p>No upcoming meetings. Add sample meetings from the preview, or import a "
        "calendar with <code>.venv/bin/python main.py sync-local --ics FILE</code>.</p>"
    )
    running = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in _running(services))
    links = "".join(
        f'<li><a href="{_e(href)}">{_e(href)}</a>: {_e(what)}</li>' for href, what in _LINKS
    )
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Meeting prep · local</title>'
        f"<style>{_STYLE}</style></head><body><h1>Meeting prep, running locally</h1>"
        "<p class=meta>The whole product on its embedded default: no Google account, "
        "no cloud.</p>"
        f"<h2>What is running</h2><table>{running}</table>"
        f"<h2>Next meetings</h2>{meetings}"
        f"<h2>Pages</h2><ul>{links}</ul>"
        "<h2>The two commands</h2><pre><code>make run     # this server\n"
        "make test    # every check CI runs</code></pre>"
        "<p class=meta>More in README.md (<code>.venv/bin/python main.py --help</code>).</p>"
        "</body></html>"
    )


def home(services: HomeDeps, request: Request) -> Response:
    if not services.settings.is_local:
        return json_error(404, "not_found", "no such endpoint")
    refused = local_only(request)  # meeting titles: this machine only
    if refused is not None:
        return refused
    if request.method != "GET":
        return json_error(405, "method_not_allowed", "use GET")
    return Response(render_home(services), mimetype="text/html", headers=_HEADERS)


def health(services: HomeDeps, request: Request) -> Response:
    """`/healthz` of the local server: alive, and the store answers a read (503 if not)."""
    from functions.store.port import StoreError
    from functions.store.sqlite import SqliteStore

    try:
        store = services.store
        if isinstance(store, SqliteStore):
            store.ping()
    except StoreError as exc:
        log(_log, logging.ERROR, "store unavailable", error=type(exc).__name__)
        return web.json_response({"status": "unavailable", "store": "cannot be read"}, 503)
    return web.health(request)
