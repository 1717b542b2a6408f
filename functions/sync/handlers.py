"""The sync's task handlers: POST /tasks/sync (one user) and POST /tasks/fanout (everyone).

Both run behind `task_endpoint` (OIDC-verified, JSON in). Their answers steer
the queue: a transient failure raises `RetryLater` (503, retried with the
queue's backoff, the stored sync token untouched); anything retrying cannot
fix (unknown user, revoked grant) is acknowledged so it is not retried.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from functions.calendar.port import (
    AccessRevoked,
    CalendarSource,
    CalendarUnavailable,
    EventNotFound,
    PermissionDenied,
    RateLimited,
)
from functions.domain.sync_state import SyncState
from functions.domain.users import CalendarProblem, ConnectionState, User
from functions.logs import log
from functions.sync.channels import maintain_channel
from functions.sync.deps import SyncDeps
from functions.sync.engine import SyncOptions, sync_calendar
from functions.sync.tasks import (
    PRIMARY,
    fanout_continuation_task,
    scheduled_sync_task,
    slot_of,
)
from functions.tasks.endpoint import BadTask, RetryLater
from functions.tasks.port import Task

_log = logging.getLogger(__name__)

#: Users read per store page during the fan-out.
FANOUT_PAGE = 500
#: Users one fan-out request handles before handing the rest to a continuation task.
FANOUT_BUDGET = 20_000
#: Concurrent task creations during the fan-out (each is one Cloud Tasks RPC).
FANOUT_WORKERS = 16
_MAX_ID = 1024


def _string(payload: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = payload.get(key, default)
    if not isinstance(value, str) or not value or len(value) > _MAX_ID:
        raise BadTask(f"{key} must be a non-empty string")
    return value


def mark_reconnect_needed(services: SyncDeps, user: User, reason: str) -> None:
    """Show "reconnect needed" on the user's card instead of failing silently forever."""
    if user.connection is not ConnectionState.RECONNECT_NEEDED:
        services.store.put_user(
            dataclasses.replace(user, connection=ConnectionState.RECONNECT_NEEDED)
        )
    log(_log, logging.WARNING, "sync needs reconnect", user_id=user.user_id, reason=reason)


def _delegated_refusal(services: SyncDeps, user: User, calendar_id: str) -> str | None:
    """Why `user` may not sync someone else's `calendar_id` now (None: go ahead)."""
    from functions.delegation.access import has_delegate_scope, set_problem

    if calendar_id not in user.preferences.delegated_calendars:
        return "not_delegated"  # removed since the task was queued
    if calendar_id in user.calendar_problems:
        return user.calendar_problems[calendar_id]  # stopped until the user checks again
    if not has_delegate_scope(services, user.user_id):
        set_problem(services.store, user.user_id, calendar_id, CalendarProblem.NEEDS_SCOPE.value)
        return CalendarProblem.NEEDS_SCOPE.value
    return None


def handle_sync(services: SyncDeps, payload: Mapping[str, Any]) -> Mapping[str, Any]:
    """Sync one user's calendar (payload: user_id, optional calendar_id).

    Any calendar other than `primary` is an executive's (assistant mode): it is
    synced only while the user lists it and can read it, and a 403/404 on it
    means the delegation is gone, not that the user must reconnect.
    """
    from functions.delegation.access import lose_calendar
    from functions.oauth.credentials import ReconnectNeeded

    user_id = _string(payload, "user_id")
    calendar_id = _string(payload, "calendar_id", PRIMARY)
    store = services.store
    user = store.get_user(user_id)
    if user is None:
        return {"sync": "skipped", "reason": "unknown_user"}
    if user.connection is not ConnectionState.CONNECTED:
        return {"sync": "skipped", "reason": user.connection.value}
    delegated = calendar_id != PRIMARY
    if delegated:
        refusal = _delegated_refusal(services, user, calendar_id)
        if refusal is not None:
            return {"sync": "skipped", "reason": refusal}
    now = services.clock.now()
    source: CalendarSource | None = None
    try:
        source = services.calendar_for(user)
        state = store.get_sync_state(user_id, calendar_id) or SyncState(user_id, calendar_id)
        state = maintain_channel(
            store=store,
            source=source,
            settings=services.settings,
            state=state,
            now=now,
            interval=services.settings.sync_interval,
        )
        report = sync_calendar(
            store=store,
            source=source,
            tasks=services.tasks,
            classifier=services.classifier,
            user=user,
            calendar_id=calendar_id,
            now=now,
            state=state,
            options=SyncOptions(horizon=services.settings.sync_horizon),
        )
    except ReconnectNeeded:
        # The credentials provider has already marked the user and said why.
        return {"sync": "reconnect_needed"}
    except (PermissionDenied, EventNotFound) as exc:
        if delegated:
            lose_calendar(services, user, calendar_id, CalendarProblem.NO_ACCESS, source)
            return {"sync": "no_access"}
        if isinstance(exc, EventNotFound):
            log(_log, logging.WARNING, "calendar not found", user_id=user_id)
            return {"sync": "skipped", "reason": "calendar_not_found"}
        mark_reconnect_needed(services, user, type(exc).__name__)
        return {"sync": "reconnect_needed"}
    except AccessRevoked as exc:
        mark_reconnect_needed(services, user, type(exc).__name__)
        return {"sync": "reconnect_needed"}
    except (RateLimited, CalendarUnavailable) as exc:
        # Nothing stored moved past what was written, and the sync token is the old one.
        raise RetryLater(f"calendar: {exc}") from None
    log(
        _log,
        logging.INFO,
        "calendar synced",
        user_id=user_id,
        delegated=delegated,
        full=report.full,
        events=report.events,
        written=report.written,
        prep_tasks=report.prep_tasks_created,
    )
    return {"sync": "done", **report.as_dict()}


