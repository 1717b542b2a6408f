"""Messages that stay true: a reminder that went out is corrected when its meeting changes.

End to end through the production clients: the sync lists the fake Calendar
API, the tasks it queues are POSTed to the deployed routing table with an
OIDC token, and Gmail and Chat are the fake Google server (which enforces
spaces.messages.patch as documented). Cloud Tasks deliver at least once, so
every task here is also delivered twice, and concurrently.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import time, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from flask import Response
from google.oauth2.credentials import Credentials

from functions import bootstrap
from functions.bootstrap import Bootstrap, set_services
from functions.config import Mode, Settings
from functions.domain.clock import FixedClock
from functions.domain.sent_messages import CANCELLED, DECLINED
from functions.domain.users import ConnectionState, QuietHours, User
from functions.notify.corrections import CORRECT_PATH
from functions.notify.gmail import GmailSender
from functions.notify.google_chat import ChatAppSender
from functions.notify.port import Notifiers
from functions.prep.queueing import PREP_PATH
from functions.store.sqlite import SqliteStore
from functions.sync.handlers import handle_sync
from functions.tasks.port import Task
from functions.web import dispatch
from tests.support.fake_calendar import FakeCalendar, fake_calendar, timed_event
from tests.support.fake_credentials import FakeProvider
from tests.support.fake_google_apis import CHAT_PATCH, FakeGoogle, fake_google_apis
from tests.support.recording_queue import RecordingQueue
from tests.support.threads import run_together
from tests.sync.conftest import NOW, task_request

ALICE = "alice@example.com"
SAM = "sam@example.com"
EVENT = "ev00001"
START = NOW + timedelta(hours=3)


@dataclass
class World:
    calendar: FakeCalendar
    google: FakeGoogle
    services: Bootstrap
    queue: RecordingQueue
    done: set[str]

    def sync(self) -> dict[str, Any]:
        return dict(handle_sync(self.services, {"user_id": "alice"}))

    def deliver(self, task: Task) -> Response:
        request = task_request(self.services, task.path, dict(task.payload))
        response: Response = dispatch(bootstrap.task_routes(self.services), request)
        return response

    def run_new(self, path: str) -> list[dict[str, Any]]:
        """Deliver each task on `path` not delivered yet, twice (at-least-once delivery)."""
        results = []
        for task in self.queue.on_path(path):
            if task.name in self.done:
                continue
            self.done.add(task.name)
            first = self.deliver(task)
            second = self.deliver(task)
            assert first.status_code == 200 and second.status_code == 200
            body = dict(first.get_json())
            body.pop("status", None)
            results.append(body)
        return results

    def put(self, start: Any = START, response: str = "accepted", **extra: Any) -> None:
        event = timed_event(EVENT, start, summary="1:1 with Sam", attendees=(ALICE, SAM), **extra)
        for a in event["attendees"]:
            if a["email"] == ALICE:
                a["self"] = True
                a["responseStatus"] = response
        self.calendar.put_event(ALICE, event)

    @property
    def chat_body(self) -> dict[str, Any]:
        [post] = self.google.chat_posts
        return post.body

    @property
    def mails(self) -> list[Any]:
        return [m.message for m in self.google.sent_mail]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with fake_calendar() as calendar, fake_google_apis() as google:
        calendar.now = NOW
        clock = FixedClock(NOW)
        settings = Settings(
            mode=Mode.LOCAL,
            sqlite_path=tmp_path / "prep.db",
            dev_key_path=tmp_path / "dev-key.pem",
            calendar_api_endpoint=calendar.api_endpoint,
        )
        store = SqliteStore(settings.sqlite_path)
        queue = RecordingQueue(clock)
        provider = FakeProvider(calendar)
        provider.grants["alice"] = calendar.add_user(ALICE)
        notifiers = Notifiers(
            email=GmailSender(
                lambda uid: Credentials(token=f"user-{uid}"), api_endpoint=google.url
            ),
            chat=ChatAppSender(lambda: Credentials(token="app"), api_endpoint=google.url),
        )
        services = Bootstrap(
            settings,
            clock=clock,
            store=store,
            tasks=queue,
            notifiers=notifiers,
            credentials=cast("Any", provider),
        )
        store.put_user(User(user_id="alice", email=ALICE, connection=ConnectionState.CONNECTED))
        google.add_dm("alice")
        set_services(services)
        w = World(calendar, google, services, queue, set())
        try:
            w.put()
            w.sync()
            [notified] = w.run_new(PREP_PATH)
            assert notified["outcome"] == "notified"
            assert (len(w.google.chat_posts), len(w.mails)) == (1, 1)
            yield w
        finally:
            set_services(None)
            store.close()


def widget_texts(body: dict[str, Any]) -> str:
    card = body["cardsV2"][0]["card"]
    return " ".join(
        w["textParagraph"]["text"]
        for s in card["sections"]
        for w in s["widgets"]
        if "textParagraph" in w
    )


def buttons(body: dict[str, Any]) -> list[str]:
    card = body["cardsV2"][0]["card"]
    return [
        b["text"]
        for s in card["sections"]
        for w in s["widgets"]
        for b in w.get("buttonList", {}).get("buttons", [])
    ]


def test_a_moved_meeting_updates_the_chat_message_in_place_and_emails_once(world: World) -> None:
    world.put(START + timedelta(days=2))
    assert world.sync()["sync"] == "done"
    [result] = world.run_new(CORRECT_PATH)
    assert result == {"outcome": "corrected", "chat": 1, "email": 1}
    # The one message we sent now says so; no second Chat message was posted.
    assert len(world.google.chat_posts) == 1
    assert world.chat_body["text"].startswith("Update: your 1:1 moved from")
    assert "moved from" in widget_texts(world.chat_body)
    # Its Generate prep button carries the meeting's new version.
    button = next(
        b
        for s in world.chat_body["cardsV2"][0]["card"]["sections"]
        for w in s["widgets"]
        for b in w.get("buttonList", {}).get("buttons", [])
        if b["text"] == "Generate prep"
    )
    params = {p["key"]: p["value"] for p in button["onClick"]["action"]["parameters"]}
    stored = world.services.store.get_meeting("alice", EVENT)
    assert stored is not None and params["version"] == stored.version
    [update] = world.google.chat_updates
    assert update.update_mask == "text,cardsV2"
    assert len(world.mails) == 2
    correction = world.mails[1]
    assert str(correction["Subject"]).startswith("Moved: 1:1 with Sam")
    assert correction["In-Reply-To"] == world.mails[0]["Message-ID"]


def test_a_repeated_sync_and_a_retried_task_correct_exactly_once(world: World) -> None:
    world.put(START + timedelta(days=2))
    world.sync()
    world.sync()  # nothing new listed: no second task
    tasks = world.queue.on_path(CORRECT_PATH)
    assert len(tasks) == 1
    for _ in range(3):
        assert world.deliver(tasks[0]).status_code == 200
    assert len(world.google.chat_updates) == 1
    assert len(world.mails) == 2


def test_concurrent_deliveries_of_the_correction_send_one_email(world: World) -> None:
    world.put(START + timedelta(days=2))
    world.sync()
    [task] = world.queue.on_path(CORRECT_PATH)
    codes: list[int] = []
    run_together([lambda: codes.append(world.deliver(task).status_code)] * 4)
    assert codes == [200] * 4
    assert len(world.mails) == 2
    assert world.chat_body["text"].startswith("Update: your 1:1 moved from")


def test_a_cancelled_meeting_is_marked_in_chat_and_emailed(world: World) -> None:
    world.calendar.delete_event(ALICE, EVENT)
    world.sync()
    [result] = world.run_new(CORRECT_PATH)
    assert result["chat"] == 1 and result["email"] == 1
    assert "was cancelled" in world.chat_body["text"]
    assert buttons(world.chat_body) == ["Open in Calendar"]
    assert str(world.mails[1]["Subject"]).startswith("Cancelled: 1:1 with Sam")
    [sent] = [s for s in world.services.store.sent_messages("alice", EVENT) if s.channel == "chat"]
    assert sent.shows == CANCELLED


def test_a_declined_meeting_is_marked_in_chat_without_an_email(world: World) -> None:
    world.put(START, response="declined")
    world.sync()
    [result] = world.run_new(CORRECT_PATH)
    assert result == {"outcome": "corrected", "chat": 1, "email": 0}
    assert "You declined the 1:1" in world.chat_body["text"]
    assert buttons(world.chat_body) == ["Open in Calendar"]
    assert len(world.mails) == 1
    shows = {s.channel: s.shows for s in world.services.store.sent_messages("alice", EVENT)}
    assert shows["chat"] == DECLINED and shows["email"] != DECLINED


def test_a_small_move_updates_chat_but_sends_no_email(world: World) -> None:
    world.put(START + timedelta(hours=1))
    world.sync()
    [result] = world.run_new(CORRECT_PATH)
    assert result == {"outcome": "corrected", "chat": 1, "email": 0}
    assert len(world.mails) == 1
    assert "moved from" in world.chat_body["text"]


def test_small_moves_add_up_against_what_the_email_said(world: World) -> None:
    """The email keeps the start it announced, so two moves of 20 h make one of 40 h."""
    world.put(START + timedelta(hours=20))
    world.sync()
    world.run_new(CORRECT_PATH)
    assert len(world.mails) == 1
    world.put(START + timedelta(hours=40))
    world.sync()
    world.run_new(CORRECT_PATH)
    assert len(world.mails) == 2
    assert len(world.google.chat_updates) == 2


def test_a_description_change_corrects_nothing(world: World) -> None:
    world.put(START, description="New agenda")
    world.sync()
    assert world.queue.on_path(CORRECT_PATH) == []
    assert world.google.chat_updates == []


def test_a_transient_chat_failure_retries_and_the_email_is_not_resent(world: World) -> None:
    world.put(START + timedelta(days=2))
    world.sync()
    [task] = world.queue.on_path(CORRECT_PATH)
    world.google.fail(CHAT_PATCH, 503)
    assert world.deliver(task).status_code == 503
    assert len(world.mails) == 2
    assert world.deliver(task).status_code == 200
    assert len(world.google.chat_updates) == 1
    assert len(world.mails) == 2


def test_a_deleted_chat_message_is_left_gone(world: World) -> None:
    world.google.delete_chat_message(world.google.chat_posts[0].name)
    world.put(START + timedelta(hours=1))
    world.sync()
    [result] = world.run_new(CORRECT_PATH)
    assert result["outcome"] == "corrected"
    assert world.google.chat_posts == [] and world.google.chat_updates == []


def test_a_meeting_nobody_was_told_about_queues_no_correction(world: World) -> None:
    later = NOW + timedelta(days=5)
    event = timed_event("ev00002", later, summary="1:1 with Sam", attendees=(ALICE, SAM))
    world.calendar.put_event(ALICE, event)
    world.sync()
    world.calendar.put_event(ALICE, {**event, **timed_event("ev00002", later + timedelta(days=1))})
    world.calendar.delete_event(ALICE, "ev00002")
    assert world.sync()["sync"] == "done"
    assert world.queue.on_path(CORRECT_PATH) == []


def test_an_email_correction_waits_for_the_end_of_quiet_hours(world: World) -> None:
    """Chat is patched at once (an edit notifies nobody); the email goes out once the
    quiet window ends, exactly once however often the deferred task is delivered."""
    store = world.services.store
    user = store.get_user("alice")
    assert user is not None
    quiet = QuietHours(start=time(13, 0), end=time(15, 0))  # NOW is 14:00 UTC
    store.put_user(
        dataclasses.replace(
            user, preferences=dataclasses.replace(user.preferences, quiet_hours=quiet)
        )
    )
    world.calendar.delete_event(ALICE, EVENT)
    world.sync()
    [result] = world.run_new(CORRECT_PATH)
    assert result["chat"] == 1 and result["email"] == 0
    assert "was cancelled" in world.chat_body["text"]
    assert len(world.mails) == 1  # nothing mailed inside quiet hours
    [later] = [t for t in world.queue.on_path(CORRECT_PATH) if t.name not in world.done]
    assert later.schedule_at == NOW.replace(hour=15)
    assert world.deliver(later).status_code == 503  # delivered early: not yet
    assert len(world.mails) == 1
    world.services.clock.set(NOW.replace(hour=15))  # type: ignore[attr-defined]
    [result] = world.run_new(CORRECT_PATH)
    assert result == {"outcome": "corrected", "chat": 0, "email": 1}
    assert len(world.mails) == 2
    assert str(world.mails[1]["Subject"]).startswith("Cancelled: 1:1 with Sam")
    assert len(world.google.chat_updates) == 1


def test_a_meeting_moved_back_and_forth_gets_each_email_correction(world: World) -> None:
    """Moved to Thursday, back, then to Thursday again: the third correction is owed too
    (the user was last told "back on Tuesday"), and each is still sent once."""
    subjects = []
    for start in (START + timedelta(days=2), START, START + timedelta(days=2)):
        world.put(start)
        world.sync()
        [result] = world.run_new(CORRECT_PATH)
        assert result["email"] == 1
        subjects.append(str(world.mails[-1]["Subject"]))
    assert len(world.mails) == 4
    assert all(s.startswith("Moved: 1:1 with Sam") for s in subjects)
    records = world.services.store.sent_messages("alice", EVENT)
    [email] = [s for s in records if s.channel == "email"]
    assert email.start == START + timedelta(days=2)
