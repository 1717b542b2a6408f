"""Vertex AI and Cloud Storage faults behind the "Generate prep" button, seen by the user.

tests/materials/test_vertex.py and test_generation_task.py cover each fault
against the handler (quota retried, timeouts, schema mismatches, the retry
limit). Here the faults start from the user's click in the sidebar and run
through the local Cloud Tasks stand-in's retries: the model is the real
google-genai client against `fake_vertex`, storage the real
google-cloud-storage client against the emulator behind a fault proxy.
After each fault: the meeting ends `ready` (or `failed`, then ready after
"Try again"), exactly one "ready" email and Chat message go out, and the
card shows the state the meeting is in at each step.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta

import pytest

from functions.bootstrap import build_materials_storage
from functions.domain.prep_state import PrepState
from functions.materials.generator import Prices
from functions.materials.settings import DEFAULT_VERTEX_MODEL
from functions.materials.vertex import VertexGenerator
from functions.prep.queueing import GENERATE_PATH
from tests.faults.conftest import NOW, USER_ID, Stack
from tests.faults.fault_proxy import FaultProxy, fault_proxy
from tests.support.addon_helpers import texts
from tests.support.fake_vertex import FakeVertex, fake_vertex
from tests.support.storage_emulator import storage_emulator

BUCKET = "prep-faults"
EVENT = "ev-qbr"


@pytest.fixture
def vertex(stack: Stack) -> Iterator[FakeVertex]:
    """The production generator (google-genai) against the fake Vertex endpoint.

    Two HTTP attempts per generation (the client's own retry), a 0.5 s timeout.
    """
    with fake_vertex(slow_seconds=1.0) as fake:
        vertex = VertexGenerator(
            project=fake.project,
            location=fake.location,
            model=DEFAULT_VERTEX_MODEL,
            timeout_seconds=0.5,
            attempts=2,
            prices=Prices(0.30, 2.50),
            base_url=fake.base_url,
            credentials=fake.credentials(),
            retry_initial_delay=0.01,
            retry_max_delay=0.02,
        )
        stack.swap(generator=vertex)
        yield fake


@pytest.fixture
def gcs(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    """Cloud Storage (the production adapter) on the emulator, through a fault proxy."""
    with storage_emulator(BUCKET) as emulator, fault_proxy(emulator.host) as proxy:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy.url)
        settings = stack.services.settings
        settings = dataclasses.replace(
            settings,
            materials=dataclasses.replace(settings.materials, storage="gcs", bucket=BUCKET),
        )
        stack.swap(
            settings=settings, materials_storage=build_materials_storage(settings, stack.clock)
        )
        yield proxy


def _click_generate(stack: Stack) -> None:
    answer = stack.sidebar(EVENT, params={"op": "generate"})
    assert "Preparing" in texts(answer)


def _ready_once(stack: Stack) -> None:
    meeting = stack.meeting(EVENT)
    assert meeting.prep_state in (PrepState.READY, PrepState.DELIVERED)
    assert meeting.materials_ref
    assert stack.services.materials_storage.exists(meeting.materials_ref)
    ready = [s for s in stack.emails() if s.startswith("Your prep is ready")]
    assert len(ready) == 1
    assert len([s for s in stack.chats() if "ready" in s.lower()]) == 1
    assert "Open materials" in stack.card_text(EVENT)
    # Cloud Tasks may deliver the finished task again: nothing more happens.
    for task in stack.delivered(GENERATE_PATH):
        assert stack.replay(task).status_code == 200
    assert len([s for s in stack.emails() if s.startswith("Your prep is ready")]) == 1


def _seed(stack: Stack) -> None:
    stack.add_user()
    # Far enough out that the QBR's two-week lead time is still ahead.
    stack.put_event(EVENT, NOW + timedelta(days=20), "Acme QBR")
    stack.scheduled_sync()
    stack.run_for(timedelta(seconds=5))
    assert stack.meeting(EVENT).prep_state is PrepState.SCHEDULED


@pytest.mark.parametrize(
    ("script", "calls"),
    [
        (("429", "429"), 3),  # quota for both client attempts, then the queue's retry works
        (("500", "503"), 3),
        (("slow", "slow"), 3),  # timeouts
        (("429",), 2),  # the client's own retry absorbs one
    ],
)
def test_transient_model_failures_end_ready_with_one_message(
    stack: Stack, vertex: FakeVertex, script: tuple[str, ...], calls: int
) -> None:
    _seed(stack)
    vertex.queue(*(s if s != "503" else "500" for s in script))
    _click_generate(stack)
    stack.queue.run_due()  # the first delivery, at once
    if calls == 3:  # the first delivery failed: the user still sees "Preparing…"
        assert stack.meeting(EVENT).prep_state is PrepState.GENERATING
        assert "Preparing" in stack.card_text(EVENT)
        assert stack.emails() == []
    stack.run_for(timedelta(minutes=1))
    assert vertex.calls == calls
    _ready_once(stack)


def test_unusable_answers_fail_then_try_again_works(stack: Stack, vertex: FakeVertex) -> None:
    _seed(stack)
    vertex.queue("invalid", "invalid")  # not JSON, twice: the meeting fails at once
    _click_generate(stack)
    stack.run_for(timedelta(minutes=1))
    assert stack.meeting(EVENT).prep_state is PrepState.FAILED
    assert "Failed: try again" in stack.card_text(EVENT)
    assert stack.emails() == []
    # The user tries again a minute later (a fresh task name): this time the model answers.
    stack.advance(timedelta(minutes=1))
    _click_generate(stack)
    stack.run_for(timedelta(minutes=1))
    assert vertex.calls == 3
    _ready_once(stack)


def test_a_transient_upload_failure_is_absorbed_by_the_client(
    stack: Stack, vertex: FakeVertex, gcs: FaultProxy
) -> None:
    """google-cloud-storage retries uploads itself (503 and the like): one delivery."""
    _seed(stack)
    # The set is summary, Markdown, then HTML: the HTML (which marks it complete) fails once.
    gcs.fail("POST", "/upload/storage/v1/b/", 3)
    _click_generate(stack)
    stack.queue.run_due()
    assert gcs.failed
    (task,) = stack.delivered(GENERATE_PATH)
    assert stack.attempts(task) == [200]
    assert vertex.calls == 1
    _ready_once(stack)


def test_a_refused_upload_is_retried_by_the_queue_and_announced_once(
    stack: Stack, vertex: FakeVertex, gcs: FaultProxy
) -> None:
    """An upload error the client does not retry (403) fails the delivery; the next works."""
    _seed(stack)
    gcs.fail("POST", "/upload/storage/v1/b/", 3, status=403)
    _click_generate(stack)
    stack.queue.run_due()
    assert gcs.failed and stack.meeting(EVENT).prep_state is PrepState.GENERATING
    assert "Preparing" in stack.card_text(EVENT)
    assert stack.emails() == []
    stack.run_for(timedelta(minutes=1))
    (task,) = {t.name: t for t in stack.delivered(GENERATE_PATH)}.values()
    assert stack.attempts(task) == [503, 200]
    # The incomplete set was never shown as ready; the retry generated it again
    # (a storage fault after generation pays the model twice: see docs/capacity.md).
    assert vertex.calls == 2
    _ready_once(stack)


def test_uploads_that_keep_failing_end_in_failed_not_stuck_preparing(
    stack: Stack, vertex: FakeVertex, gcs: FaultProxy
) -> None:
    _seed(stack)
    gcs.fail("POST", "/upload/storage/v1/b/", *range(1, 100), status=403)
    _click_generate(stack)
    stack.run_for(timedelta(minutes=30), step=timedelta(seconds=30))
    assert stack.meeting(EVENT).prep_state is PrepState.FAILED
    assert "Failed: try again" in stack.card_text(EVENT)


def test_generation_still_in_flight_when_the_reminder_fires(
    stack: Stack, vertex: FakeVertex
) -> None:
    """The prep task at trigger time finds the meeting generating: no "Coming up" reminder
    with a button for work already under way; the one message is "ready"."""
    _seed(stack)
    vertex.queue("429", "429")
    _click_generate(stack)
    stack.run_for(timedelta(seconds=1))  # the first generation attempt failed
    qbr = stack.meeting(EVENT)
    assert qbr.prep_trigger_at is not None
    stack.set_time(qbr.prep_trigger_at)  # the reminder is due before the retry succeeds
    stack.run_for(timedelta(minutes=1))
    assert not [s for s in stack.emails() if s.startswith("Coming up")]
    _ready_once(stack)
    assert stack.meeting(EVENT).user_id == USER_ID
