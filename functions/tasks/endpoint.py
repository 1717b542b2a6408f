"""HTTP task handlers: OIDC-verified, JSON in, status codes that drive retries.

Cloud Tasks (and Cloud Scheduler) retry on any non-2xx answer. So a handler
returns 2xx when the work is done *or can never succeed* (a malformed task,
a deleted user) and raises `RetryLater` for transient trouble, which becomes
a 503 and a retry with the queue's backoff. Any `TransientError` or
`PermanentError` that escapes a handler is answered the same way as
`RetryLater` or `BadTask` (`functions.web.task_failure`); anything else is a
bug and `guarded`'s 500 (still retried).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol, TypeVar

from flask import Request, Response

from functions.auth.id_tokens import IdTokenVerifier, TokenRejected, bearer_token
from functions.errors import PermanentError, TransientError
from functions.logs import log
from functions.web import json_body, json_error, json_response, task_failure

_log = logging.getLogger(__name__)


class TaskAudience(Protocol):
    """The settings a task token is checked against (`functions.config.Settings` has them)."""

    @property
    def tasks_audience(self) -> str: ...
    @property
    def tasks_sa_email(self) -> str: ...


class TaskCaller(Protocol):
    """What the endpoint itself needs to check a caller: those settings and the token verifier."""

    @property
    def settings(self) -> TaskAudience: ...
    @property
    def id_tokens(self) -> IdTokenVerifier: ...


#: A feature's dependencies (its Protocol, which the composition root satisfies).
Deps = TypeVar("Deps", bound=TaskCaller)

#: `handler(deps, payload)`: the feature's own Protocol first, then the task's JSON body.
TaskHandler = Callable[[Deps, Mapping[str, Any]], Mapping[str, Any]]


class RetryLater(TransientError):
    """Transient failure: answer 503 so the queue retries with backoff."""


class BadTask(PermanentError):
    """The task can never succeed as sent: acknowledge it (200) so it is not retried forever."""


def task_endpoint(
    kind: str, handler: TaskHandler[Deps], services: Deps
) -> Callable[[Request], Response]:
    """Wrap `handler` with OIDC verification, JSON parsing and retry semantics.

    `services` is what the route table binds: the handler gets it as its first
    argument (built adapters stay lazy: nothing is touched before the caller is checked).
    """

    def endpoint(request: Request) -> Response:
        if request.method != "POST":
            return json_error(405, "method_not_allowed", "tasks are POSTed")
        token = bearer_token(request.headers.get("Authorization"))
        settings = services.settings
        try:
            if token is None:
                raise TokenRejected("missing bearer token")
            services.id_tokens.verify(
                token, audience=settings.tasks_audience, emails={settings.tasks_sa_email}
            )
        except TokenRejected as exc:
            log(_log, logging.WARNING, "task rejected", kind=kind, reason=exc.reason)
            return json_error(401, "unauthenticated", "caller is not allowed")
        payload = json_body(request)
        if not isinstance(payload, dict):
            return json_error(400, "bad_request", "body must be a JSON object")
        task_id = request.headers.get("X-CloudTasks-TaskName", "")
        attempt = request.headers.get("X-CloudTasks-TaskRetryCount", "0")
        try:
            result = handler(services, payload)
        except (TransientError, PermanentError) as exc:  # RetryLater, BadTask and kin
            return task_failure(exc, kind=kind, task=task_id, attempt=attempt)
        log(_log, logging.INFO, "task done", kind=kind, task=task_id, attempt=attempt)
        return json_response({"status": "ok", **result})

    endpoint.__name__ = f"task_{kind}"
    return endpoint


def payload_instant(payload: Mapping[str, Any], key: str) -> datetime | None:
    """An optional aware ISO timestamp of a task's payload; a malformed one is a `BadTask`
    (the task can never succeed as sent, so it is acknowledged, not retried)."""
    raw = payload.get(key)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(str(raw))
    except ValueError:
        raise BadTask(f"{key} is not an ISO timestamp") from None
    if value.tzinfo is None:
        raise BadTask(f"{key} must carry a UTC offset")
    return value
