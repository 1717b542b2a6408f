"""One calendar sync for one user: list, plan, write, schedule prep, then advance the token.

The order of effects is what makes a crash anywhere harmless:

1. Every page is planned and written before the next page is fetched
   (batched; events whose meeting did not change cost no write).
2. Prep tasks are created for every scheduled meeting whose trigger falls
   within the horizon (two days) and that this run listed, changed or not,
   plus every one whose trigger *entered* the horizon since the last run.
3. Only then are the new sync token and `last_sync_at` stored.

A crash or failure anywhere before 3 leaves the old token and the old
`last_sync_at`: the retry lists the same events again (rewriting them is
free, they compare equal) and recreates their tasks (free too: task names
carry the event version, so a task that exists is not created twice). So a
meeting can never be stored without its prep task for longer than one run.
What the horizon sweep does *not* do is re-create every task on every run:
with Cloud Tasks each creation is a network call, and a user with many
long-lead meetings would pay hundreds of them every fifteen minutes. A full
sync (first run, after a 410, the weekly re-listing) sweeps the whole horizon,
and so does a run with `sweep_all` (the local server's start and its live
re-imports).

What is stored is bounded by a horizon (`SyncOptions.horizon`, the
`PREP_SYNC_HORIZON_DAYS` setting, 90 days): a full listing passes
`timeMax = now + horizon`, because with `singleEvents=true` a weekly series
with no end is otherwise listed (and stored, and planned) for years. An
incremental listing cannot carry timeMax (Google refuses it next to a sync
token) and returns far-future changes too: those are applied only to meetings
already stored, and new ones beyond the horizon are dropped. As unchanged
events never reappear in an incremental listing, a full sync runs again once
the last one is `horizon_refresh` (7 days) old, re-windowing the listing; the
setting must therefore exceed the longest lead time plus the prep horizon plus
that refresh, or a meeting could be stored after its trigger.

A change that makes a message we sent wrong (the meeting moved, was
cancelled, deleted or declined, and a recorded message says otherwise:
`functions.notify.corrections`) queues one correction task right after the
write that stored it; the sync itself sends nothing.

Any calendar other than `primary` is an executive's (assistant mode): its
meetings are filed under the syncing user with delegated keys and the
executive as "self" (`functions.delegation.keys.as_delegated`).

The engine knows ports only; the task handler decides what its exceptions
(rate limits, revoked grants) mean for the queue and the user.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from functions.calendar.mapping import UnusableEvent, meeting_from_event
from functions.calendar.port import CalendarSource, CalendarUnavailable, Event, SyncTokenExpired
from functions.calendar.writer import is_prep_block
from functions.delegation.keys import PRIMARY, as_delegated, delegated_key
from functions.domain.classification import Classifier
from functions.domain.meetings import EventStatus, Meeting
from functions.domain.planning import plan_meeting
from functions.domain.sent_messages import facts_of
from functions.domain.sync_state import SyncState
from functions.domain.users import MAX_LEAD_HOURS, User
from functions.followup.scheduling import due_among, followup_task, stored_followups_due
from functions.logs import log
from functions.notify.corrections import correction_task, needs_correction
from functions.prep.queueing import prep_task
from functions.store.port import MAX_BATCH, Store
from functions.sync.horizons import (
    DEFAULT_SYNC_HORIZON,
    HORIZON_REFRESH,
    PREP_HORIZON,
    prep_task_due,
)
from functions.tasks.port import TaskQueue

_log = logging.getLogger(__name__)

#: Event types that are not meetings (out of office, focus time, ...): never prepared for.
MEETING_EVENT_TYPES = frozenset({"default"})


@dataclass(frozen=True, slots=True)
class SyncOptions:
    #: A full sync lists events ending after now minus this (Calendar's timeMin).
    lookback: timedelta = timedelta(days=1)
    #: Prep tasks are created for triggers before now plus this; later ones wait for a later sync.
    prep_horizon: timedelta = PREP_HORIZON
    #: Meetings starting after now plus this are neither listed by a full sync nor newly stored.
    horizon: timedelta = DEFAULT_SYNC_HORIZON
    #: A full sync older than this is repeated, so meetings entering the horizon are listed.
    horizon_refresh: timedelta = HORIZON_REFRESH
    #: A listing longer than this is treated as a server fault rather than followed forever.
    max_pages: int = 400
    #: Concurrent prep-task creations (each is one Cloud Tasks call in production).
    enqueue_workers: int = 4


@dataclass(slots=True)
class SyncReport:
    calendar_id: str
    full: bool = False
    #: The stored token was gone (410) and a clean full sync replaced it.
    resynced: bool = False
    pages: int = 0
    events: int = 0
    written: int = 0
    unchanged: int = 0
    cancelled: int = 0
    skipped: int = 0
    #: One entry per skipped event: {"event_id", "reason", "detail"} (never its content).
    skipped_events: list[dict[str, str]] = field(default_factory=list)
    prep_tasks_created: int = 0
    prep_tasks_existing: int = 0
    #: Follow-up tasks at meetings' ends (functions.followup.scheduling), same horizon.
    followup_tasks_created: int = 0
    #: New events starting beyond the horizon that an incremental listing returned: not stored.
    beyond_horizon: int = 0
    #: Correction tasks queued for meetings that moved, were cancelled or declined.
    corrections_queued: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class _Run:
    """Per-run state shared by the listing and writing steps."""

    store: Store
    source: CalendarSource
    classifier: Classifier
    user: User
    calendar_id: str
    now: datetime
    options: SyncOptions
    report: SyncReport
    seen: set[str] = field(default_factory=set)
    #: Every meeting this run planned (written or found unchanged), by event id.
    planned: dict[str, Meeting] = field(default_factory=dict)
    #: Where correction tasks go (messages sent about a meeting that changed).
    tasks: TaskQueue | None = None

    @property
    def delegated(self) -> bool:
        """Someone else's calendar (assistant mode): filed under delegated keys."""
        return self.calendar_id != PRIMARY


