"""eventOpen latency of the sidebar, against /healthz measured in the same run.

    .venv/bin/python bench/bench_event_open.py [--meetings 500] [--requests 400]

Serves the `local` entry point (what `make run` serves) over real HTTP on a
free loopback port, with a warm SQLite store holding `--meetings` meetings for
one user, and POSTs signed eventOpen event objects for random meetings of that
user: both ID tokens are verified, the meeting read, classified and rendered,
exactly as for Calendar. The homepage (this user's next 7 days) is measured
too. Baseline: GET /healthz on the same server, which
touches no store and verifies nothing, so the ratio is the add-on's own cost.

Prints p50/p95/p99 of both and the p95 ratio; exits 1 if the eventOpen p95 is
above the 150 ms target, so a regression is visible where it is run.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import http.client
import json
import logging
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from addon.dev_event import calendar_object, event_object  # noqa: E402
from bench.serving import seed_meetings  # noqa: E402
from functions.bootstrap import Bootstrap, set_services  # noqa: E402
from functions.config import Mode, Settings  # noqa: E402

TARGET_P95_MS = 150.0


def _serve(services: Bootstrap) -> tuple[str, int, Callable[[], None]]:
    import functions_framework
    from werkzeug.serving import make_server

    set_services(services)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access line per request
    app = functions_framework.create_app(target="local", source=str(ROOT / "main.py"))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        thread.join(timeout=10)

    return "127.0.0.1", server.server_port, stop


def _timed(host: str, port: int, method: str, path: str, body: bytes | None) -> float:
    conn = http.client.HTTPConnection(host, port, timeout=30)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    started = time.perf_counter()
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    payload = resp.read()
    elapsed = (time.perf_counter() - started) * 1000
    conn.close()
    if resp.status != 200:
        raise SystemExit(f"{method} {path} answered {resp.status}: {payload[:200]!r}")
    return elapsed


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--meetings", type=int, default=500)
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            mode=Mode.LOCAL,
            sqlite_path=Path(tmp) / "prep.db",
            dev_key_path=Path(tmp) / "dev-key.pem",
        )
        services = Bootstrap(settings)
        user, meetings = seed_meetings(services, args.meetings)
        host, port, stop = _serve(services)
        # Re-point the audience at the port actually served (tokens name it).
        audience = f"http://{host}:{port}/addon"
        services = services.replaced(
            settings=dataclasses.replace(settings, addon_audience=audience)
        )
        set_services(services)
        # Tokens are signed once (signing is not what is measured); bodies differ by meeting.
        template: dict[str, Any] = event_object(
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
        home = copy.deepcopy(template)
        del home["calendar"]
        home_body = json.dumps(home).encode()
        rng = random.Random(11)
        try:
            for _ in range(30):  # warm: imports, certificate parsing, SQLite page cache
                _timed(host, port, "POST", "/addon", rng.choice(bodies))
                _timed(host, port, "GET", "/healthz", None)
            opens: list[float] = []
            health: list[float] = []
            homes: list[float] = []
            for _ in range(args.requests):
                opens.append(_timed(host, port, "POST", "/addon", rng.choice(bodies)))
                health.append(_timed(host, port, "GET", "/healthz", None))
                homes.append(_timed(host, port, "POST", "/addon", home_body))
        finally:
            stop()
            set_services(None)
            services.store.close()

    p95_open, p95_health = _pct(opens, 95), _pct(health, 95)
    print(f"eventOpen, {args.meetings} meetings in the store, {args.requests} requests each")
    rows = (("eventOpen", opens), ("homepage (7 days)", homes), ("/healthz baseline", health))
    for name, values in rows:
        print(
            f"  {name:18} p50 {statistics.median(values):7.2f} ms   p95 {_pct(values, 95):7.2f} ms"
            f"   p99 {_pct(values, 99):7.2f} ms"
        )
    print(f"  p95 ratio eventOpen / healthz: {p95_open / p95_health:.1f}x")
    print(f"  p95 ratio homepage / healthz:  {_pct(homes, 95) / p95_health:.1f}x")
    verdict = "meets" if p95_open < TARGET_P95_MS else "MISSES"
    print(f"  eventOpen p95 {p95_open:.1f} ms {verdict} the {TARGET_P95_MS:.0f} ms target")
    return 0 if p95_open < TARGET_P95_MS else 1


if __name__ == "__main__":
    os.environ.setdefault("PREP_LOG_LEVEL", "WARNING")
    sys.exit(main(sys.argv[1:]))
