"""A gRPC front for `gcloud-tasks-emulator` that refuses what Cloud Tasks refuses.

The emulator accepts any CreateTask: a schedule years ahead, a dispatch
deadline of a second, the same task name twice. Cloud Tasks does not, and
code tested only against the emulator would never see the difference. This
front listens on its own loopback port, checks every CreateTask the way the
service documents it and passes everything else through untouched, byte for
byte, to the emulator:

- `schedule_time` more than 720 h ahead: INVALID_ARGUMENT, with the service's
  own wording ("Schedule time must be no more than 720h in the future";
  Cloud Tasks quotas page: maximum schedule time 30 days).
- `dispatch_deadline` outside 15 s - 30 min (HTTP targets): INVALID_ARGUMENT
  (`Task.dispatch_deadline` reference).
- A task name created before: ALREADY_EXISTS. Cloud Tasks refuses a name while
  its task exists and for about an hour after it ran or was deleted
  (`CreateTaskRequest` reference, "Task De-duplication"); the front cannot see
  when the emulator ran a task, so it refuses a name for the front's whole life,
  which is at least as strict for any test shorter than that hour.

The real client talks to the front exactly as it would to the service, so the
errors arrive as the `google.api_core.exceptions` Google's would.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.tasks_emulator import TasksEmulator, free_port

MAX_SCHEDULE_AHEAD = timedelta(hours=720)
MIN_DEADLINE = timedelta(seconds=15)
MAX_DEADLINE = timedelta(minutes=30)
_CREATE = "/google.cloud.tasks.v2.CloudTasks/CreateTask"


class _Refusal(Exception):
    def __init__(self, code: Any, details: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details


class StrictFront:
    """The checks, separate from the transport so they can be read (and tested) on their own."""

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        #: Task names created through the front, with when.
        self.created: dict[str, datetime] = {}
        #: CreateTask calls refused, as (status name, task name).
        self.refused: list[tuple[str, str]] = []

    def check_create(self, raw: bytes) -> None:
        import grpc  # type: ignore[import-untyped]
        from google.cloud.tasks_v2.types import CreateTaskRequest

        request = CreateTaskRequest.deserialize(raw)
        pb = CreateTaskRequest.pb(request).task
        name = request.task.name
        now = self._clock()
        try:
            if pb.HasField("schedule_time"):
                when = request.task.schedule_time
                if when - now > MAX_SCHEDULE_AHEAD:
                    raise _Refusal(
                        grpc.StatusCode.INVALID_ARGUMENT,
                        f"The Task.scheduleTime, {when.isoformat()}, is too far in the future."
                        " Schedule time must be no more than 720h in the future.",
                    )
            if pb.HasField("dispatch_deadline"):
                deadline = request.task.dispatch_deadline
                if not MIN_DEADLINE <= deadline <= MAX_DEADLINE:
                    raise _Refusal(
                        grpc.StatusCode.INVALID_ARGUMENT,
                        "Task.dispatchDeadline must be between 15 seconds and 30 minutes"
                        " for HTTP targets.",
                    )
            with self._lock:
                if name and name in self.created:
                    raise _Refusal(
                        grpc.StatusCode.ALREADY_EXISTS, "Requested entity already exists"
                    )
                if name:
                    self.created[name] = now
        except _Refusal as refusal:
            with self._lock:
                self.refused.append((refusal.code.name, name))
            raise


@contextlib.contextmanager
def strict_front(emulator: TasksEmulator) -> Iterator[tuple[TasksEmulator, StrictFront]]:
    """Serve the strict front for `emulator`; yields a `TasksEmulator` pointing at the front."""
    import grpc

    checks = StrictFront()
    upstream = grpc.insecure_channel(emulator.address)

    class Handler(grpc.GenericRpcHandler):  # type: ignore[misc]
        def service(self, details: Any) -> Any:
            method: str = details.method
            forward = upstream.unary_unary(method)  # bytes in, bytes out

            def handle(request: bytes, context: Any) -> bytes:
                if method == _CREATE:
                    try:
                        checks.check_create(request)
                    except _Refusal as refusal:
                        context.abort(refusal.code, refusal.details)
                try:
                    answer: bytes = forward(request, timeout=30)
                except grpc.RpcError as exc:
                    context.abort(exc.code(), exc.details() or "")
                return answer

            return grpc.unary_unary_rpc_method_handler(handle)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), handlers=[Handler()])
    port = free_port()
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    try:
        yield TasksEmulator(f"127.0.0.1:{port}", emulator.process), checks
    finally:
        server.stop(grace=None)
        upstream.close()
