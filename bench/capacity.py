"""Capacity and cost: what one user costs per day, and 1,000 users per month, from measurements.

    .venv/bin/python bench/capacity.py [--users 1000,100000] [--markdown]

Two halves, so the numbers in docs/capacity.md cannot drift from the code:

1. Measured here, by running the real handlers in process: each operation
   (a sync with and without changes, a push ping, the fan-out, a reminder,
   an eventOpen, the homepage, a generation) against a store that counts
   what Firestore would bill (document reads, writes, deletes), the fake
   Calendar API (calls), a queue that counts task creations, and counting
   notifiers (Gmail and Chat API calls).
2. Documented inputs: a usage profile (how often each operation happens per
   user per day) and Google's published prices, quotas and free tiers, each
   with its source. They are constants below; change them and rerun.

Prints per-operation costs, per-user-per-day totals, the monthly bill for each
population and sync mode (polling only, push with slow polling, and the
shipped default of push plus 15-minute polling), and the quota checks that
decide queue settings.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from functions.bootstrap import Bootstrap, set_services
from functions.config import load_settings
from functions.domain.clock import FixedClock
from functions.domain.meetings import Meeting
from functions.domain.prep_state import PrepState
from functions.domain.sync_state import SyncState
from functions.domain.users import ConnectionState, User
from functions.notify.port import ChatSender, EmailSender, Notifiers
from functions.store.sqlite import SqliteStore
from functions.tasks.port import Task, TaskQueue

NOW = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
EMAIL = "capacity@example.com"
USER_ID = "capacity-user"

# ---------------------------------------------------------------- documented inputs

#: How often each operation happens per user per (average) day. Assumptions for an
#: active knowledge worker; every figure below scales linearly with them.
PROFILE = {
    "meetings_needing_prep_per_day": 4.0,  # each gets one reminder (email + Chat)
    "calendar_change_bursts_per_day": 6.0,  # edits, invitations: one push window each
    "changed_events_per_poll_with_changes": 3.0,
    "event_opens_per_day": 6.0,  # sidebar opened on an event
    "homepage_opens_per_day": 2.0,
    "generations_per_day": 1.5,  # "Generate prep" clicks (plus auto-prep)
}
#: Polling intervals compared (minutes). The shipped default is 15 with push on.
SYNC_MODES = {
    "polling only, every 15 min": (15, False),
    "push + polling every 15 min (default)": (15, True),
    "push + polling every 4 h": (240, True),
}
#: Billed wall time per request kind (Cloud Run rounds up to 100 ms; concurrency 1).
#: CPU is measured (bench_latency, bench_sync: a few ms); the rest is waiting on Google.
BILLED_SECONDS = {
    "addon": 0.1,  # measured ~3-5 ms CPU + one Firestore round trip
    "sync": 0.3,  # one or two Calendar API round trips
    "ping": 0.1,
    "prep": 0.7,  # Gmail send + Chat findDirectMessage + create
    "generate": 12.0,  # Gemini 3.8 Flash, ~1,700 output tokens incl. thinking at LOW
    "fanout": 0.002,  # per user: 16 threads create tasks (bench_sync: 2,700 users/s)
}
#: Per generation (docs/materials.md, bench/bench_context.py: 20+ earlier meetings). Output:
#: ~1,000 answer tokens (from an offline answer) plus thinking at level LOW, for which Google
#: publishes no figure: 700 is an assumption (the one tests/support/fake_vertex.py uses).
TOKENS_IN_PER_GENERATION = 3_400
TOKENS_OUT_PER_GENERATION = 1_700

#: Prices in USD (list prices, checked 2026; sources in docs/capacity.md).
PRICE = {
    # Firestore Standard edition, regional US (us-central1), per 100,000 documents
    "firestore_read_100k": 0.03,
    "firestore_write_100k": 0.09,
    "firestore_delete_100k": 0.01,
    # Cloud Tasks, per million billable operations (API calls and delivery attempts)
    "tasks_per_million": 0.40,
    # Cloud Run functions (gen2) = Cloud Run request-based billing, Tier 1 region
    "run_vcpu_second": 0.000024,
    "run_gib_second": 0.0000025,
    "run_per_million_requests": 0.40,
    # Vertex AI, Gemini 3.8 Flash, per million tokens (thinking billed as output): the
    # standard rate from 2027-01-01 (introductory $0.75 / $3.75 until 2026-12-31)
    "gemini_in_million": 1.50,
    "gemini_out_million": 7.50,
    # Cloud Scheduler, per job per month (one fan-out job)
    "scheduler_job_month": 0.10,
}
#: Free tiers (per billing account or project; per month unless said).
FREE = {
    "firestore_reads_per_day": 50_000,
    "firestore_writes_per_day": 20_000,
    "firestore_deletes_per_day": 20_000,
    "tasks_ops": 1_000_000,
    "run_vcpu_seconds": 180_000,
    "run_gib_seconds": 360_000,
    "run_requests": 2_000_000,
    "scheduler_jobs": 3,
    "calendar_scaled_tier_requests_per_day": 1_000_000,  # only in the Scaled Tier
}
#: Function size (bench_memory: a server worker peaks at ~70 MiB, so 256 MiB fits).
FUNCTION_VCPU = 0.167
FUNCTION_GIB = 0.25
#: Published quotas that decide queue settings.
QUOTA = {
    "calendar_per_minute_per_project": 10_000,
    "calendar_per_minute_per_user": 600,
    "chat_message_writes_per_minute_per_project": 3_000,
    "gmail_messages_per_user_per_day": 2_000,
    "gmail_units_per_minute_per_project": 1_200_000,  # messages.send = 100 units
}
#: Share of a day's reminders due in its busiest minute (meetings start on the hour;
#: with a 24 h lead their reminders do too). An assumption: 5%.
PEAK_MINUTE_SHARE = 0.05
DAYS_PER_MONTH = 30


# ---------------------------------------------------------------- counting adapters


@dataclass
class Bill:
    """What one operation cost, in the units Google bills."""

    reads: float = 0
    writes: float = 0
    deletes: float = 0
    calendar_calls: float = 0
    tasks_created: float = 0
    gmail_calls: float = 0
    chat_calls: float = 0

    def __sub__(self, other: Bill) -> Bill:
        return Bill(**{k: getattr(self, k) - getattr(other, k) for k in _FIELDS})

    def scaled(self, factor: float) -> Bill:
        return Bill(**{k: getattr(self, k) * factor for k in _FIELDS})

    def __add__(self, other: Bill) -> Bill:
        return Bill(**{k: getattr(self, k) + getattr(other, k) for k in _FIELDS})


_FIELDS = [f.name for f in dataclasses.fields(Bill)]


class BilledStore(SqliteStore):
    """SQLite, counting what each call would cost on the Firestore adapter.

    Follows functions/store/firestore.py: a get is one read, `get_all` one per
    id, a query one per document returned (at least one), a set one write, a
    transaction (update_meeting) one read and one write, `claim` one create
    (and a read when it finds the claim taken), a delete one delete.
    """

    def __init__(self, path: Path, bill: Bill) -> None:
        super().__init__(path)
        self.bill = bill

    def _r(self, n: int = 1) -> None:
        self.bill.reads += max(1, n)

    def get_user(self, user_id: str) -> Any:
        self._r()
        return super().get_user(user_id)

    def put_user(self, user: User) -> None:
        self.bill.writes += 1
        super().put_user(user)

    def list_connected_users(self, *, after: str | None = None, limit: int = 100) -> Any:
        page = super().list_connected_users(after=after, limit=limit)
        self._r(len(page.users) + (1 if page.next_after else 0))
        return page

    def _write_meetings(self, meetings: Sequence[Meeting]) -> None:
        self.bill.writes += len(meetings)
        super()._write_meetings(meetings)

    def get_meeting(self, user_id: str, event_id: str) -> Any:
        self._r()
        return super().get_meeting(user_id, event_id)

    def get_meetings(self, user_id: str, event_ids: Sequence[str]) -> Any:
        self._r(len(set(event_ids)))
        return super().get_meetings(user_id, event_ids)

    def list_meetings(self, user_id: str, **kw: Any) -> Any:
        found = super().list_meetings(user_id, **kw)
        self._r(len(found))
        return found

    def list_due_for_prep(self, user_id: str, **kw: Any) -> Any:
        found = super().list_due_for_prep(user_id, **kw)
        self._r(len(found))
        return found

    def delete_meetings(self, user_id: str, event_ids: Sequence[str]) -> int:
        self.bill.deletes += len(event_ids)
        return super().delete_meetings(user_id, event_ids)

    def update_meeting(self, user_id: str, event_id: str, change: Any, **kw: Any) -> Any:
        self._r()
        self.bill.writes += 1
        return super().update_meeting(user_id, event_id, change, **kw)

    def get_sync_state(self, user_id: str, calendar_id: str) -> Any:
        self._r()
        return super().get_sync_state(user_id, calendar_id)

    def put_sync_state(self, state: SyncState) -> None:
        self.bill.writes += 1
        super().put_sync_state(state)

    def claim(self, user_id: str, key: str, *, lease: timedelta | None = None) -> bool:
        self.bill.writes += 1
        won = super().claim(user_id, key, lease=lease)
        if not won:
            self._r()  # reads the claim it lost to (a takeover of an abandoned one reads again)
        return won

    def confirm_claim(self, user_id: str, key: str) -> None:
        self.bill.writes += 1
        super().confirm_claim(user_id, key)

    def claim_confirmed(self, user_id: str, key: str) -> bool:
        self._r()
        return super().claim_confirmed(user_id, key)

    def release_claim(self, user_id: str, key: str) -> None:
        self.bill.deletes += 1
        super().release_claim(user_id, key)

    def get_credentials(self, user_id: str) -> Any:
        self._r()
        return super().get_credentials(user_id)


class CountingQueue(TaskQueue):
    def __init__(self, bill: Bill) -> None:
        self.bill = bill
        self.names: set[str] = set()
        self.tasks: list[Task] = []

    def enqueue(self, task: Task) -> bool:
        self.bill.tasks_created += 1  # an API call, billed even when the name exists
        if task.name in self.names:
            return False
        self.names.add(task.name)
        self.tasks.append(task)
        return True


class CountingEmail(EmailSender):
    def __init__(self, bill: Bill) -> None:
        self.bill = bill

    def send(self, user_id: str, message: EmailMessage) -> str:
        self.bill.gmail_calls += 1  # users.messages.send
        return "m"


class CountingChat(ChatSender):
    def __init__(self, bill: Bill) -> None:
        self.bill = bill

    def send_direct(self, user_id: str, message: Mapping[str, Any], *, request_id: str) -> str:
        self.bill.chat_calls += 2  # spaces.findDirectMessage + spaces.messages.create
        return "spaces/x/messages/1"

    def update_message(self, name: str, message: Mapping[str, Any]) -> bool:
        self.bill.chat_calls += 1  # spaces.messages.patch
        return True


# ---------------------------------------------------------------- measuring


@dataclass
class Measured:
    per_op: dict[str, Bill] = field(default_factory=dict)


def _measure(work: Callable[[], object], bill: Bill, fake: Any = None) -> Bill:
    before = dataclasses.replace(bill)
    calls = fake.count() if fake is not None else 0
    work()
    spent = bill - before
    if fake is not None:
        spent.calendar_calls = fake.count() - calls
    return spent


def measure(workdir: Path) -> Measured:
    from google.oauth2.credentials import Credentials

    from addon.dev_event import event_object
    from functions.bootstrap import local_routes
    from functions.materials.handler import handle_generate
    from functions.prep.notify_task import handle_prep_task
    from functions.prep.queueing import prep_task, queue_generation
    from functions.sync.handlers import handle_fanout, handle_sync
    from functions.web import dispatch
    from tests.support.fake_calendar import fake_calendar, timed_event

    bill = Bill()
    out = Measured()
    with fake_calendar() as fake:
        fake.now = NOW
        fake.conformance.enabled = False  # the fake's own checks are not the code measured
        env = {
            "PREP_SQLITE_PATH": str(workdir / "prep.db"),
            "PREP_DEV_KEY_PATH": str(workdir / "dev-key.pem"),
            "PREP_TOKEN_KEK_PATH": str(workdir / "kek"),
            "PREP_OUTBOX_PATH": str(workdir / "outbox.db"),
            "PREP_MATERIALS_DIR": str(workdir / "materials"),
            "PREP_MATERIALS_SIGNING_KEY": str(workdir / "materials-key.json"),
            "PREP_CALENDAR_API_ENDPOINT": fake.api_endpoint,
            "PREP_LOG_LEVEL": "WARNING",
        }
        settings = dataclasses.replace(
            load_settings(env),
            webhook_url="https://prep.example.test/calendar/webhook",
            webhook_secret="capacity-secret",  # noqa: S106 - a test key
        )
        services = Bootstrap(settings, clock=FixedClock(NOW))
        store = BilledStore(workdir / "billed.db", bill)
        queue = CountingQueue(bill)
        token = fake.access_token_for(EMAIL)

        class Provider:
            def credentials_for(self, user_id: str) -> Credentials:
                return Credentials(token=token)

        vars(services).update(
            store=store,
            tasks=queue,
            credentials=Provider(),
            notifiers=Notifiers(email=CountingEmail(bill), chat=CountingChat(bill)),
        )
        set_services(services)
        try:
            user = User(
                USER_ID, EMAIL, time_zone="Europe/Berlin", connection=ConnectionState.CONNECTED
            )
            store.put_user(user)
            for i in range(40):  # two busy weeks ahead
                fake.put_event(
                    EMAIL,
                    timed_event(
                        f"ev{i:03d}",
                        NOW + timedelta(hours=2 + 8 * i),
                        summary=["1:1 with Sam", "Acme QBR", "Staff meeting", "Planning"][i % 4],
                        attendees=(EMAIL, "sam@example.com", "tom@acme.com"),
                    ),
                )
            out.per_op["first full sync (40 events)"] = _measure(
                lambda: handle_sync(services, {"user_id": USER_ID}), bill, fake
            )
            out.per_op["sync, nothing changed"] = _measure(
                lambda: handle_sync(services, {"user_id": USER_ID}), bill, fake
            )
            changes = int(PROFILE["changed_events_per_poll_with_changes"])
            for event in fake.events(EMAIL)[:changes]:
                fake.put_event(EMAIL, {**event, "description": "new agenda"})
            out.per_op[f"sync, {changes} events changed"] = _measure(
                lambda: handle_sync(services, {"user_id": USER_ID}), bill, fake
            )
            headers = _ping_headers(services)
            out.per_op["push ping (webhook)"] = _measure(lambda: _ping(services, headers), bill)

            for i in range(999):
                store.put_user(
                    User(f"u{i:04d}", f"u{i}@example.com", connection=ConnectionState.CONNECTED)
                )
            fanout = _measure(lambda: handle_fanout(services, {}), bill)
            out.per_op["fan-out, per user"] = fanout.scaled(1 / 1000)

            due = store.list_meetings(
                USER_ID, start_from=NOW, start_before=NOW + timedelta(days=1), limit=10
            )
            meeting = next(m for m in due if m.prep_state is PrepState.SCHEDULED)
            task = prep_task(meeting)
            out.per_op["reminder (prep task: email + Chat)"] = _measure(
                lambda: handle_prep_task(services, dict(task.payload)), bill
            )

            routes = local_routes(services)

            def post_addon(body: dict[str, Any]) -> None:
                import flask

                app = flask.Flask("capacity")
                with app.test_request_context(
                    "/addon", method="POST", data=json.dumps(body), content_type="application/json"
                ):
                    assert dispatch(routes, flask.request).status_code == 200

            opened = store.get_meeting(USER_ID, "ev005")
            assert opened is not None
            body = event_object(services, user_id=USER_ID, email=EMAIL, meeting=opened)
            post_addon(body)  # the first request stores the user's zone and locale
            out.per_op["sidebar eventOpen"] = _measure(lambda: post_addon(body), bill)
            home = event_object(services, user_id=USER_ID, email=EMAIL)
            out.per_op["sidebar homepage"] = _measure(lambda: post_addon(home), bill)

            target = store.get_meeting(USER_ID, "ev009")
            assert target is not None

            def generate() -> None:
                queue_generation(store, queue, target)
                handle_generate(services, dict(queue.tasks[-1].payload))

            out.per_op["generation (click + task)"] = _measure(generate, bill)
        finally:
            set_services(None)
            store.close()
    return out


def _ping_headers(services: Bootstrap) -> dict[str, str]:
    """What Google sends for the channel the first sync opened (looked up outside the bill)."""
    from functions.sync.channels import channel_secret, channel_token

    state = services.store.get_sync_state(USER_ID, "primary")
    assert state is not None and state.channel_id, "the first sync opens a channel"
    return {
        "X-Goog-Channel-ID": state.channel_id,
        "X-Goog-Channel-Token": channel_token(
            channel_secret(services.settings), state.channel_id, USER_ID, "primary"
        ),
        "X-Goog-Resource-State": "exists",
        "X-Goog-Resource-ID": state.channel_resource_id or "",
    }


def _ping(services: Bootstrap, headers: dict[str, str]) -> None:
    import flask

    from functions.sync.webhook import calendar_webhook

    app = flask.Flask("capacity")
    with app.test_request_context("/calendar/webhook", method="POST", headers=headers):
        assert calendar_webhook(services, flask.request).status_code == 200


# ---------------------------------------------------------------- the arithmetic


@dataclass
class Day:
    """One user's average day in one sync mode."""

    bill: Bill
    invocations: dict[str, float]
    tokens_in: float
    tokens_out: float

    @property
    def tasks_ops(self) -> float:
        # Each created task is one API call plus one delivery attempt (no retries).
        return self.bill.tasks_created * 2

    @property
    def function_seconds(self) -> float:
        return sum(n * BILLED_SECONDS[k] for k, n in self.invocations.items())


