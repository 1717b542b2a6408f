"""Issue 16 "Copy quality": what the user reads is grammatical, calm and in their locale."""

from __future__ import annotations

from datetime import timedelta

import pytest

from functions.bootstrap import Bootstrap
from functions.domain.meetings import ResponseStatus
from functions.materials.context import MeetingContext
from functions.materials.model import AgendaItem, GenerationInfo, MaterialsContent
from functions.materials.offline import offline_materials, round_time_boxes
from functions.materials.pipeline import prepare
from functions.materials.render import render_html, render_markdown
from tests.materials.conftest import (
    NOW,
    document,
    generate,
    make_meeting,
    make_user,
    person,
)
from tests.support.fake_vertex import FakeVertex, valid_answer

ME = person("me@example.com", "Me", is_self=True, response_status=ResponseStatus.ACCEPTED)


def _info(version: str) -> GenerationInfo:
    return GenerationInfo(
        generator="offline:offline-template-v1",
        model="offline-template-v1",
        offline=True,
        template_version=version,
        cache_key="c0ffee" * 6,
        generated_at=NOW,
    )


def _incident(
    services: Bootstrap, locale: str = "en-US", **kw: object
) -> tuple[MeetingContext, MaterialsContent]:
    user = make_user(locale=locale)
    services.store.put_user(user)
    people = (
        ME,
        person("sam@example.com", "Sam", organizer=True, response_status=ResponseStatus.ACCEPTED),
        person("ana@example.com", "Ana"),  # has not responded
        person("bo@example.com", "Bo", response_status=ResponseStatus.DECLINED),
    )
    earlier = make_meeting(
        user, "before", start=NOW - timedelta(days=10), attendees=people, title="Outage sync"
    )
    services.store.upsert_meetings([earlier])
    options: dict[str, object] = {
        "minutes": 50,
        "meeting_type": "incident_review",
        "attendees": people,
        "title": "Checkout outage review",
    }
    options.update(kw)
    meeting = make_meeting(user, "inc", **options)  # type: ignore[arg-type]
    ctx = prepare(services, user, meeting).context
    return ctx, offline_materials(ctx)


def test_numbers_and_articles_read_right(services: Bootstrap) -> None:
    _, content = _incident(services)
    text = " ".join(s.text for s in [*content.summary, *content.risks])

    assert "Offline prep (no AI model was used): an incident review of 50 minutes." in text
    assert "4 people are invited, all from inside the company." in text
    assert "1 earlier related meeting was found; it was on Friday, November 20, 2026" in text
    assert "1 of the invited people has not responded yet (Ana)." in text
    assert "1 invited person declined (Bo)." in text
    assert "meetings was" not in text and "people has" not in text.replace("people has not", "")


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("Incident review", "an incident review"),
        ("Quarterly business review", "a quarterly business review"),
        ("QBR", "a QBR"),
        ("SLA review", "an SLA review"),
        ("1:1", "a 1:1"),
        ("8-week check-in", "an 8-week check-in"),
        ("Executive meeting", "an executive meeting"),
        ("External / customer meeting", "an external / customer meeting"),
        ("One-on-one", "a one-on-one"),
        ("Usage review", "a usage review"),
        ("Hour of code", "an hour of code"),
        ("Unplanned review", "an unplanned review"),
    ],
)
def test_type_labels_take_the_right_article_mid_sentence(label: str, expected: str) -> None:
    from functions.materials.wording import in_sentence, with_article

    assert with_article(in_sentence(label)) == expected


def test_counts_and_durations_are_singular_when_one() -> None:
    from functions.materials.wording import count, duration, names

    assert count(1, "earlier meeting", "earlier meetings") == "1 earlier meeting"
    assert count(0, "item", "items") == "0 items"
    assert [duration(m) for m in (1, 45, 60, 90, 120, 3 * 1440)] == [
        "1 minute",
        "45 minutes",
        "1 hour",
        "1 hour 30 minutes",
        "2 hours",
        "3 days",
    ]
    assert names(["Ana"]) == "Ana"
    assert names(["Ana", "Bo"]) == "Ana and Bo"
    assert names(["Ana", "Bo", "Cy", "Di", "Ed"]) == "Ana, Bo, Cy and 2 more"


def test_suggestions_are_marked_once_and_subtly(services: Bootstrap) -> None:
    ctx, content = _incident(services)
    page = render_html(ctx, content, _info(ctx.template_version))
    md = render_markdown(ctx, content, _info(ctx.template_version))

    suggested = sum(1 for s in content.objectives if s.is_suggestion)
    assert suggested >= 3
    assert page.count("Suggestion<") == 0 and page.count("suggestions are in italics") == 1
    assert md.count("Suggestion:") == 0 and md.count("suggestions are in italics") == 1
    assert page.count('<li class="suggestion">') >= suggested  # italics, no per-line tag


def test_time_boxes_are_multiples_of_five(services: Bootstrap) -> None:
    for minutes in (25, 30, 45, 50, 60, 90):
        _, content = _incident(services, minutes=minutes)
        boxes = [a.minutes for a in content.agenda]
        assert sum(boxes) == minutes
        assert all(m % 5 == 0 for m in boxes), (minutes, boxes)


def test_the_footer_carries_no_internal_ids(services: Bootstrap) -> None:
    ctx, content = _incident(services)
    info = _info(ctx.template_version)
    for doc in (render_html(ctx, content, info), render_markdown(ctx, content, info)):
        assert ctx.template_version not in doc
        assert info.cache_key not in doc and "offline-template-v1" not in doc
        assert "template 1" not in doc


