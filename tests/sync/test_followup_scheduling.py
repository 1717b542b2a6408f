"""The follow-up task is created by the sync at the meeting's end, never by a poll."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from functions.domain.followups import FollowupMode
from functions.domain.users import Preferences
from functions.followup.scheduling import FOLLOWUP_PATH, followup_task
from functions.sync.handlers import handle_sync
from functions.tasks.port import MAX_SCHEDULE_AHEAD
from tests.support.fake_calendar import timed_event
from tests.sync.conftest import NOW, World

ALICE = "alice@example.com"


def sync(w: World) -> dict[str, object]:
    return dict(handle_sync(w.services, {"user_id": "alice"}))


def _followups(w: World) -> dict[str, object]:
    return {t.payload["event_id"]: t.schedule_at for t in w.queue.on_path(FOLLOWUP_PATH)}


def _one_on_one(event_id: str, start_in: timedelta, **extra: Any) -> dict[str, Any]:
    return timed_event(
        event_id,
        NOW + start_in,
        summary="1:1 with Sam",
        attendees=(ALICE, "sam@example.com"),
        **extra,
    )


def test_the_sync_schedules_a_task_at_the_end_of_followed_up_meetings(world: World) -> None:
    world.add_user("alice", ALICE)
    world.fake.put_event(ALICE, _one_on_one("soon", timedelta(hours=3)))
    world.fake.put_event(
        ALICE,
        timed_event(
            "allhands",
            NOW + timedelta(hours=4),
            summary="All-hands",
            attendees=(ALICE, *(f"p{i}@example.com" for i in range(8))),
        ),
    )
    world.fake.put_event(ALICE, _one_on_one("far", timedelta(days=20)))
    result = sync(world)
    assert result["followup_tasks_created"] == 1
    # Only the 1:1 inside the horizon: the staff meeting is not followed up by default,
    # and the far one waits for the sync that brings it near.
    soon = world.db.get_meeting("alice", "soon")
    assert soon is not None
    assert _followups(world) == {"soon": soon.end + timedelta(minutes=5)}
    # A second sync with nothing new creates nothing.
    attempts = len(world.queue.attempts)
    sync(world)
    assert len(world.queue.attempts) == attempts


def test_a_far_meeting_gets_its_task_when_it_comes_near_never_past_30_days(
    world: World,
) -> None:
    world.add_user("alice", ALICE)
    world.fake.put_event(ALICE, _one_on_one("far", timedelta(days=20)))
    sync(world)
    assert _followups(world) == {}
    for day in range(1, 21):
        world.clock.set(NOW + timedelta(days=day))
        world.fake.now = world.clock.now()
        sync(world)
        for task in world.queue.on_path(FOLLOWUP_PATH):
            assert task.schedule_at is not None
    # The queue checks Cloud Tasks' 720 h limit on every enqueue (RecordingQueue(clock)).
    [task] = world.queue.on_path(FOLLOWUP_PATH)
    far = world.db.get_meeting("alice", "far")
    assert far is not None and task.schedule_at == far.end + timedelta(minutes=5)
    assert task.schedule_at - NOW > MAX_SCHEDULE_AHEAD / 2


def test_a_moved_meeting_moves_the_task(world: World) -> None:
    world.add_user("alice", ALICE)
    world.fake.put_event(ALICE, _one_on_one("soon", timedelta(hours=3)))
    sync(world)
    before = world.db.get_meeting("alice", "soon")
    assert before is not None
    world.fake.put_event(ALICE, _one_on_one("soon", timedelta(hours=5)))
    sync(world)
    after = world.db.get_meeting("alice", "soon")
    assert after is not None and after.version != before.version
    names = {t.name for t in world.queue.on_path(FOLLOWUP_PATH)}
    assert names == {followup_task(before).name, followup_task(after).name}
    assert followup_task(after).schedule_at == after.end + timedelta(minutes=5)


def test_no_tasks_when_follow_ups_are_off_or_the_meeting_is_declined(world: World) -> None:
    world.add_user("alice", ALICE, preferences=Preferences(followup_mode=FollowupMode.OFF))
    world.fake.put_event(ALICE, _one_on_one("soon", timedelta(hours=3)))
    sync(world)
    assert _followups(world) == {}
    world.add_user("bob", "bob@example.com")
    event = timed_event(
        "declined",
        NOW + timedelta(hours=3),
        summary="1:1 with Sam",
        organizer="sam@example.com",
    )
    event["attendees"] = [
        {"email": "bob@example.com", "self": True, "responseStatus": "declined"},
        {"email": "sam@example.com", "responseStatus": "accepted"},
    ]
    world.fake.put_event("bob@example.com", event)
    dict(handle_sync(world.services, {"user_id": "bob"}))
    declined = world.db.get_meeting("bob", "declined")
    assert declined is not None and declined.skip_reason == "declined"
    assert _followups(world) == {}
