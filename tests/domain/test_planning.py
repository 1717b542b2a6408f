"""plan_meeting: classification, trigger time and prep state for a fresh event copy."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from functions.config import DEFAULT_MEETING_TYPES
from functions.domain.classification import Classifier
from functions.domain.meeting_types import load_rules
from functions.domain.meetings import Attendee, EventStatus, Meeting, ResponseStatus
from functions.domain.planning import plan_meeting
from functions.domain.prep_state import PrepState
from functions.domain.users import Preferences, User

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
START = NOW + timedelta(days=3)
CLASSIFIER = Classifier(load_rules(DEFAULT_MEETING_TYPES))
USER = User("u1", "me@example.com")


def event(**kw: object) -> Meeting:
    base = Meeting(
        user_id="u1",
        event_id="e1",
        calendar_id="primary",
        title="Weekly 1:1 with Sam",
        start=START,
        end=START + timedelta(minutes=30),
        attendees=(
            Attendee("me@example.com", is_self=True, response_status=ResponseStatus.ACCEPTED),
            Attendee("sam@example.com"),
        ),
        version="v1",
    )
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def plan(incoming: Meeting, existing: Meeting | None = None, user: User = USER) -> Meeting:
    return plan_meeting(incoming, existing, user=user, classifier=CLASSIFIER, now=NOW)


def test_new_upcoming_meeting_is_scheduled_at_its_lead_time() -> None:
    m = plan(event())
    assert m.meeting_type == "one_on_one"
    assert m.prep_state is PrepState.SCHEDULED
    assert m.prep_trigger_at == START - timedelta(hours=24)


def test_past_meeting_is_not_scheduled() -> None:
    m = plan(event(start=NOW - timedelta(hours=2), end=NOW - timedelta(hours=1)))
    assert m.prep_state is PrepState.NOT_STARTED


def test_user_lead_time_applies() -> None:
    user = dataclasses.replace(USER, preferences=Preferences(lead_hours={"one_on_one": 2}))
    assert plan(event(), user=user).prep_trigger_at == START - timedelta(hours=2)


@pytest.mark.parametrize(
    "change",
    [
        {"status": EventStatus.CANCELLED},
        {"all_day": True},
        {
            "attendees": (
                Attendee("me@example.com", is_self=True, response_status=ResponseStatus.DECLINED),
                Attendee("sam@example.com"),
            )
        },
    ],
)
def test_no_prep_meetings_are_cancelled(change: dict[str, object]) -> None:
    scheduled = plan(event())
    m = plan(event(**change), scheduled)
    assert m.prep_state is PrepState.CANCELLED
    assert m.prep_trigger_at is None
    assert m.skip_reason is not None


def test_restored_event_is_scheduled_again() -> None:
    cancelled = plan(event(status=EventStatus.CANCELLED), plan(event()))
    restored = plan(event(version="v3"), cancelled)
    assert restored.prep_state is PrepState.SCHEDULED
    assert restored.skip_reason is None


def test_materials_and_progress_carry_over_on_description_change() -> None:
    ready = dataclasses.replace(plan(event()), prep_state=PrepState.READY, materials_ref="m/1")
    m = plan(event(description="new agenda", version="v2"), ready)
    assert (m.prep_state, m.materials_ref) == (PrepState.READY, "m/1")


def test_a_sync_during_generation_keeps_when_it_started() -> None:
    """The lease runs from the click, not from the last calendar change."""
    started = NOW - timedelta(minutes=3)
    generating = dataclasses.replace(
        plan(event()), prep_state=PrepState.GENERATING, generating_since=started
    )
    again = plan(event(description="New agenda"), generating)
    assert again.prep_state is PrepState.GENERATING and again.generating_since == started


def test_moved_after_notification_is_rescheduled_for_the_new_time() -> None:
    notified = dataclasses.replace(plan(event()), prep_state=PrepState.NOTIFIED)
    later = START + timedelta(days=1)
    m = plan(event(start=later, end=later + timedelta(minutes=30), version="v2"), notified)
    assert m.prep_state is PrepState.SCHEDULED
    assert m.prep_trigger_at == later - timedelta(hours=24)


def test_reclassified_when_title_changes() -> None:
    first = plan(event())
    m = plan(event(title="SEV-1 postmortem", version="v2"), first)
    assert m.meeting_type == "incident_review"
    assert m.prep_trigger_at == START - timedelta(hours=2)


def test_series_override_is_applied() -> None:
    user = dataclasses.replace(
        USER, preferences=Preferences(type_overrides={"series:s1": "executive"})
    )
    assert plan(event(series_id="s1"), user=user).meeting_type == "executive"


# ---------------------------------------------------------------- prep only where it helps

ROOM = Attendee("r1@resource.calendar.google.com", resource=True)
ME = Attendee("me@example.com", is_self=True, response_status=ResponseStatus.ACCEPTED)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"title": "Focus time", "attendees": ()}, "no_guests"),
        ({"title": "Dentist", "attendees": (ME,)}, "no_guests"),
        ({"title": "Lunch", "attendees": ()}, "no_guests"),
        ({"attendees": (ME, ROOM)}, "resources_only"),
        ({"transparency": "transparent"}, "free"),
        ({"event_type": "outOfOffice"}, "out_of_office"),
        ({"event_type": "focusTime"}, "focus_time"),
        ({"event_type": "workingLocation"}, "working_location"),
        ({"event_type": "birthday"}, "not_a_meeting"),
    ],
)
def test_events_that_need_no_prep_get_no_trigger_but_stay_preparable(
    change: dict[str, object], reason: str
) -> None:
    scheduled = plan(event())
    for existing in (None, scheduled):
        m = plan(event(**change), existing)
        assert m.skip_reason == reason
        assert m.prep_trigger_at is None
        # Not cancelled: "Prepare anyway" from the sidebar can still start prep.
        assert m.prep_state is PrepState.NOT_STARTED


def test_prep_the_user_asked_for_on_a_skipped_event_is_kept() -> None:
    alone = plan(event(attendees=()))
    ready = dataclasses.replace(alone, prep_state=PrepState.READY, materials_ref="m1")
    again = plan(event(attendees=(), version="v2"), ready)
    assert (again.prep_state, again.materials_ref) == (PrepState.READY, "m1")
    assert again.skip_reason == "no_guests"


def test_a_guest_added_later_schedules_prep() -> None:
    alone = plan(event(attendees=(ME,)))
    invited = plan(event(version="v2"), alone)
    assert invited.skip_reason is None
    assert invited.prep_state is PrepState.SCHEDULED
