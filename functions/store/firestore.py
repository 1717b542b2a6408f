"""Firestore adapter: the production implementation of the store port.

Layout, one subtree per user so that forgetting a user is a walk of one subtree
and no query can cross users by construction::

    users/{uid}                      the user document (`user_id`, `connected`, ...)
    users/{uid}/meetings/{docid}     one per calendar event occurrence, + `expire_at`
    users/{uid}/sync/{docid}         per-calendar sync bookkeeping
    users/{uid}/claims/{docid}       one-time-action claims (created; a leased one can be
                                     taken over in a transaction once abandoned)
    users/{uid}/private/credentials  sealed OAuth credentials as a bytes field
    feedback/{docid}                 one answer per user, event and question (top level:
                                     counted across users with count() aggregations,
                                     which needs no collection-group query)

Document ids come from `doc_id`: event ids, calendar ids and claim keys are
not valid Firestore ids in general (they may contain '/', be '.' or '..', start
with '__' or be longer than 1500 bytes), so unsafe ids are hashed and the
original id is always stored in a field. Reads never parse ids back out of
document names; they use those fields.

Documents are the codec's dicts, which always carry every field. A `set()`
is therefore a full replace on real Firestore *and* on an emulator that wrongly
merges on `set()`.

What is and is not proven by the tests
--------------------------------------
The contract suite runs this adapter against the npm emulator
`@firestore-emulator/server`, which is faithful for single-client reads,
writes, `create()` preconditions, the filters used here, `order_by` + `limit`,
`get_all` and single-client transactions. It is NOT faithful for concurrency:
it loses concurrent transactional updates and applies a `WriteBatch` write by
write. So two properties of this adapter rest on documented real-Firestore
semantics and cannot be proven on the emulator:

* `update_meeting` isolation under contention (serialisable read-modify-write
  through a Firestore transaction, retried by the client library on ABORTED).
  `tests/contract/test_firestore_real.py` checks it against a real project.
* atomicity of one `WriteBatch` commit (all-or-nothing on real Firestore).

Size limits (functions/store/limits.py): a meeting document Firestore would
refuse (over 1 MiB) or mis-index (an event id over 1,500 bytes) raises
`DocumentTooLarge` before anything of its batch is sent, as the SQLite
adapter does. A batch of up to 500 meetings is split into several commits
when their estimated request size passes `COMMIT_BUDGET_BYTES` (500 large
meetings would pass Firestore's 10 MiB request limit); each commit is atomic,
the split batch as a whole is not, which upserts can afford: they are
idempotent and the sync retries a failed batch without advancing its token.

The adapter also avoids every emulator defect it can avoid without loss:
paging uses range filters instead of cursors, deletion walks known
subcollections with `limit()` queries instead of `recursive_delete` /
`list_documents`, and writes never rely on `set(merge=...)`, `DELETE_FIELD`,
`BulkWriter` or `last_update_time` preconditions.

`google.cloud.firestore` is imported lazily: the caller builds the client,
and importing this module must stay cheap for cold starts of functions that
never touch the store.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar, cast

from functions.domain.feedback import Feedback, FeedbackCounts, FeedbackKind
from functions.domain.meetings import Meeting
from functions.domain.prep_state import PENDING_STATES
from functions.domain.sent_messages import SentMessage
from functions.domain.sync_state import SyncState
from functions.domain.users import User
from functions.store import codec, limits
from functions.store.layout import EXPIRE_AT, MEETINGS, USERS, doc_id
from functions.store.port import (
    MAX_BATCH,
    Conflict,
    NotFound,
    SealedCredentials,
    Store,
    StoreError,
    UserPage,
)

if TYPE_CHECKING:
    from google.cloud.firestore import Client, CollectionReference, DocumentReference
    from google.cloud.firestore_v1.base_document import DocumentSnapshot
    from google.cloud.firestore_v1.transaction import Transaction

__all__ = ["EXPIRE_AFTER", "FirestoreStore", "doc_id"]

SYNC = "sync"
CLAIMS = "claims"
PRIVATE = "private"
CREDENTIALS_DOC = "credentials"
FEEDBACK = "feedback"
SENT = "sent"

#: Every subcollection a user document can have. `delete_user_data` walks exactly
#: these, because neither `recursive_delete` nor `collections()` can be relied on
#: (the emulator implements neither). A new per-user subcollection must be added here.
USER_SUBCOLLECTIONS: tuple[str, ...] = (MEETINGS, SYNC, CLAIMS, SENT, PRIVATE)

#: A meeting document becomes eligible for TTL deletion this long after the meeting
#: ended. A year, because prep for a quarterly or yearly meeting reads the earlier
#: occurrences of its series. TTL deletion is best effort (typically within a day
#: or so of expiry), so nothing may depend on the exact moment.
EXPIRE_AFTER = timedelta(days=400)

#: Claims guard retries of one action; the longest-lived retry (a prep task's
#: ~4 h, a generation's ~90 min) and the meeting itself are long over after this,
#: so the TTL policy on `claims.expire_at` can sweep them without reopening a race.
CLAIM_EXPIRE_AFTER = timedelta(days=90)

_T = TypeVar("_T")


def _is_callers_fault(exc: BaseException) -> bool:
    from google.api_core import exceptions as gexc

    # A malformed request is a bug in this adapter or its caller, not an outage:
    # let it surface as itself instead of looking like something to retry.
    return isinstance(exc, gexc.InvalidArgument)


@contextmanager
def _store_errors(action: str) -> Iterator[None]:
    """Re-raise Google API failures (unavailable, deadline, internal, aborted,
    quota, permission, missing index, ...) as the port's `StoreError`.

    Callers handle one exception type for "the store could not do it" whatever
    the backend; the original exception stays attached as `__cause__`.
    """
    from google.api_core import exceptions as gexc

    try:
        yield
    except gexc.GoogleAPIError as exc:
        if _is_callers_fault(exc):
            raise
        raise StoreError(f"Firestore failed to {action}: {exc}") from exc


def _abandoned(claim: Mapping[str, Any] | None, cutoff: datetime) -> bool:
    """A claim that may be taken over: gone, or unconfirmed and taken before `cutoff`."""
    if claim is None:
        return True
    claimed_at = codec.parse_ts(claim.get("claimed_at"))
    return claim.get("confirmed_at") is None and claimed_at is not None and claimed_at < cutoff


def _meeting_doc(m: Meeting) -> codec.Doc:
    """The meeting's document; DocumentTooLarge for one Firestore would refuse."""
    doc = codec.meeting_to_doc(m)
    doc[EXPIRE_AT] = m.end.astimezone(UTC) + EXPIRE_AFTER
    limits.check_meeting(m, doc)
    return doc


