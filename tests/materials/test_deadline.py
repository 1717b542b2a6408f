"""The generate task finishes before Cloud Tasks gives up on it (issue 12, finding 4).

Cloud Tasks cancels a dispatch that passes its `dispatch_deadline` and counts it
as failed, so it delivers the task again while the first attempt may still be
running. The worst case of the handler is derived here from the settings the
way the code spends time (schema attempts x (HTTP attempts x timeout + the
client's backoff)), plus the reserve for the rest of the handler, and compared
with the deadline the Cloud Tasks adapter sets, the generation lock's slot and
the tasks function's timeout.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from deploy.function_env import runtime_env
from deploy.inputs import load_inputs
from deploy.topology import Topology
from functions.bootstrap import build_generator
from functions.materials.context import MeetingContext, build_context
from functions.materials.generator import TransientGenerationError
from functions.materials.lease import generation_lease
from functions.materials.prompt import build_prompt
from functions.materials.settings import (
    DISPATCH_DEADLINE_SECONDS,
    GENERATION_BUDGET_SECONDS,
    HANDLER_RESERVE_SECONDS,
    RETRY_INITIAL_DELAY,
    RETRY_JITTER,
    RETRY_MAX_DELAY,
    SCHEMA_ATTEMPTS,
    MaterialsSettings,
    call_worst_case_seconds,
    load_materials_settings,
)
from functions.materials.vertex import VertexGenerator
from functions.store.sqlite import SqliteStore
from functions.tasks.cloud_tasks import DEFAULT_DISPATCH_DEADLINE
from tests.materials.conftest import NOW, local_settings, make_meeting, make_user
from tests.materials.test_vertex import PRICES, TEMPLATES
from tests.support.environments import INPUTS
from tests.support.fake_vertex import fake_vertex

#: Cloud Tasks' bounds for an HTTP task's dispatch_deadline (tasks_v2 `Task.dispatch_deadline`).
HTTP_DEADLINE_RANGE = (timedelta(seconds=15), timedelta(minutes=30))


def production_materials() -> MaterialsSettings:
    """The materials settings a deployment made with default inputs runs with."""
    env = runtime_env(Topology(load_inputs(INPUTS)))
    return load_materials_settings(env, production=True, project=INPUTS["PROJECT_ID"])


def test_the_worst_generate_task_ends_before_its_dispatch_deadline() -> None:
    m = production_materials()
    deadline = DEFAULT_DISPATCH_DEADLINE.total_seconds()
    assert HTTP_DEADLINE_RANGE[0] <= DEFAULT_DISPATCH_DEADLINE <= HTTP_DEADLINE_RANGE[1]
    assert deadline == DISPATCH_DEADLINE_SECONDS  # the settings check the adapter's number

    delays = [min(RETRY_INITIAL_DELAY * 2**n + RETRY_JITTER, RETRY_MAX_DELAY) for n in range(8)]
    one_call = m.vertex_attempts * m.vertex_timeout_seconds + sum(delays[: m.vertex_attempts - 1])
    generation = SCHEMA_ATTEMPTS * one_call
    assert generation == m.generation_worst_case_seconds()
    assert generation <= GENERATION_BUDGET_SECONDS

    handler = generation + HANDLER_RESERVE_SECONDS
    # With margin: at least a tenth of the deadline left over.
    assert handler <= 0.9 * deadline, (generation, handler, deadline)
    # The generation lease (lock and `generating`) outlasts the work it guards.
    assert handler < generation_lease(m).total_seconds()


def test_the_tasks_function_stops_when_cloud_tasks_stops_waiting() -> None:
    """Running past the deadline would overlap the redelivery; the function's timeout ends it."""
    tasks = Topology(load_inputs(INPUTS)).function("tasks")
    assert tasks.timeout_seconds <= DEFAULT_DISPATCH_DEADLINE.total_seconds()
    assert tasks.timeout_seconds >= production_materials().generation_worst_case_seconds()


