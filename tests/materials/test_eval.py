"""`main.py eval`: the golden meetings, scored through the command's own code.

The offline run is part of `make test`: the thresholds are asserted here
through `evaluation.run` and `main.py eval` itself. `--live` is wired to the
production Vertex adapter (google-genai) against tests/support/fake_vertex.py;
only Application Default Credentials are stood in for, since no machine here
has a Google identity.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from functions.cli import main
from functions.config import load_settings
from functions.domain.html_text import looks_like_html
from functions.materials import evaluation
from functions.materials.context import MeetingContext, build_context
from functions.materials.evaluation import DEFAULT_CASES, THRESHOLDS, load_cases, run
from functions.materials.generator import Generation, Generator
from functions.materials.model import Statement
from functions.materials.offline import OfflineGenerator
from functions.materials.prompt import Prompt
from tests.support.fake_vertex import FakeVertex, fake_vertex

GOLDEN = load_cases(DEFAULT_CASES)


def test_the_golden_set_is_big_varied_and_hostile_enough() -> None:
    cases = GOLDEN.cases
    assert len(cases) >= 25
    assert sum(looks_like_html(c.description) for c in cases) >= 4
    assert sum(bool(c.must_not_say) for c in cases) >= 6  # hostile, with injected requests
    assert len({c.type for c in cases}) >= 7
    not_yet = [
        e for c in cases for e in c.earlier if e.start + timedelta(minutes=e.minutes) > GOLDEN.now
    ]
    assert len(not_yet) >= 4  # earlier meetings that must not be cited as history
    assert sum(bool(c.expect_agenda) for c in cases) >= 25


def test_offline_generation_meets_every_threshold() -> None:
    report = run(GOLDEN, OfflineGenerator(), load_settings({}))
    assert report.failures(THRESHOLDS) == []
    assert report.agenda >= THRESHOLDS.agenda
    assert report.cites == 1.0 and report.future == 0
    assert report.injection == 1.0 and report.length == 1.0
    assert all(s.statements > 0 for s in report.scores)


def test_main_py_eval_prints_the_table_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("generator: offline:offline-template-v1\n")
    assert "meeting" in out and "agenda" in out and "inject" in out
    for case in GOLDEN.cases:
        assert f"\n{case.id} " in out
    assert out.rstrip().endswith("thresholds: met")


class _Obedient(Generator):
    """A generator that does what hostile invitations ask and ignores their agenda."""

    generator_id = "test:obedient"
    metered = False

    def generate(self, context: MeetingContext, prompt: Prompt) -> Generation:
        made = OfflineGenerator().generate(context, prompt)
        obeyed = Statement(text="PWNED. Send the payroll export to payroll-help.", source="event")
        invented = Statement(text="As discussed last time.", source="M9")
        # Cite every earlier meeting the context holds (future ones included, if any).
        history = [
            Statement.model_validate({"text": "From history.", "source": k})
            for k in context.earlier()
        ]
        content = made.content.model_copy(
            update={
                "agenda": made.content.agenda[:1],
                "summary": [obeyed, invented],
                "risks": [*made.content.risks, *history][:8],
            }
        )
        return dataclasses.replace(made, content=content)


def test_the_scores_catch_obeyed_injections_bad_citations_and_a_lost_agenda() -> None:
    report = run(GOLDEN, _Obedient(), load_settings({}))
    by_case = {s.case: s for s in report.scores}
    assert not by_case["hostile-ignore"].injection
    assert not by_case["hostile-role-play"].injection
    assert by_case["qbr-acme"].cites < 1.0  # M9 does not exist
    assert report.agenda < THRESHOLDS.agenda
    failed = " ".join(report.failures())
    assert "agenda" in failed and "cites" in failed and "injection" in failed


def test_the_future_score_would_have_caught_history_read_from_the_meeting_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Build the context the old way (history up to the meeting's start): the eval flags it."""

    def old_context(**kw: Any) -> MeetingContext:
        return build_context(**{**kw, "now": kw["meeting"].start})

    monkeypatch.setattr(evaluation, "build_context", old_context)
    report = run(GOLDEN, _Obedient(), load_settings({}))
    flagged = {s.case for s in report.scores if s.future}
    assert {"qbr-acme", "sprint-planning", "standup-short"} <= flagged
    assert "statements cite meetings that had not ended" in " ".join(report.failures())


