"""The instance dies in the middle of sending a reminder.

Claims are taken before a send, so a retry never sends twice; the question is
what a death between claim and send costs. Chat's create is idempotent on its
`requestId`, so its claim is leased: while the lease runs the retries are told
to come back (503), and once it is over the next retry takes the claim over
and sends again under the same request id. Whether the first send reached
Chat or not, the user ends up with exactly one Chat message. Email has no
such key, so its claim is final and the email already sent stays the only one.

The lease is wall-clock time measured by the store, so the test shortens it
and waits it out for real; the queue's own clock is the test's `FixedClock`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest

from functions.domain.prep_state import PrepState
from functions.notify import delivery
from functions.notify.outbox_page import outbox_of
from functions.notify.port import Channel, ChatSender, Notifiers
from functions.prep.queueing import PREP_PATH, prep_task
from functions.store.port import Store
from tests.faults.conftest import NOW, USER_ID, Stack

LEASE = timedelta(milliseconds=300)


class InstanceDied(BaseException):
    """Not an Exception: nothing in the app catches it, like a killed process."""


class DyingChat(ChatSender):
    """The real (local) Chat sender, except that the first send kills the instance,
    either before the message reaches Chat or just after Chat accepted it."""

    def __init__(self, inner: ChatSender, *, after_send: bool) -> None:
        self.inner = inner
        self.after_send = after_send
        self.deaths = 0
        #: True from the death until the attempt is over: a killed process runs
        #: no cleanup, so the store must not see the claim given back.
        self.dead = False

    def send_direct(self, user_id: str, message: Mapping[str, Any], *, request_id: str) -> str:
        self.dead = False
        if self.deaths:
            return self.inner.send_direct(user_id, message, request_id=request_id)
        self.deaths += 1
        if self.after_send:
            self.inner.send_direct(user_id, message, request_id=request_id)
        self.dead = True
        raise InstanceDied

    def update_message(self, name: str, message: Mapping[str, Any]) -> bool:
        return self.inner.update_message(name, message)


def _killed_not_unwound(store: Store, dying: DyingChat, monkeypatch: pytest.MonkeyPatch) -> None:
    """`InstanceDied` unwinds through the app's cleanup; a SIGKILL would not."""
    release = store.release_claim

    def release_unless_dead(user_id: str, key: str) -> None:
        if not dying.dead:
            release(user_id, key)

    monkeypatch.setattr(store, "release_claim", release_unless_dead)


@pytest.fixture
def short_lease(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery, "_LEASES", {Channel.CHAT: LEASE})


@pytest.mark.parametrize("after_send", [False, True], ids=["before-chat", "after-chat"])
@pytest.mark.usefixtures("short_lease")
def test_a_death_mid_send_ends_with_one_message_per_channel(
    stack: Stack, after_send: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack.add_user()
    stack.put_event("ev01", NOW + timedelta(hours=30), "1:1 with Sam")
    stack.queue.enqueue(stack.scheduled_sync())
    stack.queue.run_due()
    outbox = outbox_of(stack.services)
    assert outbox is not None

    def sent() -> tuple[int, int]:
        return (
            len(outbox.entries(channel=Channel.EMAIL, user_id=USER_ID)),
            len(outbox.entries(channel=Channel.CHAT, user_id=USER_ID)),
        )

    notifiers = stack.services.notifiers
    dying = DyingChat(notifiers.chat, after_send=after_send)
    stack.swap(notifiers=Notifiers(email=notifiers.email, chat=dying))
    _killed_not_unwound(stack.services.store, dying, monkeypatch)
    task = prep_task(stack.meeting("ev01"))
    assert task.path == PREP_PATH

    # The trigger time: the email goes out, then the instance dies inside the Chat send.
    stack.set_time(task.schedule_at or NOW)
    stack.queue.run_due()
    assert dying.deaths == 1
    assert stack.attempts(task) == [None]
    assert sent() == (1, 1 if after_send else 0)

    # Within the lease the queue's retries are told to come back, and send nothing.
    stack.run_for(timedelta(seconds=10))
    assert stack.attempts(task)[1:] and set(stack.attempts(task)[1:]) == {503}
    assert sent() == (1, 1 if after_send else 0)

    # Once the lease is over (in wall time), the next retry takes the claim over.
    time.sleep(LEASE.total_seconds() * 2)
    stack.run_for(timedelta(hours=1))
    assert stack.attempts(task)[-1] == 200
    assert sent() == (1, 1)
    assert stack.meeting("ev01").prep_state is PrepState.NOTIFIED

    # Later duplicates of the task find both claims settled.
    for _ in range(2):
        again = stack.replay(task)
        assert again.status_code == 200
        assert again.get_json()["channels"] == {"email": "already_sent", "chat": "already_sent"}
    assert sent() == (1, 1)
