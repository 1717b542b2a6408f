"""Issue 16 "Fix first": history is what has happened, relatedness is real, the invite leads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from functions.domain.clock import FixedClock
from functions.domain.meetings import ResponseStatus
from functions.materials.pipeline import prepare
from functions.services import Services
from tests.materials.conftest import document, generate, make_meeting, make_user, person

DEC_3 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def test_history_is_only_meetings_that_ended_before_now(
    services: Services, clock: FixedClock
) -> None:
    """Prep made on Dec 3 for a Dec 8 meeting must not cite Dec 7 (or a running meeting)."""
    clock.set(DEC_3)
    user = make_user()
    services.store.put_user(user)
    meeting = make_meeting(user, "dec-8", start=datetime(2026, 12, 8, 9, tzinfo=UTC), series_id="s")
    done = make_meeting(user, "dec-1", start=datetime(2026, 12, 1, 9, tzinfo=UTC), series_id="s")
    running = make_meeting(user, "dec-3", start=DEC_3 - timedelta(minutes=10), series_id="s")
    future = make_meeting(user, "dec-7", start=datetime(2026, 12, 7, 9, tzinfo=UTC), series_id="s")
    services.store.upsert_meetings([meeting, done, running, future])

    ctx = prepare(services, user, meeting).context

    assert [p.start for p in ctx.prior] == ["2026-12-01T10:00+01:00"]
    assert ctx.prior_found == 1


def test_one_shared_person_does_not_make_a_meeting_related(
    services: Services, clock: FixedClock
) -> None:
    user = make_user()
    services.store.put_user(user)
    team = (
        person(user.email, "Me", is_self=True),
        person("sam@example.com", "Sam"),
        person("ana@example.com", "Ana"),
        person("bo@example.com", "Bo"),
    )
    meeting = make_meeting(user, "m", attendees=team)
    before = clock.now() - timedelta(days=2)
    # Sam alone among strangers: a coincidence.
    one = make_meeting(
        user,
        "one",
        start=before,
        attendees=(team[0], team[1], *(person(f"x{i}@example.com") for i in range(3))),
    )
    # Two of the same people in a 40-person all-hands: still a coincidence.
    crowd = make_meeting(
        user,
        "crowd",
        start=before - timedelta(days=1),
        attendees=(*team[:3], *(person(f"y{i}@example.com") for i in range(37))),
    )
    # Sam and Ana with one more: a real overlap.
    two = make_meeting(
        user,
        "two",
        start=before - timedelta(days=2),
        attendees=(*team[:3], person("cy@example.com", "Cy")),
    )
    services.store.upsert_meetings([meeting, one, crowd, two])

    ctx = prepare(services, user, meeting).context

    assert [(p.title, p.shared_people) for p in ctx.prior] == [("Weekly sync", 2)]
    assert ctx.prior_found == 1
    assert ctx.prior[0].reason == "2 of the same people (Sam, Ana)"


def test_a_one_to_one_with_the_same_person_is_related(
    services: Services, clock: FixedClock
) -> None:
    user = make_user()
    services.store.put_user(user)
    pair = (person(user.email, "Me", is_self=True), person("ana@example.com", "Ana"))
    meeting = make_meeting(user, "m", attendees=pair)
    last = make_meeting(user, "last", start=clock.now() - timedelta(days=7), attendees=pair)
    services.store.upsert_meetings([meeting, last])

    ctx = prepare(services, user, meeting).context

    assert [p.reason for p in ctx.prior] == ["a meeting with the same person (Ana)"]


def test_the_materials_say_why_an_earlier_meeting_was_chosen(
    services: Services, clock: FixedClock
) -> None:
    user = make_user()
    people = (
        person(user.email, "Me", is_self=True, response_status=ResponseStatus.ACCEPTED),
        person("sam@example.com", "Sam"),
        person("ana@partner.test", "Ana"),
    )
    meeting = make_meeting(user, "m", series_id="s", attendees=people)
    series = make_meeting(
        user, "s-1", start=meeting.start - timedelta(weeks=1), series_id="s", attendees=people
    )
    same = make_meeting(
        user,
        "same",
        title="Pricing",
        start=clock.now() - timedelta(days=3),
        attendees=people,
    )
    services.store.put_user(user)
    services.store.upsert_meetings([series, same])

    page = document(services, generate(services, meeting), ".md")

    assert "an earlier occurrence of this series" in page
    assert "a meeting with the same 2 people \\(Sam, Ana\\)" in page
