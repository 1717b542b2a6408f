"""Recurring meetings that get better: open items travel from one occurrence to the next.

The three-occurrence tests run the generation task handler for each
occurrence in turn, with the Vertex adapter on the real google-genai client
against the fake Vertex server (whose answers read the prompt's data block,
as a model would) or with the offline generator, and local file storage.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from functions.bootstrap import Bootstrap
from functions.domain.meetings import Meeting
from functions.domain.prep_state import PrepState
from functions.domain.users import User
from functions.materials.carry_over import CarryOverNote, carry_over_note
from functions.materials.context import ContextBudget, build_context
from functions.materials.model import OpenItem, SummaryRecord
from functions.materials.prompt import build_prompt
from functions.materials.settings import DEFAULT_TEMPLATES
from functions.materials.storage import StorageError
from functions.materials.templates import load_templates
from functions.store.sqlite import SqliteStore
from tests.materials.conftest import (
    NOW,
    document,
    generate,
    make_meeting,
    make_user,
    prompt_data,
    record,
    say,
)
from tests.support.fake_vertex import FakeVertex, valid_answer

TEMPLATES = load_templates(DEFAULT_TEMPLATES)


def occurrences(user: User, descriptions: list[str]) -> list[Meeting]:
    """Weekly occurrences of one series, the last one on Tuesday 1 December 2026."""
    last = make_meeting(user, "probe", series_id="weekly").start
    n = len(descriptions)
    return [
        make_meeting(
            user,
            f"week-{i + 1}",
            start=last - timedelta(weeks=n - 1 - i),
            series_id="weekly",
            description=text,
        )
        for i, text in enumerate(descriptions)
    ]


def scripted_model(body: dict[str, Any]) -> dict[str, Any]:
    """Answers like a careful model: raises items from the data, resolves one with evidence."""
    data = prompt_data(body)
    description = data["event"]["description"]
    carried = {c["text"]: c["id"] for c in data["carried_over"]}
    answer = {**valid_answer(body), "questions": [], "follow_ups": [], "resolved": []}
    if description == "Week 1":
        answer["questions"] = [
            say("Who owns QA?", "event"),
            say("What is slowing you down?"),  # a suggestion: not carried
        ]
        answer["follow_ups"] = [say("Sam sends the launch plan", "event")]
    elif description == "Week 2: Sam sent the launch plan.":
        answer["questions"] = [
            say("Is the beta date fixed?", "event"),
            say("Who owns QA?", "event"),  # repeats a carried item: shown once
        ]
        answer["resolved"] = [
            {
                "item": carried["Sam sends the launch plan"],
                "evidence": "The invitation says Sam sent the plan",
                "source": "event",
            }
        ]
    return answer


def test_open_items_carry_over_across_three_occurrences(
    services: Bootstrap, vertex: FakeVertex
) -> None:
    """The issue's Done-when: 1st raises, 2nd carries and adds, 3rd carries from the 2nd."""
    vertex.answer = scripted_model
    user = make_user()
    first, second, third = occurrences(
        user, ["Week 1", "Week 2: Sam sent the launch plan.", "Week 3"]
    )

    one = generate(services, first)
    saved = SummaryRecord.model_validate_json(document(services, one, ".json"))
    assert [(i.kind, i.text) for i in saved.open_items] == [
        ("question", "Who owns QA?"),
        ("follow_up", "Sam sends the launch plan"),
    ]  # the suggestion "What is slowing you down?" is not carried
    assert saved.carried_from is None and saved.carried == 0
    assert carry_over_note(services, user.user_id, one) is None  # nothing was carried into it

    two = generate(services, second)
    data = prompt_data(vertex.requests[1].body)
    assert data["carried_over"] == [
        {"id": "C1", "kind": "question", "text": "Who owns QA?",
         "first_raised": "2026-11-17T10:00+01:00", "from": "M1"},
        {"id": "C2", "kind": "follow_up", "text": "Sam sends the launch plan",
         "first_raised": "2026-11-17T10:00+01:00", "from": "M1"},
    ]  # fmt: skip
    assert data["earlier_meetings"][0]["open_questions"] == []  # carried, not repeated
    page = document(services, two)
    assert page.count("Who owns QA?") == 1  # carried once, the model's repeat left out
    assert "carried over from Tuesday, November 17, 2026" in page
    assert '<li class="resolved">Sam sends the launch plan' in page
    assert "Resolved: The invitation says Sam sent the plan (Source: the invitation)" in page
    assert carry_over_note(services, user.user_id, two) == CarryOverNote(
        from_start=first.start, still_open=1, resolved=1
    )

    three = generate(services, third)
    data = prompt_data(vertex.requests[2].body)
    assert [
        (c["id"], c["text"], c["first_raised"][:10], c["from"]) for c in data["carried_over"]
    ] == [
        ("C1", "Who owns QA?", "2026-11-17", "M1"),
        ("C2", "Is the beta date fixed?", "2026-11-24", "M1"),
    ]  # from the 2nd occurrence (M1); the resolved follow-up does not come back
    assert data["earlier_meetings"][0]["start"].startswith("2026-11-24")
    prompt = vertex.requests[2].body["contents"][0]["parts"][0]["text"]
    assert "Sam sends the launch plan" not in prompt
    page = document(services, three)
    assert "Sam sends the launch plan" not in page
    assert (
        'Who owns QA? <small class="src">Question · carried over from Tuesday, November 24, '
        "2026 · first raised Nov 17, 2026</small>"
    ) in page
    assert (
        'Is the beta date fixed? <small class="src">Question · carried over from Tuesday, '
        "November 24, 2026</small>"
    ) in page
    markdown = document(services, three, ".md")
    assert "## Still open from earlier meetings" in markdown
    assert "- Who owns QA? — _Question · carried over from Tuesday, November 24, 2026" in markdown
    assert carry_over_note(services, user.user_id, three) == CarryOverNote(
        from_start=second.start, still_open=2, resolved=0
    )
    assert vertex.calls == 3


