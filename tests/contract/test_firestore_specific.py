"""Firestore-only checks that the shared contract cannot express.

The document layout (what operators, TTL and security rules see), the composite
indexes its queries need (the emulator needs none, real Firestore refuses the
query without them), the mapping of unsafe ids to document ids, paging that
terminates (a cursor bug would loop forever on the emulator, which ignores
cursors), walking subcollections of more than one batch, and the adapter's
error mapping.
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.domain.prep_state import PrepState
from functions.domain.sync_state import SyncState
from functions.store import codec
from functions.store.firestore import EXPIRE_AFTER, FirestoreStore, doc_id
from functions.store.port import MAX_BATCH, Conflict, SealedCredentials, StoreError
from tests.contract.test_store_contract import T0, meeting, user
from tests.support.firestore_emulator import REPO_ROOT, fresh_firestore_store


@pytest.fixture
def fs(request: pytest.FixtureRequest) -> Iterator[FirestoreStore]:
    chosen = request.config.getoption("--store")
    if chosen and "firestore" not in chosen:
        pytest.skip("Firestore adapter not selected (--store)")
    with fresh_firestore_store(request) as s:
        yield s


def _is_valid_firestore_id(value: str) -> bool:
    """Firestore's documented constraints on a document id."""
    size = len(value.encode("utf-8"))
    return (
        0 < size <= 1500
        and "/" not in value
        and value not in {".", ".."}
        and re.fullmatch(r"__.*__", value, re.DOTALL) is None
    )


# ---------------------------------------------------------------- document ids

UNSAFE = ["a/b", ".", "..", "__x__", "__y", "x" * 900, "é" * 800, "ümlaut@ics", "", "a b", "h_abc"]


def test_safe_ids_stay_readable() -> None:
    for raw in [
        "evt00001",
        "4k2h9s0a1v_R20261207T150000",
        "team@group.calendar.google.com",
        "notify:evt1:v1:email",
        "a.b",
        "x" * 256,
    ]:
        assert doc_id(raw) == raw


@pytest.mark.parametrize("raw", UNSAFE)
def test_unsafe_ids_are_hashed_deterministically(raw: str) -> None:
    mapped = doc_id(raw)
    assert re.fullmatch(r"h_[0-9a-f]{64}", mapped)
    assert doc_id(raw) == mapped
    assert _is_valid_firestore_id(mapped)


def test_hashed_form_of_one_id_is_not_the_id_of_another() -> None:
    # A raw id that looks exactly like a hashed id must not land on that document.
    mapped = doc_id("a/b")
    assert doc_id(mapped) != mapped
    assert len({doc_id(u) for u in UNSAFE} | {doc_id(mapped)}) == len(UNSAFE) + 1


@given(st.text(max_size=600))
def test_every_id_maps_to_a_valid_document_id(raw: str) -> None:
    mapped = doc_id(raw)
    assert _is_valid_firestore_id(mapped)
    # Injective: readable ids map to themselves and never start with "h_"; everything
    # else is "h_" + SHA-256, so two distinct ids share a document only on a collision.
    assert mapped == raw or (mapped.startswith("h_") and mapped != raw)
    assert not (mapped == raw and raw.startswith("h_"))


@given(st.text(max_size=50), st.text(max_size=50))
def test_distinct_ids_get_distinct_documents(a: str, b: str) -> None:
    assert (doc_id(a) == doc_id(b)) == (a == b)


def test_unsafe_and_lookalike_ids_are_distinct_documents(fs: FirestoreStore) -> None:
    lookalike = doc_id("a/b")
    ids = ["a/b", lookalike, "..", "__x__"]
    fs.upsert_meetings([meeting("alice", i, event_id=e, title=f"t{i}") for i, e in enumerate(ids)])
    got = fs.get_meetings("alice", ids)
    assert {e: m.title for e, m in got.items()} == {e: f"t{i}" for i, e in enumerate(ids)}
    meetings = fs.client.collection("users").document("alice").collection("meetings")
    raw = meetings.document(lookalike).get().to_dict()
    assert raw is not None and raw["event_id"] == "a/b"
    raw2 = meetings.document(doc_id(lookalike)).get().to_dict()
    assert raw2 is not None and raw2["event_id"] == lookalike


