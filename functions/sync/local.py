"""The embedded default's calendar import: the .ics file through the production sync path.

`python main.py sync-local` and the local server's start both come here, and
both run `sync_calendar`, the same engine the Cloud Tasks handler runs, so
the offline product exercises the paging, incremental and cancellation logic
that production relies on. Prep tasks go to the configured task queue.

Whose calendar, which zone: without `PREP_LOCAL_USER_EMAIL` the owner is read
from the file (`functions.calendar.ics.owner_of`: X-WR-CALNAME when it is an
address, else the person on most events), and a new import's zone becomes the
user's (`zone_of`: X-WR-TIMEZONE, else the dominant TZID, Windows names
mapped to IANA). The import report says which and how to override them.

Imports that stick: the file last imported is remembered beside the SQLite
database (`<db>.calendar.json`), so a restart keeps it instead of importing
`PREP_ICS_PATH` (the sample week by default) over it; setting `PREP_ICS_PATH`
to another file than the one in force at that import makes the setting win
again. A running server notices an import from another process (or an edit
of the file) through that record and the file's own stamp, and re-imports in
its own process (`ImportWatcher`), which queues the prep tasks into its own
queue, whichever kind that is. The store and the queue dedupe, so the
second import costs no writes and no duplicate tasks.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from functions.calendar.ics import CalendarFacts, IcsCalendarSource
from functions.calendar.port import CalendarSource, Event, EventNotFound, EventPage
from functions.config import REPO_ROOT, Settings
from functions.domain.clock import Clock
from functions.domain.users import ConnectionState, User
from functions.followup.scheduling import FOLLOWUP_PATH
from functions.logs import log
from functions.prep.queueing import PREP_PATH
from functions.sync.deps import SyncDeps
from functions.sync.engine import SyncOptions, SyncReport, schedule_due_prep, sync_calendar
from functions.sync.tasks import PRIMARY
from functions.tasks.port import Task, TaskQueue

_log = logging.getLogger(__name__)

#: The one user of the embedded default; the sidebar's local tokens name the same id.
LOCAL_USER_ID = "local-user"
#: Skipped events named one by one in an import report (the count is always whole).
MAX_REPORTED_SKIPS = 200
#: How often a running server looks for an import made by another process.
WATCH_INTERVAL_SECONDS = 2.0
_OVERRIDE = "set PREP_LOCAL_USER_EMAIL to your address to choose the owner yourself"


@dataclass(slots=True)
class LocalImport(SyncReport):
    """A sync report plus what the import inferred about the file."""

    ics_path: str = ""
    owner: str = ""
    owner_source: str = ""
    owner_override: str = _OVERRIDE
    time_zone: str = ""
    time_zone_source: str = ""


# ---------------------------------------------------------------- the remembered import


def _record_path(settings: Settings) -> Path | None:
    db = settings.sqlite_path
    if str(db) == ":memory:":
        return None
    return db.with_name(db.name + ".calendar.json")


def _read_record(settings: Settings) -> dict[str, Any] | None:
    path = _record_path(settings)
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def remember_import(settings: Settings, ics_path: Path, now: datetime) -> None:
    """Record the imported file (atomically: a running server may be reading it)."""
    path = _record_path(settings)
    if path is None:
        return
    record = {
        "ics_path": str(ics_path.resolve()),
        "configured": str(settings.ics_path.resolve()),
        "imported_at": now.isoformat(),
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(record), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        log(_log, logging.WARNING, "import not remembered", error=exc.strerror or "")


def active_ics_path(settings: Settings) -> tuple[Path, str]:
    """The calendar file in force, and why: the last import, or the configured one."""
    record = _read_record(settings)
    if record is not None:
        imported = Path(str(record.get("ics_path", "")))
        configured_then = str(record.get("configured", ""))
        if (
            configured_then == str(settings.ics_path.resolve())
            and imported.is_file()
            and imported != settings.ics_path.resolve()
        ):
            return imported, "the last imported file"
    from functions.config import DEFAULT_ICS

    return settings.ics_path, (
        "the sample week" if settings.ics_path == DEFAULT_ICS else "PREP_ICS_PATH"
    )


# ---------------------------------------------------------------- the local user


def ensure_local_user(
    services: SyncDeps, ics_path: Path | None = None, *, new_file: bool = False
) -> tuple[User, CalendarFacts]:
    """The local user, created connected (importing the .ics is their "connection").

    The owner is PREP_LOCAL_USER_EMAIL when set, else read from the file, else
    kept (or the placeholder on a first start). A new user, or a newly imported
    file, takes the calendar's own zone, so cards speak its local time.
    """
    settings = services.settings
    path = ics_path or active_ics_path(settings)[0]
    user = services.store.get_user(LOCAL_USER_ID)
    facts = IcsCalendarSource(
        path,
        self_email=settings.local_user_email,
        clock=services.clock,
        default_tz=user.time_zone if user is not None else "UTC",
    ).describe()
    if settings.local_user_email_set:
        email, how = settings.local_user_email.lower(), "PREP_LOCAL_USER_EMAIL"
    elif facts.owner:
        email, how = facts.owner, facts.owner_source
    elif user is not None:
        email, how = user.email, f"kept from before ({facts.owner_source})"
    else:
        email, how = settings.local_user_email, f"placeholder ({facts.owner_source})"
    facts = dataclasses.replace(facts, owner=email, owner_source=how)
    if user is None:
        user = User(
            user_id=LOCAL_USER_ID,
            email=email,
            time_zone=facts.time_zone,
            connection=ConnectionState.CONNECTED,
        )
        services.store.put_user(user)
        return user, facts
    changed = dataclasses.replace(user, email=email)
    if new_file and facts.time_zone_source != "default":
        changed = dataclasses.replace(changed, time_zone=facts.time_zone)
    if changed != user:
        services.store.put_user(changed)
    return changed, dataclasses.replace(facts, time_zone=changed.time_zone)


class _DeferPrepTasks(TaskQueue):
    """For the one-shot CLI import: the server queues the prep tasks.

    A running server notices the import (`ImportWatcher`) and a starting one
    sweeps every stored meeting due within the horizon (`sync_at_start`),
    so nothing is lost by not queueing them in a process that is about to exit.
    The same sweeps queue the follow-up tasks at meetings' ends, so those wait too.
    Any other task (a correction of a message whose meeting this import moved
    or cancelled) is found by no sweep: it goes to the queue, whose journal
    keeps it for the server.
    """

    def __init__(self, inner: TaskQueue) -> None:
        self.inner = inner

    def enqueue(self, task: Task) -> bool:
        if task.path in (PREP_PATH, FOLLOWUP_PATH):
            return False
        return self.inner.enqueue(task)


def ics_source(
    settings: Settings, clock: Clock, user: User, path: Path | None = None
) -> IcsCalendarSource:
    """The .ics calendar as `user`'s sync reads it: the file in force unless `path`."""
    return IcsCalendarSource(
        path or active_ics_path(settings)[0],
        self_email=user.email,
        clock=clock,
        default_tz=user.time_zone,
        horizon=settings.sync_horizon,
    )


