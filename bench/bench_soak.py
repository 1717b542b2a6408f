"""Soak: 10,000 requests against `make run`'s server; descriptors and memory stay flat.

    .venv/bin/python bench/bench_soak.py [--requests 10000] [--clients 4] [--meetings 200]

Runs `python main.py serve` (werkzeug, a new thread per request: the server
whose SQLite connections once leaked two descriptors a request, issue 13) in
its own process over a store of `--meetings` meetings, and sends it signed
eventOpen event objects (nine in ten requests), homepages and /healthz from
`--clients` client threads, one new connection a request (the development
server closes each). Every answer must be a 200.

Baseline: the server's open descriptors (/proc/PID/fd) and resident memory
(VmRSS) after a warm-up of `--warm` requests, measured in the same run.
Prints both at each tenth of the run and the final values as ratios against
the baseline; exits 1 if descriptors grew by more than `FD_SLACK` or memory
by more than `RSS_RATIO_MAX` times (both flat in a healthy server: the leak
took descriptors from 211 to 3,011 over 1,400 requests).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.serving import (
    ROOT,
    event_open_bodies,
    free_port,
    homepage_body,
    local_env,
    local_services,
    request,
    seed_meetings,
)

#: Descriptors may differ by a few at any instant (a connection being accepted or closed).
FD_SLACK = 8
#: Memory may settle a little after warm-up (allocator arenas, caches filling).
RSS_RATIO_MAX = 1.25


def descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise SystemExit("no VmRSS in /proc")


def _serve(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "main.py", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        with contextlib.suppress(OSError):
            if request(port, "GET", "/healthz")[0] == 200:
                return process
        time.sleep(0.1)
    raise SystemExit("server did not answer /healthz within 60 s")


def _load(
    port: int, plan: list[tuple[str, str, bytes | None]], clients: int
) -> tuple[int, list[str]]:
    """Send every planned request from `clients` threads; count them, keep failures."""
    lock = threading.Lock()
    cursor = iter(plan)
    failures: list[str] = []
    sent = 0

    def work() -> None:
        nonlocal sent
        while True:
            with lock:
                item = next(cursor, None)
            if item is None:
                return
            method, path, body = item
            status, answer = request(port, method, path, body)
            with lock:
                sent += 1
                if status != 200:
                    failures.append(f"{method} {path}: {status} {answer[:120]!r}")

    threads = [threading.Thread(target=work) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sent, failures


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--warm", type=int, default=500)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--meetings", type=int, default=200)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        env = local_env(workdir)
        env["PREP_ICS_PATH"] = str(workdir / "none.ics")  # only the benchmark's meetings
        services = local_services(workdir)
        user, meetings = seed_meetings(services, args.meetings)
        opens = event_open_bodies(services, user, meetings)
        home = homepage_body(services, user)
        services.store.close()
        rng = random.Random(13)

        def plan(n: int) -> list[tuple[str, str, bytes | None]]:
            out: list[tuple[str, str, bytes | None]] = []
            for _ in range(n):
                roll = rng.random()
                if roll < 0.9:
                    out.append(("POST", "/addon", rng.choice(opens)))
                elif roll < 0.95:
                    out.append(("POST", "/addon", home))
                else:
                    out.append(("GET", "/healthz", None))
            return out

        port = free_port()
        server = _serve(env, port)
        try:
            pid = server.pid
            start_fds, start_rss = descriptors(pid), rss_mib(pid)
            _, failed = _load(port, plan(args.warm), args.clients)
            if failed:
                raise SystemExit(f"warm-up failed: {failed[0]}")
            base_fds, base_rss = descriptors(pid), rss_mib(pid)
            print(
                f"soak: `main.py serve`, {args.meetings} meetings, {args.clients} clients,"
                f" {args.requests} requests (90% eventOpen, 5% homepage, 5% /healthz)"
            )
            print(f"  at start           fds {start_fds:5d}   rss {start_rss:7.1f} MiB")
            print(
                f"  after {args.warm:5d} warm-up fds {base_fds:5d}   rss {base_rss:7.1f} MiB"
                "   (baseline)"
            )
            step = max(1, args.requests // 10)
            done = 0
            failures: list[str] = []
            started = time.perf_counter()
            while done < args.requests:
                n = min(step, args.requests - done)
                sent, failed = _load(port, plan(n), args.clients)
                done += sent
                failures += failed
                print(
                    f"  after {done:6d}        fds {descriptors(pid):5d}"
                    f"   rss {rss_mib(pid):7.1f} MiB",
                    flush=True,
                )
            elapsed = time.perf_counter() - started
            time.sleep(0.5)  # let the last request threads end, as between the steps
            end_fds, end_rss = descriptors(pid), rss_mib(pid)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=10)

    fd_ok = end_fds - base_fds <= FD_SLACK
    rss_ratio = end_rss / base_rss
    rss_ok = rss_ratio <= RSS_RATIO_MAX
    print(
        f"  {done} requests in {elapsed:.1f} s ({done / elapsed:.0f} req/s), "
        f"{len(failures)} not 200"
    )
    print(
        f"  descriptors end / baseline: {end_fds}/{base_fds} = {end_fds / base_fds:.2f}x"
        f"  ({'flat' if fd_ok else 'GROWING'}, allowed +{FD_SLACK})"
    )
    print(
        f"  resident memory end / baseline: {end_rss:.1f}/{base_rss:.1f} MiB = {rss_ratio:.2f}x"
        f"  ({'flat' if rss_ok else 'GROWING'}, allowed {RSS_RATIO_MAX:.2f}x)"
    )
    for failure in failures[:5]:
        print(f"  failure: {failure}")
    return 0 if fd_ok and rss_ok and not failures else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
