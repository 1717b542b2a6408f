"""A root on local files whose Gmail and Chat are the real clients against the fake Google.

Shared by the workflow tests of the prep task and the follow-up task: tasks
are POSTed through the deployed task routes with a signed OIDC token, as
Cloud Tasks would, and what reached "Google" is read from the fake server.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import flask
from google.oauth2.credentials import Credentials

from functions.bootstrap import Bootstrap, set_services
from functions.domain.clock import FixedClock
from functions.domain.meetings import Meeting
from functions.notify.gmail import GmailSender
from functions.notify.google_chat import ChatAppSender
from functions.notify.port import Notifiers
from functions.tasks.port import Task
from tests.support.factories import NOW, USER_ID, make_user
from tests.support.fake_google_apis import FakeGoogle
from tests.support.recording_queue import RecordingQueue
from tests.support.roots import make_services
from tests.support.task_delivery import deliver_task


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

    def run(self, task: Task, *, token: str | None = None) -> flask.Response:
        """Deliver `task` as Cloud Tasks would: POST with an OIDC token."""
        return deliver_task(self.services, task, token=token)

    @property
    def emails(self) -> int:
        return len(self.fake.sent_mail)

    @property
    def chats(self) -> int:
        return len(self.fake.chat_posts)


@contextmanager
def google_world(tmp_path: Path, fake: FakeGoogle, meetings: Sequence[Meeting]) -> Iterator[World]:
    """The default user with `meetings`, a Chat DM space, and the root installed process-wide."""
    clock = FixedClock(NOW)
    queue = RecordingQueue()
    notifiers = Notifiers(
        email=GmailSender(lambda uid: Credentials(token=f"user-{uid}"), api_endpoint=fake.url),
        chat=ChatAppSender(lambda: Credentials(token="app"), api_endpoint=fake.url),
    )
    services = make_services(tmp_path, clock=clock, notifiers=notifiers, tasks=queue)
    services.store.put_user(make_user())
    services.store.upsert_meetings(list(meetings))
    fake.add_dm(USER_ID)
    set_services(services)
    try:
        yield World(services, fake, queue, clock)
    finally:
        set_services(None)


def body(resp: flask.Response) -> dict[str, Any]:
    data = resp.get_json()
    assert isinstance(data, dict)
    return data