def sync_calendar(
    *,
    store: Store,
    source: CalendarSource,
    tasks: TaskQueue,
    classifier: Classifier,
    user: User,
    calendar_id: str,
    now: datetime,
    state: SyncState | None = None,
    options: SyncOptions | None = None,
    sweep_all: bool = False,
) -> SyncReport:
    """Bring the stored meetings of one calendar up to date; returns what it did.

    `sweep_all` makes even an incremental run queue the prep task of every
    stored meeting due within the horizon: a process that starts (the local
    server) cannot know which tasks the previous one queued or lost.

    Raises the calendar port's errors other than `SyncTokenExpired` (which it
    handles with a clean full sync): `RateLimited`, `CalendarUnavailable`,
    `AccessRevoked`, `PermissionDenied`, `EventNotFound`.
    """
    opts = options or SyncOptions()
    if state is None:
        state = store.get_sync_state(user.user_id, calendar_id) or SyncState(
            user.user_id, calendar_id
        )
    run = _Run(
        store,
        source,
        classifier,
        user,
        calendar_id,
        now,
        opts,
        SyncReport(calendar_id),
        tasks=tasks,
    )
    token: str
    rewindow = state.last_full_sync_at is None or now - state.last_full_sync_at >= (
        opts.horizon_refresh
    )
    if state.sync_token and not rewindow:
        try:
            token = _listing(run, sync_token=state.sync_token)
        except SyncTokenExpired:
            # 410: the token is dead for good. Forget it before the full sync so a
            # failure during that sync does not spend a call on it again.
            log(_log, logging.INFO, "sync token expired", user_id=user.user_id)
            state = dataclasses.replace(state, sync_token=None)
            store.put_sync_state(state)
            run.report.resynced = True
            run.seen.clear()
            run.planned.clear()
            token = _listing(run, sync_token=None)
    else:
        token = _listing(run, sync_token=None)
    swept_until = (
        None
        if sweep_all or run.report.full or state.last_sync_at is None
        else (state.last_sync_at + opts.prep_horizon)
    )
    _schedule_prep(run, tasks, swept_until)
    _schedule_followups(run, tasks, swept_until)
    state = dataclasses.replace(
        state,
        sync_token=token,
        last_sync_at=now,
        last_full_sync_at=now if run.report.full else state.last_full_sync_at,
    )
    store.put_sync_state(state)
    return run.report