def test_the_client_gets_the_numbers_the_arithmetic_uses(tmp_path: Path) -> None:
    vertex = dataclasses.replace(
        local_settings(tmp_path), project="p", materials=production_materials()
    )
    built = build_generator(vertex)
    assert isinstance(built, VertexGenerator)
    options = built.client()._api_client._http_options
    retry = options.retry_options
    assert retry is not None
    assert retry.attempts == vertex.materials.vertex_attempts
    assert (retry.initial_delay, retry.max_delay, retry.jitter) == (
        RETRY_INITIAL_DELAY,
        RETRY_MAX_DELAY,
        RETRY_JITTER,
    )
    assert options.timeout == int(vertex.materials.vertex_timeout_seconds * 1000)


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[MeetingContext]:
    db = SqliteStore(tmp_path / "d.db")
    user = make_user()
    yield build_context(
        store=db,
        read_summary=lambda ref: None,
        user=user,
        meeting=make_meeting(user),
        template=TEMPLATES.for_type("default"),
        template_version=TEMPLATES.version,
        type_label="Meeting",
        internal_domains=frozenset({"example.com"}),
        now=NOW,
    )
    db.close()


def test_the_timeout_is_per_attempt_so_attempts_multiply_it(ctx: MeetingContext) -> None:
    """The real client against a server that never answers in time: every attempt waits out
    its own timeout (the `attempts x timeout` term is real), and no more attempts are made."""
    timeout, attempts = 0.3, 3
    with fake_vertex(default_step="slow", slow_seconds=1.0) as fake:
        gen = VertexGenerator(
            project=fake.project,
            location=fake.location,
            model="gemini-3.8-flash",
            timeout_seconds=timeout,
            attempts=attempts,
            prices=PRICES,
            base_url=fake.base_url,
            credentials=fake.credentials(),
            retry_initial_delay=0.01,
            retry_max_delay=0.02,
            retry_jitter=0.01,
        )
        started = time.monotonic()
        with pytest.raises(TransientGenerationError):
            gen.generate(ctx, build_prompt(ctx))
        elapsed = time.monotonic() - started
        assert fake.calls == attempts
    assert elapsed >= attempts * timeout
    assert call_worst_case_seconds(timeout, attempts, 0.01, 0.02, 0.01) >= attempts * timeout


def test_reading_documents_fits_the_handlers_reserve() -> None:
    """Documents are read inside the generate task: their worst case is part of the reserve."""
    from functions.materials.documents.drive import DEFAULT_TIMEOUT_S, READ_WORST_CASE_SECONDS
    from functions.materials.documents.gather import DocumentBudget
    from functions.materials.settings import DOCUMENTS_WORST_CASE_SECONDS

    assert READ_WORST_CASE_SECONDS == 2 * DEFAULT_TIMEOUT_S  # files.get, then export or media
    worst = DocumentBudget().read_seconds + READ_WORST_CASE_SECONDS
    assert worst <= DOCUMENTS_WORST_CASE_SECONDS
    # At most a third of the reserve, the rest for the store, the uploads and the message.
    assert DOCUMENTS_WORST_CASE_SECONDS <= HANDLER_RESERVE_SECONDS / 3


def test_reading_mail_and_documents_together_fits_the_handlers_reserve() -> None:
    """Mail is read in the generate task too; both sources on must leave room for the rest."""
    from functions.mail import gmail
    from functions.materials.settings import (
        DOCUMENTS_WORST_CASE_SECONDS,
        MAIL_WORST_CASE_SECONDS,
    )

    assert gmail.WORST_CASE_SECONDS == gmail.READ_SECONDS + gmail.DEFAULT_TIMEOUT_S
    assert gmail.WORST_CASE_SECONDS <= MAIL_WORST_CASE_SECONDS
    # Half of the reserve at most, the rest for the store, the uploads and the message.
    assert DOCUMENTS_WORST_CASE_SECONDS + MAIL_WORST_CASE_SECONDS <= HANDLER_RESERVE_SECONDS / 2
