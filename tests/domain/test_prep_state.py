"""The prep state machine allows exactly the documented moves."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from functions.domain.meetings import Meeting
from functions.domain.prep_state import (
    TRANSITIONS,
    InvalidTransition,
    PrepState,
    advance,
    can_advance,
)

HAPPY_PATH = [
    PrepState.NOT_STARTED,
    PrepState.SCHEDULED,
    PrepState.NOTIFIED,
    PrepState.GENERATING,
    PrepState.READY,
    PrepState.DELIVERED,
]


def test_every_state_has_a_transition_row() -> None:
    assert set(TRANSITIONS) == set(PrepState)


def test_happy_path_is_legal() -> None:
    state = HAPPY_PATH[0]
    for nxt in HAPPY_PATH[1:]:
        state = advance(state, nxt)
    assert state is PrepState.DELIVERED


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (PrepState.NOTIFIED, PrepState.NOT_STARTED),  # no going back after telling the user
        (PrepState.READY, PrepState.NOTIFIED),
        (PrepState.DELIVERED, PrepState.READY),
        (PrepState.NOT_STARTED, PrepState.READY),  # ready only through generating
        (PrepState.SCHEDULED, PrepState.SCHEDULED),
        (PrepState.CANCELLED, PrepState.GENERATING),
    ],
)
def test_illegal_moves_raise(current: PrepState, target: PrepState) -> None:
    with pytest.raises(InvalidTransition, match=f"from {current.value} to {target.value}"):
        advance(current, target)


def test_every_state_can_be_cancelled_except_cancelled() -> None:
    for state in PrepState:
        assert can_advance(state, PrepState.CANCELLED) is (state is not PrepState.CANCELLED)


def test_every_state_is_reachable_from_not_started() -> None:
    reached = {PrepState.NOT_STARTED}
    frontier = [PrepState.NOT_STARTED]
    while frontier:
        s = frontier.pop()
        for t in TRANSITIONS[s] - reached:
            reached.add(t)
            frontier.append(t)
    assert reached == set(PrepState)


def test_ready_requires_generating_first() -> None:
    for a, b in itertools.product(PrepState, repeat=2):
        if b is PrepState.READY and can_advance(a, b):
            assert a is PrepState.GENERATING


def test_meeting_moves_through_the_same_machine() -> None:
    start = datetime(2026, 12, 1, 9, tzinfo=UTC)
    m = Meeting("u", "e", "primary", "t", start, start + timedelta(hours=1))
    assert m.with_prep_state(PrepState.SCHEDULED).prep_state is PrepState.SCHEDULED
    with pytest.raises(InvalidTransition):
        m.with_prep_state(PrepState.DELIVERED)


def test_meeting_validates_its_times() -> None:
    start = datetime(2026, 12, 1, 9, tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        Meeting("u", "e", "primary", "t", start.replace(tzinfo=None), start)
    with pytest.raises(ValueError, match="ends before"):
        Meeting("u", "e", "primary", "t", start, start - timedelta(minutes=1))
