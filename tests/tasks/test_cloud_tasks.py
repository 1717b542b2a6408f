"""The production task queue: the real google-cloud-tasks client against gcloud-tasks-emulator.

The emulator proves the request shape (name, URL, method, headers, body, OIDC
settings, schedule time) and that delivery waits for schedule_time. It accepts
anything else, so the tests talk to it through `tests/support/strict_tasks.py`,
a gRPC front that refuses what Cloud Tasks refuses (a schedule past 720 h, a
dispatch deadline outside 15 s - 30 min, a reused task name). It cannot prove
that an OIDC token is sent (it sends none): the OIDC token is verified on the
receiving side by `task_endpoint` tests against the local queue.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from google.api_core import exceptions
from google.cloud import tasks_v2

from functions.bootstrap import cloud_tasks_queue
from functions.config import Settings, SettingsError
from functions.tasks.cloud_tasks import CloudTasksQueue
from functions.tasks.port import ScheduleTooFar, Task, task_name
from tests.support.loopback import serve_loopback
from tests.support.strict_tasks import StrictFront, strict_front
from tests.support.tasks_emulator import TasksEmulator, tasks_emulator

PROJECT, LOCATION, QUEUE = "prep-test", "europe-west1", "sync"
SA = "tasks@prep-test.iam.gserviceaccount.com"
AUDIENCE = "https://prep.example.com/tasks"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: datetime


@dataclass
class Receiver:
    url: str
    received: list[Received] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    def wait(self, count: int, timeout: float = 20.0) -> list[Received]:
        end = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < end:
            self.arrived.wait(0.1)
            self.arrived.clear()
        return list(self.received)


@pytest.fixture(scope="module")
def strict() -> Iterator[tuple[TasksEmulator, StrictFront]]:
    with tasks_emulator() as running, strict_front(running) as (front, checks):
        client = front.client()
        client.create_queue(
            parent=f"projects/{PROJECT}/locations/{LOCATION}",
            queue=tasks_v2.Queue(name=f"projects/{PROJECT}/locations/{LOCATION}/queues/{QUEUE}"),
        )
        yield front, checks


@pytest.fixture
def emulator(strict: tuple[TasksEmulator, StrictFront]) -> TasksEmulator:
    """The emulator behind the strict front: what the adapter under test talks to."""
    return strict[0]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    box = Receiver("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            box.received.append(
                Received(
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},  # case-insensitive
                    body,
                    datetime.now(UTC),
                )
            )
            box.arrived.set()
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    with serve_loopback(Handler, "tasks-receiver") as url:
        box.url = url
        yield box


def _queue(client: Any, base_url: str) -> CloudTasksQueue:
    return CloudTasksQueue(
        client,
        project=PROJECT,
        location=LOCATION,
        base_url=base_url,
        service_account_email=SA,
        audience=AUDIENCE,
    )


def test_a_task_is_created_as_an_oidc_http_target(
    emulator: TasksEmulator, receiver: Receiver
) -> None:
    client = emulator.client()
    queue = _queue(client, receiver.url)
    name = task_name("sync", "user-1", "primary", "slot:1")
    when = datetime.now(UTC) + timedelta(hours=1)  # stays queued while we look at it
    task = Task(QUEUE, name, "/tasks/sync", {"user_id": "user-1"}, schedule_at=when)

    assert queue.enqueue(task) is True

    listed = {t.name: t for t in client.list_tasks(parent=queue.queue_path(QUEUE))}
    stored = listed[f"projects/{PROJECT}/locations/{LOCATION}/queues/{QUEUE}/tasks/{name}"]
    http = stored.http_request
    assert http.url == f"{receiver.url}/tasks/sync"
    assert http.http_method == tasks_v2.HttpMethod.POST
    assert dict(http.headers) == {"Content-Type": "application/json"}
    assert json.loads(http.body) == {"user_id": "user-1"}
    assert (http.oidc_token.service_account_email, http.oidc_token.audience) == (SA, AUDIENCE)
    assert stored.schedule_time.timestamp() == pytest.approx(when.timestamp(), abs=1e-3)
    assert stored.dispatch_deadline.total_seconds() == 300


def test_the_task_is_delivered_no_earlier_than_its_schedule_time(
    emulator: TasksEmulator, receiver: Receiver
) -> None:
    queue = _queue(emulator.client(), receiver.url)
    when = datetime.now(UTC) + timedelta(seconds=1.5)
    name = task_name("prep", "user-2", "event-1", "v1")
    assert queue.enqueue(Task(QUEUE, name, "/tasks/prep", {"event_id": "e1"}, schedule_at=when))

    [got] = receiver.wait(1)

    assert got.at >= when
    assert got.path == "/tasks/prep"
    assert json.loads(got.body) == {"event_id": "e1"}
    assert got.headers["content-type"] == "application/json"
    assert got.headers["x-cloudtasks-taskname"] == name
    assert got.headers["x-cloudtasks-taskretrycount"] == "0"


def test_an_unscheduled_task_is_delivered(emulator: TasksEmulator, receiver: Receiver) -> None:
    queue = _queue(emulator.client(), receiver.url)
    name = task_name("gen", "user-3", "event-9")
    assert queue.enqueue(Task(QUEUE, name, "/tasks/generate", {"n": 1}))
    [got] = receiver.wait(1)
    assert (got.path, json.loads(got.body)) == ("/tasks/generate", {"n": 1})


def test_a_reused_task_name_is_already_exists_through_the_real_client(
    emulator: TasksEmulator, receiver: Receiver
) -> None:
    queue = _queue(emulator.client(), receiver.url)
    task = Task(QUEUE, task_name("prep", "user-4", "event-2", "v1"), "/tasks/prep", {"n": 4})
    assert queue.enqueue(task) is True
    assert queue.enqueue(task) is False  # the front answers ALREADY_EXISTS, as Google does
    receiver.wait(1)
    assert queue.enqueue(task) is False  # and still after the task ran


def _raw_request(receiver: Receiver, name: str, **task: Any) -> dict[str, Any]:
    request = _queue(object(), receiver.url).request_for(Task(QUEUE, name, "/tasks/prep", {}))
    request["task"].update(task)
    return request


def test_the_strict_front_refuses_what_cloud_tasks_refuses(
    strict: tuple[TasksEmulator, StrictFront], receiver: Receiver
) -> None:
    front, checks = strict
    client = front.client()
    far = datetime.now(UTC) + timedelta(hours=720, minutes=5)
    with pytest.raises(exceptions.InvalidArgument, match="720h"):
        client.create_task(request=_raw_request(receiver, "raw-far", schedule_time=far))
    for deadline in (timedelta(seconds=10), timedelta(minutes=31)):
        with pytest.raises(exceptions.InvalidArgument, match="15 seconds and 30 minutes"):
            client.create_task(
                request=_raw_request(receiver, "raw-deadline", dispatch_deadline=deadline)
            )
    near = datetime.now(UTC) + timedelta(days=29)
    client.create_task(request=_raw_request(receiver, "raw-near", schedule_time=near))
    assert ("INVALID_ARGUMENT", f"{_queue(object(), '').queue_path(QUEUE)}/tasks/raw-far") in (
        checks.refused
    )


class _AlreadyExistsClient:
    """The real API's answer to a duplicate name, which the emulator never gives."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def create_task(self, *, request: dict[str, Any], retry: Any, timeout: float) -> None:
        self.requests.append(request)
        if len(self.requests) > 1:
            raise exceptions.AlreadyExists("Requested entity already exists")