def test_dates_and_times_read_well_in_the_users_locale(services: Bootstrap) -> None:
    ctx, content = _incident(services, locale="de-DE")
    text = " ".join(s.text for s in content.summary)
    md = render_markdown(ctx, content, _info(ctx.template_version))

    # English words in German order and with the 24-hour clock: the sentence is English.
    assert "it was on Friday, 20 November 2026" in text
    assert "Freitag" not in text and "2026-11-20" not in text
    assert "Prepared 30 Nov 2026, 10:00\n" in md  # to the minute, day before month


@pytest.mark.parametrize(
    ("locale", "day", "foreign"),
    [
        ("de-DE", "Tuesday, 1 December 2026 · 10:00 – 10:30", ("Dienstag", "Dezember")),
        ("fr-FR", "Tuesday, 1 December 2026 · 10:00 – 10:30", ("mardi", "décembre")),
        ("ja-JP", "Tuesday, 1 December 2026 · 10:00 – 10:30", ("火", "月")),
        ("ko-KR", "Tuesday, 1 December 2026 · 10:00\u202fam – 10:30\u202fam", ("화요일",)),
        ("en-US", "Tuesday, December 1, 2026 · 10:00\u202fAM – 10:30\u202fAM", ()),
    ],
)
def test_the_document_is_english_with_the_users_date_conventions(
    services: Bootstrap, locale: str, day: str, foreign: tuple[str, ...]
) -> None:
    """Headings, sentences and dates in one language: no German weekday in an English line."""
    user = make_user(locale=locale, time_zone="Europe/Berlin")
    services.store.put_user(user)
    meeting = make_meeting(user, "intl", start=NOW.replace(hour=9) + timedelta(days=1))
    ctx = prepare(services, user, meeting).context
    content = offline_materials(ctx)
    info = _info(ctx.template_version)
    page = render_html(ctx, content, info)
    md = render_markdown(ctx, content, info)
    assert day in page
    assert 'lang="en-' in page
    for word in foreign:
        assert word not in page and word not in md, (locale, word)
    assert all(ord(c) < 0x2200 for c in md.replace(ctx.title, "")), locale


def test_the_model_is_asked_for_english_whatever_the_locale(services: Bootstrap) -> None:
    user = make_user(locale="de-DE")
    services.store.put_user(user)
    prompt = prepare(services, user, make_meeting(user, "de")).prompt
    assert "Write in English" in prompt.user
    assert "language of locale" not in prompt.user


def test_a_models_odd_time_boxes_are_shown_in_fives(
    services: Bootstrap, vertex: FakeVertex
) -> None:
    """Gemini is asked for fives but may answer 17 minutes: the page shows fives, same plan."""

    def odd(request: dict[str, object]) -> dict[str, object]:
        answer = valid_answer(request)
        answer["agenda"] = [
            {"title": "Updates", "minutes": 7, "source": "suggestion"},
            {"title": "Blockers", "minutes": 17, "source": "event"},
            {"title": "Next steps", "minutes": 6, "source": "suggestion"},
        ]
        return answer

    vertex.answer = odd
    user = make_user()
    stored = generate(services, make_meeting(user, "odd", minutes=30))
    md = document(services, stored, ".md")

    assert "- _Updates_ — 5 min" in md
    assert "- Blockers — 20 min — source: the invitation" in md
    assert "- _Next steps_ — 5 min" in md


def test_rounding_keeps_order_sources_and_total() -> None:
    agenda = [
        AgendaItem(title="A", minutes=12, source="event"),
        AgendaItem(title="B", minutes=33, source="suggestion"),
        AgendaItem(title="C", minutes=2, source="event"),
    ]
    rounded = round_time_boxes(agenda)
    assert [(a.title, a.source) for a in rounded] == [
        ("A", "event"),
        ("B", "suggestion"),
        ("C", "event"),
    ]
    assert sum(a.minutes for a in rounded) == 47
    assert [a.minutes for a in rounded] == [10, 32, 5]  # the 2 left over go to the longest


@pytest.mark.parametrize("locale", ["de-DE", "ja-JP", "fr-FR"])
def test_messages_and_cards_show_english_dates_and_zone_names(locale: str) -> None:
    """The message says "(Wed, 2 Dec, 16:00, Central European Standard Time)", not German."""
    from functions.notify.content import NoticeKind, build_notice
    from functions.notify.email_message import subject_of
    from functions.timefmt import TimeFormat

    user = make_user(locale=locale, time_zone="Europe/Berlin")
    meeting = make_meeting(user, start=NOW + timedelta(days=2, hours=6))
    notice = build_notice(NoticeKind.PREP_DUE, user, meeting, type_label="1:1")
    assert notice.when == "Wed, 2 Dec, 16:00"
    assert notice.zone == "Central European Standard Time"
    assert notice.when in subject_of(notice)
    fmt = TimeFormat.for_user("Europe/Berlin", locale)
    assert fmt.day(meeting.start) == "Wed, 2 Dec"


def test_the_shared_agenda_is_english_with_the_organizers_conventions_too() -> None:
    """Guests read the same English as the materials: its `lang` says so, not "de-DE"."""
    from datetime import UTC, datetime

    from functions.materials.model import SharedAgendaItem
    from functions.materials.render import render_shared_agenda

    start = datetime(2026, 12, 1, 14, 30, tzinfo=UTC)
    page = render_shared_agenda(
        title="Planung",
        start=start,
        end=start + timedelta(minutes=30),
        time_zone="Europe/Berlin",
        locale="de-DE",
        agenda=[SharedAgendaItem(title="Budget", minutes=10)],
    )
    assert '<html lang="en-DE">' in page
    assert "Tue" in page and "Di." not in page
