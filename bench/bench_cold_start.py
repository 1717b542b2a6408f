"""Cold start: process start to the first eventOpen answer, against a bare hello function.

    .venv/bin/python bench/bench_cold_start.py [--rounds 5] [--meetings 50]

Each round starts two fresh processes the way Cloud Functions does
(`python -m functions_framework --target ... --source ...`, gunicorn, one
worker) and times, from `Popen` on:

- the `addon` target of `main.py` (local mode, a SQLite store holding
  `--meetings` meetings) until it answers a signed eventOpen POST for a stored
  meeting with 200: both ID tokens verified, the meeting read, classified and
  rendered into a card;
- the floor: `bench/hello_function.py` (functions-framework and nothing
  else) until it answers GET / with 200.

Both run from a copy of what a deployment uploads (`main.py`,
`requirements.txt`, `functions/`, `addon/`, `config/`; the hello function in a
folder of its own), byte-compiled the way Google's Python functions buildpack
does at build time (`python3 -m compileall -f -q .`, in
GoogleCloudPlatform/buildpacks `cmd/python/functions_framework/main.go`): a
deployed function reads our modules from `.pyc` files, as it reads its
libraries. `--checkout` runs from the working tree instead, where
`PYTHONDONTWRITEBYTECODE` may leave every first import compiling our sources.

Rounds alternate the two so background load hits both alike; medians are
reported, with the ratio. "listening" is when the port first accepts a
connection (the framework has started and `main.py` is imported), "first
answer" adds the first request, which pays for the imports done lazily.

Then one more fresh process answers a homepage and that eventOpen in process
under `-X importtime` (`tests/faults/first_request_probe.py`): the heaviest
imports are listed, and the heavy Google clients (Firestore, Cloud Tasks,
Cloud Storage, google-genai, the discovery client) must not be among them.
Exit status 1 if one is.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.serving import (
    HELLO_SOURCE,
    ROOT,
    child_pids,
    event_open_bodies,
    free_port,
    local_env,
    local_services,
    request,
    seed_meetings,
    start_server,
    wait_listening,
)

_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")
#: Namespace packages whose second level is the real package (google.auth, functions.sync).
_NAMESPACES = frozenset({"google", "functions", "addon", "tests"})
#: What `gcloud functions deploy --source=.` uploads (deploy/gcloudignore leaves out the rest).
_DEPLOYED = ("main.py", "requirements.txt", "functions", "addon", "config")
#: The probe and its packages, copied beside the deployed source to run against it.
_PROBE = ("tests/__init__.py", "tests/faults/__init__.py", "tests/faults/first_request_probe.py")


def _deployed_copy(folder: Path, names: tuple[str, ...]) -> Path:
    """`names` from the checkout copied into `folder`, then byte-compiled as the buildpack does."""
    for name in names:
        source, target = ROOT / name, folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, target)
    subprocess.run(
        [sys.executable, "-m", "compileall", "-f", "-q", "."],
        cwd=folder,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return folder


def _first_answer(
    target: str,
    source: Path,
    env: dict[str, str],
    *,
    method: str,
    path: str,
    body: bytes | None,
) -> tuple[float, float, float, float]:
    """(s to listening, s to first 200 answer, ms of a second, warm request,
    CPU s the server's processes had used by the first answer)."""
    server = start_server(target, source, env, free_port(), cwd=source.parent)
    try:
        listening = wait_listening(server)
        status, payload = request(server.port, method, path, body)
        first = time.perf_counter() - server.started
        cpu = _tree_cpu(server.pid)
        if status != 200:
            raise SystemExit(f"{target}: first answer {status}: {payload[:200]!r}")
        warm_started = time.perf_counter()
        status, _ = request(server.port, method, path, body)
        warm = (time.perf_counter() - warm_started) * 1000
        if status != 200:
            raise SystemExit(f"{target}: second answer {status}")
        return listening, first, warm, cpu
    finally:
        server.stop()


def _tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by `pid` and its children (Linux /proc; else 0).

    Waiting for a core on a busy machine lengthens wall time but not this, so it
    tells our own cost apart from the neighbours' load.
    """
    total = 0
    for process in (pid, *child_pids(pid)):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK") if total else 0.0


def _import_profile(
    env: dict[str, str], event_id: str, email: str, cwd: Path
) -> tuple[dict[str, object], list[tuple[int, str]]]:
    """The probe's report and the import time per top-level package (self microseconds)."""
    done = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "tests.faults.first_request_probe",
            "--event-id",
            event_id,
            "--email",
            email,
        ],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"probe failed: {done.stdout[-500:]} {done.stderr[-1500:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    per_package: dict[str, int] = {}
    for line in done.stderr.splitlines():
        match = _IMPORT_LINE.match(line)
        if match:
            name = match.group(4)
            parts = name.split(".")
            package = ".".join(parts[:2]) if parts[0] in _NAMESPACES else parts[0]
            per_package[package] = per_package.get(package, 0) + int(match.group(1))
    ranked = sorted(((us, name) for name, us in per_package.items()), reverse=True)
    return report, ranked


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--meetings", type=int, default=50)
    parser.add_argument("--top", type=int, default=12, help="imports listed by cost")
    parser.add_argument(
        "--checkout",
        action="store_true",
        help="run from the working tree, not from a byte-compiled deployed copy",
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-cold-") as tmp:
        workdir = Path(tmp)
        services = local_services(workdir)
        user, meetings = seed_meetings(services, args.meetings)
        body = event_open_bodies(services, user, meetings[:1])[0]
        services.store.close()
        env = local_env(workdir)
        if args.checkout:
            app, hello = ROOT, HELLO_SOURCE
        else:
            app = _deployed_copy(workdir / "source", (*_DEPLOYED, *_PROBE))
            floor = HELLO_SOURCE.relative_to(ROOT)
            hello = _deployed_copy(workdir / "hello", (str(floor),)) / floor
            env = {**env, "PYTHONPATH": str(app)}

        addon_rows: list[tuple[float, float, float, float]] = []
        hello_rows: list[tuple[float, float, float, float]] = []
        for _ in range(args.rounds):
            hello_rows.append(_first_answer("hello", hello, env, method="GET", path="/", body=None))
            addon_rows.append(
                _first_answer(
                    "addon", app / "main.py", env, method="POST", path="/addon", body=body
                )
            )
        report, ranked = _import_profile(env, meetings[0].event_id, user.email, app)

    def med(rows: list[tuple[float, float, float, float]], i: int) -> float:
        return statistics.median(r[i] for r in rows)

    source = "the working tree" if args.checkout else "a byte-compiled deployed copy"
    print(
        f"cold start, median of {args.rounds} fresh processes each (functions-framework, gunicorn),"
        f" from {source}"
    )
    print(f"  {'':34} {'listening':>10} {'first answer':>13} {'warm request':>13}")
    for name, rows in (
        ("addon target, first eventOpen", addon_rows),
        ("hello function (floor), GET /", hello_rows),
    ):
        print(
            f"  {name:34} {med(rows, 0) * 1000:8.0f} ms {med(rows, 1) * 1000:10.0f} ms"
            f" {med(rows, 2):10.1f} ms"
        )
    ratio = med(addon_rows, 1) / med(hello_rows, 1)
    lazy = (med(addon_rows, 1) - med(addon_rows, 0)) * 1000
    print(f"  ratio first answer addon / hello: {ratio:.2f}x")
    if med(hello_rows, 3) > 0:
        addon_cpu, hello_cpu = med(addon_rows, 3), med(hello_rows, 3)
        print(
            f"  CPU of the server processes by the first answer: addon {addon_cpu * 1000:.0f} ms,"
            f" hello {hello_cpu * 1000:.0f} ms, ratio {addon_cpu / hello_cpu:.2f}x"
            " (waiting for a core does not count)"
        )
    print(f"  first eventOpen after listening (lazy imports, key and rules loading): {lazy:.0f} ms")

    heavy = list(report.get("heavy", []))  # type: ignore[call-overload]
    total_ms = sum(us for us, _ in ranked) / 1000
    print(
        f"imports of `import main` + first homepage + first eventOpen: {total_ms:.0f} ms,"
        " by package (self time):"
    )
    for us, name in ranked[: args.top]:
        print(f"  {us / 1000:8.1f} ms  {name}")
    print(f"  modules loaded: {report.get('modules')}; answers: {report.get('statuses')}")
    if heavy:
        print(f"  HEAVY CLIENTS IMPORTED by the first eventOpen: {', '.join(heavy)}")
        return 1
    print("  heavy clients imported by the first eventOpen: none (Firestore, Cloud Tasks,")
    print("  Cloud Storage, google-genai and the discovery client load only where used)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
