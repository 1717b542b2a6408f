"""Sync and fan-out throughput, each against its own raw baseline measured in the same run.

    .venv/bin/python bench/bench_sync.py [--events 2500] [--users 5000] [--rounds 3]

Full sync: the production adapter (google-api-python-client) lists `--events`
events from the fake Calendar API on loopback, and the sync plans and writes
them to a fresh SQLite store. Baseline: `store.upsert_meetings` of the very
same meetings into another fresh store (the write the sync cannot avoid).

Fan-out: `/tasks/fanout`'s handler pages through `--users` connected users
and creates one sync task each. Baseline: `TaskQueue.enqueue` of the same
tasks, one after another, on a fresh queue. Two queues are measured: the
local adapter (in memory, so the fan-out's own overhead shows), and the same
queue behind a simulated 5 ms round trip, which is what creating a Cloud Task
costs and where the fan-out's concurrency pays off.

Prints medians of `--rounds` rounds; no thresholds (this is not a test).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from functions.bootstrap import Bootstrap
from functions.calendar.google_api import GoogleCalendarSource
from functions.calendar.mapping import meeting_from_event
from functions.config import Mode, Settings
from functions.domain.clock import FixedClock
from functions.domain.planning import plan_meeting
from functions.domain.users import ConnectionState, User
from functions.store.sqlite import SqliteStore
from functions.sync.engine import sync_calendar
from functions.sync.handlers import handle_fanout
from functions.sync.tasks import PRIMARY, scheduled_sync_task, slot_of
from functions.tasks.local_queue import Delivery, LocalTaskQueue
from functions.tasks.port import Task, TaskQueue
from tests.support.fake_calendar import FakeCalendar, fake_calendar, timed_event

NOW = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
EMAIL = "bench@example.com"
RPC_LATENCY_S = 0.005


def _never(_: Delivery) -> int:  # tasks are only created here, never delivered
    return 200


class SlowQueue(TaskQueue):
    """A queue whose every create costs one simulated network round trip."""

    def __init__(self, inner: TaskQueue) -> None:
        self.inner = inner

    def enqueue(self, task: Task) -> bool:
        time.sleep(RPC_LATENCY_S)
        return self.inner.enqueue(task)


@dataclass
class Row:
    name: str
    rate: float
    baseline: float
    unit: str

    def line(self) -> str:
        ratio = self.rate / self.baseline if self.baseline else float("nan")
        return (
            f"{self.name:<44} {self.rate:>10,.0f} {self.unit:<9}"
            f" baseline {self.baseline:>10,.0f} {self.unit:<9} ratio {ratio:5.2f}"
        )


def _timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def _seed(fake: FakeCalendar, count: int) -> None:
    for i in range(count):
        fake.put_event(
            EMAIL,
            timed_event(
                f"ev{i:05d}",
                NOW + timedelta(hours=1) + i * timedelta(minutes=20),
                summary=["1:1 with Sam", "Acme QBR", "Weekly staff meeting", "Planning"][i % 4],
                attendees=(EMAIL, "sam@example.com", "tom@acme.com")[: 2 + (i % 2)],
            ),
        )


def full_sync_round(
    fake: FakeCalendar, events: int, workdir: Path, n: int
) -> tuple[float, float, float, float]:
    """(sync events/s, raw upsert events/s, no-change syncs/s, raw incremental lists/s)."""
    user = User("bench-user", EMAIL, connection=ConnectionState.CONNECTED)
    services = Bootstrap(Settings(mode=Mode.LOCAL), clock=FixedClock(NOW))
    classifier = services.classifier
    grant = next(iter(fake.grants.values()))
    creds = fake.credentials(grant)
    source = GoogleCalendarSource(creds, api_endpoint=fake.api_endpoint)
    source.list_events(PRIMARY, time_min=NOW)  # warm: discovery doc, token, connection

    sync_store = SqliteStore(workdir / f"sync-{n}.db")
    sync_store.put_user(user)
    queue = LocalTaskQueue(_never, clock=FixedClock(NOW))
    elapsed = _timed(
        lambda: sync_calendar(
            store=sync_store,
            source=source,
            tasks=queue,
            classifier=classifier,
            user=user,
            calendar_id=PRIMARY,
            now=NOW,
        )
    )
    stored = sync_store.list_meetings(
        user.user_id,
        start_from=NOW - timedelta(days=1),
        start_before=NOW + timedelta(days=400),
        limit=events + 1,
    )
    assert len(stored) == events, len(stored)

    def again() -> None:
        report = sync_calendar(
            store=sync_store,
            source=source,
            tasks=queue,
            classifier=classifier,
            user=user,
            calendar_id=PRIMARY,
            now=NOW,
        )
        assert report.pages == 1 and report.written == 0, report

    state = sync_store.get_sync_state(user.user_id, PRIMARY)
    assert state is not None and state.sync_token
    token = state.sync_token
    # Interleaved, so load from elsewhere on the machine hits both sides alike.
    repeats, no_change, raw_list = 20, 0.0, 0.0
    for _ in range(repeats):
        no_change += _timed(again)
        raw_list += _timed(lambda: source.list_events(PRIMARY, sync_token=token))
    sync_store.close()

    planned = [
        plan_meeting(
            meeting_from_event(e, user_id=user.user_id, calendar_id=PRIMARY),
            None,
            user=user,
            classifier=classifier,
            now=NOW,
        )
        for e in fake.events(EMAIL)
    ]
    raw_store = SqliteStore(workdir / f"raw-{n}.db")
    raw = _timed(lambda: raw_store.upsert_meetings(planned))
    raw_store.close()
    return events / elapsed, events / raw, repeats / no_change, repeats / raw_list


def fanout_round(users: int, workdir: Path, n: int, slow: bool) -> tuple[float, float]:
    """(fan-out users/s, raw enqueue tasks/s) on fresh queues."""
    db = SqliteStore(workdir / f"fanout-{n}-{slow}.db")
    for i in range(users):
        db.put_user(
            User(f"user-{i:06d}", f"u{i}@example.com", connection=ConnectionState.CONNECTED)
        )
    clock = FixedClock(NOW)

    def queue() -> TaskQueue:
        local = LocalTaskQueue(_never, clock=clock)
        return SlowQueue(local) if slow else local

    services = Bootstrap(Settings(mode=Mode.LOCAL), clock=clock, store=db, tasks=queue())
    elapsed = _timed(lambda: handle_fanout(services, {}))

    slot = slot_of(NOW, services.settings.sync_interval)
    tasks = [scheduled_sync_task(f"user-{i:06d}", PRIMARY, slot) for i in range(users)]
    raw_queue = queue()
    raw = _timed(lambda: [raw_queue.enqueue(t) for t in tasks])
    db.close()
    return users / elapsed, users / raw


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=2500)
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--slow-users", type=int, default=800)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp, fake_calendar() as fake:
        workdir = Path(tmp)
        fake.now = NOW
        fake.conformance.enabled = False  # the fake's own checks are not the code measured
        fake.add_user(EMAIL)
        _seed(fake, args.events)
        sync_rates, raw_rates, again_rates, list_rates = [], [], [], []
        for n in range(args.rounds):
            s, r, a, lst = full_sync_round(fake, args.events, workdir, n)
            sync_rates.append(s)
            raw_rates.append(r)
            again_rates.append(a)
            list_rates.append(lst)
        rows.append(
            Row(
                f"full sync of {args.events} events (1 page)",
                statistics.median(sync_rates),
                statistics.median(raw_rates),
                "events/s",
            )
        )
        rows.append(
            Row(
                "sync with no change (1 call, 0 writes)",
                statistics.median(again_rates),
                statistics.median(list_rates),
                "syncs/s",
            )
        )
        fake.page_cap = 500
        sync_rates, raw_rates = [], []
        for n in range(args.rounds):
            s, r, _, _ = full_sync_round(fake, args.events, workdir, 100 + n)
            sync_rates.append(s)
            raw_rates.append(r)
        pages = -(-args.events // 500)
        rows.append(
            Row(
                f"full sync of {args.events} events ({pages} pages)",
                statistics.median(sync_rates),
                statistics.median(raw_rates),
                "events/s",
            )
        )
        for slow, users in ((False, args.users), (True, args.slow_users)):
            fan, raw = [], []
            for n in range(args.rounds):
                f, r = fanout_round(users, workdir, n, slow)
                fan.append(f)
                raw.append(r)
            label = "5 ms simulated RPC" if slow else "local queue"
            rows.append(
                Row(
                    f"fan-out of {users} users ({label})",
                    statistics.median(fan),
                    statistics.median(raw),
                    "users/s",
                )
            )
    print(
        f"median of {args.rounds} rounds; baselines: raw store upsert of the same meetings, "
        "one raw incremental events.list call, raw TaskQueue.enqueue of the same tasks"
    )
    for row in rows:
        print(row.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
