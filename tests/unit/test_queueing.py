"""queue_generation: one task per click burst, safe against the task finishing first."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from functions.domain.meetings import Meeting
from functions.domain.prep_state import PrepState
from functions.prep.queueing import CannotGenerate, prep_task, queue_generation
from functions.store.sqlite import SqliteStore
from functions.tasks.port import Task, TaskQueue

NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)


class Recording(TaskQueue):
    def __init__(self) -> None:
        self.names: set[str] = set()
        self.created: list[Task] = []

    def enqueue(self, task: Task) -> bool:
        if task.name in self.names:
            return False
        self.names.add(task.name)
        self.created.append(task)
        return True


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    return SqliteStore(tmp_path / "q.db")


def stored(store: SqliteStore, state: PrepState, ref: str | None = None) -> Meeting:
    start = NOW + timedelta(days=1)
    m = Meeting(
        "u1",
        "e1",
        "primary",
        "Sync",
        start,
        start + timedelta(hours=1),
        version="v1",
        prep_state=state,
        materials_ref=ref,
        prep_trigger_at=start - timedelta(hours=24),
    )
    store.upsert_meetings([m])
    return m


def test_double_click_queues_once(store: SqliteStore) -> None:
    queue = Recording()
    m = stored(store, PrepState.SCHEDULED)
    first = queue_generation(store, queue, m, now=NOW)
    second = queue_generation(store, queue, first, now=NOW)
    assert first.prep_state is PrepState.GENERATING
    assert second.prep_state is PrepState.GENERATING
    assert len(queue.created) == 1
    assert queue.created[0].payload == {"user_id": "u1", "event_id": "e1", "version": "v1"}


def test_regenerate_after_ready_gets_a_new_task(store: SqliteStore) -> None:
    queue = Recording()
    queue_generation(store, queue, stored(store, PrepState.SCHEDULED), now=NOW)
    ready = store.set_prep_state("u1", "e1", PrepState.READY, materials_ref="m/1")
    again = queue_generation(store, queue, ready, now=NOW, regenerate=True)
    assert again.prep_state is PrepState.GENERATING
    assert len({t.name for t in queue.created}) == 2


@pytest.mark.parametrize("done", [PrepState.READY, PrepState.DELIVERED])
def test_a_generate_click_after_ready_changes_nothing(store: SqliteStore, done: PrepState) -> None:
    """The second click of a double click lands after the first generation finished."""
    queue = Recording()
    queue_generation(store, queue, stored(store, PrepState.SCHEDULED), now=NOW)
    ready = store.set_prep_state("u1", "e1", PrepState.READY, materials_ref="m/1")
    if done is PrepState.DELIVERED:
        ready = store.set_prep_state("u1", "e1", PrepState.DELIVERED)
    late = queue_generation(store, queue, ready, now=NOW + timedelta(seconds=2))
    assert late.prep_state is done and late.materials_ref == "m/1"
    assert len(queue.created) == 1


LEASE = timedelta(minutes=10)


def test_a_generation_past_its_lease_is_taken_over_once(store: SqliteStore) -> None:
    """Its worker was killed: the meeting is not stuck in `generating` for good."""
    queue = Recording()
    first = queue_generation(store, queue, stored(store, PrepState.SCHEDULED), now=NOW, lease=LEASE)
    assert first.generating_since == NOW
    within = queue_generation(store, queue, first, now=NOW + LEASE / 2, lease=LEASE)
    assert len(queue.created) == 1 and within.generating_since == NOW
    later = NOW + LEASE + timedelta(seconds=1)
    taken = queue_generation(store, queue, within, now=later, lease=LEASE)
    assert taken.prep_state is PrepState.GENERATING and taken.generating_since == later
    assert len({t.name for t in queue.created}) == 2
    # A second click on the same "Try again" finds the lease running again.
    queue_generation(store, queue, first, now=later + timedelta(seconds=1), lease=LEASE)
    assert len(queue.created) == 2


def test_a_generating_meeting_stored_before_leases_is_retryable(store: SqliteStore) -> None:
    queue = Recording()
    legacy = stored(store, PrepState.GENERATING)
    assert legacy.generating_since is None
    taken = queue_generation(store, queue, legacy, now=NOW, lease=LEASE)
    assert taken.generating_since == NOW and len(queue.created) == 1


def test_concurrent_takeovers_leave_one_lease(store: SqliteStore) -> None:
    """Two clicks read the same overdue meeting; only the first one's write stands."""
    queue = Recording()
    legacy = stored(store, PrepState.GENERATING)
    first = queue_generation(store, queue, legacy, now=NOW, lease=LEASE)
    second = queue_generation(store, queue, legacy, now=NOW + timedelta(minutes=1), lease=LEASE)
    assert first.generating_since == second.generating_since == NOW


def test_retry_after_failure_gets_a_fresh_name_per_minute(store: SqliteStore) -> None:
    queue = Recording()
    queue_generation(store, queue, stored(store, PrepState.SCHEDULED), now=NOW)
    failed = store.set_prep_state("u1", "e1", PrepState.FAILED)
    queue_generation(store, queue, failed, now=NOW)
    failed_again = store.set_prep_state("u1", "e1", PrepState.FAILED)
    queue_generation(store, queue, failed_again, now=NOW + timedelta(minutes=2))
    assert len({t.name for t in queue.created}) == 3


def test_task_finishing_first_is_not_undone(store: SqliteStore) -> None:
    """The worker reaches `ready` between enqueue and our state move: ready stands."""
    m = stored(store, PrepState.SCHEDULED)

    class FastWorker(Recording):
        def enqueue(self, task: Task) -> bool:
            created = super().enqueue(task)
            store.set_prep_state("u1", "e1", PrepState.GENERATING)
            store.set_prep_state("u1", "e1", PrepState.READY, materials_ref="m/1")
            return created

    result = queue_generation(store, FastWorker(), m, now=NOW)
    assert result.prep_state is PrepState.READY
    got = store.get_meeting("u1", "e1")
    assert got is not None
    assert got.prep_state is PrepState.READY


def test_cancelled_meetings_cannot_generate(store: SqliteStore) -> None:
    queue = Recording()
    with pytest.raises(CannotGenerate):
        queue_generation(store, queue, stored(store, PrepState.CANCELLED), now=NOW)
    assert queue.created == []


def test_prep_task_is_named_after_the_version() -> None:
    start = NOW + timedelta(days=1)
    m = Meeting("u1", "e1", "primary", "t", start, start, version="v1", prep_trigger_at=NOW)
    moved = dataclasses.replace(m, version="v2")
    assert prep_task(m).name != prep_task(moved).name
    assert prep_task(m).name == prep_task(dataclasses.replace(m, title="x")).name
    assert prep_task(m).schedule_at == NOW
    with pytest.raises(ValueError, match="trigger"):
        prep_task(dataclasses.replace(m, prep_trigger_at=None))
