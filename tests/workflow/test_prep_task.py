"""The prep task at trigger time: on time, exactly once, through the real clients and endpoint.

Tasks are POSTed to `/tasks/prep` through the deployed routing table with a
signed OIDC token, and the production Gmail and Chat adapters talk to the
fake Google server, so these tests cover the path a Cloud Task really takes.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from functions.domain.meetings import ResponseStatus
from functions.domain.prep_state import PrepState
from functions.domain.users import Preferences, QuietHours
from functions.notify import problems
from functions.notify.port import Channel, Notifiers, TransientDeliveryError
from functions.prep.notify_task import PrepJob, deferred_prep_task, run_prep
from functions.prep.queueing import GENERATE_PATH, PREP_PATH, prep_task
from functions.tasks.endpoint import RetryLater
from functions.tasks.port import Task
from tests.support.factories import NOW, USER_ID, MemoryChat, MemoryEmail, make_meeting, make_user
from tests.support.fake_google_apis import (
    CHAT_CREATE,
    CHAT_FIND_DM,
    GMAIL_SEND,
    FakeGoogle,
    fake_google_apis,
)
from tests.support.google_world import World, body, google_world
from tests.support.roots import make_services
from tests.support.threads import run_together


@pytest.fixture
def fake() -> Iterator[FakeGoogle]:
    with fake_google_apis() as server:
        yield server


@pytest.fixture
def world(tmp_path: Path, fake: FakeGoogle) -> Iterator[World]:
    with google_world(tmp_path, fake, [make_meeting()]) as w:
        yield w


# ---------------------------------------------------------------- the happy path, replayed


def test_due_meeting_gets_one_email_and_one_chat_message(world: World) -> None:
    resp = world.run(prep_task(world.meeting()))
    assert resp.status_code == 200
    assert body(resp)["outcome"] == "notified"
    assert body(resp)["channels"] == {"email": "sent", "chat": "sent"}
    assert (world.emails, world.chats) == (1, 1)
    assert world.meeting().prep_state is PrepState.NOTIFIED
    mail = world.fake.sent_mail[0].message
    assert "Weekly 1:1 with Sam" in str(mail["Subject"])
    card = world.fake.chat_posts[0].body["cardsV2"][0]["card"]
    assert any(
        b["text"] == "Generate prep"
        for w in card["sections"][0]["widgets"]
        for b in w.get("buttonList", {}).get("buttons", [])
    )


def test_replays_send_nothing_more(world: World) -> None:
    task = prep_task(world.meeting())
    for _ in range(3):
        assert world.run(task).status_code == 200
    assert (world.emails, world.chats) == (1, 1)


def test_unauthenticated_task_is_refused(world: World) -> None:
    bad = world.services.dev_signer.id_token(
        audience="https://elsewhere.example/tasks", subject="x", email="tasks@local.invalid"
    )
    resp = world.run(prep_task(world.meeting()), token=bad)
    assert resp.status_code == 401
    assert (world.emails, world.chats) == (0, 0)


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"user_id": USER_ID},
        {"user_id": 1, "event_id": "e", "version": "v"},
        {"user_id": USER_ID, "event_id": "evt0001", "version": "v1", "not_before": "yesterday"},
    ],
)
def test_malformed_tasks_are_dropped_not_retried(world: World, payload: dict[str, Any]) -> None:
    task = Task(queue="prep", name="prep-bad", path=PREP_PATH, payload=payload)
    resp = world.run(task)
    assert resp.status_code == 200 and body(resp)["status"] == "dropped"
    assert (world.emails, world.chats) == (0, 0)


# ---------------------------------------------------------------- nothing to do


def test_meeting_moved_after_its_task_was_scheduled(world: World) -> None:
    old_task = prep_task(world.meeting())
    moved = dataclasses.replace(
        world.meeting(),
        start=NOW + timedelta(days=2),
        end=NOW + timedelta(days=2, minutes=30),
        version="v2",
        prep_trigger_at=NOW + timedelta(days=1),
    )
    world.put(moved)
    resp = world.run(old_task)
    assert body(resp)["outcome"] == "stale"
    assert (world.emails, world.chats) == (0, 0)
    assert world.meeting().prep_state is PrepState.SCHEDULED
    # The new version's own task, at its own time, notifies once.
    world.clock.set(NOW + timedelta(days=1))
    assert body(world.run(prep_task(moved)))["outcome"] == "notified"
    assert body(world.run(old_task))["outcome"] == "stale"
    assert (world.emails, world.chats) == (1, 1)


def test_out_of_order_new_version_first_then_old_task(world: World) -> None:
    v1_task = prep_task(world.meeting())
    v2 = dataclasses.replace(world.meeting(), version="v2", title="Moved 1:1")
    world.put(v2)
    assert body(world.run(prep_task(v2)))["outcome"] == "notified"
    assert body(world.run(v1_task))["outcome"] == "stale"
    assert (world.emails, world.chats) == (1, 1)
    assert "Moved 1:1" in str(world.fake.sent_mail[0].message["Subject"])


@pytest.mark.parametrize(
    ("change", "outcome"),
    [
        ({"skip_reason": "cancelled", "prep_state": PrepState.CANCELLED}, "skipped"),
        ({"skip_reason": "declined"}, "skipped"),
        ({"prep_state": PrepState.GENERATING}, "already_handled"),
        ({"prep_state": PrepState.READY, "materials_ref": "m1"}, "already_handled"),
        ({"prep_state": PrepState.NOT_STARTED}, "already_handled"),
    ],
)
def test_nothing_to_send(world: World, change: dict[str, Any], outcome: str) -> None:
    world.put(dataclasses.replace(world.meeting(), **change))
    assert body(world.run(prep_task(world.meeting())))["outcome"] == outcome
    assert (world.emails, world.chats) == (0, 0)


def test_declined_through_the_attendee_list(world: World) -> None:
    me, other = world.meeting().attendees
    declined = dataclasses.replace(me, response_status=ResponseStatus.DECLINED)
    world.put(
        dataclasses.replace(world.meeting(), attendees=(declined, other), skip_reason="declined")
    )
    assert body(world.run(prep_task(world.meeting())))["outcome"] == "skipped"


def test_missing_meeting_user_and_started_meeting(world: World) -> None:
    task = prep_task(world.meeting())
    world.clock.set(world.meeting().start)
    assert body(world.run(task))["outcome"] == "too_late"
    world.services.store.delete_meetings(USER_ID, ["evt0001"])
    assert body(world.run(task))["outcome"] == "missing"
    world.services.store.delete_user_data(USER_ID)
    assert body(world.run(task))["outcome"] == "no_user"
    assert (world.emails, world.chats) == (0, 0)


# ---------------------------------------------------------------- channels and failures


@pytest.mark.parametrize(
    ("email_on", "chat_on", "expected"),
    [(True, False, (1, 0)), (False, True, (0, 1)), (False, False, (0, 0))],
)
def test_channel_choices(
    world: World, email_on: bool, chat_on: bool, expected: tuple[int, int]
) -> None:
    prefs = Preferences(email_enabled=email_on, chat_enabled=chat_on)
    world.services.store.put_user(make_user(preferences=prefs))
    assert world.run(prep_task(world.meeting())).status_code == 200
    assert (world.emails, world.chats) == expected
    assert world.meeting().prep_state is PrepState.NOTIFIED


def test_chat_500_retries_chat_only_and_never_resends_the_email(world: World) -> None:
    world.fake.fail(CHAT_CREATE, 500)
    task = prep_task(world.meeting())
    first = world.run(task)
    assert first.status_code == 503  # the queue retries with backoff
    assert (world.emails, world.chats) == (1, 0)
    second = world.run(task)
    assert second.status_code == 200 and body(second)["channels"] == {
        "email": "already_sent",
        "chat": "sent",
    }
    world.run(task)
    assert (world.emails, world.chats) == (1, 1)


def test_gmail_500_then_ok(world: World) -> None:
    world.fake.fail(GMAIL_SEND, 500)
    task = prep_task(world.meeting())
    assert world.run(task).status_code == 503
    assert world.run(task).status_code == 200
    assert (world.emails, world.chats) == (1, 1)


def test_no_dm_space_is_recorded_and_not_retried(world: World) -> None:
    world.fake.remove_dm(USER_ID)
    task = prep_task(world.meeting())
    resp = world.run(task)
    assert resp.status_code == 200
    assert body(resp)["channels"] == {"email": "sent", "chat": "undeliverable"}
    user = world.services.store.get_user(USER_ID)
    assert user is not None and user.delivery_problem == problems.CHAT_NO_DM
    calls = len(world.fake.calls)
    world.run(task)
    assert len(world.fake.calls) == calls  # nothing retried against Google
    assert (world.emails, world.chats) == (1, 0)


def test_chat_403_and_gmail_403_are_recorded(world: World) -> None:
    world.fake.fail(CHAT_FIND_DM, 403, "forbidden")
    world.fake.fail(GMAIL_SEND, 403, "insufficientPermissions")
    resp = world.run(prep_task(world.meeting()))
    assert resp.status_code == 200
    assert body(resp)["channels"] == {"email": "undeliverable", "chat": "undeliverable"}
    user = world.services.store.get_user(USER_ID)
    # One field holds the latest problem; the Chat one was recorded last.
    assert user is not None and user.delivery_problem == problems.CHAT_FORBIDDEN


# ---------------------------------------------------------------- quiet hours


def test_quiet_hours_defer_to_the_end_of_the_night_across_dst(world: World) -> None:
    # Saturday 2026-03-28 23:00 CET; the clocks go forward at 02:00. The meeting is
    # Sunday 10:00 CEST. The night ends at 07:00 CEST = 05:00 UTC, not 06:00 UTC.
    at = datetime(2026, 3, 28, 22, 0, tzinfo=UTC)
    start = datetime(2026, 3, 29, 8, 0, tzinfo=UTC)
    world.clock.set(at)
    night = Preferences(quiet_hours=QuietHours(time(22, 0), time(7, 0)))
    world.services.store.put_user(make_user(preferences=night))
    meeting = make_meeting(start=start, prep_trigger_at=at)
    world.put(meeting)
    resp = world.run(prep_task(meeting))
    assert body(resp)["outcome"] == "deferred"
    assert (world.emails, world.chats) == (0, 0)
    [deferred] = world.queue.on_path(PREP_PATH)
    assert deferred.schedule_at == datetime(2026, 3, 29, 5, 0, tzinfo=UTC)
    assert deferred.name != prep_task(meeting).name
    # A replay of the original task during the night asks for the very same deferral.
    assert body(world.run(prep_task(meeting)))["created"] is False
    assert len(world.queue.on_path(PREP_PATH)) == 1
    # Delivered early (clock skew), the deferred task retries instead of re-deferring.
    world.clock.set(datetime(2026, 3, 29, 4, 59, tzinfo=UTC))
    assert world.run(deferred).status_code == 503
    world.clock.set(datetime(2026, 3, 29, 5, 0, tzinfo=UTC))
    assert body(world.run(deferred))["outcome"] == "notified"
    assert body(world.run(prep_task(meeting)))["outcome"] == "already_notified"
    assert (world.emails, world.chats) == (1, 1)


def test_quiet_hours_in_autumn_defer_to_07_00_cet(world: World) -> None:
    at = datetime(2026, 10, 24, 21, 0, tzinfo=UTC)  # 23:00 CEST
    world.clock.set(at)
    world.services.store.put_user(
        make_user(preferences=Preferences(quiet_hours=QuietHours(time(22, 0), time(7, 0))))
    )
    meeting = make_meeting(start=datetime(2026, 10, 25, 9, 0, tzinfo=UTC), prep_trigger_at=at)
    world.put(meeting)
    world.run(prep_task(meeting))
    [deferred] = world.queue.on_path(PREP_PATH)
    assert deferred.schedule_at == datetime(2026, 10, 25, 6, 0, tzinfo=UTC)


def test_quiet_until_after_the_start_sends_nothing(world: World) -> None:
    world.clock.set(datetime(2026, 3, 16, 23, 0, tzinfo=UTC))  # 00:00 CET
    world.services.store.put_user(
        make_user(preferences=Preferences(quiet_hours=QuietHours(time(22, 0), time(7, 0))))
    )
    meeting = make_meeting(start=datetime(2026, 3, 17, 5, 0, tzinfo=UTC))  # 06:00 CET
    world.put(meeting)
    assert body(world.run(prep_task(meeting)))["outcome"] == "quiet_until_start"
    assert world.queue.tasks == {} and (world.emails, world.chats) == (0, 0)


def test_deferred_task_name_is_deterministic() -> None:
    job = PrepJob(USER_ID, "evt0001", "v1")
    until = datetime(2026, 3, 29, 5, 0, tzinfo=UTC)
    assert deferred_prep_task(job, until).name == deferred_prep_task(job, until).name
    assert deferred_prep_task(job, until).name != deferred_prep_task(job, until + timedelta(1)).name


# ---------------------------------------------------------------- auto-prep


def test_auto_prep_queues_generation_instead_of_a_button(world: World) -> None:
    prefs = Preferences(auto_prep_types=frozenset({"one_on_one"}))
    world.services.store.put_user(make_user(preferences=prefs))
    resp = world.run(prep_task(world.meeting()))
    assert body(resp)["outcome"] == "auto_prep"
    assert (world.emails, world.chats) == (0, 0)
    assert world.meeting().prep_state is PrepState.GENERATING
    [gen] = world.queue.on_path(GENERATE_PATH)
    assert gen.payload == {"user_id": USER_ID, "event_id": "evt0001", "version": "v1"}
    world.run(prep_task(world.meeting()))
    assert len(world.queue.on_path(GENERATE_PATH)) == 1


def test_auto_prep_is_per_meeting_type(world: World) -> None:
    prefs = Preferences(auto_prep_types=frozenset({"qbr"}))
    world.services.store.put_user(make_user(preferences=prefs))
    assert body(world.run(prep_task(world.meeting())))["outcome"] == "notified"


# ---------------------------------------------------------------- concurrent duplicates


def test_concurrent_duplicates_send_once(tmp_path: Path) -> None:
    email, chat = MemoryEmail(), MemoryChat()
    services = make_services(tmp_path, notifiers=Notifiers(email=email, chat=chat))
    services.store.put_user(make_user())
    meeting = make_meeting()
    services.store.upsert_meetings([meeting])
    gate = threading.Barrier(4)
    email.before_send = chat.before_send = lambda: time_sleep(0.02)
    results: list[object] = []

    def worker() -> None:
        gate.wait()
        try:
            results.append(run_prep(services, PrepJob(USER_ID, "evt0001", "v1")))
        except RetryLater as exc:
            results.append(exc)

    run_together([worker] * 4, timeout=10)
    assert len(results) == 4
    assert (len(email.sent), len(chat.sent)) == (1, 1)


def test_a_duplicate_that_loses_the_claim_does_not_lose_the_message(tmp_path: Path) -> None:
    """A fails Chat transiently while B, a duplicate, finds Chat claimed: B is told to
    come back instead of finishing, and A's retry still sends (state stays resumable
    at `notified`)."""
    email, chat = MemoryEmail(), MemoryChat()
    services = make_services(tmp_path, notifiers=Notifiers(email=email, chat=chat))
    services.store.put_user(make_user())
    services.store.upsert_meetings([make_meeting()])
    job = PrepJob(USER_ID, "evt0001", "v1")
    in_chat = threading.Event()
    release = threading.Event()

    def slow_failure() -> None:
        if not in_chat.is_set():
            in_chat.set()
            release.wait(5)
            raise TransientDeliveryError(Channel.CHAT, "http 500")

    chat.before_send = slow_failure
    outcome: list[object] = []

    def task_a() -> None:
        try:
            outcome.append(run_prep(services, job))
        except RetryLater as exc:
            outcome.append(exc)

    a = threading.Thread(target=task_a)
    a.start()
    assert in_chat.wait(5)
    # B: the email claim is final, the Chat one is in flight: B sends nothing and
    # asks to be retried, because A's send may still fail.
    with pytest.raises(RetryLater):
        run_prep(services, job)
    release.set()
    a.join(5)
    assert isinstance(outcome[0], RetryLater)
    assert chat.sent == []
    assert run_prep(services, job)["channels"]["chat"] == "sent"  # A's retry
    assert run_prep(services, job)["channels"] == {  # B's retry
        "email": "already_sent",
        "chat": "already_sent",
    }
    assert (len(email.sent), len(chat.sent)) == (1, 1)


def time_sleep(seconds: float) -> None:
    threading.Event().wait(seconds)


def test_new_lead_time_after_queueing_moves_the_reminder(world: World) -> None:
    """A type or settings change moves the trigger without a calendar change."""
    m = world.meeting()
    assert m.prep_trigger_at is not None
    old_task = prep_task(m)
    later = dataclasses.replace(m, prep_trigger_at=m.prep_trigger_at + timedelta(hours=3))
    world.put(later)
    world.clock.set(m.prep_trigger_at)
    resp = world.run(old_task)
    assert body(resp)["outcome"] == "rescheduled"
    assert (world.emails, world.chats) == (0, 0)
    new_task = prep_task(later)
    assert new_task.name != old_task.name
    assert new_task.name in world.queue.tasks
    assert world.queue.tasks[new_task.name].schedule_at == later.prep_trigger_at
    world.clock.set(later.prep_trigger_at)  # type: ignore[arg-type]
    assert body(world.run(new_task))["outcome"] == "notified"
    assert body(world.run(old_task))["outcome"] == "already_notified"
    assert (world.emails, world.chats) == (1, 1)
