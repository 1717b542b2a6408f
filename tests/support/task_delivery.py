"""Delivering a task as Cloud Tasks does: a POST with an OIDC token the root accepts.

One place for the token (the tasks service account, for the tasks audience)
and the request, so every test that replays or runs a task says the same
thing to the app; `routes` picks the table the request goes through (the
deployed `tasks` entry point's, or the local server's, which holds it too).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import flask

from functions import bootstrap
from functions.bootstrap import Bootstrap
from functions.tasks.port import Task
from functions.web import Handler, dispatch


def cloud_tasks_token(services: Bootstrap) -> str:
    """An OIDC token as Cloud Tasks signs it for this root's task audience."""
    settings = services.settings
    return services.dev_signer.id_token(
        audience=settings.tasks_audience, subject="cloud-tasks", email=settings.tasks_sa_email
    )


def deliver_task(
    services: Bootstrap,
    task: Task,
    *,
    token: str | None = None,
    routes: Callable[[Bootstrap], Mapping[str, Handler]] = bootstrap.task_routes,
) -> flask.Response:
    """POST `task` to `routes(services)` with Cloud Tasks' headers and token."""
    app = flask.Flask(__name__)
    with app.test_request_context(
        task.path,
        method="POST",
        data=task.body(),
        headers={
            "Authorization": f"Bearer {token or cloud_tasks_token(services)}",
            "Content-Type": "application/json",
            "X-CloudTasks-TaskName": task.name,
        },
    ):
        return dispatch(routes(services), flask.request)
