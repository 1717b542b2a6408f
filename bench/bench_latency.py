"""Sidebar latency under concurrency: eventOpen against /healthz of the same server.

    .venv/bin/python bench/bench_latency.py [--meetings 300] [--requests 480]
                                            [--clients 1,8,32]

One server process runs the `local` target of `main.py` the way Cloud
Functions runs a function (`python -m functions_framework`, gunicorn, one
worker with its default threads), over a SQLite store holding `--meetings`
meetings of one user. For each level of concurrency, that many client
threads (http.client, one kept-alive connection each, loopback only) send
`--requests` requests in total, first to GET /healthz (the floor: no store,
no token, no card), then signed eventOpen POSTs for random stored meetings
(both ID tokens verified, meeting read, classified, card rendered). Each
answer must be a 200.

Prints p50/p95/p99 and throughput per endpoint and level, and the ratio of
eventOpen to /healthz at the same level. No thresholds: on a 2-core machine
the client threads compete with the server for the same cores, so the
numbers are an upper bound on what a real caller would see.
"""

from __future__ import annotations

import argparse
import http.client
import random
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.serving import (
    ROOT,
    Server,
    event_open_bodies,
    local_env,
    local_services,
    percentile,
    request,
    running,
    seed_meetings,
)

WARM_UP = 40


@dataclass(frozen=True)
class Level:
    endpoint: str
    clients: int
    latencies_ms: list[float]
    seconds: float

    @property
    def throughput(self) -> float:
        return len(self.latencies_ms) / self.seconds

    def p(self, q: float) -> float:
        return percentile(self.latencies_ms, q)


def _load(
    port: int,
    clients: int,
    total: int,
    *,
    method: str,
    path: str,
    bodies: list[bytes | None],
) -> tuple[list[float], float]:
    """`clients` threads share `total` requests; returns latencies (ms) and wall seconds."""
    per_client = max(1, -(-total // clients))
    results: list[list[float]] = [[] for _ in range(clients)]
    errors: list[str] = []
    gate = threading.Barrier(clients + 1)

    def client(n: int) -> None:
        rng = random.Random(n)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        gate.wait()
        try:
            for _ in range(per_client):
                started = time.perf_counter()
                try:
                    status, payload = request(port, method, path, rng.choice(bodies), conn)
                except (OSError, http.client.HTTPException):
                    conn.close()  # the server closed a kept-alive connection: reconnect once
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                    status, payload = request(port, method, path, rng.choice(bodies), conn)
                results[n].append((time.perf_counter() - started) * 1000)
                if status != 200:
                    errors.append(f"{status}: {payload[:120]!r}")
                    return
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for t in threads:
        t.start()
    gate.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"{method} {path} failed: {errors[0]}")
    return [v for r in results for v in r], elapsed


def run(
    server: Server, bodies: list[bytes], clients: list[int], total: int
) -> list[tuple[Level, Level]]:
    """Warm the server up, then (healthz, eventOpen) per level of concurrency."""
    no_body: list[bytes | None] = [None]
    open_bodies: list[bytes | None] = list(bodies)
    _load(server.port, 4, WARM_UP, method="GET", path="/healthz", bodies=no_body)
    _load(server.port, 4, WARM_UP, method="POST", path="/addon", bodies=open_bodies)
    levels = []
    for n in clients:
        health = Level(
            "/healthz",
            n,
            *_load(server.port, n, total, method="GET", path="/healthz", bodies=no_body),
        )
        opens = Level(
            "eventOpen",
            n,
            *_load(server.port, n, total, method="POST", path="/addon", bodies=open_bodies),
        )
        levels.append((health, opens))
    return levels


def report(levels: list[tuple[Level, Level]], meetings: int, total: int) -> None:
    print(f"sidebar latency, one server process, {meetings} meetings, {total} requests per row")
    print(
        f"  {'clients':>7} {'endpoint':<9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"
        f" {'req/s':>7}   p50 / p95 x healthz"
    )
    for health, opens in levels:
        for row in (health, opens):
            ratios = ""
            if row is opens:
                ratios = f"   {opens.p(50) / health.p(50):4.1f} / {opens.p(95) / health.p(95):4.1f}"
            print(
                f"  {row.clients:>7} {row.endpoint:<9} {row.p(50):8.1f} {row.p(95):8.1f}"
                f" {row.p(99):8.1f} {row.throughput:7.0f}{ratios}"
            )
    single = levels[0][1]
    mean = statistics.fmean(single.latencies_ms)
    print(f"  eventOpen mean at {single.clients} client: {mean:.1f} ms")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--meetings", type=int, default=300)
    parser.add_argument("--requests", type=int, default=480, help="requests per row")
    parser.add_argument("--clients", default="1,8,32", help="comma-separated levels")
    args = parser.parse_args(argv)
    clients = [int(c) for c in args.clients.split(",")]

    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        workdir = Path(tmp)
        services = local_services(workdir)
        user, meetings = seed_meetings(services, args.meetings)
        bodies = event_open_bodies(services, user, meetings)
        services.store.close()
        with running("local", ROOT / "main.py", local_env(workdir)) as server:
            levels = run(server, bodies, clients, args.requests)
    report(levels, args.meetings, args.requests)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