def user_day(m: Measured, interval_min: int, push: bool) -> Day:
    p = PROFILE
    changes = int(p["changed_events_per_poll_with_changes"])
    polls = 24 * 60 / interval_min
    ops = m.per_op
    quiet, busy = ops["sync, nothing changed"], ops[f"sync, {changes} events changed"]
    bursts = p["calendar_change_bursts_per_day"]
    if push:
        # Each burst pings and syncs within 30 s; polls then find nothing new.
        syncs = (
            quiet.scaled(polls) + busy.scaled(bursts) + ops["push ping (webhook)"].scaled(bursts)
        )
        # Channel upkeep: events.watch + channels.stop once a week.
        syncs.calendar_calls += 2 / 7
        sync_count = polls + bursts
    else:
        changed_polls = min(polls, bursts)
        syncs = quiet.scaled(polls - changed_polls) + busy.scaled(changed_polls)
        sync_count = polls
    fanout = ops["fan-out, per user"].scaled(polls)
    bill = (
        syncs
        + fanout
        + ops["reminder (prep task: email + Chat)"].scaled(p["meetings_needing_prep_per_day"])
        + ops["sidebar eventOpen"].scaled(p["event_opens_per_day"])
        + ops["sidebar homepage"].scaled(p["homepage_opens_per_day"])
        + ops["generation (click + task)"].scaled(p["generations_per_day"])
    )
    invocations = {
        "sync": sync_count,
        "ping": bursts if push else 0.0,
        "fanout": polls,
        "prep": p["meetings_needing_prep_per_day"],
        "addon": p["event_opens_per_day"] + p["homepage_opens_per_day"] + p["generations_per_day"],
        "generate": p["generations_per_day"],
    }
    return Day(
        bill,
        invocations,
        p["generations_per_day"] * TOKENS_IN_PER_GENERATION,
        p["generations_per_day"] * TOKENS_OUT_PER_GENERATION,
    )