# ---------------------------------------------------------------- layout


def test_document_layout(fs: FirestoreStore) -> None:
    client = fs.client
    m = meeting("alice", 1)
    odd = meeting("alice", 2, event_id="cal/evt 2")
    fs.put_user(user("alice"))
    fs.upsert_meetings([m, odd])
    fs.put_sync_state(SyncState("alice", "team@group.calendar.google.com", sync_token="t"))
    fs.claim("alice", "notify:evt00001:v1:email")
    fs.claim("alice", "gen/" + "é" * 600)
    fs.put_credentials("alice", SealedCredentials(b"\x00sealed\xff"))

    alice = client.collection("users").document("alice")
    user_doc = alice.get().to_dict()
    assert user_doc is not None
    assert user_doc["user_id"] == "alice" and user_doc["connected"] is True

    raw = alice.collection("meetings").document("evt00001").get().to_dict()
    assert raw is not None
    expire_at = raw.pop("expire_at")
    assert raw == codec.meeting_to_doc(m)
    assert expire_at == m.end + EXPIRE_AFTER
    assert expire_at.tzinfo is not None  # a native timestamp, as TTL policies need

    raw_odd = alice.collection("meetings").document(doc_id("cal/evt 2")).get().to_dict()
    assert raw_odd is not None and raw_odd["event_id"] == "cal/evt 2"

    sync = alice.collection("sync").document("team@group.calendar.google.com").get().to_dict()
    assert sync is not None and sync["calendar_id"] == "team@group.calendar.google.com"

    claim = alice.collection("claims").document("notify:evt00001:v1:email").get().to_dict()
    assert claim is not None and claim["key"] == "notify:evt00001:v1:email"
    # A native timestamp for the claims TTL policy, well past any retry of the action.
    assert isinstance(claim["expire_at"], datetime)
    assert claim["expire_at"] - datetime.now(UTC) > timedelta(days=80)
    long_claim = alice.collection("claims").document(doc_id("gen/" + "é" * 600)).get()
    assert long_claim.exists and (long_claim.to_dict() or {})["key"] == "gen/" + "é" * 600

    creds = alice.collection("private").document("credentials").get().to_dict()
    assert creds == {"user_id": "alice", "sealed": b"\x00sealed\xff"}

    # Nothing at the root but users: every record hangs under its owner.
    assert client.collection("meetings").limit(1).get() == []


def test_expire_at_follows_the_meeting_and_is_stripped_on_read(fs: FirestoreStore) -> None:
    m = meeting("alice", 1)
    fs.upsert_meetings([m])
    moved = dataclasses.replace(m, start=m.start + timedelta(days=3), end=m.end + timedelta(days=3))
    fs.upsert_meetings([moved])
    assert fs.get_meeting("alice", m.event_id) == moved
    raw = fs.client.collection("users").document("alice").collection("meetings")
    snap = raw.document(m.event_id).get().to_dict()
    assert snap is not None and snap["expire_at"] == moved.end + EXPIRE_AFTER


# ---------------------------------------------------------------- paging and ordering


def _all_pages(fs: FirestoreStore, limit: int) -> list[list[str]]:
    pages: list[list[str]] = []
    after: str | None = None
    for _ in range(100):  # a cursor bug would page forever: fail instead
        page = fs.list_connected_users(after=after, limit=limit)
        ids = [u.user_id for u in page.users]
        assert len(ids) <= limit
        assert ids == sorted(ids) and all(after is None or i > after for i in ids)
        pages.append(ids)
        if page.next_after is None:
            return pages
        assert page.next_after == ids[-1]
        after = page.next_after
    pytest.fail("paging of connected users did not terminate")


