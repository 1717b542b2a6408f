"""The prep state machine: the one place that says which moves are legal.

Every handler (sync, prep task, generation, sidebar actions) moves a meeting's
prep state through `advance`, so a retried or reordered task that would move a
meeting backwards fails loudly here instead of silently corrupting state.
"""

from __future__ import annotations

from enum import StrEnum


class PrepState(StrEnum):
    NOT_STARTED = "not_started"
    SCHEDULED = "scheduled"
    NOTIFIED = "notified"
    GENERATING = "generating"
    READY = "ready"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


_S = PrepState

# Why each edge exists:
# - scheduled -> scheduled is absent on purpose: a moved meeting keeps its state
#   and only its trigger time changes.
# - notified/failed -> scheduled: the meeting moved after we told the user, so a
#   new trigger time applies.
# - ready/delivered -> generating: "Regenerate".
# - cancelled -> scheduled/not_started: an event was restored or re-accepted.
TRANSITIONS: dict[PrepState, frozenset[PrepState]] = {
    _S.NOT_STARTED: frozenset({_S.SCHEDULED, _S.GENERATING, _S.CANCELLED}),
    _S.SCHEDULED: frozenset({_S.NOTIFIED, _S.GENERATING, _S.CANCELLED, _S.NOT_STARTED}),
    _S.NOTIFIED: frozenset({_S.GENERATING, _S.SCHEDULED, _S.CANCELLED}),
    _S.GENERATING: frozenset({_S.READY, _S.FAILED, _S.CANCELLED}),
    _S.READY: frozenset({_S.DELIVERED, _S.GENERATING, _S.CANCELLED}),
    _S.DELIVERED: frozenset({_S.GENERATING, _S.CANCELLED}),
    _S.FAILED: frozenset({_S.GENERATING, _S.SCHEDULED, _S.CANCELLED}),
    _S.CANCELLED: frozenset({_S.SCHEDULED, _S.NOT_STARTED}),
}

#: States in which a prep notification is still owed to the user.
PENDING_STATES: frozenset[PrepState] = frozenset({_S.NOT_STARTED, _S.SCHEDULED})


class InvalidTransition(ValueError):
    """Raised when a caller asks for a move the state machine forbids."""

    def __init__(self, current: PrepState, target: PrepState) -> None:
        super().__init__(f"prep state cannot move from {current.value} to {target.value}")
        self.current = current
        self.target = target


def can_advance(current: PrepState, target: PrepState) -> bool:
    return target in TRANSITIONS[current]


def advance(current: PrepState, target: PrepState) -> PrepState:
    """Return `target` if the move is legal, else raise `InvalidTransition`."""
    if not can_advance(current, target):
        raise InvalidTransition(current, target)
    return target