def _listing(run: _Run, *, sync_token: str | None) -> str:
    """Follow every page of one listing, writing as it goes; returns the next sync token."""
    full = sync_token is None
    run.report.full = full
    time_min = run.now - run.options.lookback if full else None
    time_max = run.now + run.options.horizon if full else None
    # What a full listing must account for, read *before* it writes: usually
    # little on a first sync, and never the meetings this listing is about to store.
    stored_before = (
        list(_stored_in_window(run, time_min, run.now + run.options.horizon))
        if time_min is not None
        else []
    )
    page_token: str | None = None
    for _ in range(run.options.max_pages):
        page = run.source.list_events(
            run.calendar_id,
            sync_token=sync_token,
            page_token=page_token,
            time_min=time_min,
            time_max=time_max,
        )
        run.report.pages += 1
        run.report.events += len(page.events)
        _apply(run, page.events)
        if page.next_page_token:
            page_token = page.next_page_token
            continue
        if not page.next_sync_token:
            raise CalendarUnavailable("the listing ended without a sync token")
        if full:
            _cancel_unseen(run, stored_before)
        return page.next_sync_token
    raise CalendarUnavailable("the listing did not end within the page limit")


def _is_cancellation(event: Event) -> bool:
    """Events that must not be (or stay) meetings: cancelled ones and our own prep
    blocks (booked by the sidebar, they would otherwise get prep of their own)."""
    return event.get("status") == "cancelled" or is_prep_block(event)


def _is_meeting_type(event: Event) -> bool:
    """Focus time, out of office and working location are listed with the meetings.

    They are not stored for their own sake (a working-location event a day would
    fill the store), but one the user already has (opened in the sidebar and
    prepared anyway) is planned like any meeting, so the prep asked for stays.
    """
    return event.get("eventType", "default") in MEETING_EVENT_TYPES


def _apply(run: _Run, events: Sequence[Event]) -> None:
    """Plan one page of events against what is stored and write the result in batches."""
    uid = run.user.user_id
    incoming: list[Meeting] = []
    other_types: list[Meeting] = []
    cancellations: dict[str, Event] = {}
    for event in events:
        event_id = event.get("id")
        if not isinstance(event_id, str) or not event_id:
            run.report.skipped += 1
            run.report.skipped_events.append({"event_id": "", "reason": "no_id", "detail": ""})
            continue
        key = delegated_key(run.calendar_id, event_id) if run.delegated else event_id
        run.seen.add(key)
        if _is_cancellation(event):
            cancellations[key] = event
            continue
        try:
            meeting = meeting_from_event(
                event,
                user_id=uid,
                calendar_id=run.calendar_id,
                default_tz=run.user.time_zone,
            )
        except UnusableEvent as exc:
            run.report.skipped += 1
            run.report.skipped_events.append(
                {"event_id": event_id, "reason": "unusable", "detail": str(exc)}
            )
            continue
        (incoming if _is_meeting_type(event) else other_types).append(
            as_delegated(meeting) if run.delegated else meeting
        )
    ids = [m.event_id for m in (*incoming, *other_types)] + list(cancellations)
    existing = _stored(run.store, uid, ids)
    planned: dict[str, Meeting] = {}
    horizon_end = run.now + run.options.horizon
    # Only the ones already stored (the user opened them in the sidebar).
    incoming += [m for m in other_types if m.event_id in existing]
    for meeting in incoming:
        stored = existing.get(meeting.event_id)
        if stored is None and meeting.start >= horizon_end:
            # Only an incremental listing returns these; a full sync lists them once near.
            run.report.beyond_horizon += 1
            continue
        planned[meeting.event_id] = _plan(run, meeting, stored)
    for event_id, event in cancellations.items():
        old = existing.get(event_id)
        if old is None:
            continue  # never stored (or not a meeting): nothing to cancel
        etag = event.get("etag")
        version = etag if isinstance(etag, str) and etag else old.version
        planned[event_id] = _plan(
            run, dataclasses.replace(old, status=EventStatus.CANCELLED, version=version), old
        )
        run.report.cancelled += 1
    _write(run, list(planned.values()), existing)


