"""The production Gmail and Chat adapters, through the real client library, against the fake."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from google.oauth2.credentials import Credentials

from functions.notify import problems
from functions.notify.chat_message import chat_message_for
from functions.notify.content import NoticeKind, build_notice
from functions.notify.email_message import build_email
from functions.notify.gmail import GmailSender
from functions.notify.google_chat import ChatAppSender
from functions.notify.port import PermanentDeliveryError, TransientDeliveryError
from tests.support.factories import NOW, USER_ID, make_meeting, make_user
from tests.support.fake_google_apis import (
    CHAT_CREATE,
    CHAT_FIND_DM,
    GMAIL_SEND,
    FakeGoogle,
    fake_google_apis,
)


@pytest.fixture
def fake() -> Iterator[FakeGoogle]:
    with fake_google_apis() as server:
        yield server


def message() -> EmailMessage:
    n = build_notice(NoticeKind.PREP_DUE, make_user(), make_meeting(), type_label="1:1")
    return build_email(n, sender_name="Meeting prep", sent_at=NOW, message_id="<m@example.com>")


def chat_body() -> dict[str, object]:
    n = build_notice(NoticeKind.PREP_DUE, make_user(), make_meeting(), type_label="1:1")
    return chat_message_for(n)


def gmail(fake: FakeGoogle) -> GmailSender:
    return GmailSender(lambda uid: Credentials(token=f"user-token-{uid}"), api_endpoint=fake.url)


def chat(fake: FakeGoogle) -> ChatAppSender:
    return ChatAppSender(lambda: Credentials(token="app-token"), api_endpoint=fake.url)


def free_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/"


# ---------------------------------------------------------------- Gmail


def test_gmail_send_delivers_the_mime_as_the_user(fake: FakeGoogle) -> None:
    sent_id = gmail(fake).send(USER_ID, message())
    assert sent_id == "msg-1"
    [mail] = fake.sent_mail
    assert mail.user_id == "me"
    assert mail.authorization == f"Bearer user-token-{USER_ID}"
    assert mail.message.get_content_type() == "multipart/alternative"
    assert mail.message["Subject"] == message()["Subject"]


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (500, "backendError"),
        (503, "backendError"),
        (429, "rateLimitExceeded"),
        (403, "userRateLimitExceeded"),
        (403, "dailyLimitExceeded"),
    ],
)
def test_gmail_transient_errors_are_retryable(fake: FakeGoogle, status: int, reason: str) -> None:
    fake.fail(GMAIL_SEND, status, reason)
    with pytest.raises(TransientDeliveryError):
        gmail(fake).send(USER_ID, message())
    assert fake.sent_mail == []
    gmail(fake).send(USER_ID, message())  # the next attempt goes through
    assert len(fake.sent_mail) == 1


@pytest.mark.parametrize(
    ("status", "reason", "problem"),
    [
        (403, "insufficientPermissions", problems.EMAIL_NOT_AUTHORIZED),
        (401, "authError", problems.EMAIL_NOT_AUTHORIZED),
        (400, "failedPrecondition", problems.EMAIL_REJECTED),
    ],
)
def test_gmail_permanent_errors_name_the_problem(
    fake: FakeGoogle, status: int, reason: str, problem: str
) -> None:
    fake.fail(GMAIL_SEND, status, reason)
    with pytest.raises(PermanentDeliveryError) as caught:
        gmail(fake).send(USER_ID, message())
    assert caught.value.problem == problem


def test_gmail_without_stored_credentials_is_permanent(fake: FakeGoogle) -> None:
    def none(_: str) -> Credentials:
        raise LookupError("no grant")

    with pytest.raises(PermanentDeliveryError) as caught:
        GmailSender(none, api_endpoint=fake.url).send(USER_ID, message())
    assert caught.value.problem == problems.EMAIL_NOT_AUTHORIZED
    assert fake.calls == []


def test_gmail_unreachable_is_transient() -> None:
    sender = GmailSender(lambda _: Credentials(token="t"), api_endpoint=free_port_url())
    with pytest.raises(TransientDeliveryError):
        sender.send(USER_ID, message())


# ---------------------------------------------------------------- Chat


def test_chat_finds_the_dm_and_posts_the_card(fake: FakeGoogle) -> None:
    space = fake.add_dm(USER_ID)
    name = chat(fake).send_direct(USER_ID, chat_body(), request_id="req-1")
    [post] = fake.chat_posts
    assert name == post.name and post.space == space
    assert post.authorization == "Bearer app-token"
    assert post.request_id == "req-1"
    assert post.body["cardsV2"][0]["card"]["header"]["title"] == "Meeting prep"
    assert fake.calls == [CHAT_FIND_DM, CHAT_CREATE]


def test_chat_request_id_makes_a_repeated_create_return_the_first_message(
    fake: FakeGoogle,
) -> None:
    fake.add_dm(USER_ID)
    first = chat(fake).send_direct(USER_ID, chat_body(), request_id="req-1")
    again = chat(fake).send_direct(USER_ID, chat_body(), request_id="req-1")
    assert first == again
    assert len(fake.chat_posts) == 1
    chat(fake).send_direct(USER_ID, chat_body(), request_id="req-2")
    assert len(fake.chat_posts) == 2


def test_chat_without_a_dm_space_is_permanent(fake: FakeGoogle) -> None:
    with pytest.raises(PermanentDeliveryError) as caught:
        chat(fake).send_direct(USER_ID, chat_body(), request_id="r")
    assert caught.value.problem == problems.CHAT_NO_DM
    assert fake.calls == [CHAT_FIND_DM]


@pytest.mark.parametrize("op", [CHAT_FIND_DM, CHAT_CREATE])
def test_chat_forbidden_is_permanent(fake: FakeGoogle, op: str) -> None:
    fake.add_dm(USER_ID)
    fake.fail(op, 403, "forbidden")
    with pytest.raises(PermanentDeliveryError) as caught:
        chat(fake).send_direct(USER_ID, chat_body(), request_id="r")
    assert caught.value.problem == problems.CHAT_FORBIDDEN
    assert fake.chat_posts == []


@pytest.mark.parametrize(
    ("op", "status"), [(CHAT_FIND_DM, 503), (CHAT_CREATE, 500), (CHAT_CREATE, 429)]
)
def test_chat_server_trouble_is_transient_then_ok(fake: FakeGoogle, op: str, status: int) -> None:
    fake.add_dm(USER_ID)
    fake.fail(op, status)
    with pytest.raises(TransientDeliveryError):
        chat(fake).send_direct(USER_ID, chat_body(), request_id="r")
    assert fake.chat_posts == []
    chat(fake).send_direct(USER_ID, chat_body(), request_id="r")
    assert len(fake.chat_posts) == 1


def test_chat_refuses_a_malformed_card_and_we_do_not_retry_it(fake: FakeGoogle) -> None:
    fake.add_dm(USER_ID)
    body = json.loads(json.dumps(chat_body()))
    body["cardsV2"][0]["card"]["sections"][0]["widgets"][0] = {"notAWidget": {}}
    with pytest.raises(PermanentDeliveryError) as caught:
        chat(fake).send_direct(USER_ID, body, request_id="r")
    assert caught.value.problem == problems.CHAT_REJECTED
    assert fake.conformance.take() == [
        "Message.cardsV2[0].card.sections[0].widgets[0]: unknown property 'notAWidget'"
    ]


def test_chat_app_credentials_are_built_once(fake: FakeGoogle) -> None:
    fake.add_dm(USER_ID)
    built: list[int] = []

    def factory() -> Credentials:
        built.append(1)
        return Credentials(token="app-token")

    sender = ChatAppSender(factory, api_endpoint=fake.url)
    for i in range(3):
        sender.send_direct(USER_ID, chat_body(), request_id=f"r{i}")
    assert len(built) == 1 and len(fake.chat_posts) == 3


# ---------------------------------------------------------------- Chat: correcting a message


def corrected_body() -> dict[str, object]:
    from functions.domain.sent_messages import CANCELLED
    from functions.notify.correction_message import correction_chat_message

    n = build_notice(NoticeKind.PREP_DUE, make_user(), make_meeting(), type_label="1:1")
    return correction_chat_message(n, CANCELLED, "Mon, Mar 16, 3:00 PM")


def test_chat_patch_replaces_text_and_card_in_place(fake: FakeGoogle) -> None:
    fake.add_dm(USER_ID)
    sender = chat(fake)
    name = sender.send_direct(USER_ID, chat_body(), request_id="req-1")
    assert sender.update_message(name, corrected_body()) is True
    [post] = fake.chat_posts
    assert post.body == corrected_body()
    [update] = fake.chat_updates
    assert (update.name, update.update_mask) == (name, "text,cardsV2")
    # A retry of the same correction leaves the same message, and no second one.
    assert sender.update_message(name, corrected_body()) is True
    assert len(fake.chat_posts) == 1 and post.body == corrected_body()


def test_chat_patch_on_a_deleted_message_is_false_not_an_error(fake: FakeGoogle) -> None:
    fake.add_dm(USER_ID)
    sender = chat(fake)
    name = sender.send_direct(USER_ID, chat_body(), request_id="req-1")
    fake.delete_chat_message(name)
    assert sender.update_message(name, corrected_body()) is False
    assert fake.chat_posts == [] and fake.chat_updates == []


def test_chat_patch_of_another_apps_message_is_refused_for_good(fake: FakeGoogle) -> None:
    fake.add_dm(USER_ID)
    name = chat(fake).send_direct(USER_ID, chat_body(), request_id="req-1")
    other = ChatAppSender(lambda: Credentials(token="other-app"), api_endpoint=fake.url)
    with pytest.raises(PermanentDeliveryError) as caught:
        other.update_message(name, corrected_body())
    assert caught.value.problem == problems.CHAT_FORBIDDEN
    assert fake.chat_posts[0].body == chat_body()


def test_chat_patch_server_trouble_is_transient(fake: FakeGoogle) -> None:
    from tests.support.fake_google_apis import CHAT_PATCH

    fake.add_dm(USER_ID)
    sender = chat(fake)
    name = sender.send_direct(USER_ID, chat_body(), request_id="req-1")
    fake.fail(CHAT_PATCH, 503)
    with pytest.raises(TransientDeliveryError):
        sender.update_message(name, corrected_body())
    assert sender.update_message(name, corrected_body()) is True


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("", 400),  # updateMask is required
        ("?updateMask=", 400),
        ("?updateMask=name", 400),  # not an updatable path
        ("?updateMask=text,sender", 400),
        ("?updateMask=text&allowMissing=true", 200),
        ("?updateMask=*", 200),
    ],
)
def test_fake_chat_patch_enforces_the_documented_update_mask(
    fake: FakeGoogle, query: str, status: int
) -> None:
    import urllib.error
    import urllib.request

    fake.add_dm(USER_ID)
    name = chat(fake).send_direct(USER_ID, chat_body(), request_id="req-1")
    request = urllib.request.Request(  # noqa: S310 - loopback fake
        f"{fake.url}v1/{name}{query}",
        data=json.dumps(corrected_body()).encode(),
        method="PATCH",
        headers={"Authorization": "Bearer app-token", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request) as resp:  # noqa: S310 - loopback fake
            got = resp.status
    except urllib.error.HTTPError as exc:
        got = exc.code
    assert got == status


def test_fake_chat_patch_allow_missing_needs_a_client_assigned_id(fake: FakeGoogle) -> None:
    import urllib.error
    import urllib.request

    fake.add_dm(USER_ID)
    codes = []
    for message_id in ("m999", "client-reminder-1"):
        request = urllib.request.Request(  # noqa: S310 - loopback fake
            f"{fake.url}v1/spaces/dm-{USER_ID}/messages/{message_id}"
            "?updateMask=text&allowMissing=true",
            data=json.dumps({"text": "hello"}).encode(),
            method="PATCH",
            headers={"Authorization": "Bearer app-token", "Content-Type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request)  # noqa: S310 - loopback fake
        codes.append(caught.value.code)
    assert codes == [400, 404]