# ---------------------------------------------------------------- shared calendars

#: Where calendars "shared with you" live locally, one `<address>.ics` each: the
#: user's own (beside the database, `.local/shared-calendars/`) win over the samples.
SHARED_DIR_NAME = "shared-calendars"
SAMPLE_SHARED_DIR = REPO_ROOT / "config" / SHARED_DIR_NAME


def shared_calendar_dirs(settings: Settings) -> tuple[Path, ...]:
    return (Path(settings.sqlite_path).parent / SHARED_DIR_NAME, SAMPLE_SHARED_DIR)


def shared_ics_path(settings: Settings, calendar_id: str) -> Path | None:
    """The .ics standing for `calendar_id` (an executive's calendar), None if nobody shared it.

    Only a valid address names a file, and the file must sit directly in one of
    the folders: an id cannot walk out of them.
    """
    from functions.delegation.keys import BadCalendarId, normalize_calendar_id

    try:
        address = normalize_calendar_id(calendar_id)
    except BadCalendarId:
        return None
    for folder in shared_calendar_dirs(settings):
        candidate = folder / f"{address}.ics"
        if candidate.parent == folder and candidate.is_file():
            return candidate
    return None


class LocalCalendars(CalendarSource):
    """The user's own .ics, plus the calendars shared with them (assistant mode), locally.

    Like Calendar: `primary` (or the user's address) is their own calendar; any
    other id is read only if someone shared it (here: an .ics under that address
    in `shared_calendar_dirs`), else it answers 404 as Calendar does for a
    calendar the caller cannot see. On a shared calendar the owner is the
    `self` attendee, as in Calendar's copy of the event on that calendar.
    """

    def __init__(self, settings: Settings, clock: Clock, user: User) -> None:
        self._settings = settings
        self._clock = clock
        self._user = user
        self.own = ics_source(settings, clock, user)
        self._shared: dict[str, IcsCalendarSource] = {}

    def _source(self, calendar_id: str) -> IcsCalendarSource:
        if calendar_id == PRIMARY or calendar_id.lower() == self._user.email.lower():
            return self.own
        found = self._shared.get(calendar_id.lower())
        if found is not None:
            return found
        path = shared_ics_path(self._settings, calendar_id)
        if path is None:
            raise EventNotFound("no such calendar shared with this user")
        source = IcsCalendarSource(
            path,
            self_email=calendar_id.lower(),
            clock=self._clock,
            default_tz=self._user.time_zone,
            horizon=self._settings.sync_horizon,
        )
        self._shared[calendar_id.lower()] = source
        return source

    def list_events(
        self,
        calendar_id: str,
        *,
        sync_token: str | None = None,
        page_token: str | None = None,
        time_min: datetime | None = None,
        time_max: datetime | None = None,
    ) -> EventPage:
        return self._source(calendar_id).list_events(
            calendar_id,
            sync_token=sync_token,
            page_token=page_token,
            time_min=time_min,
            time_max=time_max,
        )

    def get_event(self, calendar_id: str, event_id: str) -> Event:
        return self._source(calendar_id).get_event(calendar_id, event_id)


