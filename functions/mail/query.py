"""The Gmail search query and the reading of thread metadata, as pure functions.

The query is built from attendee addresses, which come from whoever wrote
the invitation. Gmail's search language has operators (`OR`, `in:`,
`{...}`, quotes, parentheses), so an address such as
`x@y.com} OR {in:anywhere` could widen the search to the whole mailbox. Only
addresses made of the characters an address needs (letters, digits and
`._%+'-`, one `@`, a dotted domain) are used; anything else is left out of
the search rather than escaped. Operators are Gmail's documented ones:
`from:`, `to:`, `cc:`, `newer_than:<n>d` and `{a b}` for "a OR b".
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

from functions.mail.port import MailLimits, MailThread

_ADDRESS = re.compile(
    r"^[A-Za-z0-9._%+'-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")

#: The headers threads.get is asked for (format=metadata): nothing else is read.
METADATA_HEADERS = ("Subject", "From", "To", "Cc", "Date")


def safe_address(address: str) -> str | None:
    """The address lower-cased if it is plainly an address, else None (never in a query)."""
    value = address.strip().lower()
    return value if len(value) <= 254 and _ADDRESS.match(value) else None


def search_query(people: Iterable[str], limits: MailLimits) -> str | None:
    """`newer_than:14d {from:a to:a cc:a ...}`, or None when no address is usable."""
    usable: list[str] = []
    for person in people:
        address = safe_address(person)
        if address and address not in usable:
            usable.append(address)
        if len(usable) >= limits.max_people:
            break
    if not usable:
        return None
    terms = " ".join(f"{op}:{a}" for a in usable for op in ("from", "to", "cc"))
    return f"newer_than:{limits.days}d {{{terms}}}"


def _text(value: str, limit: int, *, escaped: bool = False) -> str:
    """One clean, bounded line; `escaped` text (Gmail's snippets) has its entities decoded."""
    line = " ".join(_CONTROL.sub("", html.unescape(value) if escaped else value).split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def _headers(message: Mapping[str, Any]) -> dict[str, str]:
    payload = message.get("payload") or {}
    found: dict[str, str] = {}
    for h in payload.get("headers") or ():
        name = str(h.get("name", "")).lower()
        if name and name not in found:
            found[name] = str(h.get("value", ""))
    return found


def _sent_at(message: Mapping[str, Any], headers: Mapping[str, str]) -> datetime | None:
    """Gmail's internalDate (ms since the epoch), else the Date header."""
    raw = message.get("internalDate")
    if raw is not None:
        try:
            return datetime.fromtimestamp(int(raw) / 1000, tz=UTC)
        except (TypeError, ValueError, OverflowError):
            pass
    try:
        at = parsedate_to_datetime(headers.get("date", ""))
    except (TypeError, ValueError, IndexError):
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _people(headers_in_order: Sequence[Mapping[str, str]], limits: MailLimits) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for headers in headers_in_order:
        fields = [headers.get(k, "") for k in ("from", "to", "cc")]
        for name, address in getaddresses([f for f in fields if f]):
            key = address.strip().lower()
            if not key or key in seen:
                continue
            label = _text(f"{name} <{key}>" if name.strip() else key, limits.participant_chars)
            seen[key] = label
    return tuple(list(seen.values())[: limits.max_participants])


def read_thread(thread: Mapping[str, Any], snippet: str, limits: MailLimits) -> MailThread | None:
    """A threads.get answer (format=metadata) as a bounded `MailThread`; None if it has no date."""
    messages = list(thread.get("messages") or ())[-limits.max_messages :]
    if not messages:
        return None
    headers = [_headers(m) for m in messages]
    dates = [d for d in (_sent_at(m, h) for m, h in zip(messages, headers, strict=True)) if d]
    if not dates:
        return None
    subject = next((h["subject"] for h in headers if h.get("subject", "").strip()), "")
    last_snippet = str(messages[-1].get("snippet") or "")
    return MailThread(
        thread_id=str(thread.get("id", "")),
        subject=_text(subject or "(no subject)", limits.subject_chars),
        participants=_people(headers, limits),
        last_message_at=max(dates),
        snippet=_text(last_snippet or snippet, limits.snippet_chars, escaped=True),
        messages=len(thread.get("messages") or ()),
    )
