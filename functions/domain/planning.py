"""Fold a fresh copy of a calendar event into what we already know about it.

The sync, the sidebar (for an event the sync has not seen yet) and the prep
task all need the same answer to "what type is this, when does its prep
start, and what prep state does it have now?" — so it is computed here, once.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from functions.domain.classification import OPTIONAL_SKIPS, Classifier, prep_trigger_time
from functions.domain.meetings import Meeting
from functions.domain.prep_state import PENDING_STATES, PrepState, can_advance
from functions.domain.users import User


def plan_meeting(
    incoming: Meeting,
    existing: Meeting | None,
    *,
    user: User,
    classifier: Classifier,
    now: datetime,
) -> Meeting:
    """Return `incoming` with type, trigger time and prep state decided.

    - Prep already under way or done (materials, state, when generation
      started) carries over, and so does the follow-up recorded after it.
    - Cancelled, declined and all-day events move to `cancelled`.
    - Events that only look like they need no prep (no guests, marked free,
      out of office, ... `OPTIONAL_SKIPS`) get no trigger and wait in
      `not_started`, so the user can still ask for prep; prep the user already
      asked for (generating, ready, ...) stays.
    - A restored or re-accepted event goes back to `scheduled`.
    - A meeting that moved after we notified gets `scheduled` again for its
      new time; one that only changed its description keeps its state.
    - Meetings already started are never scheduled.
    - Triggers fall on the user's working days (`prep_trigger_time`).
    """
    result = classifier.classify(incoming, user_domain=user.domains, preferences=user.preferences)
    state = existing.prep_state if existing else PrepState.NOT_STARTED
    materials = existing.materials_ref if existing else None
    base = dataclasses.replace(
        incoming,
        meeting_type=result.meeting_type,
        materials_ref=materials,
        generating_since=existing.generating_since if existing else None,
        followup=existing.followup if existing else None,
        skip_reason=result.skip_reason.value if result.skip_reason else None,
    )
    if result.skip_reason in OPTIONAL_SKIPS:
        if state in (PrepState.SCHEDULED, PrepState.CANCELLED):
            state = PrepState.NOT_STARTED
        return dataclasses.replace(base, prep_trigger_at=None, prep_state=state)
    if result.skip_reason is not None:
        target = PrepState.CANCELLED if can_advance(state, PrepState.CANCELLED) else state
        return dataclasses.replace(base, prep_trigger_at=None, prep_state=target)

    prefs = user.preferences
    trigger = prep_trigger_time(
        incoming.start,
        result.prep_hours_before,
        now,
        time_zone=user.time_zone,
        working_days=prefs.working_days,
        quiet_hours=prefs.quiet_hours,
    )
    upcoming = incoming.start > now
    moved = existing is not None and existing.start != incoming.start
    if state is PrepState.CANCELLED or state in PENDING_STATES:
        state = PrepState.SCHEDULED if upcoming else PrepState.NOT_STARTED
    elif moved and upcoming and can_advance(state, PrepState.SCHEDULED):
        state = PrepState.SCHEDULED
    return dataclasses.replace(base, prep_trigger_at=trigger, prep_state=state)
