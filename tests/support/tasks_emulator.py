"""`gcloud-tasks-emulator` in its own venv, started on a free port for one test module.

The emulator (PyPI, 0.6.2) needs protobuf<5 and an older google-cloud-tasks,
which conflict with this project's pins, so it lives in `.venv-tasks-emulator/`
(override with TASKS_EMULATOR_VENV), installed from `requirements-tasks-emulator.txt`
by `make tasks-emulator`, a prerequisite of `make pytest`. This helper only uses
that venv: it never installs anything at test time, and fails with the command
to run if the venv is missing or holds another emulator version. It runs as a
subprocess; the tests talk to it with this project's own google-cloud-tasks
client over an insecure gRPC channel, as `local-stand-ins.md` describes.

What the emulator does NOT do (so the tests do not claim it): refuse duplicate
task names (the real API answers ALREADY_EXISTS), send an OIDC Authorization
header, back off between retries (it retries every 0.1 s), get or delete tasks.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from google.cloud.tasks_v2 import CloudTasksClient

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = ROOT / "requirements-tasks-emulator.txt"


def venv() -> Path:
    return Path(os.environ.get("TASKS_EMULATOR_VENV") or ROOT / ".venv-tasks-emulator")


def pinned_version(requirements: Path = REQUIREMENTS) -> str:
    """The emulator version `requirements-tasks-emulator.txt` pins."""
    found = re.search(r"^gcloud-tasks-emulator==(\S+)$", requirements.read_text(), re.MULTILINE)
    if found is None:
        raise RuntimeError(f"{requirements.name} does not pin gcloud-tasks-emulator")
    return found.group(1)


def ensure_venv(where: Path | None = None) -> Path:
    """The emulator's executable, or a RuntimeError naming the command that installs it."""
    root = where or venv()
    exe = root / "bin" / "gcloud-tasks-emulator"
    version = pinned_version()
    installed = list(
        root.glob(f"lib/python*/site-packages/gcloud_tasks_emulator-{version}.dist-info")
    )
    if not exe.exists() or not installed:
        raise RuntimeError(
            f"gcloud-tasks-emulator {version} is not installed in {root}: "
            "run `make tasks-emulator` (make pytest does it first)"
        )
    return exe


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class TasksEmulator:
    address: str
    process: subprocess.Popen[bytes]

    def client(self) -> CloudTasksClient:
        import grpc  # type: ignore[import-untyped]
        from google.cloud import tasks_v2
        from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

        channel = grpc.insecure_channel(self.address)
        return tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=channel))


@contextlib.contextmanager
def tasks_emulator(*, max_retries: int = 2) -> Iterator[TasksEmulator]:
    """A running emulator on a free port; stopped (and reaped) on exit."""
    import grpc

    exe = ensure_venv()
    port = free_port()
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    process = subprocess.Popen(
        [str(exe), "start", "-p", str(port), "-q", "-r", str(max_retries)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        channel = grpc.insecure_channel(address)
        try:
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"the emulator exited with {process.returncode}")
                try:
                    grpc.channel_ready_future(channel).result(timeout=0.5)
                    break
                except grpc.FutureTimeoutError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("the emulator did not start within 60 s") from None
        finally:
            channel.close()
        yield TasksEmulator(address, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
