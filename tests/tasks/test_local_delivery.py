"""Local delivery goes through the real task endpoint: OIDC verified, status codes drive retries."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from functions.bootstrap import Bootstrap, set_services
from functions.calendar.port import RateLimited
from functions.config import load_settings
from functions.domain.clock import FixedClock
from functions.errors import PermanentError, TransientError
from functions.notify.port import Channel, PermanentDeliveryError
from functions.oauth.credentials import ReconnectNeeded
from functions.store.port import StoreBusy
from functions.sync.tasks import scheduled_sync_task
from functions.tasks.endpoint import BadTask, RetryLater, task_endpoint
from functions.tasks.local_queue import LocalTaskQueue, Outcome, in_process
from functions.tasks.port import Task
from functions.web import Handler


@pytest.fixture(scope="module")
def key_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("key") / "dev-key.pem"


@pytest.fixture
def services(tmp_path: Path, key_path: Path) -> Iterator[Bootstrap]:
    settings = load_settings(
        {
            "PREP_SQLITE_PATH": str(tmp_path / "prep.db"),
            "PREP_DEV_KEY_PATH": str(key_path),
            "PREP_TOKEN_KEK_PATH": str(tmp_path / "token-kek"),
        }
    )
    svc = Bootstrap(settings, clock=FixedClock(datetime(2026, 11, 2, 9, tzinfo=UTC)))
    set_services(svc)
    try:
        yield svc
    finally:
        set_services(None)
        svc.store.close()


def _token(services: Bootstrap, audience: str | None = None) -> str:
    s = services.settings
    return services.dev_signer.id_token(
        audience=audience or s.tasks_audience, subject="sa", email=s.tasks_sa_email
    )


class Recorder:
    def __init__(self, *fail: Exception) -> None:
        self.payloads: list[Mapping[str, Any]] = []
        self.fail = list(fail)

    def __call__(self, services: Bootstrap, payload: Mapping[str, Any]) -> Mapping[str, Any]:
        self.payloads.append(payload)
        if self.fail:
            raise self.fail.pop(0)
        return {"handled": payload.get("n")}


def _queue(services: Bootstrap, recorder: Recorder, token: str) -> LocalTaskQueue:
    routes: dict[str, Handler] = {"/tasks/echo": task_endpoint("echo", recorder, services)}
    return LocalTaskQueue(
        in_process(lambda: routes), clock=services.clock, token_source=lambda: token
    )


def test_a_task_reaches_its_handler_through_oidc_verification(services: Bootstrap) -> None:
    recorder = Recorder()
    queue = _queue(services, recorder, _token(services))
    queue.enqueue(Task("q", "echo-1", "/tasks/echo", {"n": 7}))

    queue.run_due()

    assert recorder.payloads == [{"n": 7}]
    [attempt] = queue.attempts()
    assert attempt.status == 200
    assert queue.outcome("echo-1") is Outcome.SUCCEEDED


def test_a_token_for_another_audience_is_refused_and_never_handled(services: Bootstrap) -> None:
    recorder = Recorder()
    queue = _queue(services, recorder, _token(services, audience="https://elsewhere.example/tasks"))
    queue.enqueue(Task("q", "echo-2", "/tasks/echo", {"n": 1}))

    queue.drain()

    assert recorder.payloads == []
    assert {a.status for a in queue.attempts()} == {401}
    assert queue.outcome("echo-2") is Outcome.GAVE_UP


def test_retry_later_is_retried_and_bad_task_is_dropped(services: Bootstrap) -> None:
    recorder = Recorder(RetryLater("calendar busy"), BadTask("no such user"))
    queue = _queue(services, recorder, _token(services))
    queue.enqueue(Task("q", "echo-3", "/tasks/echo", {"n": 3}))

    queue.drain()

    assert [a.status for a in queue.attempts()] == [503, 200]
    assert len(recorder.payloads) == 2
    assert queue.outcome("echo-3") is Outcome.SUCCEEDED  # acknowledged, not retried forever


def test_local_services_deliver_to_the_apps_own_routes(services: Bootstrap) -> None:
    queue = services.tasks
    assert isinstance(queue, LocalTaskQueue)
    task = scheduled_sync_task("nobody", "primary", 1)

    assert queue.enqueue(task) is True
    assert queue.enqueue(task) is False
    queue.run_due()

    [attempt] = queue.attempts()
    assert attempt.status == 200  # verified, then skipped: the user does not exist
    assert queue.outcome(task.name) is Outcome.SUCCEEDED


@pytest.mark.parametrize(
    "failure",
    [StoreBusy("held by another writer"), RateLimited("429"), TransientError("a blip")],
    ids=lambda e: type(e).__name__,
)
def test_any_transient_error_a_handler_lets_escape_is_retried(
    services: Bootstrap, failure: Exception
) -> None:
    recorder = Recorder(failure)
    queue = _queue(services, recorder, _token(services))
    queue.enqueue(Task("q", "echo-4", "/tasks/echo", {"n": 4}))

    queue.drain()

    assert [a.status for a in queue.attempts()] == [503, 200]  # a retry, not a crash (500)
    assert queue.outcome("echo-4") is Outcome.SUCCEEDED


@pytest.mark.parametrize(
    "failure",
    [
        ReconnectNeeded("u1", "invalid_grant"),
        PermanentDeliveryError(Channel.CHAT, "chat_app_removed"),
        PermanentError("never"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_any_permanent_error_a_handler_lets_escape_is_acknowledged_once(
    services: Bootstrap, failure: Exception
) -> None:
    recorder = Recorder(failure)
    queue = _queue(services, recorder, _token(services))
    queue.enqueue(Task("q", "echo-5", "/tasks/echo", {"n": 5}))

    queue.drain()

    assert [a.status for a in queue.attempts()] == [200]  # dropped, never retried
    assert len(recorder.payloads) == 1
    assert queue.outcome("echo-5") is Outcome.SUCCEEDED