def sync_local(
    services: SyncDeps,
    ics_path: Path | None = None,
    *,
    create_prep_tasks: bool = True,
    sweep_all: bool = False,
) -> LocalImport:
    """Import the .ics (the one in force unless `ics_path`) for the local user."""
    settings = services.settings
    if not settings.is_local:
        raise RuntimeError("sync-local runs on the embedded default only")
    path = ics_path or active_ics_path(settings)[0]
    record = _read_record(settings)
    new_file = record is None or record.get("ics_path") != str(path.resolve())
    user, facts = ensure_local_user(services, path, new_file=new_file)
    source = ics_source(settings, services.clock, user, path)
    now = services.clock.now()
    report = sync_calendar(
        store=services.store,
        source=source,
        tasks=services.tasks if create_prep_tasks else _DeferPrepTasks(services.tasks),
        classifier=services.classifier,
        user=user,
        calendar_id=PRIMARY,
        now=now,
        options=SyncOptions(horizon=settings.sync_horizon),
        sweep_all=sweep_all,
    )
    remember_import(settings, path, now)
    fields = {f.name: getattr(report, f.name) for f in dataclasses.fields(SyncReport)}
    result = LocalImport(
        **fields,
        ics_path=str(path),
        owner=user.email,
        owner_source=facts.owner_source,
        time_zone=user.time_zone,
        time_zone_source=facts.time_zone_source,
    )
    # What the file held but the listing left out, with the reason (bombs, broken events).
    result.skipped += len(source.skipped)
    listed = [*(s.as_dict() for s in source.skipped), *result.skipped_events]
    # A hostile file could name thousands; `skipped` keeps the true count.
    result.skipped_events = listed[:MAX_REPORTED_SKIPS]
    log(
        _log,
        logging.INFO,
        "local calendar imported",
        events=result.events,
        written=result.written,
        skipped=result.skipped,
        full=result.full,
    )
    return result


