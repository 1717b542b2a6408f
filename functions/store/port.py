"""The store port: everything the domain and handlers need to persist.

The interface is shaped by its callers, not by a database: batch upserts for
the sync, a compare-and-set for prep-state moves, a one-time claim for
at-least-once task delivery, and one call that forgets a user entirely.
Every method takes the owning `user_id`, so no caller can reach another
user's data by passing the wrong event id.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NewType

from functions.domain.feedback import Feedback, FeedbackCounts
from functions.domain.meetings import Meeting
from functions.domain.prep_state import PrepState
from functions.domain.sent_messages import SentMessage
from functions.domain.sync_state import SyncState
from functions.domain.users import User
from functions.errors import TransientError

#: Credentials exactly as the encryption layer sealed them; the store never sees plaintext.
SealedCredentials = NewType("SealedCredentials", bytes)

#: Firestore allows 500 writes per batch; the SQLite adapter uses the same bound.
MAX_BATCH = 500


class StoreError(RuntimeError):
    """The store could not do what was asked (not a bug in the caller)."""


class NotFound(StoreError):
    pass


class StoreBusy(StoreError, TransientError):
    """Another writer held the store past the short wait a request can afford; retry soon."""


class Conflict(StoreError):
    """A compare-and-set lost: somebody else changed the record first."""


@dataclass(frozen=True, slots=True)
class UpsertResult:
    written: int
    unchanged: int


@dataclass(frozen=True, slots=True)
class UserPage:
    users: tuple[User, ...]
    #: Pass back as `after` for the next page; None when this was the last page.
    next_after: str | None


class Store(ABC):
    """Adapters implement the abstract primitives; the shared rules live here once."""

    # ---- users
    @abstractmethod
    def get_user(self, user_id: str) -> User | None: ...

    @abstractmethod
    def put_user(self, user: User) -> None: ...

    @abstractmethod
    def list_connected_users(self, *, after: str | None = None, limit: int = 100) -> UserPage:
        """Users with working background access, ordered by user_id, one page at a time."""

    # ---- meetings
    def upsert_meetings(self, meetings: Sequence[Meeting]) -> UpsertResult:
        """Write changed meetings in batches; identical meetings cost no write.

        Reads the stored versions first (one batched read per chunk) because a
        read is cheaper than a write on every backend we target and a full
        resync of an unchanged calendar must not rewrite thousands of documents.
        """
        written = unchanged = 0
        for i in range(0, len(meetings), MAX_BATCH):
            chunk = _last_wins(meetings[i : i + MAX_BATCH])
            by_user: dict[str, list[Meeting]] = {}
            for m in chunk:
                by_user.setdefault(m.user_id, []).append(m)
            changed: list[Meeting] = []
            for user_id, group in by_user.items():
                stored = self.get_meetings(user_id, [m.event_id for m in group])
                for m in group:
                    if stored.get(m.event_id) == m:
                        unchanged += 1
                    else:
                        changed.append(m)
            if changed:
                self._write_meetings(changed)
                written += len(changed)
        return UpsertResult(written=written, unchanged=unchanged)

    @abstractmethod
    def _write_meetings(self, meetings: Sequence[Meeting]) -> None:
        """Write at most MAX_BATCH meetings (full replace), as one batch where it fits.

        Raises `limits.DocumentTooLarge`, writing nothing, for a meeting Firestore
        would refuse (functions/store/limits.py), whatever the adapter.
        """

    @abstractmethod
    def get_meeting(self, user_id: str, event_id: str) -> Meeting | None: ...

    @abstractmethod
    def get_meetings(self, user_id: str, event_ids: Sequence[str]) -> Mapping[str, Meeting]: ...

    @abstractmethod
    def list_meetings(
        self, user_id: str, *, start_from: datetime, start_before: datetime, limit: int = 500
    ) -> list[Meeting]:
        """The user's meetings starting in [start_from, start_before), earliest first."""

    @abstractmethod
    def list_due_for_prep(
        self, user_id: str, *, trigger_from: datetime, trigger_before: datetime
    ) -> list[Meeting]:
        """Meetings still owed prep whose trigger time is in [trigger_from, trigger_before)."""

    @abstractmethod
    def delete_meetings(self, user_id: str, event_ids: Sequence[str]) -> int: ...

    @abstractmethod
    def update_meeting(
        self,
        user_id: str,
        event_id: str,
        change: Callable[[Meeting], Meeting],
        *,
        expected_version: str | None = None,
    ) -> Meeting:
        """Read-modify-write one meeting atomically.

        `change` may raise to abort (e.g. `InvalidTransition`); `expected_version`
        guards against acting on a meeting that moved since the caller looked.
        Raises `NotFound` or `Conflict`.
        """

    def set_prep_state(
        self,
        user_id: str,
        event_id: str,
        target: PrepState,
        *,
        expected_version: str | None = None,
        materials_ref: str | None = None,
    ) -> Meeting:
        """Move one meeting's prep state through the domain state machine, atomically."""

        def change(m: Meeting) -> Meeting:
            moved = m.with_prep_state(target)
            if materials_ref is not None:
                moved = dataclasses.replace(moved, materials_ref=materials_ref)
            return moved

        return self.update_meeting(user_id, event_id, change, expected_version=expected_version)

    # ---- sync bookkeeping
    @abstractmethod
    def get_sync_state(self, user_id: str, calendar_id: str) -> SyncState | None: ...

    @abstractmethod
    def put_sync_state(self, state: SyncState) -> None: ...

    # ---- idempotency
    @abstractmethod
    def claim(self, user_id: str, key: str, *, lease: timedelta | None = None) -> bool:
        """Record that a one-time action is being done; False if it already was.

        Without a `lease` a claim is final until released. With one, a claim
        that was never confirmed and was taken longer than `lease` ago counts
        as abandoned (its holder died mid-action) and is taken over; of
        several concurrent takers exactly one wins. Only callers whose action
        is safe to repeat (an idempotent API call) should pass a lease.
        """

    @abstractmethod
    def confirm_claim(self, user_id: str, key: str) -> None:
        """Record that the claimed action happened: the claim is never taken over.

        Confirming a claim that is not there (released, or the user's data
        deleted meanwhile) does nothing.
        """

    @abstractmethod
    def claim_confirmed(self, user_id: str, key: str) -> bool:
        """Whether the claimed action is known to have happened (False while in flight)."""

    @abstractmethod
    def release_claim(self, user_id: str, key: str) -> None:
        """Undo a claim whose action failed, so a retry may do it."""

    # ---- messages sent about a meeting
    @abstractmethod
    def put_sent_message(self, message: SentMessage) -> None:
        """Record (or replace, by `key`) a message that reached the user."""

    @abstractmethod
    def sent_messages(self, user_id: str, event_id: str) -> list[SentMessage]:
        """Every recorded message about one meeting of one user, in no set order."""

    # ---- credentials
    @abstractmethod
    def put_credentials(self, user_id: str, sealed: SealedCredentials) -> None: ...

    @abstractmethod
    def get_credentials(self, user_id: str) -> SealedCredentials | None: ...

    @abstractmethod
    def delete_credentials(self, user_id: str) -> None:
        """Forget the stored grant (disconnect, revoked grant); absent is fine."""

    # ---- feedback
    @abstractmethod
    def record_feedback(self, feedback: Feedback) -> bool:
        """Store this answer, replacing the user's earlier answer to the same question
        about the same event (`Feedback.question`); False if it was already stored."""

    @abstractmethod
    def feedback_counts(self, meeting_types: Iterable[str]) -> FeedbackCounts:
        """Answers per (meeting type, kind) across all users, for the types asked; no zeros.

        The port's one read across users, and it returns counts only: never whose
        answer, nor about which meeting.
        """

    # ---- forgetting
    @abstractmethod
    def delete_user_data(self, user_id: str) -> int:
        """Delete the user and everything stored under them; returns records removed."""

    def close(self) -> None:  # noqa: B027 - optional hook, not abstract on purpose
        """Release connections; the default has none."""


def _last_wins(meetings: Sequence[Meeting]) -> list[Meeting]:
    """Collapse duplicates in one batch: Calendar can list an event twice across pages."""
    unique: dict[tuple[str, str], Meeting] = {}
    for m in meetings:
        unique[(m.user_id, m.event_id)] = m
    return list(unique.values())