def _by_request_size(
    writes: Sequence[tuple[DocumentReference, codec.Doc, int]],
) -> Iterator[list[tuple[DocumentReference, codec.Doc, int]]]:
    """Consecutive groups whose size bounds stay within one commit's budget."""
    group: list[tuple[DocumentReference, codec.Doc, int]] = []
    used = 0
    for write in writes:
        if group and used + write[2] > limits.COMMIT_BUDGET_BYTES:
            yield group
            group, used = [], 0
        group.append(write)
        used += write[2]
    if group:
        yield group


def _meeting_from_snapshot(snap: DocumentSnapshot[DocumentReference]) -> Meeting:
    data = snap.to_dict() or {}
    data.pop(EXPIRE_AT, None)
    return codec.meeting_from_doc(data)


def _aggregate_value(result: Any, alias: str) -> int:
    """The value named `alias` in an aggregation answer (a list of lists of results)."""
    for row in result or []:
        for item in row if isinstance(row, list) else [row]:
            if getattr(item, "alias", None) == alias:
                return int(item.value)
    return 0


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class FirestoreStore(Store):
    """The store port on Cloud Firestore (native mode).

    Takes a ready `google.cloud.firestore.Client`; `close()` closes it.

    Concurrency rests on real Firestore semantics that the npm emulator does
    not reproduce (see the module docstring): `update_meeting` is a Firestore
    transaction, `claim` is a `create()` precondition, and each `WriteBatch`
    commit is atomic. The emulator only proves the single-client behaviour.
    """

    def __init__(self, client: Client, *, max_transaction_attempts: int = 5) -> None:
        """`max_transaction_attempts` bounds how often the client library re-runs
        a transaction that Firestore aborted because of contention (5 is the
        library default); after that `update_meeting` raises `Conflict`."""
        if max_transaction_attempts < 1:
            raise ValueError("max_transaction_attempts must be at least 1")
        self._client = client
        self._max_attempts = max_transaction_attempts

    @property
    def client(self) -> Client:
        return self._client

    def close(self) -> None:
        # Client.close() carries no annotations in google-cloud-firestore 2.34.
        self._client.close()  # type: ignore[no-untyped-call]

    # ------------------------------------------------------------------ references

    def _user_ref(self, user_id: str) -> DocumentReference:
        return self._client.collection(USERS).document(doc_id(user_id))

    def _sub(self, user_id: str, name: str) -> CollectionReference:
        # DocumentReference.collection() is unannotated (returns Any) in 2.34.
        return cast("CollectionReference", self._user_ref(user_id).collection(name))

    def _meeting_ref(self, user_id: str, event_id: str) -> DocumentReference:
        return self._sub(user_id, MEETINGS).document(doc_id(event_id))

    # ------------------------------------------------------------------ users

    def get_user(self, user_id: str) -> User | None:
        with _store_errors("read a user"):
            snap = self._user_ref(user_id).get()
        return codec.user_from_doc(snap.to_dict() or {}) if snap.exists else None

    def put_user(self, user: User) -> None:
        with _store_errors("write a user"):
            self._user_ref(user.user_id).set(codec.user_to_doc(user))

    def list_connected_users(self, *, after: str | None = None, limit: int = 100) -> UserPage:
        """Page with `user_id > after` + `order_by(user_id)` + `limit(n + 1)`.

        A range filter on the stored `user_id` field rather than a cursor
        (`start_after`): it is exactly as cheap on Firestore (the composite
        index `connected, user_id` serves both), it does not depend on document
        ids (which may be hashed), and it also works on the emulator, which
        ignores cursors and would make a paging loop never end. Reading one
        extra document tells whether another page exists without a second query.
        """
        from google.cloud.firestore_v1.base_query import FieldFilter

        if limit < 1:
            raise ValueError("limit must be at least 1")
        query = (
            self._client.collection(USERS)
            .where(filter=FieldFilter("connected", "==", True))
            .where(filter=FieldFilter("user_id", ">", after or ""))
            .order_by("user_id")
            .limit(limit + 1)
        )
        with _store_errors("list connected users"):
            snaps = list(query.stream())
        users = tuple(codec.user_from_doc(s.to_dict() or {}) for s in snaps[:limit])
        return UserPage(users, users[-1].user_id if len(snaps) > limit else None)

    # ------------------------------------------------------------------ meetings

    def _write_meetings(self, meetings: Sequence[Meeting]) -> None:
        """`WriteBatch`es of full-document `set()`s, each atomic on real Firestore.

        One batch unless the documents' size bound passes the commit budget
        (Firestore refuses requests over 10 MiB); every document is checked
        before the first commit. Not `BulkWriter`: it is not atomic and it is
        higher throughput than a sync batch needs (and the emulator silently
        drops its writes).
        """
        if len(meetings) > MAX_BATCH:
            raise ValueError(f"at most {MAX_BATCH} meetings per batch")
        writes = []
        for m in meetings:
            doc = _meeting_doc(m)
            path = limits.meeting_path(m.user_id, m.event_id)
            writes.append(
                (self._meeting_ref(m.user_id, m.event_id), doc, limits.write_size_bound(path, doc))
            )
        for group in _by_request_size(writes):
            batch = self._client.batch()
            for ref, doc, _ in group:
                batch.set(ref, doc)
            with _store_errors("write meetings"):
                batch.commit()

    def get_meeting(self, user_id: str, event_id: str) -> Meeting | None:
        with _store_errors("read a meeting"):
            snap = self._meeting_ref(user_id, event_id).get()
        return _meeting_from_snapshot(snap) if snap.exists else None

    def get_meetings(self, user_id: str, event_ids: Sequence[str]) -> Mapping[str, Meeting]:
        """One `get_all` (BatchGetDocuments) round trip per MAX_BATCH ids.

        Results are keyed by the stored `event_id` field, not by the order of
        the answers (Firestore does not promise request order) nor by the
        document id (which may be a hash).
        """
        found: dict[str, Meeting] = {}
        ids = list(dict.fromkeys(event_ids))
        for part in _chunks(ids, MAX_BATCH):
            refs = [self._meeting_ref(user_id, e) for e in part]
            with _store_errors("read meetings"):
                snaps = list(self._client.get_all(refs))
            for snap in snaps:
                if snap.exists:
                    m = _meeting_from_snapshot(snap)
                    found[m.event_id] = m
        return found

    def list_meetings(
        self, user_id: str, *, start_from: datetime, start_before: datetime, limit: int = 500
    ) -> list[Meeting]:
        """Range on the fixed-width `start` string, ordered by it, then `event_id`.

        The `event_id` tie-break mirrors the SQLite adapter exactly (Firestore
        would otherwise break ties by document id, which is a hash for odd ids);
        it needs the `start, event_id` composite index.
        """
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = (
            self._sub(user_id, MEETINGS)
            .where(filter=FieldFilter("start", ">=", codec.ts(start_from)))
            .where(filter=FieldFilter("start", "<", codec.ts(start_before)))
            .order_by("start")
            .order_by("event_id")
            .limit(limit)
        )
        with _store_errors("list meetings"):
            return [_meeting_from_snapshot(s) for s in query.stream()]

    def list_due_for_prep(
        self, user_id: str, *, trigger_from: datetime, trigger_before: datetime
    ) -> list[Meeting]:
        """`prep_state in PENDING` + range on `prep_trigger_at`, in trigger order.

        Meetings without a trigger store `null`, which no string range matches,
        exactly like SQL's NULL. Served by the `prep_state, prep_trigger_at,
        event_id` composite index.
        """
        from google.cloud.firestore_v1.base_query import FieldFilter

        states = sorted(s.value for s in PENDING_STATES)
        query = (
            self._sub(user_id, MEETINGS)
            .where(filter=FieldFilter("prep_state", "in", states))
            .where(filter=FieldFilter("prep_trigger_at", ">=", codec.ts(trigger_from)))
            .where(filter=FieldFilter("prep_trigger_at", "<", codec.ts(trigger_before)))
            .order_by("prep_trigger_at")
            .order_by("event_id")
        )
        with _store_errors("list meetings due for prep"):
            return [_meeting_from_snapshot(s) for s in query.stream()]

    def delete_meetings(self, user_id: str, event_ids: Sequence[str]) -> int:
        """Delete the meetings that exist and count them, MAX_BATCH per batch.

        The existence read is what makes the count match the SQLite adapter
        (a Firestore delete of a missing document succeeds silently).
        """
        removed = 0
        ids = list(dict.fromkeys(event_ids))
        for part in _chunks(ids, MAX_BATCH):
            refs = [self._meeting_ref(user_id, e) for e in part]
            with _store_errors("delete meetings"):
                existing = [s.reference for s in self._client.get_all(refs) if s.exists]
                if existing:
                    batch = self._client.batch()
                    for ref in existing:
                        batch.delete(ref)
                    batch.commit()
            removed += len(existing)
        return removed

    def update_meeting(
        self,
        user_id: str,
        event_id: str,
        change: Callable[[Meeting], Meeting],
        *,
        expected_version: str | None = None,
    ) -> Meeting:
        """Read-modify-write in a Firestore transaction.

        On real Firestore the read takes a lock and the commit fails with
        ABORTED if the document changed, upon which the client library re-runs
        the whole function: `change` may therefore be called more than once
        and must be a pure function of the meeting it is given. If every
        attempt is aborted the caller gets `Conflict`. This isolation cannot be
        shown on the emulator (it loses concurrent updates); see
        tests/contract/test_firestore_real.py.
        """
        ref = self._meeting_ref(user_id, event_id)

        def attempt(tx: Transaction) -> Meeting:
            snap = ref.get(transaction=tx)
            if not snap.exists:
                raise NotFound(f"no meeting {event_id!r} for this user")
            current = _meeting_from_snapshot(snap)
            if expected_version is not None and current.version != expected_version:
                raise Conflict("the meeting changed since it was read")
            updated = change(current)
            if (updated.user_id, updated.event_id) != (user_id, event_id):
                raise ValueError("update_meeting cannot move a meeting to another id")
            tx.set(ref, _meeting_doc(updated))
            return updated

        return self._transaction(attempt, "update a meeting")

    def _transaction(self, attempt: Callable[[Transaction], _T], action: str) -> _T:
        """Run `attempt` in a transaction the client library re-runs on ABORTED;
        `Conflict` once every attempt was aborted."""
        from google.api_core import exceptions as gexc
        from google.cloud.firestore_v1 import transactional

        run = transactional(attempt)
        tx = self._client.transaction(max_attempts=self._max_attempts)
        try:
            with _store_errors(action):
                result: _T = run(tx)
        except ValueError as exc:
            # The library wraps "aborted on every attempt" in a bare ValueError.
            if isinstance(exc.__cause__, gexc.Aborted):
                raise Conflict(
                    f"failed to {action}: contended, gave up after {self._max_attempts} attempts"
                ) from exc
            raise
        return result

    # ------------------------------------------------------------------ sync state

    def get_sync_state(self, user_id: str, calendar_id: str) -> SyncState | None:
        with _store_errors("read sync state"):
            snap = self._sub(user_id, SYNC).document(doc_id(calendar_id)).get()
        return codec.sync_state_from_doc(snap.to_dict() or {}) if snap.exists else None

    def put_sync_state(self, state: SyncState) -> None:
        ref = self._sub(state.user_id, SYNC).document(doc_id(state.calendar_id))
        with _store_errors("write sync state"):
            ref.set(codec.sync_state_to_doc(state))

    # ------------------------------------------------------------------ claims

    def claim(self, user_id: str, key: str, *, lease: timedelta | None = None) -> bool:
        """`create()`: the server rejects it with ALREADY_EXISTS if the claim is
        there, so exactly one of any number of concurrent claimers wins.

        Each attempt writes a random `token`. The client library retries a
        commit whose answer was lost (UNAVAILABLE); if the lost attempt had in
        fact succeeded, the retry sees ALREADY_EXISTS for our own claim. Reading
        the token back tells that case apart, so a retried create never turns a
        won claim into a lost one (which would drop the action for everybody).
        """
        from google.api_core import exceptions as gexc

        token = uuid.uuid4().hex
        ref = self._sub(user_id, CLAIMS).document(doc_id(key))
        now = datetime.now(UTC)
        doc: dict[str, Any] = {
            "user_id": user_id,
            "key": key,
            "token": token,
            "claimed_at": codec.ts(now),
            EXPIRE_AT: now + CLAIM_EXPIRE_AFTER,
        }
        with _store_errors("claim"):
            try:
                ref.create(doc)
            except gexc.AlreadyExists:
                existing = ref.get()
                held = (existing.to_dict() or {}) if existing.exists else None
                if held is not None and held.get("token") == token:
                    return True
                if lease is None or not _abandoned(held, now - lease):
                    return False  # the common duplicate: no transaction needed
                return self._take_over(ref, doc, now - lease)
        return True

    def _take_over(self, ref: DocumentReference, doc: dict[str, Any], cutoff: datetime) -> bool:
        """Replace an abandoned claim in a transaction, so that of concurrent
        takers one commits and the others, re-run by the client library, find
        the fresh claim and lose."""

        def attempt(tx: Transaction) -> bool:
            snap = ref.get(transaction=tx)
            if not _abandoned((snap.to_dict() or {}) if snap.exists else None, cutoff):
                return False
            tx.set(ref, doc)
            return True

        try:
            return self._transaction(attempt, "take over a claim")
        except Conflict:
            return False  # every attempt lost to other takers: one of them holds it

    def confirm_claim(self, user_id: str, key: str) -> None:
        from google.api_core import exceptions as gexc

        ref = self._sub(user_id, CLAIMS).document(doc_id(key))
        with _store_errors("confirm a claim"), contextlib.suppress(gexc.NotFound):
            ref.update({"confirmed_at": codec.ts(datetime.now(UTC))})

    def claim_confirmed(self, user_id: str, key: str) -> bool:
        with _store_errors("read a claim"):
            snap = self._sub(user_id, CLAIMS).document(doc_id(key)).get()
        return snap.exists and (snap.to_dict() or {}).get("confirmed_at") is not None

    def release_claim(self, user_id: str, key: str) -> None:
        with _store_errors("release a claim"):
            self._sub(user_id, CLAIMS).document(doc_id(key)).delete()

    # ------------------------------------------------------------------ sent messages

    def put_sent_message(self, message: SentMessage) -> None:
        doc = codec.sent_message_to_doc(message)
        # Swept with the claims: the meeting and any correction are long over by then.
        doc[EXPIRE_AT] = message.start + CLAIM_EXPIRE_AFTER
        ref = self._sub(message.user_id, SENT).document(doc_id(message.key))
        with _store_errors("record a sent message"):
            ref.set(doc)

    def sent_messages(self, user_id: str, event_id: str) -> list[SentMessage]:
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = self._sub(user_id, SENT).where(filter=FieldFilter("event_id", "==", event_id))
        with _store_errors("read sent messages"):
            docs = [snap.to_dict() or {} for snap in query.stream()]
        return [codec.sent_message_from_doc(d) for d in docs]

    # ------------------------------------------------------------------ credentials

    def _credentials_ref(self, user_id: str) -> DocumentReference:
        return self._sub(user_id, PRIVATE).document(CREDENTIALS_DOC)

    def put_credentials(self, user_id: str, sealed: SealedCredentials) -> None:
        with _store_errors("write credentials"):
            self._credentials_ref(user_id).set({"user_id": user_id, "sealed": bytes(sealed)})

    def get_credentials(self, user_id: str) -> SealedCredentials | None:
        with _store_errors("read credentials"):
            snap = self._credentials_ref(user_id).get()
        if not snap.exists:
            return None
        sealed = (snap.to_dict() or {}).get("sealed")
        if not isinstance(sealed, bytes):
            raise StoreError("stored credentials are not a bytes field")
        return SealedCredentials(sealed)

    def delete_credentials(self, user_id: str) -> None:
        with _store_errors("delete credentials"):
            self._credentials_ref(user_id).delete()

    # ------------------------------------------------------------------ feedback

    def _feedback_ref(self, feedback: Feedback) -> DocumentReference:
        key = json.dumps([feedback.user_id, feedback.event_id, feedback.question])
        return self._client.collection(FEEDBACK).document(doc_id(key))

    def record_feedback(self, feedback: Feedback) -> bool:
        """Read, then a full `set()` of the one document for this user, event and question.

        Not a transaction: two racing clicks write the same answer (same
        document, same fields) or different answers (the later one wins), and
        either way the counts stay one per question.
        """
        ref = self._feedback_ref(feedback)
        with _store_errors("record feedback"):
            snap = ref.get()
            stored = (snap.to_dict() or {}) if snap.exists else {}
            if (stored.get("kind"), stored.get("meeting_type")) == (
                feedback.kind.value,
                feedback.meeting_type,
            ):
                return False
            ref.set(
                {
                    "user_id": feedback.user_id,
                    "event_id": feedback.event_id,
                    "question": feedback.question,
                    "kind": feedback.kind.value,
                    "meeting_type": feedback.meeting_type,
                    "at": codec.ts(feedback.at or datetime.now(UTC)),
                }
            )
        return True

    def feedback_counts(self, meeting_types: Iterable[str]) -> FeedbackCounts:
        """One `count()` aggregation per (type, kind): equality filters on two fields,
        served by Firestore's automatic single-field indexes, and billed per 1,000
        index entries rather than per document."""
        from google.cloud.firestore_v1.base_query import FieldFilter

        counts: FeedbackCounts = {}
        collection = self._client.collection(FEEDBACK)
        with _store_errors("count feedback"):
            for meeting_type in sorted(set(meeting_types)):
                for kind in FeedbackKind:
                    query = collection.where(
                        filter=FieldFilter("meeting_type", "==", meeting_type)
                    ).where(filter=FieldFilter("kind", "==", kind.value))
                    # `count()` is annotated as returning a class in 2.34; it returns a query.
                    aggregation: Any = query.count(alias="n")
                    n = _aggregate_value(aggregation.get(), "n")
                    if n:
                        counts[(meeting_type, kind)] = n
        return counts

    def _delete_feedback_of(self, user_id: str) -> int:
        """The user's answers live at top level: delete them page by page (no cursors)."""
        from google.cloud.firestore_v1.base_query import FieldFilter
        from google.cloud.firestore_v1.field_path import FieldPath

        removed = 0
        query = (
            self._client.collection(FEEDBACK)
            .where(filter=FieldFilter("user_id", "==", user_id))
            .select([FieldPath.document_id()])
            .limit(MAX_BATCH)
        )
        while True:
            page = list(query.stream())
            if not page:
                return removed
            batch = self._client.batch()
            for snap in page:
                batch.delete(snap.reference)
            batch.commit()
            removed += len(page)

    # ------------------------------------------------------------------ forgetting

    def delete_user_data(self, user_id: str) -> int:
        """Delete every document in the user's known subcollections, then the user.

        Pages with `limit()` queries and deletes each page in one batch, until a
        query comes back empty: no cursors (a deleted page simply is not
        returned again), and no `recursive_delete` / `list_documents`, which the
        emulator does not implement. Not one transaction (a user can have more
        than 500 documents); re-running it after a failure finishes the job.
        """
        from google.cloud.firestore_v1.field_path import FieldPath

        removed = 0
        with _store_errors("delete user data"):
            for name in USER_SUBCOLLECTIONS:
                collection = self._sub(user_id, name)
                while True:
                    # Project on __name__: fetch references, not documents (an empty
                    # projection would mean "all fields" to Firestore).
                    names_only = collection.select([FieldPath.document_id()])
                    page = list(names_only.limit(MAX_BATCH).stream())
                    if not page:
                        break
                    batch = self._client.batch()
                    for snap in page:
                        batch.delete(snap.reference)
                    batch.commit()
                    removed += len(page)
            removed += self._delete_feedback_of(user_id)
            user_ref = self._user_ref(user_id)
            if user_ref.get().exists:
                user_ref.delete()
                removed += 1
        return removed