def test_offline_prep_carries_what_the_invitation_asked_and_never_resolves(
    services: Bootstrap,
) -> None:
    user = make_user()
    first, second, third = occurrences(
        user,
        [
            "- Who owns QA?\n- Review the plan",
            "- Can we hire a contractor?",
            "QA is owned by Ana now.",  # an offline generation cannot read that as a resolution
        ],
    )
    generate(services, first)
    generate(services, second)
    three = generate(services, third)
    saved = SummaryRecord.model_validate_json(document(services, three, ".json"))
    assert [(i.text, i.raised_at.date().isoformat()) for i in saved.open_items] == [
        ("Who owns QA?", "2026-11-17"),
        ("Can we hire a contractor?", "2026-11-24"),
    ]
    assert saved.carried == 2 and saved.resolved == 0
    page = document(services, three)
    assert "carried over from Tuesday, November 24, 2026 · first raised Nov 17, 2026" in page
    # Offline questions from the invitation cite it; nothing is repeated from the chain.
    assert page.count("Who owns QA?") == 1
    # Deterministic: the same input gives the same document.
    again = services.materials_storage.read(f"{three.materials_ref}.html")
    assert again is not None and again.decode() == page


def test_a_resolution_without_real_evidence_keeps_the_item_open(
    services: Bootstrap, vertex: FakeVertex
) -> None:
    user = make_user()
    first, second = occurrences(user, ["Week 1", "Week 2"])

    def answer(body: dict[str, Any]) -> dict[str, Any]:
        data = prompt_data(body)
        base = {**valid_answer(body), "questions": [say("Who owns QA?", "event")]}
        if data["carried_over"]:
            base["questions"] = []
            base["resolved"] = [
                {"item": "C1", "evidence": "Probably settled", "source": "M4"},  # no M4
                {"item": "C7", "evidence": "The invitation says so", "source": "event"},
            ]
        return base

    vertex.answer = answer
    generate(services, first)
    two = generate(services, second)
    saved = SummaryRecord.model_validate_json(document(services, two, ".json"))
    assert [i.text for i in saved.open_items] == ["Who owns QA?"]
    assert (saved.carried, saved.resolved) == (1, 0)
    assert "Probably settled" not in document(services, two)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "co.db")
    yield s
    s.close()


def _context(
    db: SqliteStore, user: User, meeting: Meeting, records: dict[str, SummaryRecord], **budget: Any
) -> Any:
    return build_context(
        store=db,
        read_summary=records.get,
        user=user,
        meeting=meeting,
        template=TEMPLATES.for_type("default"),
        template_version=TEMPLATES.version,
        type_label="Meeting",
        internal_domains=frozenset({"example.com"}),
        now=NOW,
        budget=ContextBudget(**budget),
    )


