"""Calendar API faults in the middle of a listing, carried through the queue to the user.

tests/sync covers each fault inside one sync call (429/403/500 mid-paging keep
the token; 410 between syncs resyncs; a revoked grant before the sync marks
reconnect-needed). These tests carry the same faults through everything
after them: the sync task's retries on the local Cloud Tasks stand-in, the
prep tasks it creates, the reminders at trigger time, and the sidebar card.
After each fault: every meeting is stored with its latest details, each has
exactly one reminder, and the card says what is true.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest

from functions.domain.prep_state import PrepState
from functions.domain.users import ConnectionState
from functions.prep.queueing import PREP_PATH, prep_task
from functions.sync.tasks import SYNC_PATH
from tests.faults.conftest import EMAIL, NOW, USER_ID, Stack

#: 1:1s (24 h lead) 30 h ahead: stored now, reminders due 6 h from now.
EVENTS = 10
FIRST_START = NOW + timedelta(hours=30)


def _seed(stack: Stack, summary: str = "1:1 with Sam") -> list[str]:
    ids = [f"ev{i:03d}" for i in range(EVENTS)]
    for i, event_id in enumerate(ids):
        stack.put_event(event_id, FIRST_START + i * timedelta(minutes=30), summary)
    return ids


def _reminded_once_each(stack: Stack, ids: list[str]) -> None:
    """Past every trigger: one email and one Chat reminder per meeting, no more."""
    stack.run_for(timedelta(hours=12), step=timedelta(minutes=1))
    assert len(stack.emails()) == len(ids), stack.emails()
    assert len(stack.chats()) == len(ids)
    names = [t.name for t in stack.delivered(PREP_PATH)]
    assert len(names) == len(set(names))  # no task ran twice (older versions' did nothing)
    for event_id in ids:
        meeting = stack.meeting(event_id)
        assert meeting.prep_state is PrepState.NOTIFIED
        assert names.count(prep_task(meeting).name) == 1
    assert "Reminder sent" in stack.card_text(ids[0])


@pytest.mark.parametrize(
    ("status", "reason"), [(429, None), (403, "rateLimitExceeded"), (500, None), (503, None)]
)
def test_transient_failure_mid_paging_is_retried_by_the_queue(
    stack: Stack, status: int, reason: str | None
) -> None:
    stack.add_user()
    ids = _seed(stack)
    stack.fake.page_cap = 4
    stack.fake.fail("events.list", status, reason=reason, after=1)  # page 2 of 3
    task = stack.scheduled_sync()
    stack.run_for(timedelta(minutes=2))
    # First attempt 503 (the queue's cue to back off), the retry finishes the job.
    assert stack.attempts(task) == [503, 200]
    assert {m.event_id for m in stack.services.store.get_meetings(USER_ID, ids).values()} == set(
        ids
    )
    _reminded_once_each(stack, ids)


def test_410_on_a_later_page_resyncs_cleanly_in_the_same_run(stack: Stack) -> None:
    stack.add_user()
    ids = _seed(stack)
    stack.scheduled_sync()
    stack.run_for(timedelta(minutes=1))
    token = stack.services.store.get_sync_state(USER_ID, "primary")
    assert token is not None and token.sync_token
    # Everything changes; the incremental listing pages, and its second page says 410.
    for event_id in ids:
        event = next(e for e in stack.fake.events(EMAIL) if e["id"] == event_id)
        stack.fake.put_event(EMAIL, {**event, "summary": "1:1 with Sam (moved agenda)"})
    stack.fake.delete_event(EMAIL, ids[-1])
    stack.fake.page_cap = 4
    stack.fake.fail("events.list", 410, reason="fullSyncRequired", after=1)
    stack.advance(timedelta(minutes=15))
    task = stack.scheduled_sync()
    stack.run_for(timedelta(minutes=1))
    assert stack.attempts(task) == [200]
    state = stack.services.store.get_sync_state(USER_ID, "primary")
    assert state is not None and state.sync_token not in (None, token.sync_token)
    meetings = stack.services.store.get_meetings(USER_ID, ids)
    live = ids[:-1]
    assert {meetings[i].title for i in live} == {"1:1 with Sam (moved agenda)"}
    assert meetings[ids[-1]].prep_state is PrepState.CANCELLED  # deleted: not forgotten
    _reminded_once_each(stack, live)
    assert "No prep needed" in stack.card_text(ids[-1])


def test_grant_revoked_between_pages(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    stack.add_user()
    ids = _seed(stack)
    stack.fake.page_cap = 4
    original = stack.fake._list
    pages = []

    def revoke_after_the_first_page(*args: Any, **kwargs: Any) -> Any:
        answer = original(*args, **kwargs)
        pages.append(1)
        if len(pages) == 1:
            stack.fake.revoke(EMAIL)  # the user removes our access while we page
        return answer

    monkeypatch.setattr(stack.fake, "_list", revoke_after_the_first_page)
    task = stack.scheduled_sync()
    stack.run_for(timedelta(minutes=2))
    # Acknowledged (retrying cannot help), and the user is told.
    assert stack.attempts(task) == [200]
    user = stack.services.store.get_user(USER_ID)
    assert user is not None and user.connection is ConnectionState.RECONNECT_NEEDED
    assert "Reconnect needed" in stack.card_text()
    state = stack.services.store.get_sync_state(USER_ID, "primary")
    assert state is None or state.sync_token is None  # nothing claims to be in sync
    assert stack.delivered(PREP_PATH) == [] and stack.emails() == []

    # The user reconnects: a new grant, and the connect flow's first sync.
    monkeypatch.setattr(stack.fake, "_list", original)
    stack.provider.issued.clear()
    stack.provider.grants[USER_ID] = stack.fake.add_user(EMAIL)
    stack.services.store.put_user(dataclasses.replace(user, connection=ConnectionState.CONNECTED))
    stack.advance(timedelta(minutes=15))
    stack.scheduled_sync()
    stack.run_for(timedelta(minutes=1))
    assert "Reconnect needed" not in stack.card_text()
    assert len(stack.services.store.get_meetings(USER_ID, ids)) == EVENTS
    _reminded_once_each(stack, ids)


def test_a_sync_that_keeps_failing_gives_up_without_losing_the_next_one(stack: Stack) -> None:
    """Five failed attempts: the queue drops that task; the next slot's sync does the work."""
    stack.add_user()
    ids = _seed(stack)
    stack.fake.fail("events.list", 500, times=5)
    task = stack.scheduled_sync()
    stack.run_for(timedelta(minutes=10))
    assert stack.attempts(task) == [503] * 5
    assert stack.services.store.get_meetings(USER_ID, ids) == {}
    assert stack.delivered(SYNC_PATH) == []
    stack.advance(timedelta(minutes=15))  # the next scheduler slot
    stack.scheduled_sync()
    stack.run_for(timedelta(minutes=1))
    assert len(stack.services.store.get_meetings(USER_ID, ids)) == EVENTS
    _reminded_once_each(stack, ids)
