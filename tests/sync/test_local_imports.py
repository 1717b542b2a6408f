"""Local imports of real-looking exports: whose calendar, which zone, and imports that stick.

The exports in tests/sync/calendars/ are modelled on Google's, Outlook's and
Confluence's own formats (see the README there). Each "process" below is its
own Bootstrap over the same SQLite file, as `main.py sync-local` and
`main.py serve` are.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from functions.bootstrap import Bootstrap
from functions.calendar.ics import forget_snapshots
from functions.config import DEFAULT_ICS, Mode, Settings
from functions.domain.clock import FixedClock
from functions.domain.meetings import Meeting
from functions.followup.scheduling import FOLLOWUP_PATH
from functions.prep.queueing import PREP_PATH
from functions.sync.local import (
    LOCAL_USER_ID,
    MAX_REPORTED_SKIPS,
    ImportWatcher,
    active_ics_path,
    sync_at_start,
    sync_local,
)
from tests.support.recording_queue import RecordingQueue
from tests.support.roots import root_on
from tests.sync.conftest import CountingStore

EXPORTS = Path(__file__).parent / "calendars"
TUESDAY = datetime(2026, 3, 10, 7, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_snapshots() -> Iterator[None]:
    forget_snapshots()
    yield
    forget_snapshots()


Process = Callable[..., tuple[Bootstrap, RecordingQueue]]


@pytest.fixture
def process(tmp_path: Path) -> Iterator[Process]:
    """Start a "process": its own Bootstrap, store connection and queue, one database."""
    opened: list[CountingStore] = []

    def start(
        *,
        ics_path: Path = DEFAULT_ICS,
        email: str | None = None,
        now: datetime = TUESDAY,
        api: str | None = None,
    ) -> tuple[Bootstrap, RecordingQueue]:
        settings = Settings(
            mode=Mode.LOCAL,
            sqlite_path=tmp_path / "prep.db",
            dev_key_path=tmp_path / "dev-key.pem",
            ics_path=ics_path,
            local_user_email=email or "you@example.com",
            local_user_email_set=email is not None,
            calendar_api_endpoint=api,
        )
        db = CountingStore(settings.sqlite_path)
        opened.append(db)
        queue = RecordingQueue()
        services = root_on(settings, FixedClock(now), db, tasks=queue)
        return services, queue

    yield start
    for db in opened:
        db.close()


def export(tmp_path: Path, name: str) -> Path:
    """A copy, so a test may edit it and its path is the user's own."""
    target = tmp_path / "exports" / name
    target.parent.mkdir(exist_ok=True)
    shutil.copy(EXPORTS / name, target)
    return target


def meetings(services: Bootstrap) -> dict[str, Meeting]:
    found = services.store.list_meetings(
        LOCAL_USER_ID,
        start_from=TUESDAY - timedelta(days=2),
        start_before=TUESDAY + timedelta(days=7),
    )
    return {m.title: m for m in found}


# ---------------------------------------------------------------- whose calendar, which zone


def test_a_google_export_names_its_owner_and_zone(tmp_path: Path, process: Process) -> None:
    services, _ = process()
    report = sync_local(services, export(tmp_path, "google_export.ics"))
    assert (report.owner, report.owner_source) == ("maria.gomez@northwind.example", "X-WR-CALNAME")
    assert (report.time_zone, report.time_zone_source) == ("Europe/Madrid", "X-WR-TIMEZONE")
    assert "PREP_LOCAL_USER_EMAIL" in report.as_dict()["owner_override"]
    user = services.store.get_user(LOCAL_USER_ID)
    assert user is not None and user.email == "maria.gomez@northwind.example"
    found = meetings(services)
    one_on_one = found["Maria / Jonas 1:1"]
    # Colleagues are colleagues: before, the owner was you@example.com and both were external.
    assert [a.email for a in one_on_one.attendees if a.is_self] == ["maria.gomez@northwind.example"]
    internal = services.classifier.internal_domains_for(user.domain)
    assert "northwind.example" in internal and "contoso.example" not in internal
    assert one_on_one.meeting_type != "external"
    assert found["Roadmap review"].meeting_type != "external"
    assert found["Contoso intro call"].meeting_type == "external"


