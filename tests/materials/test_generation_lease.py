"""A retry that claims a generation renews its lease (`generating_since`).

The lease was set only when the task was queued. Cloud Tasks backs off
between attempts (minutes, after a few failures), so a retry that started
late in the lease and was still running when the lease ran out made the card
offer "Try again" while that attempt was alive: a click then queued a second
generation of the same meeting.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from functions.bootstrap import Bootstrap
from functions.domain.clock import FixedClock
from functions.domain.meetings import Meeting
from functions.domain.prep_state import PrepState
from functions.materials.context import MeetingContext
from functions.materials.generator import Generation, Generator, TransientGenerationError
from functions.materials.handler import handle_generate
from functions.materials.lease import generation_lease
from functions.materials.prompt import Prompt
from functions.prep.queueing import queue_generation
from functions.tasks.endpoint import RetryLater
from tests.materials.conftest import make_meeting, make_user
from tests.support.recording_queue import RecordingQueue


class _SeesTheLease(Generator):
    """Records the stored `generating_since` while the attempt runs, then fails transiently."""

    generator_id = "lease-probe:v1"
    metered = False

    def __init__(self, services: Bootstrap, meeting: Meeting) -> None:
        self.services = services
        self.meeting = meeting
        self.seen: list[datetime | None] = []

    def generate(self, context: MeetingContext, prompt: Prompt) -> Generation:
        stored = self.services.store.get_meeting(self.meeting.user_id, self.meeting.event_id)
        assert stored is not None
        self.seen.append(stored.generating_since)
        raise TransientGenerationError("quota")


def _queued(services: Bootstrap) -> Meeting:
    user = make_user()
    services.store.put_user(user)
    meeting = make_meeting(user, prep_state=PrepState.NOTIFIED)
    services.store.upsert_meetings([meeting])
    lease = generation_lease(services.settings.materials)
    return queue_generation(
        services.store, RecordingQueue(), meeting, now=services.clock.now(), lease=lease
    )


def _payload(meeting: Meeting) -> dict[str, str]:
    return {"user_id": meeting.user_id, "event_id": meeting.event_id, "version": meeting.version}


def test_a_late_retry_renews_the_lease_when_it_claims_the_generation(
    services: Bootstrap, clock: FixedClock
) -> None:
    queued = _queued(services)
    lease = generation_lease(services.settings.materials)
    assert queued.generating_since == clock.now()
    clock.advance(lease * 0.9)  # the retry arrives after a long backoff
    probe = _SeesTheLease(services, queued)
    root = services.replaced(generator=probe)
    with pytest.raises(RetryLater):
        handle_generate(root, _payload(queued))
    assert queued.generating_since is not None
    renewed_at = queued.generating_since + lease * 0.9
    # Renewed before the model was called, so a card read during the attempt sees it.
    assert probe.seen == [renewed_at]
    clock.advance(lease * 0.5)  # past the queue-time lease, within the renewed one
    stored = services.store.get_meeting(queued.user_id, queued.event_id)
    assert stored is not None and stored.prep_state is PrepState.GENERATING
    assert not stored.generation_overdue(clock.now(), lease)


def test_renewing_is_idempotent_and_never_moves_the_state(
    services: Bootstrap, clock: FixedClock
) -> None:
    queued = _queued(services)
    lease = generation_lease(services.settings.materials)
    clock.advance(lease * 0.5)
    root = services.replaced(generator=_SeesTheLease(services, queued))
    for _ in range(2):  # a duplicate delivery at the same instant changes nothing more
        with pytest.raises(RetryLater):
            handle_generate(root, _payload(queued))
    stored = services.store.get_meeting(queued.user_id, queued.event_id)
    assert stored is not None
    assert stored.prep_state is PrepState.GENERATING
    assert stored.generating_since == clock.now()
    assert stored.version == queued.version
