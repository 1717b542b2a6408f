"""What the assistant does in settings: add an executive's calendar, check it again, remove it.

Each change is to the assistant's own record only. Adding proves access
first (`access.check_access`, with the assistant's background credentials)
and stores nothing when it fails, so a typo or a calendar nobody shared never
starts a sync; the answer says what to do instead (share the calendar, allow
reading it, reconnect, try later). An added calendar's first sync is queued
at once (deduplicated per 30 seconds, like a push ping). Locally (the .ics
default) a calendar counts as shared when its .ics is in a shared-calendars
folder (`functions.sync.local.LocalCalendars`), and the answer says so.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from functions.delegation.access import (
    Access,
    cancel_owed_prep,
    check_access,
    forget_calendar,
    set_problem,
)
from functions.delegation.keys import BadCalendarId, normalize_calendar_id
from functions.domain.users import MAX_DELEGATED_CALENDARS, CalendarProblem, User
from functions.logs import log

if TYPE_CHECKING:
    from functions.delegation.deps import DelegationDeps

_log = logging.getLogger(__name__)

#: What each check result tells the assistant (no detail from Google ever reaches it).
ANSWERS: dict[Access, str] = {
    Access.OK: "Added. Their meetings show up here after the first sync, in a minute.",
    Access.NO_ACCESS: (
        "We cannot read that calendar with your account. Ask its owner to share it with "
        "you (Settings and sharing > Share with specific people), then add it again."
    ),
    Access.NEEDS_SCOPE: (
        "Allow Meeting prep to read calendars shared with you first "
        "(Allow access below), then add it again."
    ),
    Access.RECONNECT: "Reconnect Meeting prep first (on the overview), then add it again.",
    Access.UNAVAILABLE: "Google Calendar did not answer. Please try again in a minute.",
}


@dataclass(frozen=True, slots=True)
class Change:
    user: User
    access: Access | None
    message: str


#: Locally a calendar is "shared with you" when its .ics is in one of these folders.
LOCAL_NO_ACCESS = (
    "No calendar is shared under that address locally. Try alex.kim@example.com (the "
    "sample executive), or put an .ics named after the address in .local/shared-calendars/."
)


def _answer(services: DelegationDeps, access: Access) -> str:
    from functions.sync.sources import uses_ics

    if access is Access.NO_ACCESS and uses_ics(services.settings):
        return LOCAL_NO_ACCESS
    return ANSWERS[access]


def add_calendar(services: DelegationDeps, user: User, typed: str) -> Change:
    try:
        calendar_id = normalize_calendar_id(typed)
    except BadCalendarId as exc:
        return Change(user, None, str(exc))
    if calendar_id == user.email.strip().lower():
        return Change(user, None, "That is your own calendar; it is always prepared.")
    prefs = user.preferences
    already = calendar_id in prefs.delegated_calendars
    if not already and len(prefs.delegated_calendars) >= MAX_DELEGATED_CALENDARS:
        return Change(
            user, None, f"You can prepare for at most {MAX_DELEGATED_CALENDARS} calendars."
        )
    access = check_access(services, user, calendar_id)
    if access is not Access.OK:
        log(_log, logging.INFO, "delegate not added", user_id=user.user_id, access=access.value)
        return Change(user, access, _answer(services, access))
    problems = dict(user.calendar_problems)
    problems.pop(calendar_id, None)
    updated = dataclasses.replace(
        user,
        calendar_problems=problems,
        preferences=dataclasses.replace(
            prefs, delegated_calendars=(*prefs.delegated_calendars, calendar_id)
        ),
    )
    services.store.put_user(updated)
    _queue_sync(services, user.user_id, calendar_id)
    log(_log, logging.INFO, "delegate added", user_id=user.user_id, again=already)
    return Change(updated, access, ANSWERS[Access.OK])


def check_again(services: DelegationDeps, user: User, calendar_id: str) -> Change:
    """The assistant asks to retry a calendar we lost access to (or could not read)."""
    if calendar_id not in user.preferences.delegated_calendars:
        return Change(user, None, "That calendar is not in your list any more.")
    access = check_access(services, user, calendar_id)
    if access is Access.OK:
        updated = set_problem(services.store, user.user_id, calendar_id, None) or user
        _queue_sync(services, user.user_id, calendar_id)
        return Change(updated, access, "Access works again; syncing their calendar.")
    if access in (Access.NO_ACCESS, Access.NEEDS_SCOPE):
        problem = (
            CalendarProblem.NO_ACCESS if access is Access.NO_ACCESS else CalendarProblem.NEEDS_SCOPE
        )
        user = set_problem(services.store, user.user_id, calendar_id, problem.value) or user
    return Change(user, access, _answer(services, access))


def remove_calendar(services: DelegationDeps, user: User, calendar_id: str) -> Change:
    """Stop preparing for `calendar_id`: no more syncs, channel stopped, owed prep cancelled."""
    prefs = user.preferences
    if calendar_id not in prefs.delegated_calendars:
        return Change(user, None, "That calendar is not in your list any more.")
    problems = dict(user.calendar_problems)
    problems.pop(calendar_id, None)
    updated = dataclasses.replace(
        user,
        calendar_problems=problems,
        preferences=dataclasses.replace(
            prefs,
            delegated_calendars=tuple(c for c in prefs.delegated_calendars if c != calendar_id),
        ),
    )
    services.store.put_user(updated)
    source = None
    try:
        source = services.calendar_for(user)
    except Exception as exc:  # without credentials the channel is only forgotten
        log(_log, logging.INFO, "delegate channel not stopped", error=type(exc).__name__)
    forget_calendar(services, user.user_id, calendar_id, source)
    cancelled = cancel_owed_prep(services.store, user.user_id, calendar_id, services.clock.now())
    log(_log, logging.INFO, "delegate removed", user_id=user.user_id, cancelled=cancelled)
    return Change(updated, None, "Removed. No more prep for that calendar.")


def _queue_sync(services: DelegationDeps, user_id: str, calendar_id: str) -> None:
    from functions.sync.tasks import request_sync

    try:
        request_sync(services.tasks, user_id, services.clock.now(), calendar_id)
    except Exception as exc:  # the fan-out picks the calendar up on its next run
        log(_log, logging.WARNING, "delegate sync not queued", error=type(exc).__name__)
