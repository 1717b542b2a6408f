"""`gcloud-tasks-emulator` in its own venv, started on a free port for one test module.

The emulator (PyPI, 0.6.2) needs protobuf<5 and an older google-cloud-tasks,
which conflict with this project's pins, so it lives in `.venv-tasks-emulator/`
(created on first use with the exact versions below) and runs as a
subprocess; the tests talk to it with this project's own google-cloud-tasks
client over an insecure gRPC channel, as `local-stand-ins.md` describes.

What the emulator does NOT do (so the tests do not claim it): refuse duplicate
task names (the real API answers ALREADY_EXISTS), send an OIDC Authorization
header, back off between retries (it retries every 0.1 s), get or delete tasks.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from google.cloud.tasks_v2 import CloudTasksClient

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv-tasks-emulator"
#: The whole resolved set (pip freeze, Python 3.11, November 2026): reproducible installs.
PINS = (
    "certifi==2026.10.19.post1",
    "cffi==2.1.1",
    "charset-normalizer==3.5.3",
    "cryptography==50.0.2",
    "gcloud-tasks-emulator==0.6.2",
    "google-api-core==2.30.3",
    "google-auth==2.63.0",
    "google-cloud-tasks==2.23.0",
    "googleapis-common-protos==1.75.0",
    "grpc-google-iam-v1==0.14.4",
    "grpcio==1.85.3",
    "grpcio-status==1.62.3",
    "idna==3.20",
    "proto-plus==1.28.2",
    "protobuf==4.25.9",
    "pyasn1==0.6.5",
    "pyasn1_modules==0.4.2",
    "pycparser==3.12",
    "PyYAML==6.0.4",
    "requests==2.34.2",
    "typing_extensions==4.16.0",
    "urllib3==2.8.0",
)
_STAMP = VENV / ".pins"


def ensure_venv() -> Path:
    """The emulator's executable, installing the pinned venv once (serialised by a lock)."""
    exe = VENV / "bin" / "gcloud-tasks-emulator"
    wanted = "\n".join(PINS)
    ROOT.joinpath(".local").mkdir(exist_ok=True)
    with open(ROOT / ".local" / "tasks-emulator.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if exe.exists() and _STAMP.exists() and _STAMP.read_text() == wanted:
            return exe
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        result = subprocess.run(
            [str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", *PINS],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                "could not install gcloud-tasks-emulator into .venv-tasks-emulator:\n"
                + result.stderr[-2000:]
            )
        _STAMP.write_text(wanted)
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