def _plan(run: _Run, incoming: Meeting, existing: Meeting | None) -> Meeting:
    return plan_meeting(incoming, existing, user=run.user, classifier=run.classifier, now=run.now)


def _stored(store: Store, user_id: str, event_ids: Sequence[str]) -> Mapping[str, Meeting]:
    found: dict[str, Meeting] = {}
    unique = list(dict.fromkeys(event_ids))
    for i in range(0, len(unique), MAX_BATCH):
        found.update(store.get_meetings(user_id, unique[i : i + MAX_BATCH]))
    return found


def _write(
    run: _Run, meetings: Sequence[Meeting], existing: Mapping[str, Meeting] | None = None
) -> None:
    run.planned.update((m.event_id, m) for m in meetings)
    """Write what changed; meetings equal to what was just read are not even sent.

    The store compares too, but that costs it another read per meeting; a
    resync of an unchanged calendar then reads each meeting once, not twice.
    """
    known = existing or {}
    changed = [m for m in meetings if known.get(m.event_id) != m]
    run.report.unchanged += len(meetings) - len(changed)
    if not changed:
        return
    result = run.store.upsert_meetings(changed)
    run.report.written += result.written
    run.report.unchanged += result.unchanged
    _queue_corrections(run, changed, known)


def _queue_corrections(run: _Run, changed: Sequence[Meeting], known: Mapping[str, Meeting]) -> None:
    """After the write: a correction task for each meeting whose messages may now be wrong."""
    if run.tasks is None:
        return
    for m in changed:
        old = known.get(m.event_id)
        if old is None or not needs_correction(old, m, run.now):
            continue
        # One indexed read, only for the rare change of time or status: no task
        # for the many meetings nobody was told about (a cancelled listing).
        facts = facts_of(m)
        sent = run.store.sent_messages(run.user.user_id, m.event_id)
        if any(s.shows != facts for s in sent):
            run.tasks.enqueue(correction_task(m))
            run.report.corrections_queued += 1


def _stored_in_window(run: _Run, time_min: datetime, time_max: datetime) -> Iterable[Meeting]:
    """Stored meetings of this calendar that a full listing of [time_min, time_max) must include.

    Meetings stored beyond `time_max` (earlier changes, a sidebar open) are not
    judged by a listing that could not include them.
    """
    start_from = time_min - run.options.lookback - timedelta(days=1)
    start_before = time_max
    returned: set[str] = set()
    while True:
        batch = run.store.list_meetings(
            run.user.user_id, start_from=start_from, start_before=start_before, limit=MAX_BATCH
        )
        fresh = [m for m in batch if m.event_id not in returned]
        for m in fresh:
            returned.add(m.event_id)
            if m.calendar_id == run.calendar_id and m.end > time_min:
                yield m
        if len(batch) < MAX_BATCH or not fresh:
            return
        start_from = batch[-1].start


def _cancel_unseen(run: _Run, stored_before: Sequence[Meeting]) -> None:
    """After a full listing: what we stored but Calendar no longer lists was deleted.

    Marked cancelled rather than deleted, so prep already made (and the
    "last time" history) survives; a restored event comes back through
    `plan_meeting` like any re-accepted one.
    """
    lost = [
        m
        for m in stored_before
        if m.event_id not in run.seen and m.status is not EventStatus.CANCELLED
    ]
    planned = [_plan(run, dataclasses.replace(m, status=EventStatus.CANCELLED), m) for m in lost]
    run.report.cancelled += len(planned)
    before = {m.event_id: m for m in lost}
    for i in range(0, len(planned), MAX_BATCH):
        _write(run, planned[i : i + MAX_BATCH], before)


