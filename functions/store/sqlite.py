"""SQLite adapter: the embedded default and the reference semantics of the port.

Documents are stored as JSON next to the few columns that queries filter on.
WAL lets the local server's request threads read while a sync writes, and
`BEGIN IMMEDIATE` gives real serialisable read-modify-write, which is what the
contract tests hold the Firestore adapter to.

Connections: the local server runs every request (and every task attempt) on
a thread of its own, so a connection per thread kept for the store's life
leaked descriptors until the process could open no file at all. A thread
now leases a connection from a small pool on its first query and the lease
goes back when the thread ends (its thread-local is collected); the pool
keeps at most `MAX_IDLE` idle connections and closes the rest. A transaction
never spans threads, so a lease never holds one when it is returned.

Waits: a writer blocked by another writer (another process, or a file locked
by hand) waits at most `BUSY_TIMEOUT_S`, then `StoreBusy` is raised, which the
sidebar answers with a "busy, try again" card well inside Workspace's window.
A file that is not a SQLite database is refused on open with a one-line
`StoreError`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from functions.domain.feedback import Feedback, FeedbackCounts, FeedbackKind
from functions.domain.meetings import Meeting
from functions.domain.prep_state import PENDING_STATES
from functions.domain.sent_messages import SentMessage
from functions.domain.sync_state import SyncState
from functions.domain.users import User
from functions.store import codec, limits
from functions.store.port import (
    Conflict,
    NotFound,
    SealedCredentials,
    Store,
    StoreBusy,
    StoreError,
    UserPage,
)

#: How long a write waits for another writer's lock before giving up.
BUSY_TIMEOUT_S = 5.0
#: Idle connections kept open for the next thread (each holds a few descriptors).
MAX_IDLE = 4

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    user_id TEXT PRIMARY KEY,
    connected INTEGER NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS users_connected ON users (connected, user_id);
CREATE TABLE IF NOT EXISTS meetings (
    user_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    start_at TEXT NOT NULL,
    prep_state TEXT NOT NULL,
    prep_trigger_at TEXT,
    doc TEXT NOT NULL,
    PRIMARY KEY (user_id, event_id)
);
CREATE INDEX IF NOT EXISTS meetings_start ON meetings (user_id, start_at);
CREATE INDEX IF NOT EXISTS meetings_due ON meetings (user_id, prep_state, prep_trigger_at);
CREATE TABLE IF NOT EXISTS sync_state (
    user_id TEXT NOT NULL,
    calendar_id TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (user_id, calendar_id)
);
CREATE TABLE IF NOT EXISTS claims (
    user_id TEXT NOT NULL,
    key TEXT NOT NULL,
    claimed_at TEXT NOT NULL,
    confirmed_at TEXT,
    PRIMARY KEY (user_id, key)
);
CREATE TABLE IF NOT EXISTS credentials (
    user_id TEXT PRIMARY KEY,
    sealed BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS feedback (
    user_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    question TEXT NOT NULL,
    kind TEXT NOT NULL,
    meeting_type TEXT NOT NULL,
    at TEXT,
    PRIMARY KEY (user_id, event_id, question)
);
CREATE INDEX IF NOT EXISTS feedback_counts ON feedback (meeting_type, kind);
CREATE TABLE IF NOT EXISTS sent_messages (
    user_id TEXT NOT NULL,
    key TEXT NOT NULL,
    event_id TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (user_id, key)
);
CREATE INDEX IF NOT EXISTS sent_by_event ON sent_messages (user_id, event_id);
"""

#: Tables holding per-user rows, for `delete_user_data`.
_USER_TABLES = (
    "meetings",
    "sync_state",
    "claims",
    "sent_messages",
    "credentials",
    "feedback",
    "users",
)


#: Columns added after the first release: (table, column, declaration). A local
#: database made before them gets them on open, so `make run` keeps its data.
_ADDED_COLUMNS = (("claims", "confirmed_at", "TEXT"),)


def _add_missing_columns(conn: sqlite3.Connection) -> None:
    for table, column, declaration in _ADDED_COLUMNS:
        present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        if column not in present:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")


def _now() -> str:
    return codec.ts(datetime.now(UTC)) or ""


