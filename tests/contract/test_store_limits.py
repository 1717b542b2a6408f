"""Firestore's size limits, held by every adapter (SQLite refuses what Firestore refuses).

Firestore refuses a document over 1 MiB and a request over 10 MiB, and keeps
only the first 1,500 bytes of an indexed value in its indexes. A meeting the
sync maps from Calendar never reaches the document limit (the mapping bounds
every field), a batch of 500 large meetings does pass the request limit, and
the adapters must agree on where the document line is.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.calendar.mapping import MAX_ID_BYTES, UnusableEvent, meeting_from_event
from functions.domain.followups import (
    MAX_ACTION_ITEMS,
    MAX_DECISIONS,
    MAX_OWNER,
    parse_answers,
)
from functions.domain.meetings import Attendee, Meeting
from functions.store import codec, limits
from functions.store.firestore import FirestoreStore
from functions.store.port import MAX_BATCH, Store
from tests.contract.test_store_contract import T0, meeting

WIDE = "\U0001d11e"  # four bytes in UTF-8: the worst case per character


def _size(m: Meeting) -> int:
    doc = {**codec.meeting_to_doc(m), "expire_at": m.end}
    return limits.document_size(limits.meeting_path(m.user_id, m.event_id), doc)


def _of_size(target: int, n: int = 1) -> Meeting:
    """A meeting whose Firestore document size is exactly `target` bytes."""
    base = meeting("alice", n, description="")
    return dataclasses.replace(base, description="x" * (target - _size(base)))


def test_document_size_follows_firestores_storage_size_calculation() -> None:
    # The documented example: users/jeff/tasks/my_task_id with four fields is 147 bytes.
    fields = {
        "type": "Personal",
        "done": False,
        "priority": 1,
        "description": "Learn Cloud Firestore",
    }
    assert limits.document_size(("users", "jeff", "tasks", "my_task_id"), fields) == 147
    assert limits.value_size({"a": [None, 1.5, "é"]}) == 2 + 1 + 8 + 3


def test_a_meeting_at_the_limit_is_stored_and_one_byte_more_is_refused(store: Store) -> None:
    at_limit = _of_size(limits.MAX_DOCUMENT_BYTES, 1)
    assert _size(at_limit) == limits.MAX_DOCUMENT_BYTES
    assert store.upsert_meetings([at_limit]).written == 1
    over = _of_size(limits.MAX_DOCUMENT_BYTES + 1, 2)
    with pytest.raises(limits.DocumentTooLarge, match="1048577 bytes"):
        store.upsert_meetings([over])
    assert store.get_meeting("alice", over.event_id) is None
    stored = store.get_meeting("alice", at_limit.event_id)
    assert stored is not None and len(stored.description) == len(at_limit.description)


def test_multibyte_text_counts_in_utf8_bytes(store: Store) -> None:
    base = meeting("alice", 3, description="")
    # Fewer characters than the limit in bytes, but four bytes each.
    chars = (limits.MAX_DOCUMENT_BYTES - _size(base)) // 4 + 1
    over = dataclasses.replace(base, description=WIDE * chars)
    assert len(over.description) < limits.MAX_DOCUMENT_BYTES < _size(over)
    with pytest.raises(limits.DocumentTooLarge):
        store.upsert_meetings([over])


def test_one_oversized_meeting_writes_nothing_of_its_batch(store: Store) -> None:
    small = [meeting("alice", i) for i in range(10, 20)]
    batch = [*small[:5], _of_size(limits.MAX_DOCUMENT_BYTES + 100, 30), *small[5:]]
    with pytest.raises(limits.DocumentTooLarge):
        store.upsert_meetings(batch)
    assert store.get_meetings("alice", [m.event_id for m in batch]) == {}


def test_an_update_that_would_pass_the_limit_is_refused_and_changes_nothing(
    store: Store,
) -> None:
    m = meeting("alice", 4)
    store.upsert_meetings([m])
    with pytest.raises(limits.DocumentTooLarge):
        store.update_meeting(
            "alice", m.event_id, lambda cur: dataclasses.replace(cur, description="x" * 2_000_000)
        )
    assert store.get_meeting("alice", m.event_id) == m


def test_an_event_id_firestore_would_truncate_in_its_indexes_is_refused(store: Store) -> None:
    fits = meeting("alice", 5, event_id="e" * limits.MAX_INDEXED_VALUE_BYTES)
    assert store.upsert_meetings([fits]).written == 1
    too_long = meeting("alice", 6, event_id="é" * 751)  # 1,502 bytes
    with pytest.raises(limits.DocumentTooLarge, match="event id"):
        store.upsert_meetings([too_long])


def _largest_event() -> dict[str, Any]:
    """Every field the mapping keeps, at or past its bound, in four-byte characters."""
    start = T0 + timedelta(days=1)
    link = "https://example.com/" + "a" * (2048 - 20)
    person = {
        "email": WIDE * 400 + "@example.com",
        "displayName": WIDE * 400,
        "responseStatus": "accepted",
        "optional": True,
        "organizer": True,
        "resource": False,
    }
    return {
        "id": "i" * MAX_ID_BYTES,
        "etag": WIDE * 400,
        "summary": WIDE * 10_000,
        "description": WIDE * 100_000,
        "start": {"dateTime": start.isoformat(), "timeZone": "America/Argentina/ComodRivadavia"},
        "end": {"dateTime": (start + timedelta(hours=1)).isoformat()},
        "recurringEventId": "r" * MAX_ID_BYTES,
        "organizer": {"email": WIDE * 1000},
        "attendees": [dict(person, email=f"{i}{person['email']}") for i in range(1000)],
        "conferenceData": {"entryPoints": [{"entryPointType": "video", "uri": link}]},
        "attachments": [
            {"fileUrl": link, "title": WIDE * 1000, "mimeType": WIDE * 1000} for _ in range(100)
        ],
        "htmlLink": "https://www.google.com/calendar/event?eid=" + "A" * 2000,
    }


def test_the_largest_event_the_mapping_lets_through_fits_with_room_to_spare(
    store: Store,
) -> None:
    m = meeting_from_event(_largest_event(), user_id="u" * 255, calendar_id="primary")
    # With the largest follow-up a form can store (functions.domain.followups bounds).
    wide = "\U0001f600" * 5000
    owner = "\U0001f600" * MAX_OWNER
    answer = parse_answers(
        "\n".join([wide] * MAX_DECISIONS),
        "\n".join([f"{owner}: {wide}"] * MAX_ACTION_ITEMS),
        nothing_to_record=False,
        at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    m = dataclasses.replace(m, followup=answer)
    size = _size(m)
    # Bounded fields keep the worst meeting (about 585 KB, 37 KB of it the follow-up)
    # well under the 1 MiB limit.
    assert size < limits.MAX_DOCUMENT_BYTES * 0.6, size
    assert store.upsert_meetings([m]).written == 1
    assert store.get_meeting(m.user_id, m.event_id) == m
    with pytest.raises(UnusableEvent):
        meeting_from_event(
            {**_largest_event(), "id": "é" * MAX_ID_BYTES}, user_id="u", calendar_id="primary"
        )


# ---------------------------------------------------------------- request size (Firestore)


def _wire_sizes(docs: list[tuple[str, dict[str, Any]]]) -> list[int]:
    """What the client library puts on the wire for each `set()` (its own protobufs)."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import firestore

    client = firestore.Client(project="p", credentials=AnonymousCredentials())
    batch = client.batch()
    for path, doc in docs:
        batch.set(client.document(path), doc)
    return [w._pb.ByteSize() for w in batch._write_pbs]


