"""Firestore's size limits, and what a meeting weighs against them.

Firestore refuses a document over 1 MiB and a request over 10 MiB, and it
truncates an indexed value past 1,500 bytes in its indexes (queries that
filter or page on a truncated value may then return inconsistent results).
The limits belong to the store port, not to one adapter: the SQLite reference
adapter refuses what Firestore would refuse, so the contract suite catches a
meeting that only production would choke on.

Two different measures, because Firestore uses two:

* `document_size` is Firestore's documented storage size ("Storage size
  calculations"): a string is its UTF-8 bytes + 1, a number or timestamp 8,
  a boolean or null 1, a map the sum of its keys and values, a document the
  size of its name + its fields + 32. The 1 MiB document limit is on this.
* `write_size_bound` bounds from above the bytes one write adds to a commit
  request on the wire (protobuf tags and lengths make a request larger than
  the storage size of what it carries). A `WriteBatch` is kept under
  `COMMIT_BUDGET_BYTES` of these, comfortably below the 10 MiB request limit;
  tests/contract compares the bound with the client library's own encoding.

Meetings never come near the document limit in practice: the calendar mapping
bounds every field (functions/calendar/mapping.py), and a test maps the
largest event it lets through. The store's refusal is the last line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from functions.store.layout import EXPIRE_AT, MEETINGS, USERS, doc_id

if TYPE_CHECKING:
    from functions.domain.meetings import Meeting

#: Firestore "Quotas and limits": maximum size of a document, 1 MiB (1,048,576 bytes).
MAX_DOCUMENT_BYTES = 1_048_576
#: Firestore "Quotas and limits": maximum size of an API request, 10 MiB.
MAX_REQUEST_BYTES = 10 * 1_048_576
#: Firestore "Quotas and limits": an indexed field value over this many bytes is truncated.
MAX_INDEXED_VALUE_BYTES = 1_500
#: What one commit may carry by `write_size_bound`: 1 MiB below the request limit
#: leaves room for the request's own envelope (database name, transaction).
COMMIT_BUDGET_BYTES = MAX_REQUEST_BYTES - 1_048_576

#: Per value on the wire, beyond its payload: field tag, length prefix (up to 5
#: bytes for a length under 4 GiB), the Value message's own tag and length.
_WIRE_OVERHEAD = 16
#: A write's document name on the wire: "projects/<id>/databases/<id>/documents/..."
#: (project ids are at most 30 characters, database ids 63) and the Write framing.
_NAME_OVERHEAD = 256


class DocumentTooLarge(ValueError):
    """Firestore would refuse this document (or mis-index it); the message says which limit."""


def _string_size(text: str) -> int:
    return len(text.encode("utf-8")) + 1


def value_size(value: Any) -> int:
    """Firestore's storage size of one field value.

    Exact types first (it runs on every meeting write): dicts and lists as the
    codec builds them, then the general cases.
    """
    kind = type(value)
    if kind is str:
        return len(value.encode("utf-8")) + 1
    if kind is dict:
        return sum(len(k.encode("utf-8")) + 1 + value_size(v) for k, v in value.items())
    if kind is list or kind is tuple:
        return sum(value_size(v) for v in value)
    if value is None or kind is bool:
        return 1
    if isinstance(value, int | float | datetime):
        return 8
    if isinstance(value, bytes):
        return len(value)
    if isinstance(value, Mapping):
        return sum(_string_size(str(k)) + value_size(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return sum(value_size(v) for v in value)
    if isinstance(value, str):
        return _string_size(value)
    raise TypeError(f"no Firestore size for {type(value).__name__}")


def document_size(path: Sequence[str], fields: Mapping[str, Any]) -> int:
    """Firestore's storage size of the document at `path` (collection and document ids)."""
    name = sum(_string_size(part) for part in path) + 16
    return name + value_size(fields) + 32


def _wire_size(value: Any) -> int:
    kind = type(value)
    if kind is str:
        return len(value.encode("utf-8")) + _WIRE_OVERHEAD
    if kind is dict or isinstance(value, Mapping):
        keys = sum(len(str(k).encode("utf-8")) + _WIRE_OVERHEAD for k in value)
        return keys + sum(_wire_size(v) for v in value.values()) + _WIRE_OVERHEAD
    if kind is list or kind is tuple:
        return sum(_wire_size(v) for v in value) + _WIRE_OVERHEAD
    if isinstance(value, str | bytes):
        return len(value.encode("utf-8") if isinstance(value, str) else value) + _WIRE_OVERHEAD
    return _WIRE_OVERHEAD  # null, booleans, numbers, timestamps: at most a few bytes each


def write_size_bound(path: Sequence[str], fields: Mapping[str, Any]) -> int:
    """At least the bytes a `set()` of these fields adds to a commit request."""
    name = sum(len(part.encode("utf-8")) + 1 for part in path)
    return name + _NAME_OVERHEAD + _wire_size(fields)


def meeting_path(user_id: str, event_id: str) -> tuple[str, str, str, str]:
    """The meeting's document path, with ids mapped as the Firestore adapter maps them."""
    return (USERS, doc_id(user_id), MEETINGS, doc_id(event_id))


def check_meeting_document(path: Sequence[str], fields: Mapping[str, Any]) -> None:
    """Refuse what Firestore would refuse or mis-index: DocumentTooLarge.

    `event_id` is the only meeting field that queries page on (ordered with
    `start` and `prep_trigger_at`), so it must stay whole in the index.
    """
    event_id = str(fields.get("event_id", ""))
    if len(event_id.encode("utf-8")) > MAX_INDEXED_VALUE_BYTES:
        raise DocumentTooLarge(
            f"event id of {len(event_id.encode('utf-8'))} bytes: Firestore indexes "
            f"only the first {MAX_INDEXED_VALUE_BYTES}"
        )
    size = document_size(path, fields)
    if size > MAX_DOCUMENT_BYTES:
        raise DocumentTooLarge(
            f"meeting document of {size} bytes: Firestore refuses more than {MAX_DOCUMENT_BYTES}"
        )


#: Slack over 4 bytes per JSON character when `check_meeting` is given the
#: document's JSON length: the document name, the TTL timestamp, numbers.
_JSON_SLACK = 8_192


def check_meeting(m: Meeting, doc: Mapping[str, Any], *, json_chars: int | None = None) -> None:
    """`check_meeting_document` for a meeting as the Firestore adapter stores it.

    `doc` is the codec's document; the Firestore adapter's copy also carries
    its TTL timestamp, which is counted whether or not `doc` has it, so both
    adapters draw the line at the same meeting. With `json_chars`, the length
    of the document as JSON, a document that cannot be near the limit (no
    string holds more than 4 UTF-8 bytes per JSON character) skips the exact
    count, which would otherwise cost a third of the codec's own time per write.
    """
    small = json_chars is not None and 4 * json_chars + _JSON_SLACK < MAX_DOCUMENT_BYTES
    if small and len(m.event_id) * 4 <= MAX_INDEXED_VALUE_BYTES:
        return
    fields = doc if EXPIRE_AT in doc else {**doc, EXPIRE_AT: m.end}
    check_meeting_document(meeting_path(m.user_id, m.event_id), fields)