def test_an_outlook_export_with_windows_zones_and_no_owner_given(
    tmp_path: Path, process: Process
) -> None:
    services, _ = process()
    report = sync_local(services, export(tmp_path, "outlook_export.ics"))
    assert report.owner == "lukas.schmidt@fabrikam.example"
    assert report.owner_source == "most events (3 of 3 with people)"
    # No X-WR-TIMEZONE: before, the user's zone was UTC.
    assert report.time_zone == "Europe/Berlin"
    assert report.time_zone_source == "Windows zone 'W. Europe Standard Time' (3 of 4 events)"
    user = services.store.get_user(LOCAL_USER_ID)
    assert user is not None and user.time_zone == "Europe/Berlin"
    found = meetings(services)
    team_sync = found["Team Sync"].start
    assert (team_sync.weekday(), team_sync.hour, team_sync.minute) == (0, 8, 0)  # 09:00 CET
    # Pacific Standard Time is PDT by March 12 (US DST began March 8): 08:30 = 15:30 UTC.
    assert found["Lukas / Dave"].start == datetime(2026, 3, 12, 15, 30, tzinfo=UTC)
    # Each meeting keeps its own zone, named in IANA terms.
    assert found["Lukas / Dave"].time_zone == "America/Los_Angeles"
    assert found["Team Sync"].time_zone == "Europe/Berlin"
    assert found["Litware QBR"].meeting_type != "default"
    assert found["Team Sync"].meeting_type != "external"


def test_a_file_that_names_nobody_keeps_the_placeholder_and_says_why(
    tmp_path: Path, process: Process
) -> None:
    services, _ = process()
    report = sync_local(services, export(tmp_path, "confluence_export.ics"))
    assert report.owner == "you@example.com"
    assert report.owner_source == "placeholder (no event names its people)"
    # X-WR-CALNAME that is not an address is a calendar's name, not its owner.
    assert (report.time_zone, report.time_zone_source) == (
        "Europe/London",
        "TZID (1 of 2 events)",
    )


def test_the_configured_owner_wins_over_the_file(tmp_path: Path, process: Process) -> None:
    services, _ = process(email="Maria.Assistant@Northwind.example")
    report = sync_local(services, export(tmp_path, "google_export.ics"))
    assert (report.owner, report.owner_source) == (
        "maria.assistant@northwind.example",
        "PREP_LOCAL_USER_EMAIL",
    )


def test_a_new_import_brings_its_zone_a_repeated_one_keeps_the_users(
    tmp_path: Path, process: Process
) -> None:
    services, _ = process()
    sync_local(services)  # the sample week: America/New_York
    user = services.store.get_user(LOCAL_USER_ID)
    assert user is not None and user.time_zone == "America/New_York"
    sync_local(services, export(tmp_path, "outlook_export.ics"))
    user = services.store.get_user(LOCAL_USER_ID)
    assert user is not None and user.time_zone == "Europe/Berlin"


# ---------------------------------------------------------------- prep tasks after any start


def test_a_start_after_sync_local_queues_the_prep_that_is_due(process: Process) -> None:
    """Before: the start's incremental sync swept only past last_sync_at + 2 days."""
    cli, cli_queue = process()
    report = sync_local(cli, create_prep_tasks=False)
    assert report.written > 10 and not cli_queue.tasks
    forget_snapshots()  # the server is another process
    server, queue = process()
    started = sync_at_start(server)
    assert started is not None and started.prep_tasks_created > 0
    due = [
        m
        for m in meetings(server).values()
        if m.prep_trigger_at is not None
        and m.prep_trigger_at < TUESDAY + timedelta(days=2)
        and m.start > TUESDAY
        and m.prep_state.value == "scheduled"
    ]
    assert due and len(queue.on_path(PREP_PATH)) == len(due)
    # A second start queues the same tasks again: the names dedupe them.
    again, again_queue = process()
    sync_at_start(again)
    assert {t.name for t in again_queue.tasks.values()} == set(queue.tasks)


def test_a_start_with_a_broken_file_still_queues_what_is_stored(
    tmp_path: Path, process: Process
) -> None:
    path = export(tmp_path, "google_export.ics")
    cli, _ = process(ics_path=path)
    sync_local(cli, create_prep_tasks=False)
    path.write_text("not a calendar any more")
    server, queue = process(ics_path=path)
    assert sync_at_start(server) is None
    assert queue.on_path(PREP_PATH)


def test_a_start_that_syncs_through_an_api_still_queues_what_is_stored(
    process: Process,
) -> None:
    """Locally with PREP_CALENDAR_API_ENDPOINT the start imports nothing, yet queues."""
    cli, _ = process()
    sync_local(cli, create_prep_tasks=False)
    server, queue = process(api="http://127.0.0.1:9/calendar/v3/")
    assert sync_at_start(server) is None
    assert queue.on_path(PREP_PATH)


# ---------------------------------------------------------------- imports that stick


def test_a_restart_keeps_the_imported_calendar(
    tmp_path: Path, process: Process, capsys: pytest.CaptureFixture[str]
) -> None:
    cli, _ = process()
    path = export(tmp_path, "outlook_export.ics")
    sync_local(cli, path, create_prep_tasks=False)
    forget_snapshots()
    server, _ = process()
    assert active_ics_path(server.settings) == (path.resolve(), "the last imported file")
    report = sync_at_start(server)
    assert report is not None and report.ics_path == str(path.resolve())
    assert "outlook_export.ics (the last imported file)" in capsys.readouterr().out
    titles = {t for t, m in meetings(server).items() if m.status.value == "confirmed"}
    assert "Team Sync" in titles
    assert "Weekly staff meeting" not in titles  # the sample week was not imported over it


