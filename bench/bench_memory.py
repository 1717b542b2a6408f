"""Memory: peak RSS of the server after load, and of a full sync of 2,500 events.

    .venv/bin/python bench/bench_memory.py [--events 2500] [--meetings 300] [--requests 240]

- Server: the `local` target of `main.py` in its own process (functions-
  framework, gunicorn, one worker), warmed up and put through the latency
  run of `bench_latency.py` (1, 8 and 32 clients); then the worker's peak
  RSS (VmHWM). Floor: the bare hello function served the same way after the
  same number of requests.
- Sync: a fresh process runs one `/tasks/sync` handler call, a first full
  sync of `--events` events listed by the production Calendar adapter
  (google-api-python-client) from the fake Calendar API (served by this
  process, so the fake's own memory is not counted), planned, written to
  SQLite and given their prep tasks; then `ru_maxrss`.
- Floors for both: a process that only imports the app (`import main` and
  its settings), and one that also imports the sync's code path, so what
  the data costs shows apart from what the code costs.

Linux figures (VmHWM, ru_maxrss in KiB). No thresholds.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import bench_latency
from bench.serving import (
    HELLO_SOURCE,
    ROOT,
    event_open_bodies,
    local_env,
    local_services,
    maxrss_mib,
    peak_rss_mib,
    request,
    running,
    seed_meetings,
)

if TYPE_CHECKING:
    from functions.oauth.credentials import CredentialsProvider

EMAIL = "bench@example.com"
USER_ID = "bench-user"


# ---------------------------------------------------------------- child processes


def _child_import(with_sync_path: bool) -> dict[str, Any]:
    import main  # noqa: F401 - importing the app is what is measured
    from functions.bootstrap import get_services

    get_services()
    if with_sync_path:
        import googleapiclient.discovery  # noqa: F401

        import functions.calendar.google_api
        import functions.sync.handlers  # noqa: F401
    return {"maxrss_mib": maxrss_mib()}


def _child_sync(api: str, token: str) -> dict[str, Any]:
    from google.oauth2.credentials import Credentials

    from functions.bootstrap import get_services
    from functions.domain.users import ConnectionState, User
    from functions.sync.handlers import handle_sync

    class Provider:
        def credentials_for(self, user_id: str) -> Credentials:
            return Credentials(token=token)

    services = get_services().replaced(credentials=cast("CredentialsProvider", Provider()))
    services.store.put_user(User(USER_ID, EMAIL, connection=ConnectionState.CONNECTED))
    result = dict(handle_sync(services, {"user_id": USER_ID}))
    return {"maxrss_mib": maxrss_mib(), "result": result, "api": api}


def _run_child(env: dict[str, str], *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"child {args} failed: {done.stderr[-1500:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# ---------------------------------------------------------------- the parent


def _sync_figures(workdir: Path, events: int) -> tuple[float, float, float, dict[str, Any]]:
    from tests.support.fake_calendar import fake_calendar, timed_event

    now = datetime.now(UTC).replace(microsecond=0)
    with fake_calendar() as fake:
        for i in range(events):
            fake.put_event(
                EMAIL,
                timed_event(
                    f"ev{i:05d}",
                    now + timedelta(hours=1) + i * timedelta(minutes=20),
                    summary=["1:1 with Sam", "Acme QBR", "Weekly staff meeting", "Planning"][i % 4],
                    attendees=(EMAIL, "sam@example.com", "tom@acme.com")[: 2 + (i % 2)],
                    description="Agenda: " + "notes " * 30,
                ),
            )
        token = fake.access_token_for(EMAIL)
        env = {**local_env(workdir), "PREP_CALENDAR_API_ENDPOINT": fake.api_endpoint}
        app_only = _run_child(env, "import")["maxrss_mib"]
        with_code = _run_child(env, "import-sync")["maxrss_mib"]
        synced = _run_child(env, "sync", fake.api_endpoint, token)
    return app_only, with_code, synced["maxrss_mib"], synced["result"]


def _server_figures(workdir: Path, meetings: int, requests: int) -> tuple[float, float, int]:
    services = local_services(workdir)
    user, stored = seed_meetings(services, meetings)
    bodies = event_open_bodies(services, user, stored)
    services.store.close()
    env = local_env(workdir)
    with running("local", ROOT / "main.py", env) as server:
        levels = bench_latency.run(server, bodies, [1, 8, 32], requests)
        served = sum(len(h.latencies_ms) + len(o.latencies_ms) for h, o in levels)
        served += 2 * bench_latency.WARM_UP
        app_peak = peak_rss_mib(server.worker_pid())
    with running("hello", HELLO_SOURCE, env) as hello:
        for _ in range(served // 4):  # requests cost the floor nothing more after the first few
            status, _ = request(hello.port, "GET", "/")
            assert status == 200
        hello_peak = peak_rss_mib(hello.worker_pid())
    if app_peak is None or hello_peak is None:
        raise SystemExit("peak RSS needs /proc (Linux)")
    return app_peak, hello_peak, served


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        kind, rest = argv[1], argv[2:]
        if kind == "sync":
            out = _child_sync(*rest)
        else:
            out = _child_import(with_sync_path=kind == "import-sync")
        print(json.dumps(out))
        return 0

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2500)
    parser.add_argument("--meetings", type=int, default=300)
    parser.add_argument("--requests", type=int, default=240, help="per latency row")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        app_peak, hello_peak, served = _server_figures(
            Path(tmp) / "server", args.meetings, args.requests
        )
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        app_only, with_code, synced, result = _sync_figures(Path(tmp), args.events)
    if result.get("sync") != "done" or result.get("written") != args.events:
        raise SystemExit(f"the sync did not store every event: {result}")

    print("peak resident memory (MiB)")
    print(f"  {'':58} {'peak':>7} {'floor':>7} {'ratio':>6}")
    rows = (
        (f"server worker after warm-up + {served} requests (local target)", app_peak, hello_peak),
        ("process importing the app (floor for the next rows)", app_only, app_only),
        ("process importing the app and the sync code path", with_code, app_only),
        (f"full sync of {args.events} events (1 process, /tasks/sync)", synced, app_only),
    )
    for name, peak, floor in rows:
        print(f"  {name:58} {peak:7.1f} {floor:7.1f} {peak / floor:6.2f}")
    print(f"  (server floor: the hello function's worker after {served // 4} requests)")
    print(
        f"  the sync's data costs {synced - with_code:.1f} MiB over its code:"
        f" {(synced - with_code) * 1024 / args.events:.1f} KiB per event"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