def test_paging_more_users_than_a_page_terminates(fs: FirestoreStore) -> None:
    # Odd user ids (hashed document ids) must page by user_id, not by document id.
    ids = [f"user{i:03d}" for i in range(23)] + ["user/odd", "__user__"]
    for uid in ids:
        fs.put_user(user(uid))
    for i in range(5):
        fs.put_user(user(f"user{i:03d}x", connected=False))
    pages = _all_pages(fs, limit=5)
    assert [len(p) for p in pages] == [5, 5, 5, 5, 5]
    assert [u for p in pages for u in p] == sorted(ids)


def test_paging_ends_exactly_on_a_full_last_page(fs: FirestoreStore) -> None:
    for i in range(10):
        fs.put_user(user(f"u{i:02d}"))
    assert [len(p) for p in _all_pages(fs, limit=5)] == [5, 5]
    assert _all_pages(fs, limit=20) == [[f"u{i:02d}" for i in range(10)]]


def test_ties_are_ordered_by_event_id_not_by_document_id(fs: FirestoreStore) -> None:
    # "a/x" hashes to "h_..." which sorts after "b" as a document id.
    same = [meeting("alice", 1, event_id=e) for e in ("b", "a/x", "c")]
    fs.upsert_meetings(same)
    end = T0 + timedelta(days=1)
    listed = fs.list_meetings("alice", start_from=T0, start_before=end)
    assert [m.event_id for m in listed] == ["a/x", "b", "c"]
    first = fs.list_meetings("alice", start_from=T0, start_before=end, limit=1)
    assert [m.event_id for m in first] == ["a/x"]
    due = fs.list_due_for_prep(
        "alice", trigger_from=T0 - timedelta(days=2), trigger_before=T0 + timedelta(days=1)
    )
    assert [m.event_id for m in due] == ["a/x", "b", "c"]


# ---------------------------------------------------------------- forgetting


def test_delete_user_data_walks_more_than_one_batch(fs: FirestoreStore) -> None:
    n = MAX_BATCH + 20
    fs.put_user(user("alice"))
    fs.upsert_meetings([meeting("alice", i) for i in range(n)])
    fs.put_sync_state(SyncState("alice", "primary"))
    fs.put_credentials("alice", SealedCredentials(b"s"))
    fs.upsert_meetings([meeting("bob", 1)])
    assert fs.delete_user_data("alice") == n + 3
    alice = fs.client.collection("users").document("alice")
    for sub in ("meetings", "sync", "claims", "sent", "private"):
        assert alice.collection(sub).limit(1).get() == []
    assert not alice.get().exists
    assert fs.get_meeting("bob", "evt00001") is not None
    assert fs.delete_user_data("alice") == 0


# ---------------------------------------------------------------- error mapping


