"""Facts apart from suggestions: sources in the schema, the prompt, the check and the document.

The end-to-end tests run the generation task handler with the Vertex adapter
on the real google-genai client against the fake Vertex server, and local
file storage for the documents.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from functions.bootstrap import Bootstrap
from functions.materials.citations import check_against_context
from functions.materials.context import CarriedItem, MeetingContext, PriorMeeting, build_context
from functions.materials.handler import handle_generate
from functions.materials.model import (
    AgendaItem,
    AttendeeNote,
    GenerationInfo,
    MaterialsContent,
    Resolution,
    Statement,
)
from functions.materials.offline import offline_materials
from functions.materials.prompt import build_prompt
from functions.materials.render import EMPTY, render_html, render_markdown
from functions.materials.settings import DEFAULT_TEMPLATES
from functions.materials.templates import load_templates
from functions.store.sqlite import SqliteStore
from tests.materials.conftest import (
    HOSTILE_DESCRIPTION,
    NOW,
    document,
    generate,
    make_meeting,
    make_user,
    person,
    prompt_data,
    say,
)
from tests.support.fake_vertex import FakeVertex, valid_answer

TEMPLATES = load_templates(DEFAULT_TEMPLATES)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "c.db")
    yield s
    s.close()


def ctx_for(db: SqliteStore, **meeting: Any) -> MeetingContext:
    user = make_user()
    m = make_meeting(user, **meeting)
    return build_context(
        store=db,
        read_summary=lambda ref: None,
        user=user,
        meeting=m,
        template=TEMPLATES.for_type(m.meeting_type),
        template_version=TEMPLATES.version,
        type_label="Meeting",
        internal_domains=frozenset({"example.com"}),
        now=NOW,
    )


def with_history(services: Bootstrap) -> Any:
    """A weekly meeting with two earlier occurrences (no materials): M1 and M2 exist, M3 not."""
    user = make_user()
    services.store.put_user(user)
    now = make_meeting(user, "now", series_id="weekly")
    earlier = [
        make_meeting(user, f"w{k}", start=now.start - timedelta(weeks=k), series_id="weekly")
        for k in (1, 2)
    ]
    services.store.upsert_meetings(earlier)
    return now


def test_a_citation_to_a_meeting_not_in_the_context_is_rejected(
    services: Bootstrap, vertex: FakeVertex, caplog: pytest.LogCaptureFixture
) -> None:
    """The issue's Done-when: a cited meeting must exist in the context."""
    meeting = with_history(services)
    vertex.answer = lambda body: {
        **valid_answer(body),
        "questions": [
            say("Did the vendor sign the contract?", "M2"),
            say("As agreed at the board offsite, cut the budget by half?", "M7"),
        ],
        "risks": [say("The CFO vetoed the plan last week", "M3")],
        "attendee_notes": [{"attendee": "Sam", "note": "Promised a demo", "source": "M9"}],
    }
    caplog.set_level(logging.INFO)

    ready = generate(services, meeting)

    assert vertex.calls == 1  # dropped, not retried: the rest of the answer stands
    (request,) = vertex.requests
    data = prompt_data(request.body)
    assert [m["id"] for m in data["earlier_meetings"]] == ["M1", "M2"]
    prompt = request.body["contents"][0]["parts"][0]["text"]
    assert 'Sources you may cite: "event", "attendees", "M1", "M2", "suggestion".' in prompt

    page = document(services, ready)
    markdown = document(services, ready, ".md")
    for invented in ("board offsite", "CFO vetoed", "Promised a demo"):
        assert invented not in page and invented not in markdown
    # The real citation stays, labelled with the earlier meeting it names (M2 = two weeks ago).
    assert 'Did the vendor sign the contract? <small class="src">Source: Weekly sync, ' in page
    assert "Source: Weekly sync, Nov 17, 2026</small>" in page
    removed = "3 statements were removed because they cited a meeting that is not in your calendar"
    assert removed in page and removed in markdown
    record = json.loads(document(services, ready, ".json"))
    assert [i["text"] for i in record["open_items"]] == ["Did the vendor sign the contract?"]
    assert record["open_items"][0]["raised_at"].startswith("2026-11-17")  # raised at M2
    meta_path = services.settings.materials.local_dir / f"{ready.materials_ref}.meta"
    assert json.loads(meta_path.read_text())["rejected-statements"] == "3"
    # Logged as a count, never with the statements themselves.
    dropped = [
        r for r in caplog.records if r.getMessage() == "statements citing unknown sources dropped"
    ]
    assert len(dropped) == 1 and getattr(dropped[0], "rejected", None) == 3
    assert "board offsite" not in caplog.text and "CFO" not in caplog.text


