"""`GET /dev/tasks` as a page: the local task queue in words a person can read.

The local Cloud Tasks stand-in holds prep reminders, generations, digests and
syncs; its raw names are hashes. This page says what each task is for
(kind, the meeting's title), when it runs in the user's own time zone, where
it stands, how many attempts it took and why the last one failed. Titles
come from calendars and are hostile: everything is escaped here, and the page
carries a CSP that allows no script. Scripts keep the JSON
(`Accept: application/json` or `?format=json`, see `local_route.preview`).

The page knows nothing of the store: the caller passes `describe`, which
names a task's meeting and zone.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from functions.tasks.local_queue import RowState, TaskRow
from functions.tasks.port import Task

#: What each task target does, in the words the rest of the product uses.
KINDS = {
    "/tasks/prep": "Prep reminder",
    "/tasks/generate": "Generate prep",
    "/tasks/digest": "Morning digest",
    "/tasks/sync": "Calendar sync",
    "/tasks/fanout": "Sync fan-out",
    "/tasks/followup": "Follow-up question",
    "/tasks/correct": "Message correction",
}
#: Longest meeting title or error shown in one cell.
MAX_CELL = 120

HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
}
_STYLE = """
body{font-family:Arial,sans-serif;max-width:70rem;margin:2rem auto;color:#202124}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.3rem .6rem;
border-bottom:1px solid #dadce0;vertical-align:top}.meta{color:#5f6368}
.gave{color:#b3261e}.retrying{color:#b06000}code{background:#f1f3f4;padding:0 .2rem}
"""


@dataclass(frozen=True, slots=True)
class Described:
    """What the page shows for a task's subject: its meeting's title and the user's zone."""

    title: str | None
    zone: str


def _e(value: object) -> str:
    text = str(value)
    if len(text) > MAX_CELL:
        text = text[: MAX_CELL - 1] + "…"
    return html.escape(text, quote=True)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _when(at: datetime, zone: ZoneInfo) -> str:
    local = at.astimezone(zone)
    return f"{local:%a %d %b %H:%M} {local.tzname() or zone.key}"


def kind_of(task: Task) -> str:
    return KINDS.get(task.path, task.path)


def _row(row: TaskRow, describe: Callable[[Task], Described]) -> str:
    about = describe(row.task)
    zone = _zone(about.zone)
    title = about.title if about.title is not None else "—"
    css = {RowState.GAVE_UP: ' class="gave"', RowState.RETRYING: ' class="retrying"'}
    return (
        f"<tr{css.get(row.state, '')}><td>{_e(title)}</td><td>{_e(kind_of(row.task))}</td>"
        f"<td>{_e(_when(row.at, zone))}</td><td>{_e(row.state.value)}</td>"
        f"<td>{row.attempts}</td><td>{_e(row.last_error or '')}</td></tr>"
    )


def render_tasks(rows: Sequence[TaskRow], describe: Callable[[Task], Described]) -> str:
    head = (
        "<tr><th>meeting</th><th>kind</th><th>runs / ran (your time)</th><th>state</th>"
        "<th>attempts</th><th>last error</th></tr>"
    )
    body = "".join(_row(r, describe) for r in rows)
    listing = f"<table>{head}{body}</table>" if body else "<p>No tasks yet.</p>"
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Tasks · Meeting prep</title>'
        f"<style>{_STYLE}</style></head><body><h1>Tasks</h1>"
        "<p class=meta>The local stand-in for Cloud Tasks: what is scheduled, due, being "
        "retried and finished (newest first). A failed attempt is retried with backoff, "
        'as Cloud Tasks does. JSON for scripts: <a href="/dev/tasks?format=json">'
        "/dev/tasks?format=json</a>.</p>"
        f'{listing}<p><a href="/">Back to the front page</a></p></body></html>'
    )