def test_a_newly_configured_file_wins_over_the_remembered_import(
    tmp_path: Path, process: Process
) -> None:
    cli, _ = process()
    sync_local(cli, export(tmp_path, "outlook_export.ics"), create_prep_tasks=False)
    google = export(tmp_path, "google_export.ics")
    server, _ = process(ics_path=google)
    assert active_ics_path(server.settings) == (google, "PREP_ICS_PATH")


def test_a_forgotten_file_falls_back_to_the_configured_one(
    tmp_path: Path, process: Process
) -> None:
    cli, _ = process()
    path = export(tmp_path, "outlook_export.ics")
    sync_local(cli, path, create_prep_tasks=False)
    path.unlink()
    server, _ = process()
    assert active_ics_path(server.settings) == (DEFAULT_ICS, "the sample week")


def test_the_running_server_picks_up_an_import_from_another_process(
    tmp_path: Path, process: Process
) -> None:
    server, queue = process()
    sync_at_start(server)
    watcher = ImportWatcher(server)
    assert watcher.poll() is None  # nothing new
    before = set(queue.tasks)
    cli, cli_queue = process()
    path = export(tmp_path, "google_export.ics")
    sync_local(cli, path, create_prep_tasks=False)
    assert not cli_queue.tasks
    report = watcher.poll()
    assert report is not None and report.ics_path == str(path.resolve())
    new = {name: t for name, t in queue.tasks.items() if name not in before}
    # Prep tasks, and the follow-up tasks at the ends of the 1:1s (functions/followup).
    assert any(t.path == PREP_PATH for t in new.values())
    assert all(t.path in (PREP_PATH, FOLLOWUP_PATH) for t in new.values())
    assert watcher.poll() is None  # seen: no second import
    # Editing the file in force is noticed too.
    path.write_bytes(path.read_bytes().replace(b"Roadmap review", b"Roadmap review (moved)"))
    edited = watcher.poll()
    assert edited is not None and edited.written >= 1
    assert "Roadmap review (moved)" in meetings(server)


def test_the_watch_thread_imports_without_being_asked(tmp_path: Path, process: Process) -> None:
    server, queue = process()
    sync_at_start(server)
    before = set(queue.tasks)
    watcher = ImportWatcher(server, interval=0.05)
    watcher.start()
    try:
        cli, _ = process()
        sync_local(cli, export(tmp_path, "google_export.ics"), create_prep_tasks=False)
        deadline = time.monotonic() + 20
        while set(queue.tasks) == before:  # the server's own re-import queues into its queue
            assert time.monotonic() < deadline, "the running server never re-imported"
            time.sleep(0.05)
        assert "Contoso intro call" in meetings(server)
    finally:
        watcher.stop()


def test_the_report_counts_every_skip_and_names_a_bounded_number(
    tmp_path: Path, process: Process
) -> None:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//t//t//EN"]
    for i in range(MAX_REPORTED_SKIPS + 50):
        lines += ["BEGIN:VEVENT", f"SUMMARY:no uid {i}", "DTSTART:20260311T100000Z", "END:VEVENT"]
    lines += ["BEGIN:VEVENT", "UID:fine", "SUMMARY:Fine", "DTSTART:20260311T100000Z"]
    lines += ["DURATION:PT30M", "END:VEVENT", "END:VCALENDAR"]
    path = tmp_path / "many-broken.ics"
    path.write_text("\r\n".join(lines) + "\r\n")
    services, _ = process()
    report = sync_local(services, path)
    assert report.skipped == MAX_REPORTED_SKIPS + 50
    assert len(report.skipped_events) == MAX_REPORTED_SKIPS
    assert {e["reason"] for e in report.skipped_events} == {"no_uid"}
    assert report.events == 1


def test_the_one_shot_import_defers_prep_tasks_but_keeps_corrections() -> None:
    """A correction is found by no start-up sweep, so the CLI import must not drop it."""
    from functions.notify.corrections import CORRECT_PATH, correction_task
    from functions.prep.queueing import prep_task
    from functions.sync.local import _DeferPrepTasks
    from tests.support.factories import make_meeting
    from tests.support.recording_queue import RecordingQueue

    inner = RecordingQueue()
    deferring = _DeferPrepTasks(inner)
    meeting = make_meeting()
    assert deferring.enqueue(prep_task(meeting)) is False
    assert deferring.enqueue(correction_task(meeting)) is True
    assert [t.path for t in inner.queued()] == [CORRECT_PATH]
