"""Scheduler fan-out, push channels and the webhook: repeats never double the work."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Request
from werkzeug.test import EnvironBuilder

from functions.bootstrap import get_services, set_services
from functions.domain.users import ConnectionState, User
from functions.sync import handlers
from functions.sync.channels import channel_token, stop_all, verify_channel_token
from functions.sync.handlers import handle_fanout, handle_sync
from functions.sync.routes import task_routes, webhook_routes
from functions.sync.tasks import FANOUT_PATH, SYNC_PATH
from tests.sync.conftest import NOW, WEBHOOK_URL, World, call, seed, task_request

ALICE = "alice@example.com"


def add_users(world: World, count: int) -> None:
    for i in range(count):
        world.db.put_user(
            User(f"user-{i:04d}", f"u{i}@example.com", connection=ConnectionState.CONNECTED)
        )
    world.db.put_user(User("gone", "gone@example.com", connection=ConnectionState.NOT_CONNECTED))


def test_fanout_creates_one_task_per_connected_user(world: World) -> None:
    add_users(world, 1203)
    result = handle_fanout(world.services, {})
    assert result["users"] == 1203 and result["created"] == 1203
    syncs = world.queue.on_path(SYNC_PATH)
    assert sorted(t.payload["user_id"] for t in syncs) == [f"user-{i:04d}" for i in range(1203)]


def test_repeated_scheduler_calls_in_one_slot_do_no_double_work(world: World) -> None:
    add_users(world, 40)
    endpoint = task_routes(get_services())[FANOUT_PATH]
    first = call(endpoint, task_request(world.services, FANOUT_PATH, {}))
    world.clock.advance(timedelta(minutes=5))  # same 15-minute slot
    second = call(endpoint, task_request(world.services, FANOUT_PATH, {}))
    assert first.status_code == second.status_code == 200
    assert first.get_json()["created"] == 40
    assert second.get_json()["created"] == 0 and second.get_json()["existing"] == 40
    assert len(world.queue.on_path(SYNC_PATH)) == 40
    world.clock.advance(timedelta(minutes=15))  # the next slot is new work
    assert handle_fanout(world.services, {})["created"] == 40


def test_fanout_hands_the_rest_to_a_continuation_past_its_budget(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_users(world, 25)
    monkeypatch.setattr(handlers, "FANOUT_PAGE", 10)
    monkeypatch.setattr(handlers, "FANOUT_BUDGET", 10)
    first = handle_fanout(world.services, {})
    assert first["continued"] is True and first["users"] == 10
    (cont,) = world.queue.on_path(FANOUT_PATH)
    assert cont.payload["slot"] == first["slot"]
    # The continuation keeps the original slot even when it runs in the next one.
    world.clock.advance(timedelta(minutes=20))
    second = handle_fanout(world.services, cont.payload)
    third = handle_fanout(world.services, world.queue.on_path(FANOUT_PATH)[-1].payload)
    assert second["users"] + third["users"] == 15 and third["continued"] is False
    assert len(world.queue.on_path(SYNC_PATH)) == 25


def test_fanout_queue_failure_is_retried_without_double_work(world: World) -> None:
    add_users(world, 30)
    world.queue.fail_next = 1
    endpoint = task_routes(get_services())[FANOUT_PATH]
    assert call(endpoint, task_request(world.services, FANOUT_PATH, {})).status_code == 503
    retry = call(endpoint, task_request(world.services, FANOUT_PATH, {}))
    assert retry.status_code == 200
    assert len(world.queue.on_path(SYNC_PATH)) == 30


def test_fanout_rejects_a_malformed_slot(world: World) -> None:
    endpoint = task_routes(get_services())[FANOUT_PATH]
    response = call(endpoint, task_request(world.services, FANOUT_PATH, {"slot": "soon"}))
    assert response.status_code == 200 and response.get_json()["status"] == "dropped"


# ---------------------------------------------------------------- channels


def test_first_sync_opens_a_push_channel_with_a_verifiable_token(world: World) -> None:
    world.add_user("alice", ALICE)
    handle_sync(world.services, {"user_id": "alice"})
    state = world.db.get_sync_state("alice", "primary")
    assert state is not None and state.channel_id and state.channel_resource_id
    channel = world.fake.channels[state.channel_id]
    assert channel.address == WEBHOOK_URL
    assert state.channel_expires_at == NOW + timedelta(days=7)
    assert channel.token is not None
    secret = b"test-webhook-secret"
    assert verify_channel_token(secret, state.channel_id, channel.token) == ("alice", "primary")
    assert verify_channel_token(b"other-secret", state.channel_id, channel.token) is None
    assert verify_channel_token(secret, "another-channel", channel.token) is None
    # A channel in good health is left alone by later syncs.
    world.fake.reset_calls()
    handle_sync(world.services, {"user_id": "alice"})
    assert world.fake.count("events.watch") == 0


def test_channel_is_renewed_before_expiry_and_the_old_one_stopped(world: World) -> None:
    world.add_user("alice", ALICE)
    handle_sync(world.services, {"user_id": "alice"})
    old = world.db.get_sync_state("alice", "primary")
    assert old is not None and old.channel_id
    world.clock.advance(timedelta(days=6, hours=23))
    world.fake.now = world.clock.now()
    handle_sync(world.services, {"user_id": "alice"})
    new = world.db.get_sync_state("alice", "primary")
    assert new is not None and new.channel_id not in (None, old.channel_id)
    assert set(world.fake.channels) == {new.channel_id}
    assert [c.channel_id for c in world.fake.stopped_channels] == [old.channel_id]


def test_channel_trouble_does_not_fail_the_sync(world: World) -> None:
    world.add_user("alice", ALICE)
    seed(world.fake, ALICE, 2)
    world.fake.fail("events.watch", 500)
    result = handle_sync(world.services, {"user_id": "alice"})
    assert result["sync"] == "done" and result["written"] == 2
    state = world.db.get_sync_state("alice", "primary")
    assert state is not None and state.channel_id is None
    handle_sync(world.services, {"user_id": "alice"})  # the next sync opens it
    assert world.fake.channels


def test_no_channels_without_an_https_webhook(world: World) -> None:
    import dataclasses

    services = world.services.replaced(
        settings=dataclasses.replace(
            world.services.settings, webhook_url="http://127.0.0.1:8080/calendar/webhook"
        )
    )
    world.add_user("alice", ALICE)
    handle_sync(services, {"user_id": "alice"})
    assert world.fake.count("events.watch") == 0


def test_stop_all_stops_and_forgets_the_users_channels(world: World) -> None:
    world.add_user("alice", ALICE)
    handle_sync(world.services, {"user_id": "alice"})
    assert stop_all(world.services, "alice") == 1
    assert world.fake.channels == {}
    state = world.db.get_sync_state("alice", "primary")
    assert state is not None and state.channel_id is None and state.sync_token
    assert stop_all(world.services, "alice") == 0  # idempotent


def test_stop_all_without_credentials_only_forgets(world: World) -> None:
    world.add_user("alice", ALICE)
    handle_sync(world.services, {"user_id": "alice"})
    world.provider.reconnect.add("alice")
    assert stop_all(world.services, "alice") == 0
    state = world.db.get_sync_state("alice", "primary")
    assert state is not None and state.channel_id is None


# ---------------------------------------------------------------- webhook


def ping(world: World, headers: dict[str, str]) -> tuple[int, dict[str, object]]:
    request = Request(
        EnvironBuilder(
            path="/calendar/webhook", method="POST", headers=list(headers.items())
        ).get_environ()
    )
    response = call(webhook_routes(get_services())["/calendar/webhook"], request)
    return response.status_code, response.get_json()


@pytest.fixture
def channel_id(world: World) -> str:
    world.add_user("alice", ALICE)
    handle_sync(world.services, {"user_id": "alice"})
    state = world.db.get_sync_state("alice", "primary")
    assert state is not None and state.channel_id
    return state.channel_id


def test_duplicate_pings_queue_one_sync_at_the_window_end(world: World, channel_id: str) -> None:
    before = len(world.queue.on_path(SYNC_PATH))
    for _ in range(3):
        status, body = ping(world, world.fake.notification_headers(channel_id))
        assert (status, body) == (200, {"status": "ok"})
        world.clock.advance(timedelta(seconds=5))
    syncs = world.queue.on_path(SYNC_PATH)[before:]
    assert len(syncs) == 1
    assert syncs[0].payload == {"user_id": "alice", "calendar_id": "primary"}
    assert syncs[0].schedule_at == NOW + timedelta(seconds=30)
    world.clock.advance(timedelta(seconds=30))  # a later change is a later sync
    ping(world, world.fake.notification_headers(channel_id))
    assert len(world.queue.on_path(SYNC_PATH)) == before + 2


def test_sync_message_is_only_acknowledged(world: World, channel_id: str) -> None:
    before = len(world.queue.tasks)
    status, _ = ping(world, world.fake.notification_headers(channel_id, state="sync"))
    assert status == 200 and len(world.queue.tasks) == before


def test_forged_and_stale_pings_are_refused_without_detail(
    world: World, channel_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    before = len(world.queue.tasks)
    headers = world.fake.notification_headers(channel_id)
    forged = {**headers, "X-Goog-Channel-Token": "v1.W10.deadbeef"}
    assert ping(world, forged) == (
        401,
        {"error": "unauthenticated", "message": "caller is not allowed"},
    )
    assert ping(world, {**headers, "X-Goog-Channel-Token": ""})[0] == 401
    other = {**headers, "X-Goog-Channel-ID": "someone-elses-channel"}
    assert ping(world, other)[0] == 401  # the token is bound to its channel id
    # A validly signed token for a channel the user no longer has: 404.
    stale_id = "0" * 32
    stale = channel_token(b"test-webhook-secret", stale_id, "alice", "primary")
    assert (
        ping(world, {**headers, "X-Goog-Channel-ID": stale_id, "X-Goog-Channel-Token": stale})[0]
        == 404
    )
    assert ping(world, {"X-Goog-Resource-State": "exists"})[0] == 400
    assert len(world.queue.tasks) == before
    logged = " ".join(str(vars(r)) for r in caplog.records)
    assert "webhook rejected" in logged
    assert headers["X-Goog-Channel-Token"] not in logged and channel_id not in logged


def test_pings_for_a_stopped_channel_are_refused(world: World, channel_id: str) -> None:
    headers = world.fake.notification_headers(channel_id)
    stop_all(world.services, "alice")
    assert ping(world, headers)[0] == 404


def test_a_ping_leads_to_an_incremental_sync_that_sees_the_change(
    world: World, channel_id: str
) -> None:
    world.fake.put_event(
        ALICE,
        {
            "id": "new1",
            "summary": "Sam / Alice 1:1",
            "start": {"dateTime": (NOW + timedelta(hours=4)).isoformat()},
            "end": {"dateTime": (NOW + timedelta(hours=5)).isoformat()},
            "attendees": [{"email": ALICE}, {"email": "sam@example.com"}],
        },
    )
    ping(world, world.fake.notification_headers(channel_id))
    (task,) = [t for t in world.queue.on_path(SYNC_PATH) if t.schedule_at is not None]
    world.fake.reset_calls()
    result = handle_sync(world.services, task.payload)
    assert result["full"] is False and result["events"] == 1
    assert world.fake.count("events.list") == 1
    assert world.db.get_meeting("alice", "new1") is not None


# ---------------------------------------------------------------- through the local task queue


def test_scheduler_and_pings_through_the_local_queue_do_each_sync_once(world: World) -> None:
    """The local Cloud Tasks adapter delivers to the real routes, OIDC and all."""
    from functions import bootstrap
    from functions.tasks.local_queue import LocalTaskQueue, in_process

    settings = world.services.settings
    signer = world.services.dev_signer
    queue = LocalTaskQueue(
        in_process(lambda: bootstrap.task_routes(bootstrap.get_services())),
        clock=world.clock,
        token_source=lambda: signer.id_token(
            audience=settings.tasks_audience, subject="tasks", email=settings.tasks_sa_email
        ),
    )
    world.services = world.services.replaced(tasks=queue)
    set_services(world.services)
    for uid, email in (("alice", ALICE), ("bob", "bob@example.com")):
        world.add_user(uid, email)
        seed(world.fake, email, 3, start=NOW + timedelta(days=5))  # no prep due yet

    handle_fanout(world.services, {})
    handle_fanout(world.services, {})  # the scheduler fired twice
    assert queue.run_due() == 2
    assert all(a.succeeded for a in queue.attempts())
    assert world.fake.count("events.list") == 2
    assert {c.owner for c in world.fake.calls if c.method == "events.list"} == {
        ALICE,
        "bob@example.com",
    }
    state = world.db.get_sync_state("alice", "primary")
    assert state is not None and state.channel_id
    assert len(world.db.get_meetings("alice", ["ev00000", "ev00001", "ev00002"])) == 3

    for _ in range(3):  # one change, three pings
        assert ping(world, world.fake.notification_headers(state.channel_id))[0] == 200
    assert queue.run_due() == 0  # held until the window closes
    world.clock.advance(timedelta(seconds=30))
    world.fake.now = world.clock.now()
    assert queue.run_due() == 1
    assert world.fake.count("events.list") == 3
    handle_fanout(world.services, {})  # same slot again: still nothing new
    assert queue.run_due() == 0
