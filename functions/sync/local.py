"""The embedded default's calendar import: the .ics file through the production sync path.

`python main.py sync-local` and the local server's start both come here, and
both run `sync_calendar`, the same engine the Cloud Tasks handler runs, so
the offline product exercises the paging, incremental and cancellation logic
that production relies on. Prep tasks go to the configured task queue.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from functions.calendar.ics import IcsCalendarSource
from functions.domain.users import ConnectionState, User
from functions.logs import log
from functions.services import Services
from functions.sync.engine import SyncOptions, SyncReport, sync_calendar
from functions.sync.tasks import PRIMARY
from functions.tasks.port import Task, TaskQueue

_log = logging.getLogger(__name__)

#: The one user of the embedded default; the sidebar's local tokens name the same id.
LOCAL_USER_ID = "local-user"


def ensure_local_user(services: Services, ics_path: Path | None = None) -> User:
    """The local user, created connected (importing the .ics is their "connection").

    A new local user takes the calendar's own time zone, so reminders and cards
    speak the calendar's local time rather than UTC.
    """
    email = services.settings.local_user_email
    user = services.store.get_user(LOCAL_USER_ID)
    if user is None:
        zone = IcsCalendarSource(
            ics_path or services.settings.ics_path, self_email=email, clock=services.clock
        ).time_zone()
        user = User(
            user_id=LOCAL_USER_ID,
            email=email,
            time_zone=zone,
            connection=ConnectionState.CONNECTED,
        )
        services.store.put_user(user)
    elif user.email != email:
        user = dataclasses.replace(user, email=email)
        services.store.put_user(user)
    return user


class _DeferPrepTasks(TaskQueue):
    """For the one-shot CLI import: the server's start-up sync creates the prep tasks.

    It finds them from the store (every scheduled meeting within the horizon),
    so nothing is lost by not queueing them in a process that is about to exit.
    """

    def enqueue(self, task: Task) -> bool:
        return False


def sync_local(
    services: Services, ics_path: Path | None = None, *, create_prep_tasks: bool = True
) -> SyncReport:
    """Import the .ics (the configured one unless `ics_path`) for the local user."""
    if not services.settings.is_local:
        raise RuntimeError("sync-local runs on the embedded default only")
    user = ensure_local_user(services, ics_path)
    source = IcsCalendarSource(
        ics_path or services.settings.ics_path,
        self_email=user.email,
        clock=services.clock,
        default_tz=user.time_zone,
        horizon=services.settings.sync_horizon,
    )
    report = sync_calendar(
        store=services.store,
        source=source,
        tasks=services.tasks if create_prep_tasks else _DeferPrepTasks(),
        classifier=services.classifier,
        user=user,
        calendar_id=PRIMARY,
        now=services.clock.now(),
        options=SyncOptions(horizon=services.settings.sync_horizon),
    )
    log(
        _log,
        logging.INFO,
        "local calendar imported",
        events=report.events,
        written=report.written,
        full=report.full,
    )
    return report


def sync_at_start(services: Services) -> SyncReport | None:
    """The local server's first act: show the calendar's meetings right away.

    A broken .ics must not keep the server from starting: it is reported on
    the console and in the log, and the server runs with what is stored.
    """
    from functions.calendar.ics import IcsFileError
    from functions.sync.sources import uses_ics

    if not uses_ics(services):
        return None
    try:
        report = sync_local(services)
    except IcsFileError as exc:
        log(_log, logging.ERROR, "local calendar not imported", error=str(exc))
        print(f"Calendar not imported: {exc}")
        return None
    print(
        f"Calendar {services.settings.ics_path.name}: {report.events} events "
        f"({report.written} changed) for {services.settings.local_user_email}"
    )
    return report
