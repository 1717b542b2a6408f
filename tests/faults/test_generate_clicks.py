"""Repeated Generate clicks, from the sidebar and from Chat, while the queue delivers.

A second click used to land after the first generation had finished and be
taken as "Regenerate" (both buttons sent the same action): two generations,
two "prep is ready" emails and Chat messages. Clicks here come 0 ms (on
threads, at once), 250 ms and 2 s apart, with the local queue delivering on
its own worker thread as the local server does, so the later clicks land
while the first generation runs or after it finished. Each gap ends with one
generation and one "ready" message per channel.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import pytest

from functions.domain.prep_state import PrepState
from functions.prep.queueing import GENERATE_PATH
from tests.faults.conftest import NOW, Stack
from tests.support.threads import run_together

EVENT = "ev-clicks"


def _chat_click(stack: Stack) -> None:
    assert stack.chat_click(EVENT).status_code == 200


def _sidebar_click(stack: Stack) -> None:
    stack.sidebar(EVENT, params={"op": "generate"})


def _wait_settled(stack: Stack, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        state = stack.meeting(EVENT).prep_state
        if not stack.queue.pending() and state in (PrepState.READY, PrepState.DELIVERED):
            return
        time.sleep(0.05)
    raise AssertionError("the generation did not settle")


@pytest.mark.parametrize("gap", [0.0, 0.25, 2.0], ids=["0ms", "250ms", "2s"])
def test_repeated_generate_clicks_make_one_generation_and_one_message_each(
    stack: Stack, gap: float
) -> None:
    stack.add_user()
    # Far enough out that the QBR's 14-day lead leaves its reminder in the future.
    stack.put_event(EVENT, NOW + timedelta(days=20), "Acme QBR")
    stack.scheduled_sync()
    stack.run_for(timedelta(seconds=5))
    assert stack.meeting(EVENT).prep_state is PrepState.SCHEDULED
    clicks: list[Callable[[], None]] = [
        lambda: _sidebar_click(stack),
        lambda: _sidebar_click(stack),
        lambda: _chat_click(stack),
        lambda: _sidebar_click(stack),
    ]
    stack.queue.start()  # delivers as tasks fall due, as the local server does
    try:
        if gap == 0:
            run_together(clicks)
        else:
            for click in clicks:
                click()
                time.sleep(gap)
        _wait_settled(stack)
    finally:
        stack.queue.stop()
    generated = {t.name for t in stack.delivered(GENERATE_PATH)}
    assert len(generated) == 1, generated
    ready_emails = [s for s in stack.emails() if s.startswith("Your prep is ready")]
    ready_chats = [s for s in stack.chats() if "ready" in s.lower()]
    assert (len(ready_emails), len(ready_chats)) == (1, 1)
    meeting = stack.meeting(EVENT)
    assert meeting.materials_ref and "Open materials" in stack.card_text(EVENT)