def _busy(exc: sqlite3.OperationalError) -> bool:
    return (exc.sqlite_errorcode & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class _Pool:
    """The open connections of one database: leased to threads, a few kept idle.

    Holds no reference to the store, so a store dropped without `close()` is
    still collected (and its connections with it).
    """

    def __init__(self, path: str, busy_timeout: float) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self._lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._open: set[sqlite3.Connection] = set()

    def take(self) -> sqlite3.Connection:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        conn = sqlite3.connect(
            self.path,
            timeout=self.busy_timeout,
            isolation_level=None,
            uri=True,
            check_same_thread=False,  # a pooled connection serves one thread at a time
        )
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
        except BaseException:
            conn.close()
            raise
        with self._lock:
            self._open.add(conn)
        return conn

    def give_back(self, conn: sqlite3.Connection) -> None:
        """A thread ended: keep its connection for the next one, or close it."""
        with self._lock:
            if conn not in self._open:
                return  # closed by `close_all` meanwhile
            if not conn.in_transaction and len(self._idle) < MAX_IDLE:
                self._idle.append(conn)
                return
            self._open.discard(conn)
        conn.close()  # closing rolls back whatever was left open

    def open_count(self) -> int:
        with self._lock:
            return len(self._open)

    def close_all(self) -> None:
        with self._lock:
            conns = list(self._open)
            self._open.clear()
            self._idle.clear()
        for conn in conns:
            conn.close()


class _Lease:
    """One thread's hold on a pooled connection; returned when the thread's locals go."""

    __slots__ = ("__weakref__", "conn")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn


class SqliteStore(Store):
    def __init__(self, path: str | Path, *, busy_timeout: float = BUSY_TIMEOUT_S) -> None:
        self._local = threading.local()
        if str(path) == ":memory:":
            # Each thread gets its own connection, so a plain ":memory:" would give
            # each thread its own empty database; a named shared-cache one is shared.
            uri = f"file:prep-{uuid.uuid4().hex}?mode=memory&cache=shared"
        else:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            uri = Path(path).resolve().as_uri()
        self.path = uri
        self._pool = _Pool(uri, busy_timeout)
        try:
            conn = self._conn()
            conn.executescript(_SCHEMA)
            _add_missing_columns(conn)
        except sqlite3.Error as exc:
            self.close()
            raise StoreError(f"cannot open the database {path}: {exc}") from None

    # ------------------------------------------------------------------ plumbing

    def _conn(self) -> sqlite3.Connection:
        lease: _Lease | None = getattr(self._local, "lease", None)
        if lease is None:
            lease = _Lease(self._pool.take())
            weakref.finalize(lease, self._pool.give_back, lease.conn).atexit = False
            self._local.lease = lease
        return lease.conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One immediate (write-locking) transaction: serialisable by construction."""
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if _busy(exc):
                raise StoreBusy("another writer holds the database") from None
            raise
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def ping(self) -> None:
        """Raise `StoreError` unless a request could query the database right now."""
        try:
            self._conn().execute("PRAGMA schema_version").fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"the database cannot be read: {exc}") from None

    def open_connections(self) -> int:
        """Connections open now, leased or idle (for tests and the soak benchmark)."""
        return self._pool.open_count()

    def close(self) -> None:
        self._pool.close_all()
        self._local = threading.local()

    # ------------------------------------------------------------------ users

    def get_user(self, user_id: str) -> User | None:
        row = self._conn().execute("SELECT doc FROM users WHERE user_id = ?", (user_id,)).fetchone()
        return codec.user_from_doc(json.loads(row[0])) if row else None

    def put_user(self, user: User) -> None:
        doc = codec.user_to_doc(user)
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO users (user_id, connected, doc) VALUES (?, ?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET connected = excluded.connected, "
                "doc = excluded.doc",
                (user.user_id, int(doc["connected"]), json.dumps(doc)),
            )

    def list_connected_users(self, *, after: str | None = None, limit: int = 100) -> UserPage:
        rows = (
            self._conn()
            .execute(
                "SELECT doc FROM users WHERE connected = 1 AND user_id > ? "
                "ORDER BY user_id LIMIT ?",
                (after or "", limit + 1),
            )
            .fetchall()
        )
        users = tuple(codec.user_from_doc(json.loads(r[0])) for r in rows[:limit])
        return UserPage(users, users[-1].user_id if len(rows) > limit else None)

    # ------------------------------------------------------------------ meetings

    @staticmethod
    def _meeting_row(m: Meeting) -> tuple[str, str, str, str, str | None, str]:
        doc = codec.meeting_to_doc(m)
        text = json.dumps(doc)
        # Refuse what Firestore refuses (functions/store/limits.py), so the contract sees it.
        limits.check_meeting(m, doc, json_chars=len(text))
        return (
            m.user_id,
            m.event_id,
            doc["start"],
            doc["prep_state"],
            doc["prep_trigger_at"],
            text,
        )

    def _write_meetings(self, meetings: Sequence[Meeting]) -> None:
        with self._tx() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO meetings "
                "(user_id, event_id, start_at, prep_state, prep_trigger_at, doc) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [self._meeting_row(m) for m in meetings],
            )

    def get_meeting(self, user_id: str, event_id: str) -> Meeting | None:
        row = (
            self._conn()
            .execute(
                "SELECT doc FROM meetings WHERE user_id = ? AND event_id = ?", (user_id, event_id)
            )
            .fetchone()
        )
        return codec.meeting_from_doc(json.loads(row[0])) if row else None

    def get_meetings(self, user_id: str, event_ids: Sequence[str]) -> Mapping[str, Meeting]:
        found: dict[str, Meeting] = {}
        ids = list(dict.fromkeys(event_ids))
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            marks = ",".join("?" * len(part))
            rows = (
                self._conn()
                .execute(
                    f"SELECT doc FROM meetings WHERE user_id = ? AND event_id IN ({marks})",  # noqa: S608
                    (user_id, *part),
                )
                .fetchall()
            )
            for (doc,) in rows:
                m = codec.meeting_from_doc(json.loads(doc))
                found[m.event_id] = m
        return found

    def list_meetings(
        self, user_id: str, *, start_from: datetime, start_before: datetime, limit: int = 500
    ) -> list[Meeting]:
        rows = (
            self._conn()
            .execute(
                "SELECT doc FROM meetings WHERE user_id = ? AND start_at >= ? AND start_at < ? "
                "ORDER BY start_at, event_id LIMIT ?",
                (user_id, codec.ts(start_from), codec.ts(start_before), limit),
            )
            .fetchall()
        )
        return [codec.meeting_from_doc(json.loads(r[0])) for r in rows]

    def list_due_for_prep(
        self, user_id: str, *, trigger_from: datetime, trigger_before: datetime
    ) -> list[Meeting]:
        states = sorted(s.value for s in PENDING_STATES)
        marks = ",".join("?" * len(states))
        rows = (
            self._conn()
            .execute(
                f"SELECT doc FROM meetings WHERE user_id = ? AND prep_state IN ({marks}) "  # noqa: S608
                "AND prep_trigger_at >= ? AND prep_trigger_at < ? "
                "ORDER BY prep_trigger_at, event_id",
                (user_id, *states, codec.ts(trigger_from), codec.ts(trigger_before)),
            )
            .fetchall()
        )
        return [codec.meeting_from_doc(json.loads(r[0])) for r in rows]

    def delete_meetings(self, user_id: str, event_ids: Sequence[str]) -> int:
        with self._tx() as conn:
            cur = conn.executemany(
                "DELETE FROM meetings WHERE user_id = ? AND event_id = ?",
                [(user_id, e) for e in dict.fromkeys(event_ids)],
            )
            return cur.rowcount

    def update_meeting(
        self,
        user_id: str,
        event_id: str,
        change: Callable[[Meeting], Meeting],
        *,
        expected_version: str | None = None,
    ) -> Meeting:
        with self._tx() as conn:
            row = conn.execute(
                "SELECT doc FROM meetings WHERE user_id = ? AND event_id = ?", (user_id, event_id)
            ).fetchone()
            if row is None:
                raise NotFound(f"no meeting {event_id!r} for this user")
            current = codec.meeting_from_doc(json.loads(row[0]))
            if expected_version is not None and current.version != expected_version:
                raise Conflict("the meeting changed since it was read")
            updated = change(current)
            if (updated.user_id, updated.event_id) != (user_id, event_id):
                raise ValueError("update_meeting cannot move a meeting to another id")
            conn.execute(
                "INSERT OR REPLACE INTO meetings "
                "(user_id, event_id, start_at, prep_state, prep_trigger_at, doc) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                self._meeting_row(updated),
            )
            return updated

    # ------------------------------------------------------------------ sync state

    def get_sync_state(self, user_id: str, calendar_id: str) -> SyncState | None:
        row = (
            self._conn()
            .execute(
                "SELECT doc FROM sync_state WHERE user_id = ? AND calendar_id = ?",
                (user_id, calendar_id),
            )
            .fetchone()
        )
        return codec.sync_state_from_doc(json.loads(row[0])) if row else None

    def put_sync_state(self, state: SyncState) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO sync_state (user_id, calendar_id, doc) VALUES (?, ?, ?)",
                (state.user_id, state.calendar_id, json.dumps(codec.sync_state_to_doc(state))),
            )

    # ------------------------------------------------------------------ claims

    def claim(self, user_id: str, key: str, *, lease: timedelta | None = None) -> bool:
        now = datetime.now(UTC)
        with self._tx() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO claims (user_id, key, claimed_at) VALUES (?, ?, ?)",
                (user_id, key, codec.ts(now)),
            )
            if cur.rowcount == 1 or lease is None:
                return cur.rowcount == 1
            # ISO-8601 UTC strings of one format order like the instants they name.
            cur = conn.execute(
                "UPDATE claims SET claimed_at = ? WHERE user_id = ? AND key = ?"
                " AND confirmed_at IS NULL AND claimed_at < ?",
                (codec.ts(now), user_id, key, codec.ts(now - lease)),
            )
            return cur.rowcount == 1

    def confirm_claim(self, user_id: str, key: str) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE claims SET confirmed_at = ? WHERE user_id = ? AND key = ?"
                " AND confirmed_at IS NULL",
                (_now(), user_id, key),
            )

    def claim_confirmed(self, user_id: str, key: str) -> bool:
        row = (
            self._conn()
            .execute(
                "SELECT confirmed_at FROM claims WHERE user_id = ? AND key = ?", (user_id, key)
            )
            .fetchone()
        )
        return row is not None and row[0] is not None

    def release_claim(self, user_id: str, key: str) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM claims WHERE user_id = ? AND key = ?", (user_id, key))

    # ------------------------------------------------------------------ sent messages

    def put_sent_message(self, message: SentMessage) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO sent_messages (user_id, key, event_id, doc)"
                " VALUES (?, ?, ?, ?)",
                (
                    message.user_id,
                    message.key,
                    message.event_id,
                    json.dumps(codec.sent_message_to_doc(message)),
                ),
            )

    def sent_messages(self, user_id: str, event_id: str) -> list[SentMessage]:
        rows = (
            self._conn()
            .execute(
                "SELECT doc FROM sent_messages WHERE user_id = ? AND event_id = ?",
                (user_id, event_id),
            )
            .fetchall()
        )
        return [codec.sent_message_from_doc(json.loads(r[0])) for r in rows]

    # ------------------------------------------------------------------ credentials

    def put_credentials(self, user_id: str, sealed: SealedCredentials) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO credentials (user_id, sealed) VALUES (?, ?)",
                (user_id, bytes(sealed)),
            )

    def get_credentials(self, user_id: str) -> SealedCredentials | None:
        row = (
            self._conn()
            .execute("SELECT sealed FROM credentials WHERE user_id = ?", (user_id,))
            .fetchone()
        )
        return SealedCredentials(bytes(row[0])) if row else None

    def delete_credentials(self, user_id: str) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM credentials WHERE user_id = ?", (user_id,))

    # ------------------------------------------------------------------ feedback

    def record_feedback(self, feedback: Feedback) -> bool:
        with self._tx() as conn:
            row = conn.execute(
                "SELECT kind, meeting_type FROM feedback "
                "WHERE user_id = ? AND event_id = ? AND question = ?",
                (feedback.user_id, feedback.event_id, feedback.question),
            ).fetchone()
            if row == (feedback.kind.value, feedback.meeting_type):
                return False
            conn.execute(
                "INSERT OR REPLACE INTO feedback "
                "(user_id, event_id, question, kind, meeting_type, at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    feedback.user_id,
                    feedback.event_id,
                    feedback.question,
                    feedback.kind.value,
                    feedback.meeting_type,
                    codec.ts(feedback.at) or _now(),
                ),
            )
            return True

    def feedback_counts(self, meeting_types: Iterable[str]) -> FeedbackCounts:
        types = sorted(set(meeting_types))
        counts: FeedbackCounts = {}
        kinds = {k.value: k for k in FeedbackKind}
        for i in range(0, len(types), 500):
            part = types[i : i + 500]
            marks = ",".join("?" * len(part))
            rows = (
                self._conn()
                .execute(
                    "SELECT meeting_type, kind, COUNT(*) FROM feedback "  # noqa: S608
                    f"WHERE meeting_type IN ({marks}) GROUP BY meeting_type, kind",
                    part,
                )
                .fetchall()
            )
            for meeting_type, kind, n in rows:
                if kind in kinds:
                    counts[(meeting_type, kinds[kind])] = n
        return counts

    # ------------------------------------------------------------------ forgetting

    def delete_user_data(self, user_id: str) -> int:
        removed = 0
        with self._tx() as conn:
            for table in _USER_TABLES:
                removed += conn.execute(
                    f"DELETE FROM {table} WHERE user_id = ?",  # noqa: S608 - constant table names
                    (user_id,),
                ).rowcount
        return removed