def test_a_malformed_source_fails_the_schema_and_is_retried_once(
    services: Bootstrap, vertex: FakeVertex
) -> None:
    meeting = with_history(services)
    vertex.queue("bad_source")
    ready = generate(services, meeting)
    assert vertex.calls == 2
    assert "Trust me" not in document(services, ready)


def test_two_answers_with_malformed_sources_fail_the_meeting(
    services: Bootstrap, vertex: FakeVertex
) -> None:
    meeting = with_history(services)
    services.store.upsert_meetings([meeting])
    vertex.queue("bad_source", "bad_source")
    outcome = handle_generate(services, {"user_id": meeting.user_id, "event_id": "now"})
    assert outcome == {"outcome": "failed"}
    assert vertex.calls == 2


def test_the_check_drops_what_the_context_cannot_support(db: SqliteStore) -> None:
    ctx = ctx_for(db, attendees=())  # no guest list: "attendees" is not a citable source
    ctx = ctx.model_copy(
        update={
            "prior": (
                PriorMeeting(relation="series", start=ctx.start, title="x", shared_people=0),
            ),
            "carried": (CarriedItem(kind="question", text="Who owns QA?", raised_at=ctx.start),),
            "carried_from": ctx.start,
        }
    )
    assert ctx.citable() == {"event", "suggestion", "M1"}
    content = MaterialsContent(
        summary=[Statement(text="A sync.", source="event")],
        objectives=[Statement(text="Decide", source="suggestion")],
        agenda=[
            AgendaItem(title="Updates", minutes=10, source="M1"),
            AgendaItem(title="Gossip", minutes=5, source="M2"),
        ],
        questions=[
            Statement(text="who owns qa?", source="event"),  # repeats a carried item
            Statement(text="Is the date fixed?", source="M1"),
        ],
        talking_points=[Statement(text="Ana is new", source="attendees")],
        risks=[],
        attendee_notes=[AttendeeNote(attendee="Ana", note="New", source="attendees")],
        follow_ups=[],
        resolved=[
            Resolution(item="C1", evidence="Decided", source="M2"),  # no such meeting
            Resolution(item="C2", evidence="Done", source="event"),  # no such item
        ],
    )
    checked = check_against_context(content, ctx)
    assert checked.rejected == 3  # the M2 agenda item, and two "attendees" facts
    assert checked.ignored_resolutions == 2
    c = checked.content
    assert [a.title for a in c.agenda] == ["Updates"]
    assert c.questions == [Statement(text="Is the date fixed?", source="M1")]
    assert c.talking_points == [] and c.attendee_notes == [] and c.resolved == []
    assert c.summary == content.summary and c.objectives == content.objectives
    good = Resolution(item="C1", evidence="The invitation names Ana", source="event")
    resolved = check_against_context(content.model_copy(update={"resolved": [good, good]}), ctx)
    assert resolved.content.resolved == [good]  # once, with a real source


def test_the_offline_generator_cites_only_what_it_was_given(db: SqliteStore) -> None:
    user = make_user()
    meeting = make_meeting(user, series_id="s", description=HOSTILE_DESCRIPTION + "\nWho signs?")
    ctx = ctx_for(db, series_id="s", description=meeting.description).model_copy(
        update={
            "prior": (
                PriorMeeting(
                    relation="same_people",
                    start="2026-11-20T10:00+01:00",
                    title="Budget",
                    shared_people=2,
                    open_questions=("Is the budget final?",),
                    follow_ups=("Ana sends numbers",),
                ),
            )
        }
    )
    content = offline_materials(ctx)
    checked = check_against_context(content, ctx)
    assert checked.rejected == 0 and checked.content == content
    assert Statement(text="Who signs?", source="event") in content.questions
    assert Statement(text="Is the budget final?", source="M1") in content.questions
    assert content.follow_ups == [Statement(text="Ana sends numbers", source="M1")]
    template = TEMPLATES.for_type("default")
    suggested = {s.text for s in content.questions + content.talking_points if s.is_suggestion}
    assert suggested == {*template.questions, *template.talking_points}


