"""Whether an assistant's grant reaches an executive's calendar, and what losing it means.

Access is proven, never assumed: when the assistant adds a calendar we list
it with the assistant's own background credentials (the very credentials the
sync will use), and every sync of it proves it again. Google answers 403 or
404 once the executive revokes the delegation; from then on the calendar is
marked (`CalendarProblem.NO_ACCESS`, shown in the assistant's settings), its
push channel is stopped, its sync token dropped (a restored delegation
starts with a clean full sync) and the prep still owed for its upcoming
meetings is cancelled, so no reminder goes out for a calendar we can no
longer read. Nothing of the executive's own (their user record, if they use
the product too) is read or written here or anywhere in assistant mode.

Scope: `calendar.events.owned.readonly`, the grant everybody gives, covers
only calendars the user owns. Reading an executive's calendar needs
`calendar.events.readonly` ("events on all your calendars"), asked for with
incremental consent only when a user turns assistant mode on.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from functions.calendar.port import (
    AccessRevoked,
    CalendarError,
    CalendarSource,
    EventNotFound,
    PermissionDenied,
)
from functions.domain.prep_state import InvalidTransition, PrepState, can_advance
from functions.domain.users import CalendarProblem, User
from functions.logs import log
from functions.oauth import scopes as oauth_scopes
from functions.store.port import MAX_BATCH, Conflict, NotFound, Store

if TYPE_CHECKING:
    from functions.delegation.deps import DelegationDeps
    from functions.oauth.credentials import CredentialsProvider

_log = logging.getLogger(__name__)

#: What reading someone else's calendar needs on top of the default grant.
DELEGATE_SCOPES: tuple[str, ...] = (oauth_scopes.CALENDAR_EVENTS_READONLY,)

#: How far ahead losing a calendar cancels owed prep (matches the sidebar's replanning).
_AHEAD = timedelta(days=400)


class Access(StrEnum):
    OK = "ok"
    #: 403/404 on the calendar: no delegation (or it was revoked).
    NO_ACCESS = "no_access"
    #: The grant lacks `calendar.events.readonly`: the user must allow it first.
    NEEDS_SCOPE = "needs_scope"
    #: The user's own grant is gone: reconnect.
    RECONNECT = "reconnect"
    #: Google did not answer usefully (5xx, rate limit, network): try again later.
    UNAVAILABLE = "unavailable"


def granted_scopes(provider: CredentialsProvider, user_id: str) -> tuple[str, ...] | None:
    """The scopes background work has for `user_id`; None when nothing is stored."""
    from functions.oauth.sealing import SealError

    if provider.delegation is not None:
        return provider.delegation.scopes
    try:
        grant = provider.load(user_id)
    except SealError:
        return None
    return grant.scopes if grant is not None else None


def has_delegate_scope(services: DelegationDeps, user_id: str) -> bool:
    """Whether background work may read other people's calendars for `user_id`.

    Locally a shared calendar is an .ics file (`functions.sync.local.LocalCalendars`):
    there is no grant to hold, and the listing alone decides whether it can be read.
    """
    from functions.sync.sources import uses_ics

    if uses_ics(services.settings):
        return True
    granted = granted_scopes(services.credentials, user_id)
    return granted is not None and not oauth_scopes.missing(DELEGATE_SCOPES, granted)


def check_access(services: DelegationDeps, user: User, calendar_id: str) -> Access:
    """List `calendar_id` once with `user`'s background credentials (one events.list page)."""
    from functions.oauth.credentials import ReconnectNeeded
    from functions.tasks.endpoint import RetryLater

    if not has_delegate_scope(services, user.user_id):
        return Access.NEEDS_SCOPE
    try:
        source = services.calendar_for(user)
        source.list_events(calendar_id, time_min=services.clock.now())
    except ReconnectNeeded:
        return Access.RECONNECT
    except AccessRevoked:
        return Access.RECONNECT
    except (PermissionDenied, EventNotFound):
        return Access.NO_ACCESS
    except (CalendarError, RetryLater) as exc:
        log(
            _log,
            logging.WARNING,
            "delegate check failed",
            user_id=user.user_id,
            error=type(exc).__name__,
        )
        return Access.UNAVAILABLE
    return Access.OK


def set_problem(store: Store, user_id: str, calendar_id: str, problem: str | None) -> User | None:
    """Record (or clear, with None) why a delegated calendar is not synced; re-reads the user."""
    current = store.get_user(user_id)
    if current is None or current.calendar_problems.get(calendar_id) == problem:
        return current
    problems = dict(current.calendar_problems)
    if problem is None:
        problems.pop(calendar_id, None)
    else:
        problems[calendar_id] = problem
    updated = dataclasses.replace(current, calendar_problems=problems)
    store.put_user(updated)
    return updated


def cancel_owed_prep(store: Store, user_id: str, calendar_id: str, now: datetime) -> int:
    """Cancel the prep still owed for the calendar's upcoming meetings; returns how many.

    Their prep tasks then find `cancelled` and send nothing. Meetings with
    materials keep them (cancelled from ready/delivered is a legal move, and
    the materials reference survives). A restored calendar's first (full)
    sync plans them again.
    """
    cancelled = 0
    start_from = now
    seen: set[str] = set()
    while True:
        batch = store.list_meetings(
            user_id, start_from=start_from, start_before=now + _AHEAD, limit=MAX_BATCH
        )
        fresh = [m for m in batch if m.event_id not in seen]
        for m in fresh:
            seen.add(m.event_id)
            if m.calendar_id != calendar_id or not can_advance(m.prep_state, PrepState.CANCELLED):
                continue
            try:
                store.set_prep_state(
                    user_id, m.event_id, PrepState.CANCELLED, expected_version=m.version
                )
                cancelled += 1
            except (NotFound, Conflict, InvalidTransition) as exc:  # moved on meanwhile
                log(_log, logging.INFO, "owed prep not cancelled", error=type(exc).__name__)
        if len(batch) < MAX_BATCH or not fresh:
            return cancelled
        start_from = batch[-1].start


def forget_calendar(
    services: DelegationDeps, user_id: str, calendar_id: str, source: CalendarSource | None = None
) -> None:
    """Stop the calendar's push channel (if a source can) and drop its sync token."""
    from functions.sync.channels import stop_channels

    store = services.store
    if source is not None:
        stop_channels(store, source, user_id, [calendar_id])
    state = store.get_sync_state(user_id, calendar_id)
    if state is not None and (state.sync_token or state.channel_id):
        store.put_sync_state(
            dataclasses.replace(
                state,
                sync_token=None,
                channel_id=None,
                channel_resource_id=None,
                channel_expires_at=None,
            )
        )


def lose_calendar(
    services: DelegationDeps,
    user: User,
    calendar_id: str,
    problem: CalendarProblem,
    source: CalendarSource | None = None,
) -> None:
    """The sync found it can no longer read `calendar_id` for `user` (see the module doc)."""
    set_problem(services.store, user.user_id, calendar_id, problem.value)
    forget_calendar(services, user.user_id, calendar_id, source)
    cancelled = cancel_owed_prep(services.store, user.user_id, calendar_id, services.clock.now())
    log(
        _log,
        logging.WARNING,
        "delegated calendar lost",
        user_id=user.user_id,
        problem=problem.value,
        cancelled=cancelled,
    )
