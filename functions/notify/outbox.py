"""The local stand-in for Gmail and Chat: an outbox in a small SQLite file.

The embedded default has no Google to deliver to, so "sent" messages land
here and `/dev/outbox` shows them. It keeps the two promises the real
services make that the workflow relies on: a Chat create with a `request_id`
seen before returns the first message instead of adding a second, and a
message is only "sent" once the row is committed.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from functions.domain.clock import Clock, SystemClock
from functions.notify.port import Channel, ChatSender, EmailSender

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel TEXT NOT NULL,
    user_id TEXT NOT NULL,
    request_id TEXT,
    created_at TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (channel, user_id, request_id)
);
"""


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    id: int
    channel: Channel
    user_id: str
    created_at: datetime
    #: Email: the decoded Subject header; Chat: the message's plain text.
    subject: str
    #: Email: the whole RFC 2822 message; Chat: the message JSON.
    body: str

    @property
    def chat_message(self) -> Mapping[str, Any]:
        if self.channel is not Channel.CHAT:
            raise ValueError("not a chat message")
        parsed: Mapping[str, Any] = json.loads(self.body)
        return parsed


class Outbox:
    def __init__(self, path: str | Path, *, clock: Clock | None = None) -> None:
        self.path = Path(path)
        self._clock = clock or SystemClock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._tx() as conn:
            conn.executescript(_SCHEMA)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        # A connection per call: the outbox is local-only and low volume, and
        # this keeps it safe across the local server's request threads.
        with closing(sqlite3.connect(self.path, timeout=10)) as conn, conn:
            yield conn

    def _now(self) -> str:
        return self._clock.now().astimezone(UTC).isoformat()

    def add(
        self,
        channel: Channel,
        user_id: str,
        subject: str,
        body: str,
        *,
        request_id: str | None = None,
    ) -> int:
        """Store one message; a repeated `request_id` returns the first message's id."""
        with self._tx() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO outbox"
                " (channel, user_id, request_id, created_at, subject, body)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (channel.value, user_id, request_id, self._now(), subject, body),
            )
            if cur.rowcount == 1 and cur.lastrowid is not None:
                return cur.lastrowid
            row = conn.execute(
                "SELECT id FROM outbox WHERE channel = ? AND user_id = ? AND request_id = ?",
                (channel.value, user_id, request_id),
            ).fetchone()
            return int(row[0])

    def replace_body(self, entry_id: int, body: str) -> None:
        """Chat's UPDATE_MESSAGE, locally: the clicked card changes in place."""
        with self._tx() as conn:
            conn.execute("UPDATE outbox SET body = ? WHERE id = ?", (body, entry_id))

    def entries(
        self, *, channel: Channel | None = None, user_id: str | None = None, limit: int = 200
    ) -> list[OutboxEntry]:
        """Newest first."""
        sql = "SELECT id, channel, user_id, created_at, subject, body FROM outbox WHERE 1 = 1"
        args: list[Any] = []
        if channel is not None:
            sql += " AND channel = ?"
            args.append(channel.value)
        if user_id is not None:
            sql += " AND user_id = ?"
            args.append(user_id)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        with self._tx() as conn:
            rows = conn.execute(sql, args).fetchall()
        return [
            OutboxEntry(
                id=int(r[0]),
                channel=Channel(r[1]),
                user_id=r[2],
                created_at=datetime.fromisoformat(r[3]),
                subject=r[4],
                body=r[5],
            )
            for r in rows
        ]

    def get(self, entry_id: int) -> OutboxEntry | None:
        with self._tx() as conn:
            r = conn.execute(
                "SELECT id, channel, user_id, created_at, subject, body FROM outbox WHERE id = ?",
                (entry_id,),
            ).fetchone()
        if r is None:
            return None
        return OutboxEntry(int(r[0]), Channel(r[1]), r[2], datetime.fromisoformat(r[3]), r[4], r[5])


class OutboxEmailSender(EmailSender):
    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    def send(self, user_id: str, message: EmailMessage) -> str:
        subject = str(message.get("Subject", ""))
        entry = self.outbox.add(Channel.EMAIL, user_id, subject, message.as_string())
        return f"local-{entry}"


class OutboxChatSender(ChatSender):
    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    def send_direct(self, user_id: str, message: Mapping[str, Any], *, request_id: str) -> str:
        body = json.dumps(dict(message), ensure_ascii=False, sort_keys=True)
        text = str(message.get("text", ""))
        entry = self.outbox.add(Channel.CHAT, user_id, text, body, request_id=request_id)
        return f"spaces/local-{user_id}/messages/{entry}"
