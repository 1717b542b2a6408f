"""The embedded default's mailbox: a small JSON file of sample threads, no Google involved.

Each thread in the file names its people, subject, snippet and how many days
ago its last message was (`days_ago`), so the sample stays "recent" whatever
day the demo runs. Days are counted back from 09:00 UTC of the current day
(never later than now), not from the current minute: a message's time then
stays the same all day, so the context's hash does too, and generating an
unchanged meeting again finds the materials already made (the cache) instead
of making new ones every minute. A thread matches when any of its people is one of the
meeting's people; the same bounds as Gmail apply (window, thread cap, sizes).
There is no consent locally, so the user's switch alone turns it on.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.utils import getaddresses
from pathlib import Path
from typing import Any

from functions.mail.port import MailLimits, MailThread, MailUnavailable
from functions.mail.query import read_thread, safe_address

DEFAULT_MAILBOX = Path(__file__).resolve().parents[2] / "config" / "sample_mailbox.json"

#: A local mailbox file larger than this is refused (it is a demo, not an archive).
MAX_FILE_BYTES = 1_000_000


class LocalMailbox:
    needs_grant = False

    def __init__(self, path: Path = DEFAULT_MAILBOX) -> None:
        self.path = path

    def _load(self) -> list[dict[str, Any]]:
        try:
            if self.path.stat().st_size > MAX_FILE_BYTES:
                raise MailUnavailable("local mailbox file too large")
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            raise MailUnavailable(f"local mailbox unreadable: {type(exc).__name__}") from None
        threads = doc.get("threads") if isinstance(doc, dict) else None
        return [t for t in threads or () if isinstance(t, dict)]

    def recent_threads(
        self, user_id: str, people: Sequence[str], now: datetime, limits: MailLimits
    ) -> list[MailThread]:
        wanted = {a for a in (safe_address(p) for p in people[: limits.max_people]) if a}
        if not wanted:
            return []
        found: list[MailThread] = []
        for raw in self._load():
            messages = _as_messages(raw, now)
            everyone = {
                a.lower()
                for m in messages
                for _, a in getaddresses([h["value"] for h in m["payload"]["headers"]])
            }
            if not wanted & everyone:
                continue
            thread = read_thread({"id": raw.get("id", ""), "messages": messages}, "", limits)
            if thread is not None and thread.last_message_at >= now - timedelta(days=limits.days):
                found.append(thread)
        found.sort(key=lambda t: t.last_message_at, reverse=True)
        return found[: limits.max_threads]


def _anchor(now: datetime) -> datetime:
    """The moment `days_ago` counts back from: 09:00 UTC today (one value all day)."""
    return now.astimezone(UTC).replace(hour=9, minute=0, second=0, microsecond=0)


def _as_messages(raw: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    """The file's compact thread in the shape Gmail's threads.get (metadata) answers."""
    out: list[dict[str, Any]] = []
    for m in raw.get("messages") or ():
        if not isinstance(m, dict):
            continue
        at = min(now, _anchor(now) - timedelta(days=float(m.get("days_ago", 0))))
        headers = [
            {"name": "Subject", "value": str(raw.get("subject", ""))},
            {"name": "From", "value": str(m.get("from", ""))},
            {"name": "To", "value": ", ".join(str(t) for t in m.get("to") or ())},
        ]
        out.append(
            {
                "internalDate": str(int(at.timestamp() * 1000)),
                "snippet": str(m.get("snippet", "")),
                "payload": {"headers": headers},
            }
        )
    return out
