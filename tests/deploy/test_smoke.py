"""`main.py smoke` in dry-run: every step against the local fakes, a failing step, and cleanup.

`DeployedTarget` is the production class; here its adapters point at the fake
Calendar (the real google-api-python-client adapter, creating and deleting
the event over HTTP), the fake Gmail and Chat servers (the real senders),
SQLite and local materials storage. Two deployed processes are stood in for:
the sync (run in process when the smoke asks whether the meeting is stored)
and the generate task (it stores materials naming the event and marks the
meeting ready, as the deployed task does after the model answers).
"""

from __future__ import annotations

import dataclasses
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from google.oauth2.credentials import Credentials

from deploy.smoke import TITLE, DeployedTarget, Smoke, StepFailed
from functions.calendar.google_api import GoogleCalendarWriter
from functions.config import DEFAULT_MEETING_TYPES
from functions.domain.classification import Classifier
from functions.domain.clock import FixedClock
from functions.domain.meeting_types import load_rules
from functions.domain.meetings import Meeting
from functions.domain.prep_state import PrepState
from functions.domain.users import ConnectionState, User
from functions.materials.local_files import LocalMaterialsStorage, LocalSigningKey
from functions.materials.model import SummaryRecord
from functions.materials.storage import MaterialsObjects, materials_ref
from functions.materials.v4 import InvalidSignedUrl
from functions.notify.gmail import GmailSender
from functions.notify.google_chat import ChatAppSender
from functions.store.sqlite import SqliteStore
from functions.sync.engine import sync_calendar
from functions.tasks.port import Task, TaskQueue
from tests.support.fake_calendar import FakeCalendar, fake_calendar
from tests.support.fake_google_apis import CHAT_CREATE, FakeGoogle, fake_google_apis
from tests.support.roots import make_services

OPERATOR = "op@example.com"
OPERATOR_ID = "1098765"
NOW = datetime.now(UTC).replace(microsecond=0)
WRITES = ("events.insert", "events.delete")


class _Queue(TaskQueue):
    def __init__(self) -> None:
        self.tasks: list[Task] = []

    def enqueue(self, task: Task) -> bool:
        self.tasks.append(task)
        return True


@dataclass
class Stand:
    calendar: FakeCalendar
    google: FakeGoogle
    store: SqliteStore
    storage: LocalMaterialsStorage
    target: DryRunTarget
    #: Set its first item to make the stand-in generate task fail.
    fails: list[bool]


class DryRunTarget(DeployedTarget):
    """The production target, with the deployed sync and generate task played in process."""

    classifier: Classifier
    #: False plays a deployment whose sync never runs.
    syncing: bool = True

    def meeting_seen(self, event_id: str) -> bool:
        if not self.syncing:
            return super().meeting_seen(event_id)
        sync_calendar(
            store=self.store,
            source=self.calendar,
            tasks=_Queue(),
            classifier=self.classifier,
            user=self.user,
            calendar_id="primary",
            now=NOW,
        )
        return super().meeting_seen(event_id)


def _generate(stand_store: SqliteStore, storage: LocalMaterialsStorage, fails: list[bool]) -> Any:
    def run(meeting: Meeting) -> None:
        if fails and fails[0]:
            stand_store.set_prep_state(meeting.user_id, meeting.event_id, PrepState.GENERATING)
            stand_store.set_prep_state(meeting.user_id, meeting.event_id, PrepState.FAILED)
            return
        ref = materials_ref(meeting.user_id, meeting.event_id, "smoke-" + "a" * 10)
        summary = SummaryRecord(meeting_start=meeting.start, summary="smoke", open_items=[])
        storage.put(
            ref,
            MaterialsObjects(
                html=f"<!DOCTYPE html><h1>{meeting.title}</h1>",
                markdown=f"# {meeting.title}\n",
                summary=summary,
            ),
        )

        def ready(m: Meeting) -> Meeting:
            if m.prep_state is not PrepState.GENERATING:
                m = m.with_prep_state(PrepState.GENERATING)
            return dataclasses.replace(m.with_prep_state(PrepState.READY), materials_ref=ref)

        stand_store.update_meeting(meeting.user_id, meeting.event_id, ready)

    return run


