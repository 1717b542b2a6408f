""" "Your prep is ready": once per set of materials, on each channel, then `delivered`."""

from __future__ import annotations

import dataclasses
import html
import json
from pathlib import Path

import pytest

from functions.bootstrap import Bootstrap
from functions.domain.prep_state import PrepState
from functions.materials.storage import materials_ref
from functions.notify.content import calendar_event_url
from functions.notify.port import Channel, Notifiers, TransientDeliveryError
from functions.notify.ready import send_ready
from functions.tasks.endpoint import RetryLater
from tests.support.factories import USER_ID, MemoryChat, MemoryEmail, make_meeting, make_user
from tests.support.roots import make_services

URL = "https://storage.googleapis.com/prep/materials.html?X-Goog-Signature=abc&X-Goog-Expires=900"


@pytest.fixture
def email() -> MemoryEmail:
    return MemoryEmail()


@pytest.fixture
def chat() -> MemoryChat:
    return MemoryChat()


@pytest.fixture
def services(tmp_path: Path, email: MemoryEmail, chat: MemoryChat) -> Bootstrap:
    s = make_services(tmp_path, notifiers=Notifiers(email=email, chat=chat))
    s.store.put_user(make_user())
    s.store.upsert_meetings([make_meeting(prep_state=PrepState.READY, materials_ref="m/1")])
    return s


def ready(services: Bootstrap) -> None:
    meeting = services.store.get_meeting(USER_ID, "evt0001")
    assert meeting is not None
    send_ready(services, make_user(), meeting, materials_url=URL)


def test_sent_once_with_the_materials_link_then_delivered(
    services: Bootstrap, email: MemoryEmail, chat: MemoryChat
) -> None:
    ready(services)
    ready(services)
    assert len(email.sent) == 1 and len(chat.sent) == 1
    _, message = email.sent[0]
    assert str(message["Subject"]).startswith("Your prep is ready")
    text = message.get_body(("plain",))
    # A signed URL is never body text: the HTML part links it under a label.
    assert text is not None and URL not in text.get_content()
    assert 'the "Open your prep" button' in text.get_content()
    html_part = message.get_body(("html",))
    assert html_part is not None
    assert f'href="{html.escape(URL)}"' in html_part.get_content()
    _, card_message, _ = chat.sent[0]
    buttons = card_message["cardsV2"][0]["card"]["sections"][0]["widgets"][-1]["buttonList"]
    urls = [b["onClick"]["openLink"]["url"] for b in buttons["buttons"]]
    meeting = services.store.get_meeting(USER_ID, "evt0001")
    assert meeting is not None
    assert urls == [URL, calendar_event_url(meeting)]
    assert "Generate prep" not in json.dumps(card_message)
    assert meeting.prep_state is PrepState.DELIVERED


def test_new_materials_get_a_new_message(services: Bootstrap, email: MemoryEmail) -> None:
    ready(services)
    services.store.upsert_meetings([make_meeting(prep_state=PrepState.READY, materials_ref="m/2")])
    ready(services)
    assert len(email.sent) == 2


def test_transient_failure_retries_that_channel_only(
    services: Bootstrap, email: MemoryEmail, chat: MemoryChat
) -> None:
    chat.failures.append(TransientDeliveryError(Channel.CHAT, "http 503"))
    with pytest.raises(RetryLater):
        ready(services)
    meeting = services.store.get_meeting(USER_ID, "evt0001")
    assert meeting is not None and meeting.prep_state is PrepState.READY  # not settled yet
    ready(services)
    assert len(email.sent) == 1 and len(chat.sent) == 1
    meeting = services.store.get_meeting(USER_ID, "evt0001")
    assert meeting is not None and meeting.prep_state is PrepState.DELIVERED


def test_refuses_a_meeting_without_materials_or_of_another_user(services: Bootstrap) -> None:
    with pytest.raises(ValueError, match="materials"):
        send_ready(services, make_user(), make_meeting(materials_ref=None), materials_url=URL)
    other = dataclasses.replace(make_user(), user_id="someone-else")
    with pytest.raises(ValueError, match="another user"):
        send_ready(services, other, make_meeting(materials_ref="m/1"), materials_url=URL)


def test_the_roots_ready_sender_acts_for_that_root_after_a_swap(
    services: Bootstrap, email: MemoryEmail, chat: MemoryChat
) -> None:
    """Materials reach "prep is ready" only through the root (`send_ready`), and a replaced
    root's sender delivers through the replaced root's notifiers, not the first one's."""
    first = services.send_ready
    assert first is not None
    other_email, other_chat = MemoryEmail(), MemoryChat()
    swapped = services.replaced(notifiers=Notifiers(email=other_email, chat=other_chat))
    send = swapped.send_ready
    assert send is not None
    meeting = services.store.get_meeting(USER_ID, "evt0001")
    assert meeting is not None
    ref = materials_ref(USER_ID, meeting.event_id, "cachekey1")
    send(make_user(), dataclasses.replace(meeting, materials_ref=ref))
    assert (len(other_email.sent), len(other_chat.sent)) == (1, 1)
    assert (len(email.sent), len(chat.sent)) == (0, 0)
