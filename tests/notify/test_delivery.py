"""Per-channel delivery under claims: each notice at most once per channel, nothing lost."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from functions.bootstrap import Bootstrap
from functions.domain.users import Preferences
from functions.notify import problems
from functions.notify.content import NoticeKind, build_notice
from functions.notify.delivery import Outcome, deliver, stable_id
from functions.notify.port import (
    Channel,
    Notifiers,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from tests.support.factories import USER_ID, MemoryChat, MemoryEmail, make_meeting, make_user
from tests.support.roots import make_services

KEY = "notify:evt0001:v1"


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
    return s


def send(services: Bootstrap, **user_changes: object) -> dict[str, str]:
    user = make_user(**user_changes)
    notice = build_notice(NoticeKind.PREP_DUE, user, make_meeting(), type_label="1:1")
    return deliver(services, user, notice, claim_prefix=KEY).as_dict()


def test_both_channels_once_even_when_repeated(
    services: Bootstrap, email: MemoryEmail, chat: MemoryChat
) -> None:
    assert send(services) == {"email": "sent", "chat": "sent"}
    assert send(services) == {"email": "already_sent", "chat": "already_sent"}
    assert len(email.sent) == 1 and len(chat.sent) == 1
    _, _, request_id = chat.sent[0]
    assert request_id == str(stable_id(USER_ID, f"{KEY}:chat"))
    _, message = email.sent[0]
    assert message["Message-ID"] == f"<{stable_id(USER_ID, f'{KEY}:email').hex}@127.0.0.1>"


def test_disabled_channels_are_skipped(
    services: Bootstrap, email: MemoryEmail, chat: MemoryChat
) -> None:
    prefs = Preferences(email_enabled=False, chat_enabled=True)
    assert send(services, preferences=prefs) == {"email": "disabled", "chat": "sent"}
    assert email.sent == [] and len(chat.sent) == 1
    # Turning email on later sends the email only: the chat claim is still held.
    assert send(services) == {"email": "sent", "chat": "already_sent"}


def test_transient_failure_gives_the_claim_back_for_that_channel_only(
    services: Bootstrap, email: MemoryEmail, chat: MemoryChat
) -> None:
    chat.failures.append(TransientDeliveryError(Channel.CHAT, "http 500"))
    report = send(services)
    assert report == {"email": "sent", "chat": "retry"}
    assert send(services) == {"email": "already_sent", "chat": "sent"}
    assert len(email.sent) == 1 and len(chat.sent) == 1


def test_permanent_failure_is_recorded_and_never_retried(
    services: Bootstrap, email: MemoryEmail, chat: MemoryChat
) -> None:
    chat.failures.append(PermanentDeliveryError(Channel.CHAT, problems.CHAT_NO_DM))
    assert send(services) == {"email": "sent", "chat": "undeliverable"}
    stored = services.store.get_user(USER_ID)
    assert stored is not None and stored.delivery_problem == problems.CHAT_NO_DM
    assert send(services) == {"email": "already_sent", "chat": "already_sent"}
    assert chat.sent == []


def test_a_success_clears_only_its_own_channels_problem(
    services: Bootstrap, chat: MemoryChat
) -> None:
    services.store.put_user(make_user(delivery_problem=problems.CHAT_APP_REMOVED))
    chat.failures.append(TransientDeliveryError(Channel.CHAT, "down"))
    assert send(services) == {"email": "sent", "chat": "retry"}
    stored = services.store.get_user(USER_ID)
    assert stored is not None and stored.delivery_problem == problems.CHAT_APP_REMOVED
    assert send(services) == {"email": "already_sent", "chat": "sent"}
    stored = services.store.get_user(USER_ID)
    assert stored is not None and stored.delivery_problem is None


def test_user_without_address_is_a_permanent_email_problem(
    services: Bootstrap, email: MemoryEmail
) -> None:
    services.store.put_user(make_user(email=""))
    assert send(services, email="")["email"] == Outcome.UNDELIVERABLE.value
    stored = services.store.get_user(USER_ID)
    assert stored is not None and stored.delivery_problem == problems.EMAIL_NO_ADDRESS
    assert email.sent == []


def test_an_unexpected_crash_releases_the_claim_and_propagates(
    services: Bootstrap, email: MemoryEmail
) -> None:
    email.failures.append(RuntimeError("bug"))
    with pytest.raises(RuntimeError):
        send(services)
    assert send(services)["email"] == "sent"
    assert len(email.sent) == 1


def test_claims_are_per_user(services: Bootstrap, email: MemoryEmail) -> None:
    send(services)
    other = dataclasses.replace(make_user(), user_id="someone-else", email="x@example.com")
    services.store.put_user(other)
    meeting = dataclasses.replace(make_meeting(), user_id=other.user_id)
    notice = build_notice(NoticeKind.PREP_DUE, other, meeting, type_label="1:1")
    assert deliver(services, other, notice, claim_prefix=KEY).outcomes[Channel.EMAIL] is (
        Outcome.SENT
    )
    assert [uid for uid, _ in email.sent] == [USER_ID, "someone-else"]


def test_what_was_sent_is_recorded_for_corrections(services: Bootstrap) -> None:
    send(services)
    send(services)  # a replay records nothing new
    records = {s.channel: s for s in services.store.sent_messages(USER_ID, "evt0001")}
    assert set(records) == {"email", "chat"}
    assert records["chat"].name == "spaces/x/messages/1"
    assert records["email"].name == "m1"
    assert records["chat"].key == f"{KEY}:chat" and records["chat"].kind == "prep_due"
    assert records["chat"].start == make_meeting().start
    assert records["chat"].shows == "at:" + make_meeting().start.isoformat()


def test_a_failed_record_retries_chat_but_never_resends_the_email(
    services: Bootstrap, email: MemoryEmail, chat: MemoryChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    from functions.store.port import StoreBusy

    real = services.store.put_sent_message
    failures = [StoreBusy("busy"), StoreBusy("busy")]

    def flaky(message: object) -> None:
        if failures:
            raise failures.pop(0)
        real(message)  # type: ignore[arg-type]

    monkeypatch.setattr(services.store, "put_sent_message", flaky)
    # Email's record fails: the email stands (its claim is final); Chat's fails: retry.
    assert send(services) == {"email": "sent", "chat": "retry"}
    assert send(services) == {"email": "already_sent", "chat": "sent"}
    assert len(email.sent) == 1
    # Chat's create was repeated with the same request id: one message in Chat.
    assert {r for _, _, r in chat.sent} == {str(stable_id(USER_ID, f"{KEY}:chat"))}
    channels = {s.channel for s in services.store.sent_messages(USER_ID, "evt0001")}
    assert channels == {"chat"}