def test_transaction_that_keeps_aborting_raises_conflict(
    fs: FirestoreStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from google.api_core import exceptions as gexc
    from google.cloud.firestore_v1.transaction import Transaction

    m = meeting("alice", 1)
    fs.upsert_meetings([m])
    calls = 0

    def always_aborted(self: Transaction, *args: object, **kwargs: object) -> None:
        nonlocal calls
        calls += 1
        # google.api_core exception constructors are unannotated.
        raise gexc.Aborted("contention")

    monkeypatch.setattr(Transaction, "_commit", always_aborted)
    with pytest.raises(Conflict):
        fs.set_prep_state("alice", m.event_id, PrepState.NOTIFIED)
    assert calls == 5  # the library re-ran the whole read-modify-write each time
    monkeypatch.undo()
    assert fs.get_meeting("alice", m.event_id) == m


def test_backend_failures_surface_as_store_errors(
    fs: FirestoreStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from google.api_core import exceptions as gexc
    from google.cloud.firestore_v1.document import DocumentReference

    def unavailable(*args: object, **kwargs: object) -> None:
        raise gexc.ServiceUnavailable("down")

    monkeypatch.setattr(DocumentReference, "get", unavailable)
    monkeypatch.setattr(DocumentReference, "create", unavailable)
    with pytest.raises(StoreError) as info:
        fs.get_meeting("alice", "evt00001")
    assert isinstance(info.value.__cause__, gexc.ServiceUnavailable)
    with pytest.raises(StoreError):
        fs.claim("alice", "k")  # an outage is not "already claimed"


def test_claim_survives_a_retried_create_of_its_own_claim(
    fs: FirestoreStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A create that committed but whose answer was lost is retried by the library
    and then fails with ALREADY_EXISTS: that claim is still ours."""
    from google.cloud.firestore_v1.document import DocumentReference

    original = DocumentReference.create

    def committed_then_retried(self: DocumentReference, *args: Any, **kwargs: Any) -> Any:
        original(self, *args, **kwargs)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(DocumentReference, "create", committed_then_retried)
    assert fs.claim("alice", "k") is True
    monkeypatch.undo()
    assert fs.claim("alice", "k") is False


def test_importing_the_adapter_does_not_import_the_client_library() -> None:
    code = (
        "import sys, functions.store.firestore; "
        "sys.exit('google.cloud.firestore' in sys.modules "
        "or 'google.cloud.firestore_v1' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=False)
    assert done.returncode == 0


# ---------------------------------------------------------------- indexes


def _needed_index(pb: Any) -> tuple[str, frozenset[str], tuple[str, ...]] | None:
    """(collection, equality fields, ordered fields) if the query needs a composite index.

    Simplified Firestore rule, enough for this adapter's queries: equality/`in`
    filters plus an ordering over more than one field need a composite index
    whose fields are the equality fields (any order) followed by the ordering.
    """
    filters = (
        [f.field_filter for f in pb.where.composite_filter.filters]
        if "composite_filter" in pb.where
        else ([pb.where.field_filter] if "field_filter" in pb.where else [])
    )
    equality = frozenset(f.field.field_path for f in filters if f.op.name in {"EQUAL", "IN"})
    ordered = tuple(o.field.field_path for o in pb.order_by if o.field.field_path != "__name__")
    if len(equality) + len(ordered) < 2:
        return None
    assert all(o.direction.name == "ASCENDING" for o in pb.order_by)
    return pb.from_[0].collection_id, equality, ordered


def test_every_query_has_its_composite_index(
    fs: FirestoreStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from google.cloud.firestore_v1.query import Query

    seen: list[Any] = []
    original = Query.stream

    def recording(self: Query, *args: Any, **kwargs: Any) -> Any:
        seen.append(self._to_protobuf())
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Query, "stream", recording)
    fs.put_user(user("alice"))
    fs.upsert_meetings([meeting("alice", 1)])
    fs.list_connected_users(after="a", limit=2)
    fs.list_meetings("alice", start_from=T0, start_before=T0 + timedelta(days=1), limit=5)
    fs.list_due_for_prep("alice", trigger_from=T0, trigger_before=T0 + timedelta(days=1))
    fs.delete_user_data("alice")
    monkeypatch.undo()

    declared = json.loads((REPO_ROOT / "firestore.indexes.json").read_text())
    indexes = {
        (ix["collectionGroup"], tuple(f["fieldPath"] for f in ix["fields"]))
        for ix in declared["indexes"]
        if ix["queryScope"] == "COLLECTION"
        and all(f.get("order") == "ASCENDING" for f in ix["fields"])
    }
    needed = {n for n in map(_needed_index, seen) if n is not None}
    assert len(needed) == 3  # users paging, meetings window, due for prep
    for collection, equality, ordered in needed:
        assert any(
            group == collection
            and frozenset(fields[: len(equality)]) == equality
            and fields[len(equality) :] == ordered
            for group, fields in indexes
        ), f"no composite index on {collection} for {sorted(equality)} + {ordered}"


def test_ttl_policy_is_declared_for_expire_at() -> None:
    declared = json.loads((REPO_ROOT / "firestore.indexes.json").read_text())
    ttl = [o for o in declared["fieldOverrides"] if o.get("ttl")]
    assert ttl == [
        {"collectionGroup": "meetings", "fieldPath": "expire_at", "ttl": True, "indexes": []},
        {"collectionGroup": "claims", "fieldPath": "expire_at", "ttl": True, "indexes": []},
        {"collectionGroup": "sent", "fieldPath": "expire_at", "ttl": True, "indexes": []},
    ]
