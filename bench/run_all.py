"""Every benchmark, one after another, each in its own process: `make bench`.

    .venv/bin/python bench/run_all.py [--only NAME[,NAME...]] [--out FILE]

Runs the cold-start, latency, memory, sync, context, eventOpen, settings-save
and soak benchmarks at their default (modest) sizes; each prints its own figures and
ratios against a floor measured in the same run. Prints each one's output as
it finishes and a summary of wall times; `--out` also writes everything to a
file (docs/benchmarks.md quotes such a run). Exit status 1 if any benchmark
failed. Bigger runs: call the scripts themselves with their flags.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent

#: (name, script): the order is cheapest first, so a broken setup shows early.
BENCHMARKS = (
    ("cold_start", "bench_cold_start.py"),
    ("latency", "bench_latency.py"),
    ("memory", "bench_memory.py"),
    ("sync", "bench_sync.py"),
    ("context", "bench_context.py"),
    ("event_open", "bench_event_open.py"),
    ("settings_save", "bench_settings_save.py"),
    ("soak", "bench_soak.py"),
)
#: The whole run must stay under this on a 2-core machine (the issue's budget).
BUDGET_SECONDS = 600


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only", help="comma-separated names: " + ", ".join(n for n, _ in BENCHMARKS)
    )
    parser.add_argument("--out", type=Path, help="also write the combined output here")
    args = parser.parse_args(argv)
    chosen = set(args.only.split(",")) if args.only else {n for n, _ in BENCHMARKS}
    unknown = chosen - {n for n, _ in BENCHMARKS}
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")

    env = {**os.environ, "PREP_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
    header = (
        f"run_all {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.python_implementation()}"
        f" {platform.python_version()}, {os.cpu_count()} CPUs, {platform.system()}"
    )
    lines = [header]
    print(header, flush=True)
    timings: list[tuple[str, float, int]] = []
    started = time.perf_counter()
    for name, script in BENCHMARKS:
        if name not in chosen:
            continue
        title = f"== {name} ({script})"
        print(f"\n{title}", flush=True)
        t0 = time.perf_counter()
        done = subprocess.run(
            [sys.executable, str(BENCH / script)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=BUDGET_SECONDS,
            check=False,
        )
        elapsed = time.perf_counter() - t0
        output = done.stdout.rstrip()
        if done.returncode != 0:
            output += f"\n[exit {done.returncode}] {done.stderr.strip()[-2000:]}"
        print(output, flush=True)
        lines += ["", title, output]
        timings.append((name, elapsed, done.returncode))
    total = time.perf_counter() - started

    summary = ["", "== summary"]
    for name, elapsed, code in timings:
        summary.append(f"  {name:<12} {elapsed:6.1f} s  {'ok' if code == 0 else f'exit {code}'}")
    verdict = "within" if total < BUDGET_SECONDS else "OVER"
    summary.append(
        f"  total        {total:6.1f} s  ({verdict} the {BUDGET_SECONDS // 60}-minute budget)"
    )
    print("\n".join(summary))
    lines += summary
    if args.out is not None:
        args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    failed = any(code != 0 for _, _, code in timings)
    return 1 if failed or total >= BUDGET_SECONDS else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
