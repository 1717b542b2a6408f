"""Duplicated and reordered deliveries across task kinds (sync, prep, generate) and clicks.

Cloud Tasks delivers at least once and in no particular order, and users
click twice. tests/workflow covers replays of one kind at a time (every prep
task twice; a newer version's prep task before the older one; concurrent
duplicates), tests/materials duplicated generation tasks, tests/sync
repeated scheduler calls and pings. These interleave the kinds: generation
finishing before the reminder fires, reminders replayed around a generation,
an older sync delivered after a newer one. Through all of it each meeting
gets at most one "Coming up" and one "ready" message, and the card and the
store show the latest truth.
"""

from __future__ import annotations

from datetime import timedelta

from functions.domain.prep_state import PrepState
from functions.prep.queueing import GENERATE_PATH, PREP_PATH, prep_task
from tests.faults.conftest import EMAIL, NOW, Stack

START = NOW + timedelta(hours=30)  # 1:1s: reminders due 24 h ahead, 6 h from now


def _seed(stack: Stack, count: int = 3) -> list[str]:
    stack.add_user()
    ids = [f"ev{i}" for i in range(count)]
    for i, event_id in enumerate(ids):
        stack.put_event(event_id, START + timedelta(hours=i), "1:1 with Sam")
    stack.scheduled_sync()
    stack.run_for(timedelta(seconds=5))
    return ids


def _coming_up(stack: Stack) -> list[str]:
    return [s for s in stack.emails() if s.startswith("Coming up")]


def _ready(stack: Stack) -> list[str]:
    return [s for s in stack.emails() if s.startswith("Your prep is ready")]


def test_generation_finishing_before_the_reminder_fires(stack: Stack) -> None:
    ids = _seed(stack)
    stack.sidebar(ids[0], params={"op": "generate"})
    stack.sidebar(ids[0], params={"op": "generate"})  # a double click
    assert len([t for t in stack.queue.pending() if t.path == GENERATE_PATH]) == 1
    stack.run_for(timedelta(seconds=5))
    assert len(_ready(stack)) == 1
    generated = stack.delivered(GENERATE_PATH)
    # Later every reminder falls due; each task is also delivered twice more, and the
    # generation task once more after them.
    stack.run_for(timedelta(hours=12), step=timedelta(minutes=5))
    for task in stack.delivered(PREP_PATH) * 2 + generated:
        assert stack.replay(task).status_code == 200
    assert len(_ready(stack)) == 1
    # The prepared meeting gets no "Coming up … Generate prep"; the others one each.
    assert len(_coming_up(stack)) == len(ids) - 1
    assert stack.meeting(ids[0]).prep_state is PrepState.DELIVERED
    assert "Open materials" in stack.card_text(ids[0])
    assert all(stack.meeting(i).prep_state is PrepState.NOTIFIED for i in ids[1:])


def test_reminders_replayed_around_a_generation(stack: Stack) -> None:
    ids = _seed(stack, count=1)
    stack.run_for(timedelta(hours=7), step=timedelta(minutes=5))
    (reminder,) = stack.delivered(PREP_PATH)
    assert len(_coming_up(stack)) == 1
    # The user clicks the Chat button twice while Cloud Tasks redelivers the reminder.
    assert stack.replay(reminder).status_code == 200
    assert stack.chat_click(ids[0]).status_code == 200
    assert stack.replay(reminder).status_code == 200
    assert stack.chat_click(ids[0]).status_code == 200
    assert len([t for t in stack.queue.pending() if t.path == GENERATE_PATH]) == 1
    assert stack.meeting(ids[0]).prep_state is PrepState.GENERATING
    assert stack.replay(reminder).status_code == 200  # must not move it back or re-send
    assert stack.meeting(ids[0]).prep_state is PrepState.GENERATING
    stack.run_for(timedelta(seconds=5))
    for task in [reminder, *stack.delivered(GENERATE_PATH), reminder]:
        assert stack.replay(task).status_code == 200
    assert len(_coming_up(stack)) == 1 and len(_ready(stack)) == 1
    assert len(stack.chats()) == 2  # one reminder card, one "ready"
    assert stack.meeting(ids[0]).prep_state is PrepState.DELIVERED


def test_an_older_sync_delivered_after_a_newer_one(stack: Stack) -> None:
    ids = _seed(stack, count=1)
    old_slot_task = stack.delivered("/tasks/sync")[0]
    before = stack.meeting(ids[0])
    old_reminder = prep_task(before)
    # The meeting moves an hour later; the next slot's sync sees it.
    event = next(e for e in stack.fake.events(EMAIL) if e["id"] == ids[0])
    moved = START + timedelta(hours=1)
    end = moved + timedelta(minutes=30)
    stack.fake.put_event(
        EMAIL,
        {
            **event,
            "start": {"dateTime": moved.isoformat(), "timeZone": "UTC"},
            "end": {"dateTime": end.isoformat(), "timeZone": "UTC"},
        },
    )
    stack.advance(timedelta(minutes=15))
    newer = stack.scheduled_sync()
    stack.run_for(timedelta(seconds=5))
    after = stack.meeting(ids[0])
    assert after.start == moved and after.version != before.version
    # Now the older slot's task arrives late, twice, and the newer one once more.
    for task in (old_slot_task, old_slot_task, newer):
        assert stack.replay(task).status_code == 200
    assert stack.meeting(ids[0]) == after
    # The fan-out for that slot again: the name was used, nothing is queued twice.
    assert stack.queue.enqueue(newer) is False
    # The stale reminder (old version) fires, also twice: nothing. The new one: once.
    stack.set_time(before.prep_trigger_at or NOW)
    for _ in range(2):
        assert stack.replay(old_reminder).get_json()["outcome"] == "stale"
    stack.run_for(timedelta(hours=2), step=timedelta(minutes=5))
    assert len(_coming_up(stack)) == 1
    new_name = prep_task(after).name
    assert [t.name for t in stack.delivered(PREP_PATH)].count(new_name) == 1
    assert "Reminder sent" in stack.card_text(ids[0])