def _owes_prep(run: _Run, m: Meeting) -> bool:
    return _owes(m, run.calendar_id, run.now, run.options.prep_horizon)


def _owes(m: Meeting, calendar_id: str, now: datetime, horizon: timedelta) -> bool:
    return m.calendar_id == calendar_id and prep_task_due(m, now, horizon)


def _stored_due(
    store: Store,
    user_id: str,
    calendar_id: str,
    now: datetime,
    horizon: timedelta,
    *,
    sweep_from: datetime | None = None,
) -> list[Meeting]:
    """Stored meetings of `calendar_id` whose prep task belongs in the queue now.

    Triggers from `sweep_from` (None: back by the longest possible lead time,
    which covers every meeting still ahead) to the end of the prep horizon.
    """
    start = sweep_from or now - timedelta(hours=MAX_LEAD_HOURS, days=1)
    end = now + horizon
    if start >= end:
        return []
    listed = store.list_due_for_prep(user_id, trigger_from=start, trigger_before=end)
    return [m for m in listed if _owes(m, calendar_id, now, horizon)]


def schedule_due_prep(
    *,
    store: Store,
    tasks: TaskQueue,
    user_id: str,
    calendar_id: str,
    now: datetime,
    options: SyncOptions | None = None,
) -> tuple[int, int]:
    """Queue the prep task of every stored meeting due within the horizon, without a listing.

    For a start whose calendar cannot be read (a broken file): what is stored
    still gets its tasks. Task names dedupe, so this is safe to repeat.
    Returns (created, already existing).
    """
    opts = options or SyncOptions()
    due = _stored_due(store, user_id, calendar_id, now, opts.prep_horizon)
    created = sum(tasks.enqueue(prep_task(m)) for m in due)
    return created, len(due) - created


def _schedule_prep(run: _Run, tasks: TaskQueue, swept_until: datetime | None) -> None:
    """Create the prep tasks this run is responsible for (see the module doc).

    `swept_until` is where the previous run's horizon ended; None sweeps back
    by the longest possible lead time, which covers every meeting still ahead.
    """
    due = {m.event_id: m for m in run.planned.values() if _owes_prep(run, m)}
    stored = _stored_due(
        run.store,
        run.user.user_id,
        run.calendar_id,
        run.now,
        run.options.prep_horizon,
        sweep_from=swept_until,
    )
    for m in stored:
        due.setdefault(m.event_id, m)
    if not due:
        return
    todo = list(due.values())
    if len(todo) == 1 or run.options.enqueue_workers <= 1:
        results = [tasks.enqueue(prep_task(m)) for m in todo]
    else:
        with ThreadPoolExecutor(max_workers=run.options.enqueue_workers) as pool:
            results = list(pool.map(lambda m: tasks.enqueue(prep_task(m)), todo))
    run.report.prep_tasks_created += sum(results)
    run.report.prep_tasks_existing += len(results) - sum(results)


def _schedule_followups(run: _Run, tasks: TaskQueue, swept_until: datetime | None) -> None:
    """The follow-up tasks at meetings' ends, for the same meetings the prep sweep covers:
    those this run planned and those whose start entered the horizon since the last run."""
    horizon = run.options.prep_horizon
    due = {m.event_id: m for m in due_among(run.user, run.planned.values(), run.now, horizon)}
    stored = stored_followups_due(
        run.store, run.user, run.calendar_id, run.now, horizon, sweep_from=swept_until
    )
    for m in stored:
        due.setdefault(m.event_id, m)
    run.report.followup_tasks_created += sum(tasks.enqueue(followup_task(m)) for m in due.values())
