"""Locally: the outbox shows the follow-up, its card's form works, and so does the email's
form page at a local URL, all through the routes `make run` serves."""

from __future__ import annotations

import dataclasses
import email
import email.policy
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import flask
import pytest

from functions import bootstrap
from functions.bootstrap import Bootstrap, set_services
from functions.domain.followups import FollowupMode
from functions.domain.users import Preferences
from functions.followup.scheduling import followup_task
from functions.notify.outbox_page import outbox_of
from functions.notify.port import Channel
from functions.tasks.port import Task
from functions.web import dispatch
from tests.followup.conftest import ENDED
from tests.support.factories import USER_ID, make_user
from tests.support.recording_queue import RecordingQueue
from tests.support.roots import make_services
from tests.support.task_delivery import deliver_task

HOSTILE = "<img src=x onerror=alert(1)> review"


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Bootstrap]:
    s = make_services(tmp_path, tasks=RecordingQueue())
    s.store.put_user(make_user())
    s.store.upsert_meetings([dataclasses.replace(ENDED, title=HOSTILE)])
    set_services(s)
    yield s
    set_services(None)


def _local(method: str, path: str, data: dict[str, str] | None = None) -> flask.Response:
    app = flask.Flask(__name__)
    with app.test_request_context(
        path, method=method, data=data, environ_base={"REMOTE_ADDR": "127.0.0.1"}
    ):
        return dispatch(bootstrap.local_routes(bootstrap.get_services()), flask.request)


def _run(services: Bootstrap, task: Task) -> flask.Response:
    return deliver_task(services, task, routes=bootstrap.local_routes)


def test_the_outbox_shows_the_card_and_its_form_records_the_answer(services: Bootstrap) -> None:
    meeting = services.store.get_meeting(USER_ID, "evt0001")
    assert meeting is not None
    assert _run(services, followup_task(meeting)).status_code == 200
    page = _local("GET", "/dev/outbox").get_data(as_text=True)
    assert 'name="input:decisions"' in page and 'name="input:action_items"' in page
    assert "<img src=x" not in page and "&lt;img src=x" in page
    outbox = outbox_of(services)
    assert outbox is not None
    [entry] = outbox.entries(channel=Channel.CHAT)
    resp = _local(
        "POST",
        "/dev/outbox/click",
        {
            "entry": str(entry.id),
            "button": "0",
            "input:decisions": "Ship in April",
            "input:action_items": "Sam: <b>send</b> the deck",
        },
    )
    assert resp.status_code == 303
    stored = services.store.get_meeting(USER_ID, "evt0001")
    assert stored is not None and stored.followup is not None
    assert stored.followup.decisions == ("Ship in April",)
    assert [(i.owner, i.text) for i in stored.followup.items] == [("Sam", "<b>send</b> the deck")]
    after = _local("GET", "/dev/outbox").get_data(as_text=True)
    assert "Saved." in after and "&lt;b&gt;send&lt;/b&gt;" in after and "<b>send" not in after
    assert 'name="input:decisions"' not in after  # the card's form is gone once answered


def test_by_email_the_form_works_at_a_local_url(services: Bootstrap) -> None:
    services.store.put_user(make_user(preferences=Preferences(followup_mode=FollowupMode.EMAIL)))
    meeting = services.store.get_meeting(USER_ID, "evt0001")
    assert meeting is not None
    _run(services, followup_task(meeting))
    outbox = outbox_of(services)
    assert outbox is not None
    [entry] = outbox.entries(channel=Channel.EMAIL)
    mail = email.message_from_string(entry.body, policy=email.policy.default)
    plain = mail.get_body(preferencelist=("plain",))
    assert plain is not None
    link = next(x for x in plain.get_content().splitlines() if "/followup?t=" in x)
    url = urlsplit(link)
    assert url.netloc == "127.0.0.1:8080"
    form = _local("GET", f"{url.path}?{url.query}")
    assert form.status_code == 200 and "<form" in form.get_data(as_text=True)
    token = url.query.removeprefix("t=")
    done = _local(
        "POST",
        url.path,
        {"t": unquote(token), "choice": "nothing", "decisions": "", "action_items": ""},
    )
    assert done.status_code == 200 and "nothing to record" in done.get_data(as_text=True)
    stored = services.store.get_meeting(USER_ID, "evt0001")
    assert stored is not None and stored.followup is not None and stored.followup.nothing_to_record
