"""Production adapter of the task queue: Cloud Tasks HTTP targets with OIDC tokens.

Each task POSTs its JSON payload to `base_url + task.path`; Cloud Tasks signs
an OIDC token as our tasks service account for the configured audience, which
`functions.tasks.endpoint.task_endpoint` verifies. The task's deterministic
name is the dedupe key: Cloud Tasks answers ALREADY_EXISTS for a name that
exists or was used recently (up to about an hour after deletion), which is
reported as False, not raised. A schedule time more than 720 h ahead is
refused here, before the call, with the `ScheduleTooFar` Google's
INVALID_ARGUMENT would mean (see `functions.tasks.port`).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from functions.logs import log
from functions.tasks.port import Task, TaskQueue, check_dispatch_deadline

if TYPE_CHECKING:
    from google.cloud.tasks_v2 import CloudTasksClient

_log = logging.getLogger(__name__)

#: Cloud Tasks' own default for HTTP targets is 10 minutes; ours answer well within it.
DEFAULT_DISPATCH_DEADLINE = timedelta(minutes=5)


class CloudTasksQueue(TaskQueue):
    def __init__(
        self,
        client: CloudTasksClient,
        *,
        project: str,
        location: str,
        base_url: str,
        service_account_email: str,
        audience: str,
        dispatch_deadline: timedelta = DEFAULT_DISPATCH_DEADLINE,
        timeout: float = 10.0,
    ) -> None:
        self._client = client
        self.project = project
        self.location = location
        self.base_url = base_url.rstrip("/")
        self.service_account_email = service_account_email
        self.audience = audience
        self.dispatch_deadline = check_dispatch_deadline(dispatch_deadline)
        self.timeout = timeout

    def queue_path(self, queue: str) -> str:
        return f"projects/{self.project}/locations/{self.location}/queues/{queue}"

    def task_path(self, task: Task) -> str:
        return f"{self.queue_path(task.queue)}/tasks/{task.name}"

    def request_for(self, task: Task) -> dict[str, Any]:
        """The CreateTask request as a plain dict (proto-plus converts datetimes)."""
        body: dict[str, Any] = {
            "name": self.task_path(task),
            "dispatch_deadline": self.dispatch_deadline,
            "http_request": {
                "url": self.base_url + task.path,
                "http_method": "POST",
                "headers": {"Content-Type": "application/json"},
                "body": task.body(),
                "oidc_token": {
                    "service_account_email": self.service_account_email,
                    "audience": self.audience,
                },
            },
        }
        if task.schedule_at is not None:
            body["schedule_time"] = task.schedule_at
        return {"parent": self.queue_path(task.queue), "task": body}

    def enqueue(self, task: Task) -> bool:
        from google.api_core import exceptions, retry

        task.check_schedule(datetime.now(UTC))
        # Safe to retry: a create that did land makes the retry ALREADY_EXISTS (False).
        transient = retry.Retry(
            predicate=retry.if_exception_type(
                exceptions.ServiceUnavailable, exceptions.DeadlineExceeded
            ),
            initial=0.2,
            maximum=5.0,
            timeout=30.0,
        )
        try:
            self._client.create_task(
                request=self.request_for(task), retry=transient, timeout=self.timeout
            )
        except exceptions.AlreadyExists:
            log(_log, logging.INFO, "task already exists", queue=task.queue, task=task.name)
            return False
        return True