def _summary(report: LocalImport, why: str) -> str:
    skipped = f", {report.skipped} skipped (see sync-local's report)" if report.skipped else ""
    return (
        f"Calendar {Path(report.ics_path).name} ({why}): {report.events} events listed "
        f"({report.written} changed{skipped}), {report.prep_tasks_created} prep tasks queued; "
        f"owner {report.owner} ({report.owner_source}), time zone {report.time_zone}"
    )


def sync_at_start(services: SyncDeps) -> LocalImport | None:
    """The local server's first act: show the calendar's meetings and queue what is due.

    Every start sweeps the whole prep horizon (the previous process may have
    queued nothing: `sync-local` defers, a crash loses an in-memory queue).
    A broken .ics must not keep the server from starting: it is reported on
    the console and in the log, and what is stored still gets its tasks.
    """
    from functions.calendar.ics import IcsFileError
    from functions.sync.sources import uses_ics

    if not uses_ics(services.settings):
        _queue_stored(services)
        return None
    path, why = active_ics_path(services.settings)
    try:
        report = sync_local(services, path, sweep_all=True)
    except IcsFileError as exc:
        log(_log, logging.ERROR, "local calendar not imported", error=str(exc))
        print(f"Calendar not imported: {exc}")
        _queue_stored(services)
        return None
    print(_summary(report, why))
    return report


def _queue_stored(services: SyncDeps) -> None:
    user = services.store.get_user(LOCAL_USER_ID)
    if user is None:
        return
    # The user's own calendar and every executive's they prepare for (assistant mode).
    created = sum(
        schedule_due_prep(
            store=services.store,
            tasks=services.tasks,
            user_id=user.user_id,
            calendar_id=calendar_id,
            now=services.clock.now(),
        )[0]
        for calendar_id in (PRIMARY, *user.preferences.delegated_calendars)
    )
    if created:
        print(f"{created} prep tasks queued for stored meetings")


class ImportWatcher:
    """Re-imports in the running server when another process imported, or the file changed.

    Polls the remembered import and the active file's size and stamp: cheap
    (two stats and a small read), and independent of how the task queue is
    kept, since the re-import queues into this process's own queue.
    """

    def __init__(self, services: SyncDeps, interval: float = WATCH_INTERVAL_SECONDS) -> None:
        self._services = services
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen = self._signature()

    def _signature(self) -> tuple[object, ...]:
        settings = self._services.settings
        record = _read_record(settings)
        path, _ = active_ics_path(settings)
        try:
            stat = path.stat()
            stamp: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            stamp = None
        return (json.dumps(record, sort_keys=True), str(path), stamp)

    def poll(self) -> LocalImport | None:
        """One look; re-imports (and returns the report) when something changed."""
        from functions.calendar.ics import IcsFileError

        signature = self._signature()
        if signature == self._seen:
            return None
        path, why = active_ics_path(self._services.settings)
        try:
            report = sync_local(self._services, path, sweep_all=True)
        except IcsFileError as exc:
            # The file itself is broken: trying again before it changes would say the same.
            self._seen = signature
            log(_log, logging.ERROR, "local calendar not re-imported", error=str(exc))
            print(f"Calendar not re-imported: {exc}")
            return None
        # Anything else (a busy store) leaves the change unseen: the next poll tries again,
        # since an import from the CLI left its prep tasks to this server.
        self._seen = self._signature()  # our own import rewrote the record
        print(_summary(report, f"re-imported, {why}"))
        return report

    def start(self) -> None:
        from functions.sync.sources import uses_ics

        if self._thread is not None or not uses_ics(self._services.settings):
            return
        self._thread = threading.Thread(target=self._run, name="ics-import-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.poll()
            except Exception as exc:  # a watcher must outlive one bad import
                log(_log, logging.ERROR, "import watch failed", error=type(exc).__name__)
