"""Shared by the process-level benchmarks: real servers in subprocesses, signed requests, stats.

The cold-start, latency and memory benchmarks measure what a deployed
function does, so the server under test is a separate process started the
way Cloud Functions starts one (`python -m functions_framework --target ...`,
gunicorn with one worker), never a thread of the benchmark itself: its
imports, its memory and its CPU are its own.

Requests are signed with the local development key the server verifies
against (local mode). The server builds its certificate (and so its key id)
when it starts, so tokens here are signed without a key id: google-auth then
tries every published certificate, the same path a token signed by a rotated
Google key takes.
"""

from __future__ import annotations

import contextlib
import copy
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from addon.dev_event import LOCAL_USER_ID, calendar_object, event_object  # noqa: E402
from functions.auth.dev_keys import DevSigner  # noqa: E402
from functions.bootstrap import Bootstrap  # noqa: E402
from functions.calendar.mapping import meeting_from_event  # noqa: E402
from functions.config import load_settings  # noqa: E402
from functions.domain.meetings import Meeting  # noqa: E402
from functions.domain.planning import plan_meeting  # noqa: E402
from functions.domain.users import ConnectionState, User  # noqa: E402

#: Token audiences name this address whatever port is served (they are just strings).
PUBLIC_URL = "http://127.0.0.1:8080"
HELLO_SOURCE = ROOT / "bench" / "hello_function.py"
TITLES = ("Weekly 1:1 with Sam", "Acme QBR", "Incident review SEV2", "Leadership sync", "Standup")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def local_env(workdir: Path) -> dict[str, str]:
    """Environment of a local-mode server or child process over `workdir`'s store."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREP_")}
    env.update(
        PREP_MODE="local",
        PREP_SQLITE_PATH=str(workdir / "prep.db"),
        PREP_DEV_KEY_PATH=str(workdir / "dev-key.pem"),
        PREP_TOKEN_KEK_PATH=str(workdir / "token-kek"),
        PREP_OUTBOX_PATH=str(workdir / "outbox.db"),
        PREP_MATERIALS_DIR=str(workdir / "materials"),
        PREP_MATERIALS_SIGNING_KEY=str(workdir / "materials-key.json"),
        PREP_PUBLIC_URL=PUBLIC_URL,
        PREP_LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    return env


class KeyIdFreeSigner(DevSigner):
    """The development key, signing tokens without a `kid` header (see the module doc)."""

    names_key = False


def local_services(workdir: Path) -> Bootstrap:
    """Bootstrap over `workdir`'s store, as the server will see it; signing without a kid."""
    settings = load_settings(local_env(workdir))
    key_path = settings.dev_key_path
    DevSigner.load_or_create(key_path)  # the server loads this very key
    return Bootstrap(settings, dev_signer=KeyIdFreeSigner(key_path.read_bytes()))


def bench_user() -> User:
    """The one connected user every sidebar benchmark measures."""
    return User(
        user_id=LOCAL_USER_ID,
        email="bench@example.com",
        time_zone="Europe/Berlin",
        locale="de-DE",
        connection=ConnectionState.CONNECTED,
    )


def plan_bench_meetings(
    services: Bootstrap, user: User, count: int, *, seed: int = 7
) -> list[Meeting]:
    """`count` upcoming meetings for `user`, every three hours, planned and stored."""
    now = services.clock.now()
    rng = random.Random(seed)
    planned = []
    for i in range(count):
        start = (now + timedelta(hours=1 + i * 3)).replace(microsecond=0)
        guests = [f"p{j}@example.com" for j in range(rng.randint(1, 8))]
        event = {
            "id": f"bench{i:05}",
            "recurringEventId": f"series{i % 40}",
            "etag": f'"{i}"',
            "summary": f"{TITLES[i % len(TITLES)]} #{i}",
            "description": "Agenda: " + "notes " * 50,
            "start": {"dateTime": start.isoformat(), "timeZone": "UTC"},
            "end": {"dateTime": (start + timedelta(minutes=45)).isoformat(), "timeZone": "UTC"},
            "attendees": [
                {"email": user.email, "self": True, "responseStatus": "accepted"},
                *({"email": g, "responseStatus": "accepted"} for g in guests),
            ],
        }
        incoming = meeting_from_event(event, user_id=user.user_id, calendar_id="primary")
        planned.append(
            plan_meeting(incoming, None, user=user, classifier=services.classifier, now=now)
        )
    services.store.upsert_meetings(planned)
    return planned