@pytest.fixture
def stand(tmp_path: Path) -> Iterator[Stand]:
    with fake_calendar() as calendar, fake_google_apis() as google:
        grant = calendar.add_user(OPERATOR)
        google.add_dm(OPERATOR_ID)
        store = SqliteStore(tmp_path / "prep.db")
        user = User(user_id=OPERATOR_ID, email=OPERATOR, connection=ConnectionState.CONNECTED)
        store.put_user(user)
        storage = LocalMaterialsStorage(
            tmp_path / "materials",
            key=LocalSigningKey.generate(),
            public_url="https://prep.example.com",
            clock=FixedClock(NOW),
        )
        fails: list[bool] = []

        def fetch(url: str) -> tuple[int, str]:
            """What the materials route answers: verify the signature, then serve the object."""
            try:
                verified = storage.verify(url)
            except InvalidSignedUrl:
                return 403, ""
            body = storage.read(verified.params["object"])
            return (200, body.decode()) if body is not None else (404, "")

        def card(event_id: str, title: str) -> str:
            return f"card for {event_id}: {title}"

        target = DryRunTarget(
            user=user,
            calendar=GoogleCalendarWriter(
                calendar.credentials(grant), api_endpoint=calendar.api_endpoint
            ),
            store=store,
            storage=storage,
            email=GmailSender(lambda _uid: Credentials(token="op"), api_endpoint=google.url),
            chat=ChatAppSender(lambda: Credentials(token="app"), api_endpoint=google.url),
            queue_generation=_generate(store, storage, fails),
            card=card,
            fetch_url=fetch,
        )
        target.classifier = Classifier(load_rules(DEFAULT_MEETING_TYPES))
        try:
            yield Stand(calendar, google, store, storage, target, fails)
        finally:
            store.close()


def smoke(stand: Stand) -> tuple[int, list[str]]:
    out = io.StringIO()
    clock = iter(range(10_000))
    code = Smoke(
        stand.target,
        out,
        now=lambda: NOW,
        monotonic=lambda: float(next(clock)),
        sleep=lambda _s: None,
        wait_seconds=5,
        run_id="run1",
    ).run()
    return code, out.getvalue().splitlines()


def verdicts(lines: list[str]) -> list[tuple[str, str]]:
    rows = [re.match(r"(PASS|FAIL)\s+(.+?)\s{2,}\s*\d+\.\d\d s", line) for line in lines]
    return [(m.group(1), m.group(2).strip()) for m in rows if m]


def test_every_step_passes_against_the_fakes_and_cleanup_leaves_nothing(stand: Stand) -> None:
    code, lines = smoke(stand)

    assert code == 0, "\n".join(lines)
    assert verdicts(lines) == [
        ("PASS", "create event"),
        ("PASS", "sync sees it"),
        ("PASS", "sidebar card"),
        ("PASS", "generate prep"),
        ("PASS", "signed URL"),
        ("PASS", "gmail"),
        ("PASS", "chat"),
        ("PASS", "cleanup: forget the stored meeting"),
        ("PASS", "cleanup: delete the test event"),
    ]
    assert lines[-1] == "smoke test passed"
    # Each step printed its time.
    assert all(re.search(r"\d+\.\d\d s", line) for line in lines[:-1])
    title = f"{TITLE} run1"
    # The event was created over the Calendar API and is deleted again.
    [event] = stand.calendar.events(OPERATOR)
    assert event["status"] == "cancelled"
    assert [c.method for c in stand.calendar.calls if c.method in WRITES] == [
        "events.insert",
        "events.delete",
    ]
    assert stand.store.get_meeting(OPERATOR_ID, event["id"]) is None
    # One message on each channel, to the operator, naming the run.
    [mail] = stand.google.mail_for("me")
    assert mail.message["Subject"] == title and mail.message["To"] == OPERATOR
    [chat] = stand.google.chat_messages_for(OPERATOR_ID)
    assert chat.body["text"].startswith(title) and chat.request_id == "smoke-run1"


