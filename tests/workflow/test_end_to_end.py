"""The prep workflow end to end: .ics -> sync -> prep tasks at trigger time -> Gmail and
Chat -> the Generate prep button -> generation queued. Every task is replayed twice and
every message still goes out exactly once.

Nothing is stubbed between the pieces: the sync engineer's local path imports the
calendar and schedules prep tasks on the local Cloud Tasks stand-in, which delivers
them (signed OIDC and all) through the app's own routes under a controllable clock.
Delivery runs twice: on the embedded default's outbox (what `make run` shows), and
on the production Gmail and Chat adapters against the fake Google server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import flask
import pytest
from google.apps.card_v1 import Card
from google.oauth2.credentials import Credentials

from functions import bootstrap
from functions.bootstrap import Bootstrap, set_services
from functions.chat.auth import CHAT_ISSUER
from functions.domain.clock import FixedClock
from functions.domain.prep_state import PrepState
from functions.domain.users import ConnectionState, User
from functions.followup.scheduling import FOLLOWUP_PATH
from functions.notify.gmail import GmailSender
from functions.notify.google_chat import ChatAppSender
from functions.notify.outbox_page import outbox_of
from functions.notify.port import Channel, Notifiers
from functions.prep.queueing import GENERATE_PATH, PREP_PATH
from functions.sync.local import LOCAL_USER_ID, sync_local
from functions.tasks.local_queue import LocalTaskQueue
from functions.tasks.port import Task
from functions.web import dispatch
from tests.support.fake_google_apis import FakeGoogle, fake_google_apis
from tests.support.roots import make_services
from tests.support.task_delivery import cloud_tasks_token

#: Monday 2026-03-16, 09:00 in Berlin.
NOW = datetime(2026, 3, 16, 8, 0, tzinfo=UTC)
ME = "you@example.com"

ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//meeting-prep//e2e//EN
BEGIN:VEVENT
UID:e2e-one-on-one@example.com
DTSTAMP:20260301T120000Z
DTSTART;TZID=Europe/Berlin:20260316T150000
DTEND;TZID=Europe/Berlin:20260316T153000
SUMMARY:1:1 Sam / You <b>agenda</b>
ORGANIZER;CN=You:mailto:you@example.com
ATTENDEE;CN=Yöu;PARTSTAT=ACCEPTED:mailto:you@example.com
ATTENDEE;CN=Sam Ortiz;PARTSTAT=ACCEPTED:mailto:sam@example.com
END:VEVENT
BEGIN:VEVENT
UID:e2e-review@example.com
DTSTAMP:20260301T120000Z
DTSTART;TZID=Europe/Berlin:20260318T100000
DTEND;TZID=Europe/Berlin:20260318T110000
SUMMARY:Project review
ORGANIZER;CN=Dana:mailto:dana@example.com
ATTENDEE;CN=Dana;PARTSTAT=ACCEPTED:mailto:dana@example.com
ATTENDEE;CN=You;PARTSTAT=ACCEPTED:mailto:you@example.com
END:VEVENT
BEGIN:VEVENT
UID:e2e-declined@example.com
DTSTAMP:20260301T120000Z
DTSTART;TZID=Europe/Berlin:20260316T170000
DTEND;TZID=Europe/Berlin:20260316T173000
SUMMARY:1:1 I declined
ORGANIZER;CN=Lee:mailto:lee@example.com
ATTENDEE;CN=Lee;PARTSTAT=ACCEPTED:mailto:lee@example.com
ATTENDEE;CN=You;PARTSTAT=DECLINED:mailto:you@example.com
END:VEVENT
BEGIN:VEVENT
UID:e2e-cancelled@example.com
DTSTAMP:20260301T120000Z
DTSTART;TZID=Europe/Berlin:20260317T120000
DTEND;TZID=Europe/Berlin:20260317T123000
STATUS:CANCELLED
SUMMARY:Cancelled sync
ORGANIZER;CN=You:mailto:you@example.com
ATTENDEE;CN=You;PARTSTAT=ACCEPTED:mailto:you@example.com
ATTENDEE;CN=Ann;PARTSTAT=ACCEPTED:mailto:ann@example.com
END:VEVENT
BEGIN:VEVENT
UID:e2e-later@example.com
DTSTAMP:20260301T120000Z
DTSTART;TZID=Europe/Berlin:20260330T100000
DTEND;TZID=Europe/Berlin:20260330T103000
SUMMARY:1:1 in two weeks
ORGANIZER;CN=You:mailto:you@example.com
ATTENDEE;CN=You;PARTSTAT=ACCEPTED:mailto:you@example.com
ATTENDEE;CN=Kim;PARTSTAT=ACCEPTED:mailto:kim@example.com
END:VEVENT
END:VCALENDAR
"""


