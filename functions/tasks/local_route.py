"""`GET /dev/tasks`: the local task queue, as a page for people or as JSON for scripts.

Local mode only (404 elsewhere, and refused to any caller not on this
machine). A browser gets `local_page`'s table; `?format=json` or an Accept
that prefers JSON gets the queue's pending tasks, recent attempts and
finished tasks in the shape scripts and tests already read. Kept apart from
the queue and the page so that neither imports the other's neighbour
(tests/unit/test_import_graph.py).
"""

from __future__ import annotations

from typing import Protocol

from flask import Request, Response

from functions.store.port import Store
from functions.tasks.local_page import HEADERS, Described, render_tasks
from functions.tasks.local_queue import LocalTaskQueue
from functions.tasks.port import Task, TaskQueue
from functions.web import json_error, json_response, local_only


class LocalMode(Protocol):
    @property
    def is_local(self) -> bool: ...


class QueueOwner(Protocol):
    """What the task preview reads: the mode (`Settings` has it), the queue in use, and the
    store (to name each task's meeting in the user's zone)."""

    @property
    def settings(self) -> LocalMode: ...
    @property
    def tasks(self) -> TaskQueue: ...
    @property
    def store(self) -> Store: ...


def wants_json(request: Request) -> bool:
    """Scripts ask for JSON (`?format=json`, or an Accept that prefers it); browsers get HTML."""
    if request.args.get("format") == "json":
        return True
    accept = request.accept_mimetypes
    return accept.quality("application/json") > accept.quality("text/html")


def tasks_json(queue: LocalTaskQueue) -> dict[str, object]:
    return {
        "pending": [{"queue": t.queue, "name": t.name, "path": t.path} for t in queue.pending()],
        "attempts": [
            {
                "queue": a.queue,
                "name": a.task_name,
                "attempt": a.number,
                "at": a.at.isoformat(),
                "status": a.status,
                "error": a.error,
            }
            for a in queue.attempts()[-100:]
        ],
        "finished": [
            {"name": f.task.name, "outcome": f.outcome.value, "attempts": f.attempts}
            for f in queue.finished()[-100:]
        ],
    }


def preview(services: QueueOwner, request: Request) -> Response:
    """`GET /dev/tasks`: the local queue, as a page or as JSON (local mode only)."""
    queue = services.tasks if services.settings.is_local else None
    if not isinstance(queue, LocalTaskQueue):
        return json_error(404, "not_found", "no such endpoint")
    refused = local_only(request)
    if refused is not None:
        return refused
    if request.method != "GET":
        return json_error(405, "method_not_allowed", "use GET")
    if wants_json(request):
        return json_response(tasks_json(queue))
    store = services.store

    def describe(task: Task) -> Described:
        user_id = task.payload.get("user_id")
        event_id = task.payload.get("event_id")
        user = store.get_user(user_id) if isinstance(user_id, str) and user_id else None
        meeting = (
            store.get_meeting(user_id, event_id)
            if isinstance(user_id, str) and user_id and isinstance(event_id, str) and event_id
            else None
        )
        title = (meeting.title or "(no title)") if meeting is not None else None
        return Described(title, user.time_zone if user is not None else "UTC")

    page = render_tasks(queue.overview(), describe)
    return Response(page, mimetype="text/html", headers=HEADERS)