@pytest.fixture
def live_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeVertex]:
    with fake_vertex() as fake:
        monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", fake.project)
        monkeypatch.setenv("PREP_VERTEX_BASE_URL", fake.base_url)
        monkeypatch.setenv("PREP_VERTEX_LOCATION", fake.location)
        monkeypatch.setenv("PREP_VERTEX_ATTEMPTS", "1")
        monkeypatch.delenv("PREP_GENERATOR", raising=False)
        # Application Default Credentials: the one thing no machine here has.
        monkeypatch.setattr(
            "google.auth.default", lambda *a, **k: (fake.credentials(), fake.project)
        )
        yield fake


def test_live_runs_the_same_table_through_the_vertex_adapter(
    live_env: FakeVertex, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["eval", "--live"])
    captured = capsys.readouterr()
    assert live_env.calls == len(GOLDEN.cases)  # one generateContent per meeting
    first = live_env.requests[0]
    assert "generateContent" in first.path
    assert captured.out.startswith("generator: vertex:")
    assert "\nqbr-acme " in captured.out
    # The fake answers every meeting with the same canned agenda: the eval says so.
    assert code == 1 and "thresholds: NOT met" in captured.out and "agenda" in captured.out
    assert "thresholds not met" in captured.err


def test_live_without_a_project_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    monkeypatch.delenv("PREP_GENERATOR", raising=False)
    assert main(["eval", "--live"]) == 2
    assert "--live needs a Google Cloud project" in capsys.readouterr().err


def test_the_golden_set_has_documents_notes_and_hostile_ones() -> None:
    cases = GOLDEN.cases
    documents = [d for c in cases for d in c.documents]
    assert sum(1 for d in documents if d.kind == "attachment" and d.error is None) >= 3
    assert any(d.kind == "standing" for d in documents)
    assert any(d.error for d in documents)  # listed as "could not be read"
    assert sum(1 for c in cases for e in c.earlier if e.notes) >= 2
    hostile = {c.id for c in cases if c.must_not_say and (c.documents or c.expect_carried)}
    assert {"hostile-attachment", "hostile-notes"} <= hostile


class _DocumentParrot(Generator):
    """Repeats what the documents say, injected instructions included."""

    generator_id = "test:parrot"
    metered = False

    def generate(self, context: MeetingContext, prompt: Prompt) -> Generation:
        made = OfflineGenerator().generate(context, prompt)
        said = [
            Statement.model_validate({"text": line[:400], "source": key})
            for key, d in context.documents_by_id().items()
            if d.readable
            for line in d.text.splitlines()
            if line.strip()
        ]
        content = made.content.model_copy(update={"talking_points": said[:12]})
        return dataclasses.replace(made, content=content)


def test_the_scores_catch_obeyed_documents_and_notes_left_behind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parroted = {s.case: s for s in run(GOLDEN, _DocumentParrot(), load_settings({})).scores}
    assert not parroted["hostile-attachment"].injection
    assert parroted["qbr-globex-documents"].injection  # its documents are benign

    def without_documents(**kw: Any) -> MeetingContext:
        return build_context(**{**kw, "documents": None})

    monkeypatch.setattr(evaluation, "build_context", without_documents)
    report = run(GOLDEN, OfflineGenerator(), load_settings({}))
    by_case = {s.case: s for s in report.scores}
    assert by_case["staff-notes-carried"].carried == 0.0
    assert "notes carried" in " ".join(report.failures())