@dataclass
class App:
    services: Bootstrap
    queue: LocalTaskQueue
    clock: FixedClock
    ics: Path
    fake: FakeGoogle | None

    # ---- what the user received, per meeting title
    def emails(self) -> list[str]:
        if self.fake is not None:
            return [str(m.message["Subject"]) for m in self.fake.sent_mail]
        outbox = outbox_of(self.services)
        assert outbox is not None
        return [e.subject for e in reversed(outbox.entries(channel=Channel.EMAIL))]

    def chat_messages(self) -> list[dict[str, Any]]:
        if self.fake is not None:
            return [p.body for p in self.fake.chat_posts]
        outbox = outbox_of(self.services)
        assert outbox is not None
        return [dict(e.chat_message) for e in reversed(outbox.entries(channel=Channel.CHAT))]

    def counts(self) -> tuple[int, int]:
        return len(self.emails()), len(self.chat_messages())

    # ---- driving it
    def post(self, path: str, body: Any, bearer: str) -> flask.Response:
        app = flask.Flask(__name__)
        with app.test_request_context(
            path,
            method="POST",
            data=json.dumps(body),
            headers={"Authorization": f"Bearer {bearer}", "Content-Type": "application/json"},
        ):
            return dispatch(bootstrap.local_routes(bootstrap.get_services()), flask.request)

    def replay(self, task: Task) -> flask.Response:
        """Cloud Tasks delivering `task` once more (at-least-once), straight to the app."""
        return self.post(task.path, dict(task.payload), cloud_tasks_token(self.services))

    def click(self, message: dict[str, Any]) -> flask.Response:
        """The user clicks Generate prep on `message`: Chat POSTs a CARD_CLICKED event."""
        card = message["cardsV2"][0]["card"]
        action = next(
            b["onClick"]["action"]
            for w in card["sections"][0]["widgets"]
            for b in w.get("buttonList", {}).get("buttons", [])
            if "action" in b["onClick"]
        )
        params = {p["key"]: p["value"] for p in action["parameters"]}
        event = {
            "type": "CARD_CLICKED",
            "space": {"name": f"spaces/dm-{LOCAL_USER_ID}", "type": "DM"},
            "user": {"name": f"users/{LOCAL_USER_ID}", "type": "HUMAN"},
            "action": {"actionMethodName": action["function"], "parameters": action["parameters"]},
            "common": {"invokedFunction": action["function"], "parameters": params},
        }
        token = self.services.dev_signer.id_token(
            audience=self.services.settings.notify.chat_audience, subject="chat", email=CHAT_ISSUER
        )
        return self.post("/chat", event, token)

    def meeting_state(self, title: str) -> PrepState:
        found = [
            m
            for m in self.services.store.list_meetings(
                LOCAL_USER_ID, start_from=NOW - timedelta(days=1), start_before=NOW + timedelta(30)
            )
            if m.title.startswith(title)
        ]
        assert len(found) == 1, title
        return found[0].prep_state


