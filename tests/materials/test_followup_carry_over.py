"""Action items recorded after a meeting (functions/followup) come back in the next
occurrence's materials and the next meeting with the same people, with a link back."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from functions.bootstrap import Bootstrap
from functions.domain.followups import FollowUp, parse_answers
from functions.followup.answers import tick_item
from tests.materials.conftest import NOW, document, generate, make_meeting, make_user, person

HOSTILE = "<script>alert(1)</script> & ship"


def _answered(services: Bootstrap, **kw: object) -> None:
    user = make_user()
    services.store.put_user(user)
    answer = parse_answers(
        "Go with vendor B",
        f"Sam: send the deck\n{HOSTILE}\nAna: book the room",
        nothing_to_record=False,
        at=NOW - timedelta(days=6),
    )
    last_week = make_meeting(
        user,
        "week-1",
        start=NOW - timedelta(days=7),
        title="Weekly <b>sync</b>",
        followup=dataclasses.replace(answer, asked_at=NOW - timedelta(days=7)),
        **kw,  # type: ignore[arg-type]
    )
    services.store.upsert_meetings([last_week])
    tick_item(services.store, user.user_id, "week-1", "a3", NOW - timedelta(days=5))


def test_open_items_carry_into_the_next_occurrence_escaped_with_a_link_back(
    services: Bootstrap,
) -> None:
    _answered(services, series_id="weekly")
    user = make_user()
    nxt = generate(services, make_meeting(user, "week-2", series_id="weekly"))
    page = document(services, nxt)
    assert "<h2>Open action items</h2>" in page
    assert "Sam: send the deck" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; ship" in page
    assert "<script>alert" not in page
    assert "book the room" not in page  # ticked off
    assert (
        '<a href="https://calendar.google.com/calendar/r/day/2026/11/23" '
        'rel="noopener noreferrer">Weekly &lt;b&gt;sync&lt;/b&gt; · '
    ) in page
    markdown = document(services, nxt, ".md")
    assert "## Open action items" in markdown
    assert "(<https://calendar.google.com/calendar/r/day/2026/11/23>)" in markdown
    assert "<script>" not in markdown


def test_and_into_the_next_meeting_with_the_same_people(services: Bootstrap) -> None:
    _answered(services)  # no series: related by its people only
    user = make_user()
    other = generate(services, make_meeting(user, "adhoc", title="Vendor follow-up"))
    assert "Sam: send the deck" in document(services, other)


def test_not_into_a_meeting_with_other_people(services: Bootstrap) -> None:
    _answered(services)
    user = make_user()
    stranger = make_meeting(
        user,
        "other",
        attendees=(person(user.email, "Me", is_self=True), person("zoe@example.com", "Zoe")),
    )
    page = document(services, generate(services, stranger))
    assert "Open action items" not in page and "send the deck" not in page


def test_nothing_to_record_carries_nothing(services: Bootstrap) -> None:
    user = make_user()
    services.store.put_user(user)
    services.store.upsert_meetings(
        [
            make_meeting(
                user,
                "week-1",
                start=NOW - timedelta(days=7),
                series_id="weekly",
                followup=FollowUp(answered_at=NOW, nothing_to_record=True),
            )
        ]
    )
    page = document(services, generate(services, make_meeting(user, "week-2", series_id="weekly")))
    assert "Open action items" not in page