def test_a_failing_step_stops_the_run_with_its_reason_and_still_cleans_up(stand: Stand) -> None:
    stand.google.fail(CHAT_CREATE, 403, "forbidden")

    code, lines = smoke(stand)

    assert code == 1
    got = verdicts(lines)
    assert got[:6] == [
        ("PASS", step)
        for step in (
            "create event",
            "sync sees it",
            "sidebar card",
            "generate prep",
            "signed URL",
            "gmail",
        )
    ]
    assert got[6] == ("FAIL", "chat")
    assert "PermanentDeliveryError" in next(line for line in lines if line.startswith("FAIL"))
    assert got[7:] == [
        ("PASS", "cleanup: forget the stored meeting"),
        ("PASS", "cleanup: delete the test event"),
    ]
    assert lines[-1] == "smoke test FAILED"
    assert stand.calendar.events(OPERATOR)[0]["status"] == "cancelled"


def test_a_failed_generation_stops_before_the_messages(stand: Stand) -> None:
    stand.fails.append(True)

    code, lines = smoke(stand)

    assert code == 1
    assert verdicts(lines)[3] == ("FAIL", "generate prep")
    assert "generation failed; see the generate task's logs" in lines[3]
    assert stand.google.sent_mail == [] and stand.google.chat_posts == []
    assert [v for v in verdicts(lines) if v[1].startswith("cleanup")] == [
        ("PASS", "cleanup: forget the stored meeting"),
        ("PASS", "cleanup: delete the test event"),
    ]


def test_a_sync_that_never_sees_the_event_times_out_and_deletes_the_event(stand: Stand) -> None:
    stand.target.syncing = False

    code, lines = smoke(stand)

    assert code == 1
    assert verdicts(lines) == [
        ("PASS", "create event"),
        ("FAIL", "sync sees it"),
        ("PASS", "cleanup: delete the test event"),
    ]
    assert "the sync did not store the test event" in lines[1]
    assert "(waited 5 s)" in lines[1]
    assert stand.calendar.events(OPERATOR)[0]["status"] == "cancelled"


def test_a_cleanup_failure_fails_the_run(stand: Stand) -> None:
    stand.calendar.fail("events.delete", 500)

    code, lines = smoke(stand)

    assert code == 1
    assert verdicts(lines)[-1] == ("FAIL", "cleanup: delete the test event")


def test_the_event_is_deleted_even_when_already_gone(stand: Stand) -> None:
    event_id = stand.target.create_event("x", NOW + timedelta(hours=1), NOW + timedelta(hours=2))
    stand.target.delete_event(event_id)
    stand.target.delete_event(event_id)  # 410 deleted: done, not an error
    with pytest.raises(StepFailed, match="disappeared"):
        stand.target.generate_prep("unknown")


def test_the_command_refuses_a_local_configuration(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from functions.cli import main

    monkeypatch.delenv("PREP_MODE", raising=False)
    assert main(["smoke", "--user-id", OPERATOR_ID]) == 2
    assert "smoke runs against a deployed project" in capsys.readouterr().err
    assert main(["smoke", "--user-id", " "]) == 2


def test_the_production_wiring_names_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unknown operator, or no operator login, stops before anything is created."""
    from tests.support.factories import make_user

    services = make_services(tmp_path)
    with pytest.raises(StepFailed, match="connect from the sidebar first"):
        DeployedTarget.from_services(services, "nobody", "https://addon.example.com")
    services.store.put_user(make_user())
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "absent.json"))
    with pytest.raises(StepFailed, match=r"no operator credentials .*docs/deployment\.md"):
        DeployedTarget.from_services(services, make_user().user_id, "https://addon.example.com")


def test_the_sidebar_probe_is_refused_by_the_real_add_on_endpoint(tmp_path: Path) -> None:
    """The unsigned request the smoke sends gets the add-on's own 401, over HTTP."""
    import threading

    import flask
    from werkzeug.serving import make_server

    import main
    from deploy.smoke import probe_addon
    from functions.bootstrap import set_services

    app = flask.Flask("addon-under-test")
    app.add_url_rule("/addon", "addon", lambda: main.addon(flask.request), methods=["POST"])
    server = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    set_services(make_services(tmp_path))
    thread.start()
    try:
        status, _ = probe_addon(f"http://127.0.0.1:{server.server_port}/addon")
    finally:
        server.shutdown()
        thread.join(timeout=5)
        set_services(None)
    assert status == 401