def test_already_exists_is_false_not_an_error() -> None:
    client = _AlreadyExistsClient()
    queue = _queue(client, "https://prep.example.com")
    task = Task(QUEUE, task_name("sync", "u", "primary", "slot:7"), "/tasks/sync", {})

    assert queue.enqueue(task) is True
    assert queue.enqueue(task) is False
    assert client.requests[0]["task"]["name"] == client.requests[1]["task"]["name"]


def test_other_errors_propagate() -> None:
    class Refusing:
        def create_task(self, *, request: dict[str, Any], retry: Any, timeout: float) -> None:
            raise exceptions.PermissionDenied("caller lacks cloudtasks.tasks.create")

    with pytest.raises(exceptions.PermissionDenied):
        _queue(Refusing(), "https://prep.example.com").enqueue(
            Task(QUEUE, "t-1", "/tasks/sync", {})
        )


def test_a_schedule_past_720_hours_is_refused_before_any_call() -> None:
    client = _AlreadyExistsClient()
    queue = _queue(client, "https://prep.example.com")
    far = datetime.now(UTC) + timedelta(days=30, minutes=5)
    with pytest.raises(ScheduleTooFar):
        queue.enqueue(Task(QUEUE, "t-far", "/tasks/prep", {}, schedule_at=far))
    assert client.requests == []
    near = datetime.now(UTC) + timedelta(days=29)
    assert queue.enqueue(Task(QUEUE, "t-near", "/tasks/prep", {}, schedule_at=near)) is True


@pytest.mark.parametrize("seconds", [14, 1801])
def test_a_dispatch_deadline_cloud_tasks_refuses_is_refused_at_construction(
    seconds: int,
) -> None:
    with pytest.raises(ValueError, match="15 seconds and 30 minutes"):
        CloudTasksQueue(
            _AlreadyExistsClient(),  # type: ignore[arg-type]
            project=PROJECT,
            location=LOCATION,
            base_url="https://prep.example.com",
            service_account_email=SA,
            audience=AUDIENCE,
            dispatch_deadline=timedelta(seconds=seconds),
        )


def test_production_settings_need_a_location() -> None:
    settings = Settings(project="p")
    with pytest.raises(SettingsError, match="PREP_TASKS_LOCATION"):
        cloud_tasks_queue(settings)
    with pytest.raises(SettingsError, match="GOOGLE_CLOUD_PROJECT"):
        cloud_tasks_queue(Settings(tasks_location="europe-west1"))
