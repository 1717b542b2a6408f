"""The whole product in one process, driven by a clock, with faults injected at the edges.

`Stack` is local mode wired to production adapters where the faults live:
the Calendar API (google-api-python-client against `fake_calendar`), and on
demand Vertex AI (google-genai against `fake_vertex`) and Cloud Storage
(google-cloud-storage against `gcp-storage-emulator`, behind `FaultProxy`).
Between them runs the local Cloud Tasks stand-in, delivering every task
through the app's own routes with a signed OIDC token and retrying failures
with backoff, under a `FixedClock` the test moves. Notifications go to the
local outbox, and "what the user sees" is the add-on card the app renders
for a signed eventOpen request.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import flask
import pytest

from addon.dev_event import event_object
from functions import bootstrap
from functions.bootstrap import Bootstrap, set_services
from functions.chat.auth import CHAT_ISSUER
from functions.config import Settings
from functions.domain.clock import Clock, FixedClock
from functions.domain.meetings import Meeting
from functions.domain.users import ConnectionState, User
from functions.materials.generator import Generator
from functions.materials.storage import MaterialsStorage
from functions.notify.outbox_page import outbox_of
from functions.notify.port import Channel, Notifiers
from functions.sync.tasks import PRIMARY, scheduled_sync_task, slot_of
from functions.tasks.local_queue import LocalTaskQueue, Outcome
from functions.tasks.port import Task, TaskQueue
from functions.web import dispatch
from tests.support.addon_helpers import assert_valid_answer, texts
from tests.support.fake_calendar import FakeCalendar, fake_calendar, timed_event
from tests.support.fake_credentials import FakeProvider
from tests.support.roots import make_services
from tests.support.task_delivery import cloud_tasks_token

if TYPE_CHECKING:
    from functions.oauth.credentials import CredentialsProvider

#: Monday 2026-03-16 09:00 in Berlin; DST starts there on Sunday 2026-03-29.
NOW = datetime(2026, 3, 16, 8, 0, tzinfo=UTC)
USER_ID = "ana-108"
EMAIL = "ana@example.com"
ZONE = "Europe/Berlin"


@dataclass
class Stack:
    services: Bootstrap
    queue: LocalTaskQueue
    clock: FixedClock
    fake: FakeCalendar
    provider: FakeProvider
    tmp: Path

    # ---------------------------------------------------------------- setting up
    def add_user(self, user_id: str = USER_ID, email: str = EMAIL, **changes: Any) -> User:
        self.provider.grants[user_id] = self.fake.add_user(email)
        user = User(
            user_id=user_id,
            email=email,
            time_zone=ZONE,
            connection=ConnectionState.CONNECTED,
            **changes,
        )
        self.services.store.put_user(user)
        return user

    def put_event(self, event_id: str, start: datetime, summary: str, **extra: Any) -> None:
        self.fake.put_event(
            EMAIL,
            timed_event(
                event_id, start, summary=summary, attendees=(EMAIL, "sam@example.com"), **extra
            ),
        )

    def swap(
        self,
        *,
        settings: Settings | None = None,
        clock: Clock | None = None,
        tasks: TaskQueue | None = None,
        notifiers: Notifiers | None = None,
        generator: Generator | None = None,
        materials_storage: MaterialsStorage | None = None,
    ) -> None:
        """Carry on with these adapters in place of the root's own (a crash, a fault)."""
        self.services = self.services.replaced(
            settings=settings,
            clock=clock,
            tasks=tasks,
            notifiers=notifiers,
            generator=generator,
            materials_storage=materials_storage,
        )
        set_services(self.services)

    # ---------------------------------------------------------------- driving time
    def set_time(self, at: datetime) -> None:
        self.clock.set(at)
        self.fake.now = at

    def advance(self, delta: timedelta) -> None:
        self.set_time(self.clock.now() + delta)

    def scheduled_sync(self, user_id: str = USER_ID) -> Task:
        """What the scheduler's fan-out queues for this user in the current slot."""
        task = scheduled_sync_task(
            user_id, PRIMARY, slot_of(self.clock.now(), self.services.settings.sync_interval)
        )
        self.queue.enqueue(task)
        return task

    def run_for(self, span: timedelta, step: timedelta = timedelta(seconds=1)) -> None:
        """Deliver what falls due while `span` passes (retries with backoff included)."""
        end = self.clock.now() + span
        while True:
            self.queue.run_due()
            due = self.queue.next_due()
            if due is None or due > end:
                break
            self.set_time(max(due, self.clock.now() + step))
        self.set_time(end)
        self.queue.run_due()

    def replay(self, task: Task) -> flask.Response:
        """Cloud Tasks delivering `task` once more (at-least-once), straight to the app."""
        return self._post(task.path, dict(task.payload), cloud_tasks_token(self.services))

    def _post(self, path: str, body: Any, bearer: str) -> flask.Response:
        app = flask.Flask(__name__)
        with app.test_request_context(
            path,
            method="POST",
            data=json.dumps(body),
            headers={"Authorization": f"Bearer {bearer}", "Content-Type": "application/json"},
        ):
            return dispatch(bootstrap.local_routes(bootstrap.get_services()), flask.request)

    def chat_click(self, event_id: str, user_id: str = USER_ID) -> flask.Response:
        """The user clicks "Generate prep" on the Chat reminder, signed as Chat signs it."""
        meeting = self.meeting(event_id, user_id)
        event: dict[str, Any] = {
            "type": "CARD_CLICKED",
            "user": {"name": f"users/{user_id}", "type": "HUMAN"},
            "space": {"name": "spaces/dm", "type": "DM"},
            "common": {
                "invokedFunction": "generatePrep",
                "parameters": {"op": "generate", "event_id": event_id, "version": meeting.version},
            },
        }
        token = self.services.dev_signer.id_token(
            audience=self.services.settings.notify.chat_audience,
            subject="chat",
            email=CHAT_ISSUER,
        )
        return self._post("/chat", event, token)

    # ---------------------------------------------------------------- looking
    def delivered(self, path: str) -> list[Task]:
        return [
            f.task
            for f in self.queue.finished()
            if f.task.path == path and f.outcome is Outcome.SUCCEEDED
        ]

    def attempts(self, task: Task) -> list[int | None]:
        return [a.status for a in self.queue.attempts(task.name)]

    def messages(self, channel: Channel, user_id: str = USER_ID) -> list[str]:
        outbox = outbox_of(self.services)
        assert outbox is not None
        return [e.subject for e in reversed(outbox.entries(channel=channel, user_id=user_id))]

    def emails(self, user_id: str = USER_ID) -> list[str]:
        return self.messages(Channel.EMAIL, user_id)

    def chats(self, user_id: str = USER_ID) -> list[str]:
        return self.messages(Channel.CHAT, user_id)

    def meeting(self, event_id: str, user_id: str = USER_ID) -> Meeting:
        found = self.services.store.get_meeting(user_id, event_id)
        assert found is not None, event_id
        return found

    def sidebar(
        self,
        event_id: str | None = None,
        user_id: str = USER_ID,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """The add-on's answer for the user's homepage, an opened event or a button."""
        user = self.services.store.get_user(user_id)
        assert user is not None
        meeting = self.meeting(event_id, user_id) if event_id and params is None else None
        if params is not None and event_id:
            params = {**params, "eventId": event_id}
        body = event_object(
            self.services,
            user_id=user_id,
            email=user.email,
            meeting=meeting,
            parameters=params,
            time_zone=user.time_zone,
        )
        resp = self._post("/addon", body, body["authorizationEventObject"]["systemIdToken"])
        assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
        answer: dict[str, Any] = resp.get_json()
        assert_valid_answer(answer)
        return answer

    def card_text(self, event_id: str | None = None, user_id: str = USER_ID) -> str:
        return texts(self.sidebar(event_id, user_id))


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with fake_calendar() as fake:
        fake.now = NOW
        clock = FixedClock(NOW)
        env = {
            "PREP_CALENDAR_API_ENDPOINT": fake.api_endpoint,
            "PREP_MATERIALS_DIR": str(tmp_path / "materials"),
            "PREP_MATERIALS_SIGNING_KEY": str(tmp_path / "materials-key.json"),
        }
        provider = FakeProvider(fake)
        services = make_services(
            tmp_path, clock=clock, env=env, credentials=cast("CredentialsProvider", provider)
        )
        queue = services.tasks
        assert isinstance(queue, LocalTaskQueue)
        set_services(services)
        try:
            yield Stack(services, queue, clock, fake, provider, tmp_path)
        finally:
            set_services(None)
            services.store.close()


def at_berlin(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A Berlin wall-clock time as a UTC instant."""
    from zoneinfo import ZoneInfo

    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(ZONE)).astimezone(UTC)