@pytest.fixture(params=["outbox", "google"])
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[App]:
    ics = tmp_path / "calendar.ics"
    ics.write_text(ICS, encoding="utf-8")
    clock = FixedClock(NOW)
    env = {
        "PREP_ICS_PATH": str(ics),
        "PREP_LOCAL_USER_EMAIL": ME,
        "PREP_MATERIALS_DIR": str(tmp_path / "materials"),
        "PREP_MATERIALS_SIGNING_KEY": str(tmp_path / "materials-key.json"),
    }
    with fake_google_apis() as fake:
        notifiers = None
        if request.param == "google":
            notifiers = Notifiers(
                email=GmailSender(lambda u: Credentials(token=f"u-{u}"), api_endpoint=fake.url),
                chat=ChatAppSender(lambda: Credentials(token="app"), api_endpoint=fake.url),
            )
            fake.add_dm(LOCAL_USER_ID)
        services = make_services(tmp_path, clock=clock, notifiers=notifiers, env=env)
        services.store.put_user(
            User(LOCAL_USER_ID, ME, time_zone="Europe/Berlin", connection=ConnectionState.CONNECTED)
        )
        queue = services.tasks
        assert isinstance(queue, LocalTaskQueue)
        set_services(services)
        try:
            yield App(services, queue, clock, ics, fake if request.param == "google" else None)
        finally:
            set_services(None)
            services.store.close()


def delivered(queue: LocalTaskQueue, path: str) -> list[Task]:
    return [f.task for f in queue.finished() if f.task.path == path]


def test_sync_clock_notify_click_replay(app: App) -> None:
    # Import the calendar: the sync schedules one prep task per meeting that needs prep.
    # (Its horizon is two days: the 1:1 in two weeks gets its task from a later sync.)
    report = sync_local(app.services, app.ics)
    assert report.events == 4  # a full sync does not list the cancelled event
    prep_tasks = [t for t in app.queue.pending() if t.path == PREP_PATH]
    assert len(prep_tasks) == 2  # the 1:1 today and the review on Wednesday

    # Monday 09:00: the 1:1 at 15:00 is due at once (its 24 h lead has begun).
    app.queue.run_due()
    assert app.counts() == (1, 1)
    assert "1:1 Sam / You <b>agenda</b>" in app.emails()[0]
    assert app.meeting_state("1:1 Sam") is PrepState.NOTIFIED
    assert app.meeting_state("Project review") is PrepState.SCHEDULED

    # Nothing else is due until Tuesday 10:00 Berlin (the review's trigger, 24 h ahead).
    app.clock.set(datetime(2026, 3, 17, 8, 59, tzinfo=UTC))
    app.queue.run_due()
    assert app.counts() == (1, 1)
    app.clock.set(datetime(2026, 3, 17, 9, 0, tzinfo=UTC))
    app.queue.run_due()
    assert app.counts() == (2, 2)
    assert "Project review" in app.emails()[1]
    assert app.meeting_state("1:1 I declined") is PrepState.CANCELLED
    assert app.meeting_state("1:1 in two weeks") is PrepState.SCHEDULED

    # Every Chat message is a valid card with the button.
    for message in app.chat_messages():
        Card.from_json(json.dumps(message["cardsV2"][0]["card"]), ignore_unknown_fields=False)

    # The user clicks Generate prep on the review's Chat message: generation is queued.
    answer = app.click(app.chat_messages()[1])
    assert answer.status_code == 200
    assert answer.get_json()["actionResponse"] == {"type": "UPDATE_MESSAGE"}
    generation = [t for t in app.queue.pending() if t.path == GENERATE_PATH]
    assert len(generation) == 1
    assert generation[0].payload["user_id"] == LOCAL_USER_ID
    assert app.meeting_state("Project review") is PrepState.GENERATING
    app.click(app.chat_messages()[1])  # a double click queues nothing more
    assert len([t for t in app.queue.pending() if t.path == GENERATE_PATH]) == 1

    # Cloud Tasks may deliver any task again: replay every delivered task twice.
    done = delivered(app.queue, PREP_PATH)
    assert len(done) == 2
    for task in done * 2:
        assert app.replay(task).status_code == 200
    assert app.counts() == (2, 2)
    # And the sync running again (the next scheduler slot) schedules no prep again.
    sync_local(app.services, app.ics)
    assert [t.path for t in app.queue.pending() if t.path != FOLLOWUP_PATH] == [GENERATE_PATH]
    # The review (a 1:1 by its two people) came within two days: its follow-up task is
    # at its end (the 1:1 of Monday had its own, which ran and found it unprepared).
    [review] = [t for t in app.queue.pending() if t.path == FOLLOWUP_PATH]
    assert review.schedule_at == datetime(2026, 3, 18, 10, 5, tzinfo=UTC)