def monthly_cost(day: Day, users: int) -> dict[str, float]:
    n = users * DAYS_PER_MONTH
    b = day.bill

    def over(total: float, free: float) -> float:
        return max(0.0, total - free)

    firestore = (
        (
            over(b.reads * users, FREE["firestore_reads_per_day"]) * PRICE["firestore_read_100k"]
            + over(b.writes * users, FREE["firestore_writes_per_day"])
            * PRICE["firestore_write_100k"]
            + over(b.deletes * users, FREE["firestore_deletes_per_day"])
            * PRICE["firestore_delete_100k"]
        )
        * DAYS_PER_MONTH
        / 100_000
    )
    tasks = over(day.tasks_ops * n, FREE["tasks_ops"]) * PRICE["tasks_per_million"] / 1e6
    requests = sum(day.invocations.values()) * n
    seconds = day.function_seconds * n
    compute = (
        over(seconds * FUNCTION_VCPU, FREE["run_vcpu_seconds"]) * PRICE["run_vcpu_second"]
        + over(seconds * FUNCTION_GIB, FREE["run_gib_seconds"]) * PRICE["run_gib_second"]
        + over(requests, FREE["run_requests"]) * PRICE["run_per_million_requests"] / 1e6
    )
    model = (
        (day.tokens_in * PRICE["gemini_in_million"] + day.tokens_out * PRICE["gemini_out_million"])
        * n
        / 1e6
    )
    scheduler = max(0, 1 - FREE["scheduler_jobs"]) * PRICE["scheduler_job_month"]
    return {
        "Firestore": firestore,
        "Cloud Tasks": tasks,
        "Cloud Run functions": compute,
        "Vertex AI (Gemini)": model,
        "Cloud Scheduler": scheduler,
    }


