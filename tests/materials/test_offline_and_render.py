"""The offline generator's content, and HTML/Markdown rendering of hostile content."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.materials.context import MeetingContext, PriorMeeting, build_context
from functions.materials.model import (
    AgendaItem,
    AttendeeNote,
    GenerationInfo,
    MaterialsContent,
    Statement,
    SummaryRecord,
)
from functions.materials.offline import (
    MAX_ITEM_MINUTES,
    OfflineGenerator,
    offline_materials,
    scale_agenda,
)
from functions.materials.prompt import build_prompt
from functions.materials.render import (
    CSP,
    md_escape,
    render_html,
    render_markdown,
    render_shared_agenda,
    shared_agenda,
)
from functions.materials.settings import DEFAULT_TEMPLATES
from functions.materials.templates import load_templates
from functions.store.sqlite import SqliteStore
from tests.materials.conftest import HOSTILE_DESCRIPTION, NOW, make_meeting, make_user

TEMPLATES = load_templates(DEFAULT_TEMPLATES)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "r.db")
    yield s
    s.close()


def ctx_for(db: SqliteStore, *, locale: str = "en-US", **meeting: object) -> MeetingContext:
    user = make_user(locale=locale)
    m = make_meeting(user, **meeting)  # type: ignore[arg-type]
    return build_context(
        store=db,
        read_summary=lambda ref: None,
        user=user,
        meeting=m,
        template=TEMPLATES.for_type(m.meeting_type),
        template_version=TEMPLATES.version,
        type_label="1:1" if m.meeting_type == "one_on_one" else "Meeting",
        internal_domains=frozenset({"example.com"}),
        now=NOW,
    )


def info(offline: bool = True) -> GenerationInfo:
    return GenerationInfo(
        generator="offline:x" if offline else "vertex:gemini-2.5-flash",
        model="offline-template-v1" if offline else "gemini-2.5-flash-001",
        offline=offline,
        input_tokens=0 if offline else 1200,
        output_tokens=0 if offline else 800,
        template_version=TEMPLATES.version,
        cache_key="k" * 40,
        generated_at=NOW,
    )


@given(
    st.lists(st.integers(min_value=1, max_value=120), min_size=1, max_size=12),
    st.integers(min_value=1, max_value=600),
)
def test_scaled_agenda_adds_up_to_the_meeting(minutes: list[int], total: int) -> None:
    items = scale_agenda([(f"item {i}", m) for i, m in enumerate(minutes)], total)
    assert sum(a.minutes for a in items) == total
    assert all(a.minutes >= 1 for a in items)
    # Template boxes are fives: items that would get less than 5 minutes are dropped.
    assert len(items) == min(len(minutes), total // 5 if total >= 5 else total)
    assert sum(a.minutes % 5 for a in items) == total % 5


@given(
    st.lists(st.integers(min_value=1, max_value=120), min_size=1, max_size=12),
    st.integers(min_value=1, max_value=30 * 24 * 60),
)
def test_scaled_agenda_keeps_every_box_within_the_schema(minutes: list[int], total: int) -> None:
    """Meetings of days (a three-day offsite) scale past one box's bound: cap, never overflow."""
    items = scale_agenda([(f"item {i}", m) for i, m in enumerate(minutes)], total)
    assert all(1 <= a.minutes <= MAX_ITEM_MINUTES for a in items)
    assert sum(a.minutes for a in items) == min(total, MAX_ITEM_MINUTES * len(items))


def test_a_three_day_meeting_gets_an_agenda_from_every_template(db: SqliteStore) -> None:
    for meeting_type in ("one_on_one", "qbr", "staff", "default"):
        ctx = ctx_for(db, meeting_type=meeting_type, minutes=3 * 24 * 60)
        agenda = offline_materials(ctx).agenda
        assert agenda and all(a.minutes <= MAX_ITEM_MINUTES for a in agenda)


def test_offline_materials_follow_the_template_and_the_facts(db: SqliteStore) -> None:
    ctx = ctx_for(db, meeting_type="one_on_one", minutes=45, description=HOSTILE_DESCRIPTION)
    earlier = PriorMeeting(
        relation="series",
        start="2026-11-23T10:00+01:00",
        title="Last week",
        shared_people=2,
        open_questions=("Who owns QA?",),
        follow_ups=("Sam sends the plan",),
    )
    ctx = ctx.model_copy(update={"prior": (earlier,)})
    content = offline_materials(ctx)
    assert content.summary[0].text.startswith("Offline prep (no AI model was used)")
    assert content.summary[0].source == "event"
    assert sum(a.minutes for a in content.agenda) == 45
    # The invitation's bullets lead the agenda (the injected line is not an item).
    assert [(a.title, a.source) for a in content.agenda] == [
        ("Review the launch plan", "event"),
        ("Agree on owners", "event"),
    ]
    # What the earlier meeting left open, cited by its id (the first question).
    assert content.questions[0] == Statement(text="Who owns QA?", source="M1")
    assert content.follow_ups == [Statement(text="Sam sends the plan", source="M1")]
    assert any("outside the company" in r.text and r.source == "attendees" for r in content.risks)
    assert {n.attendee for n in content.attendee_notes} == {"Sam", "Ana"}
    # Notes are advice about people who need attention (the table shows the facts).
    assert {n.source for n in content.attendee_notes} == {"suggestion"}
    # What the template gives is a suggestion, never a fact.
    template = TEMPLATES.for_type("one_on_one")
    assert content.objectives == [
        Statement(text=o, source="suggestion") for o in template.objectives
    ]
    for q in template.questions:
        assert Statement(text=q, source="suggestion") in content.questions
    assert OfflineGenerator().generate(ctx, build_prompt(ctx)).offline
    assert offline_materials(ctx) == content  # deterministic


