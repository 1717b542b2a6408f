"""What a sent message states, and when a change to it deserves a second email."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from functions.domain.meetings import Attendee, EventStatus, Meeting, ResponseStatus
from functions.domain.sent_messages import (
    CANCELLED,
    DECLINED,
    SentMessage,
    change_matters,
    facts_of,
)
from tests.support.factories import NOW, make_meeting

LEAD = timedelta(hours=24)


def sent_about(meeting: Meeting | None, **kw: Any) -> SentMessage:
    m = make_meeting() if meeting is None else meeting
    base = SentMessage(
        user_id="u",
        event_id="evt0001",
        key="notify:evt0001:v1:email",
        channel="email",
        kind="prep_due",
        name="m1",
        start=m.start,
        sent_at=NOW,
        shows=facts_of(m),
    )
    return dataclasses.replace(base, **kw)


def test_facts_are_the_same_instant_in_any_zone() -> None:
    m = make_meeting()
    berlin = dataclasses.replace(m, start=m.start.astimezone(ZoneInfo("Europe/Berlin")), end=m.end)
    assert facts_of(m) == facts_of(berlin)


def test_facts_ignore_what_a_message_does_not_state() -> None:
    m = make_meeting()
    assert facts_of(dataclasses.replace(m, description="new", title="renamed")) == facts_of(m)
    assert facts_of(dataclasses.replace(m, status=EventStatus.CANCELLED)) == CANCELLED
    me = Attendee(m.attendees[0].email, "Me", ResponseStatus.DECLINED, is_self=True)
    assert facts_of(dataclasses.replace(m, attendees=(me, *m.attendees[1:]))) == DECLINED


@pytest.mark.parametrize(
    ("moved_by", "matters"),
    [
        (timedelta(hours=1), False),
        (LEAD, False),  # exactly the lead time: prep is still on the right day
        (LEAD + timedelta(minutes=1), True),
        (-(LEAD + timedelta(minutes=1)), True),  # earlier counts as much as later
    ],
)
def test_a_move_matters_only_beyond_the_lead_time(moved_by: timedelta, matters: bool) -> None:
    m = make_meeting()
    sent = sent_about(m)
    moved = dataclasses.replace(m, start=m.start + moved_by, end=m.end + moved_by)
    assert change_matters(sent, moved, LEAD) is matters


def test_cancelled_matters_once_declined_never_and_on_again_after_a_cancellation() -> None:
    m = make_meeting()
    cancelled = dataclasses.replace(m, status=EventStatus.CANCELLED)
    assert change_matters(sent_about(m), cancelled, LEAD) is True
    assert change_matters(sent_about(m, shows=CANCELLED), cancelled, LEAD) is False
    me = Attendee(m.attendees[0].email, "Me", ResponseStatus.DECLINED, is_self=True)
    declined = dataclasses.replace(m, attendees=(me, *m.attendees[1:]))
    assert change_matters(sent_about(m), declined, LEAD) is False
    assert change_matters(sent_about(m, shows=CANCELLED), m, LEAD) is True


def test_a_record_needs_its_identity_and_aware_times() -> None:
    with pytest.raises(ValueError, match="user"):
        sent_about(None, key="")
    with pytest.raises(ValueError, match="aware"):
        sent_about(None, sent_at=NOW.replace(tzinfo=None))