def _slot(payload: Mapping[str, Any], services: SyncDeps) -> int:
    raw = payload.get("slot")
    if raw is None:
        return slot_of(services.clock.now(), services.settings.sync_interval)
    if not isinstance(raw, int) or isinstance(raw, bool) or raw < 0:
        raise BadTask("slot must be a non-negative integer")
    return raw


def handle_fanout(services: SyncDeps, payload: Mapping[str, Any]) -> Mapping[str, Any]:
    """Create one sync task per connected user for this scheduler slot.

    Task names are per user and slot, so a repeated scheduler call (or a
    retried fan-out) finds its tasks already there: "already exists" counts
    as done. Push channels due for renewal are renewed by those sync tasks,
    which hold the user's credentials; the fan-out stays one cheap call per user.

    An assistant also gets one sync task per executive's calendar they prepare
    for (while it is readable), and a digest user whose next digest is near gets
    that digest's task (named per user and day: the digest chains the next one
    itself, this is the safety net).
    """
    slot = _slot(payload, services)
    now = services.clock.now()
    after = payload.get("after")
    if after is not None and not isinstance(after, str):
        raise BadTask("after must be a string")
    store, tasks = services.store, services.tasks
    users = created = syncs = digests = 0
    continued = False
    with ThreadPoolExecutor(max_workers=FANOUT_WORKERS) as pool:
        while True:
            page = store.list_connected_users(after=after, limit=FANOUT_PAGE)
            page_syncs = [t for u in page.users for t in _sync_tasks(u, slot)]
            page_digests = [t for u in page.users if (t := _digest_task_due(u, now)) is not None]
            try:
                results = list(pool.map(tasks.enqueue, [*page_syncs, *page_digests]))
            except RetryLater:
                raise
            except Exception as exc:  # any queue failure: retry the whole fan-out
                # Tasks created so far dedupe on the retry, so nothing is done twice.
                raise RetryLater(f"task creation failed: {type(exc).__name__}") from None
            users += len(page.users)
            syncs += len(page_syncs)
            created += sum(results[: len(page_syncs)])
            digests += sum(results[len(page_syncs) :])
            after = page.next_after
            if after is None:
                break
            if users >= FANOUT_BUDGET:
                tasks.enqueue(fanout_continuation_task(slot, after))
                continued = True
                break
    log(
        _log,
        logging.INFO,
        "fan-out done",
        slot=slot,
        users=users,
        created=created,
        digests=digests,
    )
    return {
        "slot": slot,
        "users": users,
        "created": created,
        "existing": syncs - created,
        "digests_created": digests,
        "continued": continued,
    }


def _sync_tasks(user: User, slot: int) -> list[Task]:
    """The user's own calendar, then each executive's calendar they can still read."""
    calendars = [PRIMARY]
    calendars += [
        c for c in user.preferences.delegated_calendars if c not in user.calendar_problems
    ]
    return [scheduled_sync_task(user.user_id, c, slot) for c in calendars]


def _digest_task_due(user: User, now: datetime) -> Task | None:
    from functions.notify.digest import is_digest_user
    from functions.prep.digest_task import LOOKAHEAD, next_digest_task

    if not is_digest_user(user):
        return None
    task = next_digest_task(user, now)
    if task.schedule_at is None or task.schedule_at - now > LOOKAHEAD:
        return None
    return task
