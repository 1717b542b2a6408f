"""The local task queue on disk: scheduled tasks, retries and names survive a restart.

Cloud Tasks keeps a queue's tasks whatever happens to the workers; the
local stand-in must too, or a reminder scheduled for tomorrow vanishes when
`make run` is stopped (or killed) today. Every change of a task's life is
written here before the in-memory queue acts on it, in the local store's
SQLite file (its own table, so the store's schema and connections stay
its own):

- `add` when a task is created; it is also where a name is refused, so
  dedup holds across a restart (and across processes sharing the file);
- `started` before each delivery attempt, written as if the attempt
  failed: an attempt cut short by a kill then counts as failed, and is
  retried after its backoff, as Cloud Tasks treats an attempt whose
  worker died;
- `finished` once it succeeded or was given up, kept until the end of its
  dedupe window (then forgotten).

Each operation opens and closes its own connection: the queue's worker and
request threads come and go, and nothing here outlives the call.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from functions.store import codec
from functions.store.port import StoreBusy
from functions.tasks.port import Task

_SCHEMA = """
CREATE TABLE IF NOT EXISTS local_tasks (
    key TEXT PRIMARY KEY,
    task TEXT NOT NULL,
    due TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    done_until TEXT
)
"""
#: How long an operation waits for another writer of the file before failing.
_BUSY_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Saved:
    """One task as the journal holds it."""

    key: str
    task: Task
    due: datetime
    attempts: int
    #: None while pending; once finished, when its name may be used again.
    done_until: datetime | None


def _task_doc(task: Task) -> str:
    return json.dumps(
        {
            "queue": task.queue,
            "name": task.name,
            "path": task.path,
            "payload": dict(task.payload),
            "schedule_at": codec.ts(task.schedule_at),
        },
        sort_keys=True,
    )


def _task_from(doc: str) -> Task:
    d = json.loads(doc)
    return Task(
        queue=d["queue"],
        name=d["name"],
        path=d["path"],
        payload=d["payload"],
        schedule_at=codec.parse_ts(d.get("schedule_at")),
    )


def _ts(at: datetime) -> str:
    return codec.ts(at) or ""


class TaskJournal:
    def __init__(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(path)
        with self._connect() as conn:
            conn.execute(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=_BUSY_SECONDS, isolation_level=None)
        try:
            # As the store's own connections: WAL, synced at checkpoints rather than per commit.
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            yield conn
        finally:
            conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as conn:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    # As the store answers it: transient, "busy, try again" (not a 500).
                    raise StoreBusy("another writer holds the task journal") from None
                raise
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def add(self, key: str, task: Task, due: datetime, now: datetime) -> bool:
        """Record a new task; False if the name is pending or still in its dedupe window."""
        with self._tx() as conn:
            row = conn.execute(
                "SELECT done_until FROM local_tasks WHERE key = ?", (key,)
            ).fetchone()
            if row is not None and (row[0] is None or row[0] > _ts(now)):
                return False
            conn.execute(
                "INSERT OR REPLACE INTO local_tasks (key, task, due, attempts, done_until) "
                "VALUES (?, ?, ?, 0, NULL)",
                (key, _task_doc(task), _ts(due)),
            )
        return True

    def started(self, key: str, attempts: int, retry_at: datetime) -> None:
        """Attempt number `attempts` begins; if nothing more is heard, retry at `retry_at`."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE local_tasks SET attempts = ?, due = ? WHERE key = ? AND done_until IS NULL",
                (attempts, _ts(retry_at), key),
            )

    def finished(self, key: str, attempts: int, until: datetime, now: datetime) -> None:
        """Succeeded or given up: the name stays taken until `until`."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE local_tasks SET attempts = ?, done_until = ? WHERE key = ?",
                (attempts, _ts(until), key),
            )
            conn.execute(
                "DELETE FROM local_tasks WHERE done_until IS NOT NULL AND done_until <= ?",
                (_ts(now),),
            )

    def load(self, now: datetime) -> list[Saved]:
        """Every pending task and every name still in its dedupe window, earliest first."""
        with self._tx() as conn:
            conn.execute(
                "DELETE FROM local_tasks WHERE done_until IS NOT NULL AND done_until <= ?",
                (_ts(now),),
            )
            rows = conn.execute(
                "SELECT key, task, due, attempts, done_until FROM local_tasks ORDER BY due, key"
            ).fetchall()
        return [
            Saved(
                key=key,
                task=_task_from(doc),
                due=codec.parse_ts(due) or now,
                attempts=int(attempts),
                done_until=codec.parse_ts(done_until),
            )
            for key, doc, due, attempts, done_until in rows
        ]