def test_carried_items_age_out_are_capped_and_come_from_the_last_prepared_occurrence(
    db: SqliteStore,
) -> None:
    user = make_user()
    now = make_meeting(user, "now", series_id="weekly")
    unprepared = make_meeting(  # last week: no materials, so nothing to carry from it
        user, "w1", start=now.start - timedelta(weeks=1), series_id="weekly"
    )
    prepared = make_meeting(
        user, "w2", start=now.start - timedelta(weeks=2), series_id="weekly", materials_ref="r2"
    )
    older = make_meeting(
        user, "w3", start=now.start - timedelta(weeks=3), series_id="weekly", materials_ref="r3"
    )
    db.upsert_meetings([now, unprepared, prepared, older])
    old = now.start - timedelta(days=120)
    prepared_record = SummaryRecord(
        meeting_start=prepared.start,
        open_items=[
            OpenItem(kind="question", text="Ancient question?", raised_at=old),
            *(
                OpenItem(kind="follow_up", text=f"Action {k}", raised_at=prepared.start)
                for k in range(5)
            ),
        ],
    )
    records = {
        "r2": prepared_record,
        "r3": record(older.start, questions=["Superseded?"]),
    }
    ctx = _context(db, user, now, records, carry_max_items=3, carry_max_age_days=90)
    assert ctx.carried_from == "2026-11-17T10:00+01:00"  # w2, the last one with materials
    assert [c.text for c in ctx.carried] == ["Action 2", "Action 3", "Action 4"]
    assert ctx.carried_from_id() == "M2"  # w1 is M1
    # The older occurrence's open items travel along the chain, not as extra context.
    assert all(p.open_questions == () for p in ctx.prior)
    assert "Superseded?" not in build_prompt(ctx).user


def test_carried_items_leave_only_with_their_meeting_when_the_budget_is_tight(
    db: SqliteStore,
) -> None:
    user = make_user()
    now = make_meeting(user, "now", series_id="weekly", description="x " * 3000)
    last = make_meeting(
        user, "w1", start=now.start - timedelta(weeks=1), series_id="weekly", materials_ref="r1"
    )
    db.upsert_meetings([now, last])
    saved = SummaryRecord(
        meeting_start=last.start,
        summary="s" * 600,
        open_items=[OpenItem(kind="question", text="Who owns QA?", raised_at=last.start)],
    )
    roomy = _context(db, user, now, {"r1": saved})
    assert [c.text for c in roomy.carried] == ["Who owns QA?"]
    tight = _context(db, user, now, {"r1": saved}, max_prompt_chars=5_000)
    assert tight.prior == () and tight.carried == () and tight.carried_from == ""
    assert tight.carried_from_id() is None


def test_a_version_1_summary_record_is_read_as_open_items() -> None:
    start = datetime(2026, 11, 24, 9, tzinfo=UTC)
    old = json.dumps(
        {
            "schema_version": 1,
            "meeting_start": start.isoformat(),
            "summary": "s",
            "open_questions": ["Who?"],
            "follow_ups": ["Send it"],
            "generator": "offline:x",
            "generated_at": None,
        }
    )
    saved = SummaryRecord.model_validate_json(old)
    assert saved.open_items == [
        OpenItem(kind="question", text="Who?", raised_at=start),
        OpenItem(kind="follow_up", text="Send it", raised_at=start),
    ]
    assert saved.open_questions == ["Who?"] and saved.follow_ups == ["Send it"]
    assert saved.carried_from is None and saved.carried == 0


def test_the_sidebar_note_is_read_only_for_the_owners_ready_materials(
    services: Bootstrap, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = make_user()
    first, second = occurrences(user, ["- Who owns QA?", "Week 2"])
    generate(services, first)
    two = generate(services, second)
    note = carry_over_note(services, user.user_id, two)
    assert note == CarryOverNote(from_start=first.start, still_open=1, resolved=0)
    assert carry_over_note(services, "someone-else", two) is None  # not their prefix
    generating = dataclasses.replace(two, prep_state=PrepState.GENERATING)
    assert carry_over_note(services, user.user_id, generating) is None

    def broken(ref: str) -> None:
        raise StorageError("down")

    monkeypatch.setattr(services.materials_storage, "read_summary", broken)
    assert carry_over_note(services, user.user_id, two) is None  # no line, no broken card