def test_moved_meeting_is_notified_once_at_its_new_time(app: App) -> None:
    sync_local(app.services, app.ics)
    old_tasks = [t for t in app.queue.pending() if t.path == PREP_PATH]
    # The review moves from Wednesday to Friday before its prep time.
    app.ics.write_text(
        ICS.replace(
            "DTSTART;TZID=Europe/Berlin:20260318T100000",
            "DTSTART;TZID=Europe/Berlin:20260320T100000",
        )
        .replace(
            "DTEND;TZID=Europe/Berlin:20260318T110000", "DTEND;TZID=Europe/Berlin:20260320T110000"
        )
        .replace(
            "UID:e2e-review@example.com\nDTSTAMP:20260301T120000Z",
            "UID:e2e-review@example.com\nDTSTAMP:20260302T120000Z\nSEQUENCE:1",
        ),
        encoding="utf-8",
    )
    sync_local(app.services, app.ics)
    app.queue.run_due()  # the 1:1
    app.clock.set(datetime(2026, 3, 17, 9, 0, tzinfo=UTC))  # the review's old prep time
    app.queue.run_due()
    for task in old_tasks * 2:
        app.replay(task)
    assert app.counts() == (1, 1)
    app.clock.set(datetime(2026, 3, 19, 8, 45, tzinfo=UTC))
    sync_local(app.services, app.ics)  # the scheduler's periodic sync: the task is due soon
    app.queue.run_due()
    assert app.counts() == (1, 1)
    app.clock.set(datetime(2026, 3, 19, 9, 0, tzinfo=UTC))  # its new prep time
    app.queue.run_due()
    assert app.counts() == (2, 2)
    for task in delivered(app.queue, PREP_PATH) * 2:
        app.replay(task)
    assert app.counts() == (2, 2)
    assert app.meeting_state("Project review") is PrepState.NOTIFIED


def test_generated_prep_is_announced_once(app: App) -> None:
    """Past the button: the generation task runs and the ready message goes out once."""
    sync_local(app.services, app.ics)
    app.queue.run_due()
    app.click(app.chat_messages()[0])
    app.queue.run_due()  # the generation task
    assert app.meeting_state("1:1 Sam") in (PrepState.READY, PrepState.DELIVERED)
    ready = [s for s in app.emails() if s.startswith("Your prep is ready")]
    assert len(ready) == 1
    for task in delivered(app.queue, GENERATE_PATH) * 2:
        assert app.replay(task).status_code == 200
    assert len([s for s in app.emails() if s.startswith("Your prep is ready")]) == 1
    assert app.counts() == (2, 2)
    assert app.meeting_state("1:1 Sam") is PrepState.DELIVERED


def test_a_reminded_meeting_moved_in_the_file_is_corrected_in_place(app: App) -> None:
    """The .ics edit the running server picks up: the Chat reminder is updated, not repeated,
    and the email gets one short correction (moved by more than the 1:1's 24 h lead)."""
    sync_local(app.services, app.ics)
    app.queue.run_due()  # the 1:1's reminder
    assert app.counts() == (1, 1)
    app.ics.write_text(
        ICS.replace(
            "DTSTART;TZID=Europe/Berlin:20260316T150000",
            "DTSTART;TZID=Europe/Berlin:20260318T150000",
        )
        .replace(
            "DTEND;TZID=Europe/Berlin:20260316T153000", "DTEND;TZID=Europe/Berlin:20260318T153000"
        )
        .replace(
            "UID:e2e-one-on-one@example.com\nDTSTAMP:20260301T120000Z",
            "UID:e2e-one-on-one@example.com\nDTSTAMP:20260302T120000Z\nSEQUENCE:1",
        ),
        encoding="utf-8",
    )
    sync_local(app.services, app.ics)
    app.queue.run_due()
    corrections = delivered(app.queue, "/tasks/correct")
    assert len(corrections) == 1
    for task in corrections * 2:
        app.replay(task)
    assert app.counts() == (2, 1)
    [chat] = app.chat_messages()
    assert chat["text"].startswith("Update: your 1:1 moved from")
    assert app.emails()[1].startswith("Moved: 1:1 Sam / You")