def info(offline: bool = False, rejected: int = 0) -> GenerationInfo:
    return GenerationInfo(
        generator="vertex:gemini-2.5-flash",
        model="gemini-2.5-flash-001",
        offline=offline,
        template_version=TEMPLATES.version,
        cache_key="k" * 40,
        generated_at=NOW,
        rejected_statements=rejected,
    )


def test_the_document_marks_suggestions_and_names_every_facts_source(db: SqliteStore) -> None:
    ctx = ctx_for(db).model_copy(
        update={
            "prior": (
                PriorMeeting(
                    relation="same_people",
                    start="2026-11-24T10:00+01:00",
                    title="<img src=x onerror=alert(1)> *review*",
                    shared_people=2,
                ),
            )
        }
    )
    content = MaterialsContent(
        summary=[
            Statement(text="A weekly sync.", source="event"),
            Statement(text="Keep it short.", source="suggestion"),
        ],
        objectives=[Statement(text="Agree on owners", source="suggestion")],
        agenda=[AgendaItem(title="Updates", minutes=30, source="event")],
        questions=[Statement(text="Did the review pass?", source="M1")],
        talking_points=[],
        risks=[Statement(text="Ana has not accepted", source="attendees")],
        attendee_notes=[AttendeeNote(attendee="Ana", note="Ask about QA", source="suggestion")],
        follow_ups=[],
    )
    page = render_html(ctx, content, info(rejected=1))
    # Suggestions are marked once and subtly: italics, explained once in the banner.
    assert '<li class="suggestion">Agree on owners</li>' in page
    assert page.count("suggestions are in italics") == 1 and 'class="tag"' not in page
    assert 'A weekly sync. <small class="src">Source: the invitation</small>' in page
    assert '<span class="suggestion">Keep it short.</span>' in page
    assert 'Ana has not accepted <small class="src">Source: the guest list</small>' in page
    # An earlier meeting is named by its (escaped) title and date in the user's locale.
    label = "Source: &lt;img src=x onerror=alert(1)&gt; *review*, Nov 24, 2026"
    assert f'Did the review pass? <small class="src">{label}</small>' in page
    assert "<img" not in page
    assert "<td>Updates</td><td>the invitation</td>" in page
    assert page.count(EMPTY) == 2  # talking points and follow-ups: empty, and saying so
    assert "Suggestions (in italics): 3 items from the meeting template" in page
    assert "1 statement was removed because it cited a meeting" in page

    md = render_markdown(ctx, content, info())
    assert "- _Agree on owners_" in md and "**Suggestion" not in md
    assert "- Did the review pass? — source: &lt;img src=x onerror=alert\\(1\\)&gt; " in md
    assert "\\*review\\*, Nov 24, 2026" in md
    assert "- Updates — 30 min — source: the invitation" in md
    assert md.count("Nothing from the calendar supports this section") == 2
    assert "removed because" not in md  # nothing was removed in this rendering


def test_an_answer_with_nothing_to_say_is_shown_as_honestly_empty(db: SqliteStore) -> None:
    ctx = ctx_for(db)
    empty = MaterialsContent(
        summary=[],
        objectives=[],
        agenda=[],
        questions=[],
        talking_points=[],
        risks=[],
        attendee_notes=[],
        follow_ups=[],
    )
    page = render_html(ctx, empty, info())
    sections = re.findall(r"<section><h2>([^<]+)</h2>(.*?)</section>", page)
    empty_ones = [title for title, body in sections if EMPTY in body]
    assert empty_ones == [
        "Summary", "Objectives", "Agenda", "Questions to ask", "Talking points",
        "Risks and sensitivities", "Follow-ups",
    ]  # fmt: skip
    assert "None." not in page


def test_the_prompt_labels_every_source_and_asks_for_empty_sections(db: SqliteStore) -> None:
    ctx = ctx_for(db, attendees=(person("me@example.com", is_self=True),))
    prompt = build_prompt(ctx)
    assert "leave that section empty" in prompt.system
    assert "Never cite an id that is not listed" in prompt.system
    assert 'Sources you may cite: "event", "attendees", "suggestion".' in prompt.user
    data = json.loads(prompt.user.split(">>>\n", 1)[1].split("\n<<<END", 1)[0])
    assert data["earlier_meetings"] == [] and data["carried_over"] == []
