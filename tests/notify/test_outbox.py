"""The local outbox: the embedded default's Gmail and Chat, and its /dev/outbox page."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from pathlib import Path

import flask
import pytest

from functions.bootstrap import Bootstrap, get_services, set_services
from functions.domain.prep_state import PrepState
from functions.notify.chat_message import chat_message_for
from functions.notify.content import NoticeKind, build_notice
from functions.notify.delivery import deliver
from functions.notify.outbox import Outbox, OutboxChatSender, OutboxEmailSender
from functions.notify.outbox_page import card_text, outbox_of
from functions.notify.port import Channel
from functions.notify.routes import dev_routes
from functions.prep.queueing import GENERATE_PATH
from functions.web import dispatch
from tests.support.factories import NOW, USER_ID, make_meeting, make_user
from tests.support.recording_queue import RecordingQueue
from tests.support.roots import make_services

HOSTILE = "<img src=x onerror=alert(1)> & <b>bold</b>"


@pytest.fixture
def queue() -> RecordingQueue:
    return RecordingQueue()


@pytest.fixture
def services(tmp_path: Path, queue: RecordingQueue) -> Iterator[Bootstrap]:
    s = make_services(tmp_path, tasks=queue)
    s.store.put_user(make_user())
    s.store.upsert_meetings([make_meeting(title=HOSTILE)])
    set_services(s)
    yield s
    set_services(None)


def the_outbox(services: Bootstrap) -> Outbox:
    outbox = outbox_of(services)
    assert outbox is not None
    return outbox


def send_due(services: Bootstrap) -> None:
    user = make_user()
    meeting = services.store.get_meeting(USER_ID, "evt0001")
    assert meeting is not None
    notice = build_notice(NoticeKind.PREP_DUE, user, meeting, type_label="1:1")
    deliver(services, user, notice, claim_prefix="notify:evt0001:v1")


def request(
    method: str, path: str, data: dict[str, str] | None = None, **headers: str
) -> flask.Response:
    app = flask.Flask(__name__)
    with app.test_request_context(
        path,
        method=method,
        data=data,
        headers=headers,
        environ_base={"REMOTE_ADDR": "127.0.0.1"},  # a server always names the peer
    ):
        return dispatch(dev_routes(get_services()), flask.request)


def test_outbox_keeps_mail_and_chat_and_honours_request_ids(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.db")
    chat = OutboxChatSender(outbox)
    notice = build_notice(NoticeKind.PREP_DUE, make_user(), make_meeting(), type_label="1:1")
    first = chat.send_direct(USER_ID, chat_message_for(notice), request_id="r1")
    again = chat.send_direct(USER_ID, chat_message_for(notice), request_id="r1")
    assert first == again
    assert len(outbox.entries(channel=Channel.CHAT)) == 1
    from functions.notify.email_message import build_email

    msg = build_email(notice, sender_name="MP", sent_at=NOW, message_id="<a@b>")
    OutboxEmailSender(outbox).send(USER_ID, msg)
    OutboxEmailSender(outbox).send(USER_ID, msg)  # Gmail has no request id: two sends, two mails
    [latest, _] = outbox.entries(channel=Channel.EMAIL)
    parsed = email.message_from_string(latest.body, policy=email.policy.default)
    assert parsed["Subject"] == msg["Subject"]
    assert latest.subject == str(msg["Subject"])


def test_the_embedded_default_delivers_to_the_outbox(services: Bootstrap) -> None:
    send_due(services)
    send_due(services)  # a replay: the claims hold
    entries = the_outbox(services).entries()
    assert sorted(e.channel.value for e in entries) == ["chat", "email"]


def test_page_lists_messages_with_everything_escaped(services: Bootstrap) -> None:
    send_due(services)
    resp = request("GET", "/dev/outbox")
    assert resp.status_code == 200
    assert resp.mimetype == "text/html"
    assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
    body = resp.get_data(as_text=True)
    assert "<img" not in body and "<b>bold" not in body
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in body
    assert "Generate prep</button>" in body
    assert "Gmail" in body and "Google Chat" in body


def test_page_is_local_only(tmp_path: Path) -> None:
    prod_like = make_services(tmp_path, env={"PREP_NOTIFY": "google"})
    set_services(prod_like)
    try:
        assert request("GET", "/dev/outbox").status_code == 404
    finally:
        set_services(None)


def test_clicking_generate_queues_generation_and_updates_the_card(
    services: Bootstrap, queue: RecordingQueue
) -> None:
    send_due(services)
    outbox = the_outbox(services)
    [chat_entry] = outbox.entries(channel=Channel.CHAT)
    resp = request("POST", "/dev/outbox/click", {"entry": str(chat_entry.id), "button": "0"})
    assert resp.status_code == 303
    [task] = queue.on_path(GENERATE_PATH)
    assert task.payload["user_id"] == USER_ID and task.payload["event_id"] == "evt0001"
    stored = services.store.get_meeting(USER_ID, "evt0001")
    assert stored is not None and stored.prep_state is PrepState.GENERATING
    updated = outbox.get(chat_entry.id)
    assert updated is not None
    texts = [
        card_text(w["textParagraph"]["text"])
        for w in updated.chat_message["cardsV2"][0]["card"]["sections"][0]["widgets"]
        if "textParagraph" in w
    ]
    assert any("Generating your prep" in t for t in texts)
    # Clicking the old card again queues nothing new.
    request("POST", "/dev/outbox/click", {"entry": str(chat_entry.id), "button": "0"})
    assert len(queue.on_path(GENERATE_PATH)) == 1


def test_cross_site_clicks_are_refused(services: Bootstrap, queue: RecordingQueue) -> None:
    send_due(services)
    outbox = the_outbox(services)
    [chat_entry] = outbox.entries(channel=Channel.CHAT)
    form = {"entry": str(chat_entry.id), "button": "0"}
    assert (
        request("POST", "/dev/outbox/click", form, Origin="https://evil.example").status_code == 403
    )
    resp = request("POST", "/dev/outbox/click", form, **{"Sec-Fetch-Site": "cross-site"})
    assert resp.status_code == 403
    assert queue.tasks == {}


@pytest.mark.parametrize(
    "form", [{"entry": "999", "button": "0"}, {"entry": "x", "button": "0"}, {}]
)
def test_bad_clicks_are_refused(services: Bootstrap, form: dict[str, str]) -> None:
    assert request("POST", "/dev/outbox/click", form).status_code == 404


def test_card_text_drops_markup_and_decodes_entities() -> None:
    assert card_text("<b>A &amp; B</b><br>C &lt;x&gt;") == "A & B\nC <x>"


def test_a_correction_updates_the_earlier_chat_entry_and_the_page_shows_it(
    services: Bootstrap,
) -> None:
    """Locally, spaces.messages.patch is an update of the outbox row, shown at /dev/outbox."""
    import dataclasses

    from functions.domain.meetings import EventStatus
    from functions.notify.corrections import CorrectionJob, Mail, run_correction

    send_due(services)
    [chat_entry] = the_outbox(services).entries(channel=Channel.CHAT)
    meeting = services.store.get_meeting(USER_ID, "evt0001")
    assert meeting is not None
    services.store.upsert_meetings(
        [dataclasses.replace(meeting, status=EventStatus.CANCELLED, version="v2")]
    )
    result = run_correction(
        store=services.store,
        notifiers=services.notifiers,
        clock=services.clock,
        rules=services.classifier.rules,
        mail=Mail(sender_name="Meeting prep", host="localhost"),
        job=CorrectionJob(USER_ID, "evt0001"),
        tasks=services.tasks,
    )
    assert result == {"outcome": "corrected", "chat": 1, "email": 1}
    chats = the_outbox(services).entries(channel=Channel.CHAT)
    assert [e.id for e in chats] == [chat_entry.id]  # updated in place, not a new message
    [updated] = chats
    assert updated.updated_at is not None and chat_entry.updated_at is None
    assert "was cancelled" in updated.subject
    assert "was cancelled" in updated.chat_message["text"]
    assert len(the_outbox(services).entries(channel=Channel.EMAIL)) == 2
    body = request("GET", "/dev/outbox").get_data(as_text=True)
    assert f"#{chat_entry.id} · Google Chat" in body and " · updated " in body
    assert "<img" not in body
    # Another user's name for the same row finds nothing, as in Chat.
    chat = OutboxChatSender(the_outbox(services))
    other = f"spaces/local-someone-else/messages/{chat_entry.id}"
    assert chat.update_message(other, {"text": "x"}) is False
    assert chat.update_message(f"spaces/local-{USER_ID}/messages/999", {"text": "x"}) is False


def test_the_page_shows_each_digest_button_under_its_own_meeting(services: Bootstrap) -> None:
    """Locally as in Chat: a Generate prep button sits in its meeting's section."""
    from datetime import date, timedelta
    from zoneinfo import ZoneInfo

    from functions.notify.digest import window
    from functions.notify.digest_message import build_digest, digest_chat_message

    meetings = [
        make_meeting(event_id=f"evt{i}", title=f"Meeting {i}", start=NOW + timedelta(hours=i + 2))
        for i in range(3)
    ]
    win = window(date(2026, 3, 10), NOW.time(), ZoneInfo("UTC"))
    digest = build_digest(make_user(), win, meetings, label_of=lambda _: "1:1")
    OutboxChatSender(the_outbox(services)).send_direct(
        USER_ID, digest_chat_message(digest), request_id="digest-1"
    )
    body = request("GET", "/dev/outbox").get_data(as_text=True)
    sections = body.split('<div class="section">')[1:]
    titled = [s for s in sections if "Meeting " in s]
    assert len(titled) == 3
    for i, section in enumerate(titled):
        assert f"Meeting {i}" in section
        assert section.count("Generate prep</button>") == 1
        assert f'name="button" value="{2 * i}"' in section  # its own button, in click order