def seed_meetings(services: Bootstrap, count: int, *, seed: int = 7) -> tuple[User, list[Meeting]]:
    """One connected user with `count` upcoming meetings, every few hours (stored)."""
    user = bench_user()
    services.store.put_user(user)
    return user, plan_bench_meetings(services, user, count, seed=seed)


def event_open_bodies(services: Bootstrap, user: User, meetings: list[Meeting]) -> list[bytes]:
    """Signed eventOpen event objects, one per meeting (tokens signed once)."""
    template = event_object(
        services,
        user_id=user.user_id,
        email=user.email,
        meeting=meetings[0],
        time_zone=user.time_zone,
        locale=user.locale,
    )
    bodies = []
    for m in meetings:
        body = copy.deepcopy(template)
        body["calendar"] = calendar_object(m)
        bodies.append(json.dumps(body).encode())
    return bodies


def homepage_body(services: Bootstrap, user: User) -> bytes:
    body = event_object(services, user_id=user.user_id, email=user.email, time_zone=user.time_zone)
    return json.dumps(body).encode()


# ---------------------------------------------------------------- servers


@dataclass
class Server:
    """A functions-framework server in its own process group (stopped as a group)."""

    process: subprocess.Popen[bytes]
    port: int
    started: float

    @property
    def pid(self) -> int:
        return self.process.pid

    def worker_pid(self) -> int:
        """Gunicorn serves from a forked worker; its pid (or the master's, if none)."""
        children = child_pids(self.pid)
        return children[0] if children else self.pid

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, 15)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, 9)
                self.process.wait(timeout=10)


def start_server(
    target: str, source: Path, env: Mapping[str, str], port: int, *, cwd: Path = ROOT
) -> Server:
    """Start `target` the way Cloud Functions does; returns at once (not yet listening)."""
    command = [
        sys.executable,
        "-m",
        "functions_framework",
        "--target",
        target,
        "--source",
        str(source),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=dict(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    return Server(process, port, started)


def wait_listening(server: Server, timeout: float = 60.0) -> float:
    """Seconds from process start until the port accepts a connection."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise SystemExit(f"server exited with {server.process.returncode} before listening")
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", server.port), timeout=1),
        ):
            return time.perf_counter() - server.started
        time.sleep(0.002)
    raise SystemExit(f"server did not listen within {timeout:.0f} s")


@contextlib.contextmanager
def running(target: str, source: Path, env: Mapping[str, str]) -> Iterator[Server]:
    server = start_server(target, source, env, free_port())
    try:
        wait_listening(server)
        yield server
    finally:
        server.stop()


def request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    conn: http.client.HTTPConnection | None = None,
) -> tuple[int, bytes]:
    """One request (on `conn` if given, kept alive); returns (status, body)."""
    own = conn is None
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    try:
        c.request(method, path, body=body, headers=headers)
        resp = c.getresponse()
        return resp.status, resp.read()
    finally:
        if own:
            c.close()


# ---------------------------------------------------------------- processes and numbers


def child_pids(pid: int) -> list[int]:
    """Direct children of `pid`, from /proc (Linux); empty elsewhere."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.append(int(stat.parent.name))
    return sorted(found)


def peak_rss_mib(pid: int) -> float | None:
    """Peak resident set size (VmHWM) of a live process, in MiB; None if unknown."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return None


def maxrss_mib() -> float:
    """This process's peak RSS so far (ru_maxrss is KiB on Linux, bytes on macOS)."""
    import resource

    raw = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return raw / (1024 * 1024) if sys.platform == "darwin" else raw / 1024


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]