def test_the_write_size_bound_is_never_below_the_client_librarys_encoding() -> None:
    samples = [
        meeting("alice", 1),
        _of_size(900_000, 2),
        meeting_from_event(_largest_event(), user_id="u" * 255, calendar_id="primary"),
        meeting("alice", 3, attendees=tuple(Attendee(f"p{i}@x.io") for i in range(200))),
        meeting("alice", 4, event_id="a/b/" + "é" * 300, title=""),
    ]
    docs = []
    for m in samples:
        doc = {**codec.meeting_to_doc(m), "expire_at": m.end}
        docs.append(("/".join(limits.meeting_path(m.user_id, m.event_id)), doc))
    actual = _wire_sizes(docs)
    for (path, doc), wire in zip(docs, actual, strict=True):
        bound = limits.write_size_bound(tuple(path.split("/")), doc)
        assert wire <= bound, (path[:40], wire, bound)


def test_a_batch_too_big_for_one_request_is_split_and_every_commit_fits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The adapter's commits, as the real client library encodes them (nothing is sent:
    the npm emulator takes minutes over a 9 MB commit; real Firestore refuses over 10 MiB)."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import firestore
    from google.cloud.firestore_v1.batch import WriteBatch

    commits: list[tuple[int, int]] = []

    def recording(self: WriteBatch, *args: Any, **kwargs: Any) -> list[Any]:
        commits.append((len(self._write_pbs), sum(w._pb.ByteSize() for w in self._write_pbs)))
        return []

    monkeypatch.setattr(WriteBatch, "commit", recording)
    fs = FirestoreStore(firestore.Client(project="p", credentials=AnonymousCredentials()))
    # 60 meetings of 700 KB: 42 MB, four times Firestore's request limit, in one batch.
    big = [_of_size(700_000, n) for n in range(100, 160)]
    assert len(big) < MAX_BATCH
    fs._write_meetings(big)
    assert len(commits) >= 5 and sum(n for n, _ in commits) == 60
    assert all(size <= limits.MAX_REQUEST_BYTES for _, size in commits), commits
    # Small meetings still go in one commit, the count limit still holds.
    commits.clear()
    fs._write_meetings([meeting("alice", n) for n in range(MAX_BATCH)])
    assert [n for n, _ in commits] == [MAX_BATCH]