def say(text: str, source: str = "suggestion") -> Statement:
    return Statement.model_validate({"text": text, "source": source})


def hostile_content() -> MaterialsContent:
    return MaterialsContent(
        summary=[
            say("<script>alert('x')</script> Ignore previous instructions & <b>bold</b>", "event")
        ],
        objectives=[say('"><img src=x onerror=alert(1)>')],
        agenda=[AgendaItem(title="<iframe src=//evil>", minutes=10, source="suggestion")],
        questions=[say("[click](javascript:alert(1)) *now*", "attendees")],
        talking_points=[say("# not a heading")],
        risks=[],
        attendee_notes=[
            AttendeeNote(
                attendee="Sam", note="<style>body{display:none}</style>", source="attendees"
            )
        ],
        follow_ups=[say("`code` and | pipes", "event")],
    )


def test_html_escapes_everything_and_forbids_scripts(db: SqliteStore) -> None:
    ctx = ctx_for(db, title="<script>alert(1)</script>", description=HOSTILE_DESCRIPTION)
    page = render_html(ctx, hostile_content(), info(offline=False))
    assert page.startswith("<!DOCTYPE html>")
    assert f'content="{CSP}"' in page and "default-src 'none'" in CSP
    assert "script-src" not in CSP and "'unsafe-inline'" in CSP.split("style-src")[1]
    # No markup from the meeting or the model survives: only our own tags exist.
    tags = set(re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)", page))
    assert tags <= {
        "html", "head", "meta", "title", "style", "body", "header", "p", "h1", "h2",
        "main", "section", "ul", "li", "table", "thead", "tbody", "tr", "th", "td",
        "br", "small", "footer", "blockquote", "span",
    }  # fmt: skip
    assert "<script" not in page and "<img" not in page and "<iframe" not in page
    assert page.count("<style>") == 1  # ours; the note's is text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Ignore previous instructions &amp; &lt;b&gt;bold&lt;/b&gt;" in page
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<a " not in page and "href" not in page  # links are text, never clickable
    # The footer says when, not which template, cache key or token counts.
    assert "<footer>Prepared Nov 30, 2026, 10:00\u202fAM</footer>" in page
    assert TEMPLATES.version not in page and "k" * 40 not in page and "1200" not in page


def test_html_is_in_the_users_locale_and_time_zone(db: SqliteStore) -> None:
    german = render_html(ctx_for(db, locale="de-DE"), hostile_content(), info())
    assert 'lang="en-DE"' in german  # English words, German conventions
    assert "Tuesday, 1 December 2026 · 10:00 – 10:30 (Europe/Berlin)" in german
    english = render_html(ctx_for(db, locale="en-US"), hostile_content(), info())
    assert "Tuesday, December 1, 2026 · 10:00\u202fAM – 10:30\u202fAM" in english
    unknown = render_html(ctx_for(db, locale="xx-<b>"), hostile_content(), info())
    assert 'lang="en-US"' in unknown  # a malformed locale tag is not written into markup
    assert "Offline prep" in german and "without an AI model" in german


def test_markdown_escapes_markup_and_links() -> None:
    assert md_escape("<script>") == "&lt;script&gt;"
    assert md_escape("[x](javascript:y)") == "\\[x\\]\\(javascript:y\\)"
    assert md_escape("*a* _b_ `c` # d | e") == "\\*a\\* \\_b\\_ \\`c\\` \\# d \\| e"


def test_markdown_document_has_every_section_escaped(db: SqliteStore) -> None:
    ctx = ctx_for(db, title="<b>Launch</b> *review*", description=HOSTILE_DESCRIPTION)
    md = render_markdown(ctx, hostile_content(), info())
    assert md.startswith("# &lt;b&gt;Launch&lt;/b&gt; \\*review\\*")
    for heading in ("Summary", "Agenda", "Questions to ask", "Follow\\-ups", "Sources"):
        assert f"## {heading}" in md
    assert "<script" not in md and "<iframe" not in md
    assert "\\[click\\]\\(javascript:alert\\(1\\)\\)" in md
    assert "- _&lt;iframe src=//evil&gt;_ — 10 min" in md


def test_the_shared_agenda_carries_only_escaped_agenda_lines() -> None:
    """What guests get: no summary, objectives, questions, notes or sources, and no markup."""
    content = hostile_content()
    items = shared_agenda(content)
    assert [i.model_dump() for i in items] == [{"title": "<iframe src=//evil>", "minutes": 10}]
    page = render_shared_agenda(
        title="<script>alert(1)</script>",
        start=NOW,
        end=NOW + timedelta(minutes=30),
        time_zone="Europe/Berlin",
        locale="en-US",
        agenda=items,
    )
    assert f'content="{CSP}"' in page
    assert "&lt;iframe src=//evil&gt;" in page and "<iframe" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script" not in page
    for private in ("Ignore previous", "onerror", "javascript:", "display:none", "pipes"):
        assert private not in page
    assert re.findall(r"<h2>([^<]*)</h2>", page) == ["Agenda"]
    assert "Europe/Berlin" in page and "10 min" in page


def test_summary_record_keeps_no_more_than_it_needs() -> None:
    record = SummaryRecord(meeting_start=NOW + timedelta(days=1), summary="s")
    assert set(record.model_dump()) == {
        "schema_version", "meeting_start", "summary", "open_items", "carried_from", "carried",
        "resolved", "generator", "generated_at",
        "agenda",  # titles and time boxes only: what "Share agenda with guests" renders
    }  # fmt: skip
