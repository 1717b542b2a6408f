"""The per-user sync task end to end: real Calendar client, fake Calendar API, SQLite store."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest

from functions.bootstrap import get_services
from functions.calendar.mapping import meeting_from_event
from functions.calendar.writer import PREP_MARKER_KEY, PREP_MARKER_VALUE
from functions.domain.meetings import EventStatus
from functions.domain.planning import plan_meeting
from functions.domain.prep_state import PrepState
from functions.domain.users import ConnectionState
from functions.prep.queueing import PREP_PATH, prep_task
from functions.sync.handlers import handle_sync
from functions.sync.routes import task_routes
from functions.tasks.endpoint import RetryLater
from tests.support.fake_calendar import timed_event
from tests.sync.conftest import NOW, World, call, seed, task_request

ALICE = "alice@example.com"
BOB = "bob@example.com"


def sync(world: World, user_id: str = "alice") -> dict[str, object]:
    return dict(handle_sync(world.services, {"user_id": user_id}))


def test_first_sync_is_full_and_stores_classified_meetings(world: World) -> None:
    world.add_user("alice", ALICE)
    ids = seed(world.fake, ALICE, 3)
    world.fake.put_event(
        ALICE,
        timed_event(
            "qbr1",
            NOW + timedelta(days=1),
            summary="Acme QBR",
            attendees=(ALICE, "tom@acme.com", "maria@example.com"),
        ),
    )
    result = sync(world)
    assert result["sync"] == "done" and result["full"] is True
    assert result["events"] == 4 and result["written"] == 4
    stored = world.db.get_meetings("alice", [*ids, "qbr1"])
    assert {m.meeting_type for m in stored.values()} == {"one_on_one", "qbr"}
    assert all(m.prep_state is PrepState.SCHEDULED for m in stored.values())
    state = world.db.get_sync_state("alice", "primary")
    assert state is not None and state.sync_token and state.last_full_sync_at == NOW
    assert world.fake.calls[-1].params["timeMin"] == "2026-03-09T14:00:00Z"
    # Every trigger is within the 2-day horizon: each meeting has its prep task.
    assert {t.payload["event_id"] for t in world.queue.on_path(PREP_PATH)} == {*ids, "qbr1"}


def test_second_sync_without_changes_costs_one_call_and_no_writes(world: World) -> None:
    world.add_user("alice", ALICE)
    seed(world.fake, ALICE, 5)
    sync(world)
    world.fake.reset_calls()
    writes, attempts = world.db.meeting_writes, len(world.queue.attempts)
    result = sync(world)
    assert world.fake.count() == 1 and world.fake.count("events.list") == 1
    assert "syncToken" in world.fake.calls[0].params
    assert world.db.meeting_writes == writes
    assert result["written"] == 0 and result["full"] is False
    # Nothing changed and no trigger entered the horizon: not even a task-creation attempt.
    assert len(world.queue.attempts) == attempts


def test_full_sync_of_2500_events_over_several_pages_stores_all(world: World) -> None:
    world.add_user("alice", ALICE)
    ids = seed(world.fake, ALICE, 2500, step=timedelta(minutes=10))
    world.fake.page_cap = 600
    result = sync(world)
    lists = [c for c in world.fake.calls if c.method == "events.list"]
    assert len(lists) == 5 and all(c.params["maxResults"] == "2500" for c in lists)
    assert result["pages"] == 5 and result["written"] == 2500
    assert len(world.db.get_meetings("alice", ids)) == 2500
    # Written in store batches, never one document at a time.
    assert world.db.write_batches <= 10


def test_410_recovers_with_a_clean_full_sync(world: World) -> None:
    world.add_user("alice", ALICE)
    ids = seed(world.fake, ALICE, 4)
    sync(world)
    old_token = world.db.get_sync_state("alice", "primary").sync_token  # type: ignore[union-attr]
    world.fake.invalidate_sync_tokens()
    world.fake.delete_event(ALICE, ids[0])
    writes = world.db.meeting_writes
    result = sync(world)
    assert result["resynced"] is True and result["full"] is True
    state = world.db.get_sync_state("alice", "primary")
    assert state is not None and state.sync_token not in (None, old_token)
    gone = world.db.get_meeting("alice", ids[0])
    assert gone is not None and gone.status is EventStatus.CANCELLED
    assert gone.prep_state is PrepState.CANCELLED
    # Only the deleted meeting changed; the three others cost no write.
    assert world.db.meeting_writes - writes == 1
    assert sync(world)["full"] is False  # and the next run is incremental again


@pytest.mark.parametrize(
    ("status", "reason"), [(429, None), (403, "userRateLimitExceeded"), (500, None)]
)
def test_failure_mid_paging_retries_later_and_keeps_the_old_token(
    world: World, status: int, reason: str | None
) -> None:
    world.add_user("alice", ALICE)
    seed(world.fake, ALICE, 10)
    sync(world)
    old = world.db.get_sync_state("alice", "primary")
    assert old is not None
    for event in world.fake.events(ALICE):
        world.fake.put_event(ALICE, {**event, "summary": "1:1 with Sam (agenda)"})
    world.fake.page_cap = 4
    world.fake.fail("events.list", status, reason=reason, after=1)  # page 2 of 3 fails
    with pytest.raises(RetryLater):
        sync(world)
    assert world.db.get_sync_state("alice", "primary") == old
    # The retry lists the same changes from the same token and finishes.
    result = sync(world)
    assert result["events"] == 10 and result["full"] is False
    assert world.fake.calls[-3].params["syncToken"] == old.sync_token
    new = world.db.get_sync_state("alice", "primary")
    assert new is not None and new.sync_token != old.sync_token


def test_failure_during_the_first_full_sync_stores_no_token(world: World) -> None:
    world.add_user("alice", ALICE)
    seed(world.fake, ALICE, 10)
    world.fake.page_cap = 4
    world.fake.fail("events.list", 503, after=2)
    with pytest.raises(RetryLater):
        sync(world)
    state = world.db.get_sync_state("alice", "primary")
    assert state is None or state.sync_token is None
    assert sync(world)["written"] == 2  # the first two pages were already stored


def test_revoked_grant_marks_reconnect_needed_and_acknowledges(world: World) -> None:
    world.add_user("alice", ALICE)
    seed(world.fake, ALICE, 2)
    world.fake.revoke(ALICE)
    endpoint = task_routes(get_services())["/tasks/sync"]
    response = call(endpoint, task_request(world.services, "/tasks/sync", {"user_id": "alice"}))
    assert response.status_code == 200
    assert response.get_json()["sync"] == "reconnect_needed"
    assert world.user("alice").connection is ConnectionState.RECONNECT_NEEDED
    # Not connected any more: later tasks for this user are acknowledged without API calls.
    world.fake.reset_calls()
    assert sync(world) == {"sync": "skipped", "reason": "reconnect_needed"}
    assert world.fake.count() == 0


def test_credentials_provider_reconnect_is_acknowledged(world: World) -> None:
    world.add_user("alice", ALICE)
    world.provider.reconnect.add("alice")
    assert sync(world) == {"sync": "reconnect_needed"}
    assert world.fake.count() == 0


def test_rate_limit_through_the_endpoint_is_a_503(world: World) -> None:
    world.add_user("alice", ALICE)
    world.fake.fail("events.list", 429)
    endpoint = task_routes(get_services())["/tasks/sync"]
    response = call(endpoint, task_request(world.services, "/tasks/sync", {"user_id": "alice"}))
    assert response.status_code == 503


def test_sync_endpoint_refuses_unauthenticated_calls_and_bad_payloads(world: World) -> None:
    from flask import Request
    from werkzeug.test import EnvironBuilder

    endpoint = task_routes(get_services())["/tasks/sync"]
    bare = Request(EnvironBuilder(path="/tasks/sync", method="POST", json={}).get_environ())
    assert call(endpoint, bare).status_code == 401
    response = call(endpoint, task_request(world.services, "/tasks/sync", {"user_id": 7}))
    assert response.status_code == 200 and response.get_json()["status"] == "dropped"
    assert world.fake.count() == 0


def test_moved_meeting_gets_a_new_prep_task_name(world: World) -> None:
    world.add_user("alice", ALICE)
    seed(world.fake, ALICE, 1)
    sync(world)
    before = world.db.get_meeting("alice", "ev00000")
    assert before is not None
    old_task = prep_task(before)
    event = world.fake.events(ALICE)[0]
    moved_start = NOW + timedelta(hours=20)
    world.fake.put_event(
        ALICE,
        timed_event(
            "ev00000", moved_start, summary=event["summary"], attendees=(ALICE, "sam@example.com")
        ),
    )
    result = sync(world)
    after = world.db.get_meeting("alice", "ev00000")
    assert after is not None and after.start == moved_start and after.version != before.version
    new_task = prep_task(after)
    assert result["prep_tasks_created"] == 1
    assert new_task.name != old_task.name
    assert {old_task.name, new_task.name} <= set(world.queue.tasks)
    assert world.queue.tasks[new_task.name].schedule_at == after.prep_trigger_at
    assert world.queue.tasks[old_task.name].payload["version"] == before.version


def test_cancelled_event_moves_the_meeting_to_cancelled(world: World) -> None:
    world.add_user("alice", ALICE)
    ids = seed(world.fake, ALICE, 2)
    sync(world)
    world.fake.delete_event(ALICE, ids[1])
    result = sync(world)
    meeting = world.db.get_meeting("alice", ids[1])
    assert meeting is not None
    assert (meeting.status, meeting.prep_state) == (EventStatus.CANCELLED, PrepState.CANCELLED)
    assert meeting.title == "1:1 with Sam"  # the stored details survive the bare cancellation
    assert result["cancelled"] == 1 and result["written"] == 1
    # Restored: back to scheduled.
    world.fake.put_event(
        ALICE, timed_event(ids[1], NOW + timedelta(hours=3), attendees=(ALICE, "sam@example.com"))
    )
    sync(world)
    restored = world.db.get_meeting("alice", ids[1])
    assert restored is not None and restored.prep_state is PrepState.SCHEDULED


def test_deleted_event_never_stored_is_ignored(world: World) -> None:
    world.add_user("alice", ALICE)
    sync(world)
    world.fake.put_event(ALICE, timed_event("brief", NOW + timedelta(hours=1)))
    world.fake.delete_event(ALICE, "brief")
    result = sync(world)
    assert result["events"] == 1 and result["written"] == 0
    assert world.db.get_meeting("alice", "brief") is None


def test_out_of_office_and_focus_time_are_not_meetings(world: World) -> None:
    world.add_user("alice", ALICE)
    world.fake.put_event(
        ALICE, timed_event("ooo", NOW + timedelta(hours=1), eventType="outOfOffice")
    )
    world.fake.put_event(
        ALICE, timed_event("real", NOW + timedelta(hours=2), attendees=(ALICE, "sam@example.com"))
    )
    sync(world)
    assert world.db.get_meeting("alice", "ooo") is None
    assert world.db.get_meeting("alice", "real") is not None


def test_our_own_prep_blocks_are_not_meetings(world: World) -> None:
    """The sidebar books "Prep: ..." blocks; synced back, they must not get prep themselves."""
    world.add_user("alice", ALICE)
    marker = {"private": {PREP_MARKER_KEY: PREP_MARKER_VALUE, "prepFor": "real"}}
    world.fake.put_event(
        ALICE, timed_event("block", NOW + timedelta(hours=1), extendedProperties=marker)
    )
    world.fake.put_event(
        ALICE, timed_event("real", NOW + timedelta(hours=2), attendees=(ALICE, "sam@example.com"))
    )
    sync(world)
    assert world.db.get_meeting("alice", "block") is None
    assert world.db.get_meeting("alice", "real") is not None


def test_crash_between_write_and_task_creation_is_repaired_by_the_next_sync(
    world: World,
) -> None:
    world.add_user("alice", ALICE)
    ids = seed(world.fake, ALICE, 3)
    sync(world)
    before = world.db.get_sync_state("alice", "primary")
    for event in world.fake.events(ALICE):
        world.fake.put_event(ALICE, {**event, "summary": "1:1 with Sam (new agenda)"})
    world.queue.fail_next = 1
    with pytest.raises(ConnectionError):
        sync(world)
    # The changes were written, but the token did not move past them...
    assert {m.title for m in world.db.get_meetings("alice", ids).values()} == {
        "1:1 with Sam (new agenda)"
    }
    assert world.db.get_sync_state("alice", "primary") == before
    new_names = {prep_task(m).name for m in world.db.get_meetings("alice", ids).values()}
    assert not new_names <= set(world.queue.tasks)
    # ...so the next run lists them again: no writes, and the missing tasks are created.
    writes = world.db.meeting_writes
    result = sync(world)
    assert result["events"] == 3 and world.db.meeting_writes == writes
    assert new_names <= set(world.queue.tasks)


def test_a_lost_task_queue_is_swept_by_a_full_sync(world: World) -> None:
    world.add_user("alice", ALICE)
    ids = seed(world.fake, ALICE, 3)
    sync(world)
    world.queue.tasks.clear()  # e.g. a queue purged by an operator
    world.fake.invalidate_sync_tokens()
    result = sync(world)
    assert result["resynced"] is True and result["written"] == 0
    assert {t.payload["event_id"] for t in world.queue.on_path(PREP_PATH)} == set(ids)


def test_prep_tasks_wait_for_triggers_beyond_the_horizon(world: World) -> None:
    world.add_user("alice", ALICE)
    world.fake.put_event(
        ALICE, timed_event("later", NOW + timedelta(days=5), attendees=(ALICE, "sam@example.com"))
    )
    sync(world)
    assert world.queue.on_path(PREP_PATH) == []
    world.clock.advance(timedelta(days=3, hours=12))
    world.fake.now = world.clock.now()
    sync(world)
    (task,) = world.queue.on_path(PREP_PATH)
    assert task.payload["event_id"] == "later"
    # 24 h before a Sunday 1:1 is Saturday, a day off: Friday, same time.
    assert task.schedule_at == NOW + timedelta(days=3)


def test_users_are_isolated(world: World) -> None:
    world.add_user("alice", ALICE)
    world.add_user("bob", BOB)
    alice_ids = seed(world.fake, ALICE, 2)
    world.fake.put_event(
        BOB,
        timed_event(
            "ev00000", NOW + timedelta(hours=5), summary="Bob's", attendees=(BOB, "x@example.com")
        ),
    )
    sync(world, "alice")
    sync(world, "bob")
    alice = world.db.get_meeting("alice", alice_ids[0])
    bob = world.db.get_meeting("bob", "ev00000")
    assert alice is not None and bob is not None
    assert (alice.title, bob.title) == ("1:1 with Sam", "Bob's")
    # Bob's changes and deletions never reach Alice's meetings, even with equal event ids.
    world.fake.delete_event(BOB, "ev00000")
    sync(world, "bob")
    assert world.db.get_meeting("alice", "ev00000") == alice
    lists = [c for c in world.fake.calls if c.method == "events.list"]
    assert {c.owner for c in lists} == {ALICE, BOB}
    assert world.fake.count("events.list", owner=BOB) == 2


def test_unknown_user_is_acknowledged_without_calls(world: World) -> None:
    assert sync(world, "ghost") == {"sync": "skipped", "reason": "unknown_user"}
    assert world.fake.count() == 0


def test_changed_description_keeps_state_but_gets_the_new_version(world: World) -> None:
    world.add_user("alice", ALICE)
    seed(world.fake, ALICE, 1)
    sync(world)
    before = world.db.get_meeting("alice", "ev00000")
    assert before is not None
    world.db.set_prep_state("alice", "ev00000", PrepState.NOTIFIED)
    event = world.fake.events(ALICE)[0]
    world.fake.put_event(ALICE, {**event, "description": "agenda: hiring"})
    sync(world)
    after = world.db.get_meeting("alice", "ev00000")
    assert after is not None
    assert after.prep_state is PrepState.NOTIFIED and after.description == "agenda: hiring"
    assert dataclasses.replace(after, description="", version="") == dataclasses.replace(
        before, prep_state=PrepState.NOTIFIED, description="", version=""
    )


# ---------------------------------------------------------------- the stored horizon


def _endless_weekly(world: World, summary: str = "Team sync") -> None:
    world.fake.put_event(
        ALICE,
        timed_event(
            "weekly1",
            NOW + timedelta(days=1),
            summary=summary,
            attendees=(ALICE, "sam@example.com"),
            recurrence=["RRULE:FREQ=WEEKLY"],
        ),
    )


def _stored_starts(world: World) -> list[datetime]:
    return sorted(
        m.start
        for m in world.db.list_meetings(
            "alice", start_from=NOW - timedelta(days=2), start_before=NOW + timedelta(days=3650)
        )
        if m.status is not EventStatus.CANCELLED
    )


def test_an_endless_series_is_stored_and_planned_only_to_the_horizon(world: World) -> None:
    world.add_user("alice", ALICE)
    _endless_weekly(world)
    result = sync(world)
    assert result["full"] is True
    # 90 days of a weekly series: 13 meetings, not the years Calendar would list.
    starts = _stored_starts(world)
    assert len(starts) == 13
    assert max(starts) < NOW + timedelta(days=90)
    listed = [c.params for c in world.fake.calls if c.method == "events.list"]
    assert listed[-1]["timeMax"] == "2026-06-08T14:00:00Z"


def test_incremental_changes_update_stored_meetings_but_store_none_beyond_the_horizon(
    world: World,
) -> None:
    world.add_user("alice", ALICE)
    _endless_weekly(world)
    sync(world)
    world.clock.advance(timedelta(hours=1))
    world.fake.now = world.clock.now()
    series = next(e for e in world.fake.events(ALICE) if e["id"] == "weekly1")
    world.fake.put_event(ALICE, {**series, "summary": "Team sync (new agenda)"})
    result = sync(world)
    # Calendar listed the edited series for years; only the stored 13 were updated.
    assert result["full"] is False
    listed = result["events"]
    assert isinstance(listed, int) and listed > 200
    assert result["beyond_horizon"] == listed - 13
    stored = world.db.list_meetings(
        "alice", start_from=NOW, start_before=NOW + timedelta(days=3650)
    )
    assert len(stored) == 13 and {m.title for m in stored} == {"Team sync (new agenda)"}


def test_a_weekly_full_listing_stores_meetings_as_they_enter_the_horizon(world: World) -> None:
    world.add_user("alice", ALICE)
    _endless_weekly(world)
    sync(world)
    fulls = []
    for _ in range(7 * 4):  # a week of syncs, every six hours
        world.clock.advance(timedelta(hours=6))
        world.fake.now = world.clock.now()
        fulls.append(sync(world)["full"])
    # Incremental in between (nothing changed), then one full listing re-windows.
    assert fulls == [False] * 27 + [True]
    starts = _stored_starts(world)
    assert len(starts) == 14
    assert max(starts) < world.clock.now() + timedelta(days=90)
    state = world.db.get_sync_state("alice", "primary")
    assert state is not None and state.last_full_sync_at == world.clock.now()


def test_a_meeting_stored_beyond_the_horizon_is_not_cancelled_by_a_full_listing(
    world: World,
) -> None:
    world.add_user("alice", ALICE)
    far = timed_event("far1", NOW + timedelta(days=120), attendees=(ALICE, "sam@example.com"))
    world.fake.put_event(ALICE, far)
    sync(world)
    assert world.db.get_meeting("alice", "far1") is None
    # The sidebar stores it when the user opens it; the next full listing cannot see it.
    seed_far = world.fake.events(ALICE)[0]
    meeting = plan_meeting(
        meeting_from_event(seed_far, user_id="alice", calendar_id="primary"),
        None,
        user=world.user("alice"),
        classifier=world.services.classifier,
        now=NOW,
    )
    world.db.upsert_meetings([meeting])
    world.fake.invalidate_sync_tokens()
    assert sync(world)["resynced"] is True
    stored = world.db.get_meeting("alice", "far1")
    assert stored is not None and stored.status is not EventStatus.CANCELLED
