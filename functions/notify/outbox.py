"""The local stand-in for Gmail and Chat: an outbox in a small SQLite file.

The embedded default has no Google to deliver to, so "sent" messages land
here and `/dev/outbox` shows them. It keeps the two promises the real
services make that the workflow relies on: a Chat create with a `request_id`
seen before returns the first message instead of adding a second, and a
message is only "sent" once the row is committed. A Chat message the app
corrects (spaces.messages.patch) is updated in its row, as Chat updates it
in place: `/dev/outbox` shows the new text and card and when it changed.
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

#: Columns added after the first release; an older local outbox gets them on open.
_ADDED_COLUMNS = (("updated_at", "TEXT"),)


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
    #: When the app last corrected this Chat message in place; None if never.
    updated_at: datetime | None = None

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
            present = {row[1] for row in conn.execute("PRAGMA table_info(outbox)")}
            for column, declaration in _ADDED_COLUMNS:
                if column not in present:
                    conn.execute(f"ALTER TABLE outbox ADD COLUMN {column} {declaration}")

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

    def update(self, entry_id: int, subject: str, body: str) -> bool:
        """Chat's spaces.messages.patch, locally: False if there is no such message."""
        with self._tx() as conn:
            cur = conn.execute(
                "UPDATE outbox SET subject = ?, body = ?, updated_at = ? WHERE id = ?",
                (subject, body, self._now(), entry_id),
            )
            return cur.rowcount == 1

    def entries(
        self, *, channel: Channel | None = None, user_id: str | None = None, limit: int = 200
    ) -> list[OutboxEntry]:
        """Newest first."""
        sql = (
            "SELECT id, channel, user_id, created_at, subject, body, updated_at"
            " FROM outbox WHERE 1 = 1"
        )
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
        return [_entry(r) for r in rows]

    def get(self, entry_id: int) -> OutboxEntry | None:
        with self._tx() as conn:
            r = conn.execute(
                "SELECT id, channel, user_id, created_at, subject, body, updated_at"
                " FROM outbox WHERE id = ?",
                (entry_id,),
            ).fetchone()
        return None if r is None else _entry(r)


def _entry(r: tuple[Any, ...]) -> OutboxEntry:
    return OutboxEntry(
        id=int(r[0]),
        channel=Channel(r[1]),
        user_id=r[2],
        created_at=datetime.fromisoformat(r[3]),
        subject=r[4],
        body=r[5],
        updated_at=datetime.fromisoformat(r[6]) if r[6] else None,
    )


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

    def update_message(self, name: str, message: Mapping[str, Any]) -> bool:
        prefix, _, entry = name.rpartition("/messages/")
        if not prefix.startswith("spaces/local-") or not entry.isdigit():
            raise ValueError("not a local Chat message name")
        found = self.outbox.get(int(entry))
        if found is None or found.channel is not Channel.CHAT:
            return False
        if prefix != f"spaces/local-{found.user_id}":
            return False  # another user's DM: as in Chat, the app sees no such message
        body = json.dumps(dict(message), ensure_ascii=False, sort_keys=True)
        return self.outbox.update(int(entry), str(message.get("text", "")), body)