# ---------------------------------------------------------------- printing


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = [
        "| " + " | ".join(header) + " |",
        "| --- |" + "|".join(" ---: " for _ in header[1:]) + "|",
    ]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def _n(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.2f}".rstrip("0").rstrip(".") or "0"


def report(m: Measured, populations: list[int]) -> list[str]:
    out = ["### Measured per operation (real handlers, counting adapters)", ""]
    cols = (
        "operation",
        "Firestore reads",
        "writes",
        "deletes",
        "Calendar calls",
        "tasks created",
        "Gmail calls",
        "Chat calls",
    )
    out += _table(
        cols,
        (
            (
                name,
                *(_n(getattr(b, f)) for f in _FIELDS[:3]),
                _n(b.calendar_calls),
                _n(b.tasks_created),
                _n(b.gmail_calls),
                _n(b.chat_calls),
            )
            for name, b in m.per_op.items()
        ),
    )
    days = {mode: user_day(m, *spec) for mode, spec in SYNC_MODES.items()}
    out += ["", "### Per user per day", ""]
    out += _table(
        (
            "sync mode",
            "Calendar calls",
            "Firestore reads",
            "writes",
            "deletes",
            "Cloud Tasks ops",
            "function calls",
            "function s",
            "model tokens in / out",
        ),
        (
            (
                mode,
                _n(d.bill.calendar_calls),
                _n(d.bill.reads),
                _n(d.bill.writes),
                _n(d.bill.deletes),
                _n(d.tasks_ops),
                _n(sum(d.invocations.values())),
                _n(d.function_seconds),
                f"{_n(d.tokens_in)} / {_n(d.tokens_out)}",
            )
            for mode, d in days.items()
        ),
    )
    for users in populations:
        out += ["", f"### Monthly cost at {users:,} users (USD; free tiers applied)", ""]
        header = [
            "sync mode",
            *monthly_cost(next(iter(days.values())), users),
            "total",
            "per 1,000 users",
        ]
        rows = []
        for mode, d in days.items():
            cost = monthly_cost(d, users)
            total = sum(cost.values())
            rows.append(
                [
                    mode,
                    *(f"{v:,.2f}" for v in cost.values()),
                    f"{total:,.2f}",
                    f"{total * 1000 / users:,.2f}",
                ]
            )
        out += _table(header, rows)
    out += ["", "### Quota checks (published per-project limits)", ""]
    checks: list[tuple[str, str, str, str]] = []
    for users in populations:
        for mode in SYNC_MODES:
            d = days[mode]
            per_min = d.bill.calendar_calls * users / (24 * 60)
            checks.append(
                (
                    f"{users:,} users, {mode}",
                    "Calendar calls/min, average",
                    _n(per_min),
                    _n(QUOTA["calendar_per_minute_per_project"]),
                )
            )
            if d.bill.calendar_calls * users > FREE["calendar_scaled_tier_requests_per_day"]:
                checks.append(
                    (
                        f"{users:,} users, {mode}",
                        "Calendar calls/day (Scaled Tier free: 1M)",
                        _n(d.bill.calendar_calls * users),
                        "billable beyond 1M",
                    )
                )
        chat_peak = PROFILE["meetings_needing_prep_per_day"] * users * PEAK_MINUTE_SHARE
        checks.append(
            (
                f"{users:,} users",
                "Chat message writes in the busiest minute",
                _n(chat_peak),
                _n(QUOTA["chat_message_writes_per_minute_per_project"]),
            )
        )
        gmail_units = chat_peak * 100
        checks.append(
            (
                f"{users:,} users",
                "Gmail quota units in the busiest minute",
                _n(gmail_units),
                _n(QUOTA["gmail_units_per_minute_per_project"]),
            )
        )
    out += _table(("population", "what", "needed", "limit"), checks)
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", default="1000,100000")
    parser.add_argument("--json", action="store_true", help="print the measured figures as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="capacity-") as tmp:
        measured = measure(Path(tmp))
    if args.json:
        print(json.dumps({k: dataclasses.asdict(v) for k, v in measured.per_op.items()}, indent=2))
        return 0
    print("\n".join(report(measured, [int(u) for u in args.users.split(",")])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
