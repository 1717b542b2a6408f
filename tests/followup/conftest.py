"""A root on local files with the real Gmail and Chat clients against the fake Google server."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import flask
import pytest
from google.oauth2.credentials import Credentials

from functions import bootstrap
from functions.bootstrap import Bootstrap, set_services
from functions.domain.clock import FixedClock
from functions.domain.meetings import Meeting
from functions.domain.prep_state import PrepState
from functions.notify.gmail import GmailSender
from functions.notify.google_chat import ChatAppSender
from functions.notify.port import Notifiers
from functions.tasks.port import Task
from functions.web import dispatch
from tests.support.factories import NOW, USER_ID, make_meeting, make_user
from tests.support.fake_google_apis import FakeGoogle, fake_google_apis
from tests.support.recording_queue import RecordingQueue
from tests.support.roots import make_services

#: The meeting ended an hour ago and was prepared: a follow-up is owed.
ENDED = make_meeting(
    start=NOW - timedelta(hours=1, minutes=30),
    prep_trigger_at=NOW - timedelta(days=1),
    prep_state=PrepState.READY,
    materials_ref=f"users/{USER_ID}/m1",
)


@dataclass
class World:
    services: Bootstrap
    fake: FakeGoogle
    queue: RecordingQueue
    clock: FixedClock

    def meeting(self, event_id: str = "evt0001") -> Meeting:
        found = self.services.store.get_meeting(USER_ID, event_id)
        assert found is not None
        return found

    def put(self, meeting: Meeting) -> None:
        self.services.store.upsert_meetings([meeting])

    def run(self, task: Task) -> flask.Response:
        """Deliver `task` as Cloud Tasks would: POST with an OIDC token."""
        settings = self.services.settings
        bearer = self.services.dev_signer.id_token(
            audience=settings.tasks_audience, subject="cloud-tasks", email=settings.tasks_sa_email
        )
        app = flask.Flask(__name__)
        with app.test_request_context(
            task.path,
            method="POST",
            data=task.body(),
            headers={"Authorization": f"Bearer {bearer}", "Content-Type": "application/json"},
        ):
            return dispatch(bootstrap.task_routes(bootstrap.get_services()), flask.request)

    @property
    def emails(self) -> int:
        return len(self.fake.sent_mail)

    @property
    def chats(self) -> int:
        return len(self.fake.chat_posts)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with fake_google_apis() as fake:
        clock = FixedClock(NOW)
        queue = RecordingQueue()
        notifiers = Notifiers(
            email=GmailSender(lambda uid: Credentials(token=f"user-{uid}"), api_endpoint=fake.url),
            chat=ChatAppSender(lambda: Credentials(token="app"), api_endpoint=fake.url),
        )
        services = make_services(tmp_path, clock=clock, notifiers=notifiers, tasks=queue)
        services.store.put_user(make_user())
        services.store.upsert_meetings([dataclasses.replace(ENDED)])
        fake.add_dm(USER_ID)
        set_services(services)
        yield World(services, fake, queue, clock)
        set_services(None)


def body(resp: flask.Response) -> dict[str, Any]:
    data = resp.get_json()
    assert isinstance(data, dict)
    return data
