"""The embedded default's calendar: .ics parsing, sync-token emulation, and the import path."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from functions.bootstrap import Bootstrap
from functions.calendar.ics import (
    IcsCalendarSource,
    IcsFileError,
    forget_snapshots,
    list_all,
)
from functions.calendar.port import EventNotFound, SyncTokenExpired
from functions.config import REPO_ROOT, Mode, Settings
from functions.domain.clock import FixedClock
from functions.domain.meetings import EventStatus, Meeting
from functions.domain.prep_state import PrepState
from functions.prep.queueing import PREP_PATH
from functions.sync.local import LOCAL_USER_ID, sync_local
from tests.support.recording_queue import RecordingQueue
from tests.support.roots import root_on
from tests.sync.conftest import CountingStore

SAMPLE = REPO_ROOT / "config" / "sample.ics"
TUESDAY = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)  # 08:00 in New York
NY = ZoneInfo("America/New_York")


@pytest.fixture(autouse=True)
def _fresh_snapshots() -> Iterator[None]:
    forget_snapshots()
    yield
    forget_snapshots()


def ics(*events: str, header: str = "") -> bytes:
    body = "\r\n".join(
        [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//test//test//EN",
            *([header] if header else []),
            *events,
            "END:VCALENDAR",
        ]
    )
    return (body + "\r\n").encode()


def vevent(uid: str, *lines: str) -> str:
    return "\r\n".join(
        ["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20260101T000000Z", *lines, "END:VEVENT"]
    )


@pytest.fixture
def local(tmp_path: Path) -> Iterator[tuple[Bootstrap, CountingStore, RecordingQueue, Path]]:
    path = tmp_path / "calendar.ics"
    shutil.copy(SAMPLE, path)
    settings = Settings(
        mode=Mode.LOCAL,
        sqlite_path=tmp_path / "prep.db",
        dev_key_path=tmp_path / "dev-key.pem",
        ics_path=path,
    )
    db = CountingStore(settings.sqlite_path)
    queue = RecordingQueue()
    services = root_on(settings, FixedClock(TUESDAY), db, tasks=queue)
    yield services, db, queue, path
    db.close()


def by_title(db: CountingStore) -> dict[str, Meeting]:
    meetings = db.list_meetings(
        LOCAL_USER_ID,
        start_from=TUESDAY - timedelta(days=2),
        start_before=TUESDAY + timedelta(days=8),
    )
    return {m.title: m for m in meetings}


def test_sample_week_imports_as_a_realistic_classified_week(
    local: tuple[Bootstrap, CountingStore, RecordingQueue, Path],
) -> None:
    services, db, queue, _ = local
    report = sync_local(services)
    assert report.full and report.written == report.events > 10
    meetings = by_title(db)
    kinds = {title: m.meeting_type for title, m in meetings.items()}
    assert kinds["Weekly staff meeting"] == "staff"
    assert kinds["1:1 Sam / You"] == "one_on_one"
    assert kinds["Priya <> You 1:1"] == "one_on_one"
    assert kinds["Acme Corp QBR"] == "qbr"
    assert kinds["Leadership team sync"] == "leadership"
    assert kinds["Incident review: checkout latency (SEV2)"] == "incident_review"
    assert kinds["Globex intro call"] == "external"
    skipped = {t: m.skip_reason for t, m in meetings.items()}
    assert skipped["Design review: billing page"] == "declined"
    assert skipped["Team offsite"] == "all_day"
    assert skipped["Hold: Boardroom for Monday prep"] == "resources_only"
    states = {t: m.prep_state for t, m in meetings.items()}
    assert states["Acme Corp QBR"] is PrepState.SCHEDULED
    assert states["Design review: billing page"] is PrepState.CANCELLED
    # The sample rolled to the current week: every one-off meeting is still ahead.
    one_offs = [m for m in meetings.values() if m.series_id is None]
    assert all(TUESDAY < m.end <= TUESDAY + timedelta(days=8) for m in one_offs)
    staff = meetings["Weekly staff meeting"]
    assert staff.series_id and staff.start.astimezone(NY).strftime("%a %H:%M") == "Mon 09:30"
    assert queue.on_path(PREP_PATH)  # prep due within two days is queued
    # The local user speaks the calendar's own zone (X-WR-TIMEZONE), not UTC.
    user = db.get_user(LOCAL_USER_ID)
    assert user is not None
    assert user.time_zone == "America/New_York"


def test_unchanged_file_lists_nothing_and_writes_nothing(
    local: tuple[Bootstrap, CountingStore, RecordingQueue, Path],
) -> None:
    services, db, _, _ = local
    sync_local(services)
    writes = db.meeting_writes
    report = sync_local(services)
    assert (report.full, report.events, report.written, report.pages) == (False, 0, 0, 1)
    assert db.meeting_writes == writes


def test_edited_file_lists_exactly_the_changes(
    local: tuple[Bootstrap, CountingStore, RecordingQueue, Path],
) -> None:
    services, db, _, path = local
    sync_local(services)
    text = path.read_bytes().decode()
    text = text.replace("SUMMARY:Acme Corp QBR", "SUMMARY:Acme Corp QBR (moved to Zoom)")
    start = text.index("BEGIN:VEVENT\r\nUID:sample-customer-globex")
    end = text.index("END:VEVENT\r\n", start) + len("END:VEVENT\r\n")
    path.write_bytes((text[:start] + text[end:]).encode())
    report = sync_local(services)
    assert report.full is False and report.events == 2
    meetings = by_title(db)
    assert "Acme Corp QBR (moved to Zoom)" in meetings
    globex = meetings["Globex intro call"]
    assert globex.status is EventStatus.CANCELLED
    assert globex.prep_state is PrepState.CANCELLED


def test_a_token_from_another_process_means_a_clean_resync_without_writes(
    local: tuple[Bootstrap, CountingStore, RecordingQueue, Path],
) -> None:
    services, db, _, _ = local
    sync_local(services)
    forget_snapshots()  # what a restart of the server does
    path = services.settings.ics_path
    path.write_bytes(path.read_bytes().replace(b"Weekly staff meeting", b"Staff meeting"))
    writes = db.meeting_writes
    report = sync_local(services)
    assert report.resynced and report.full
    # Only the renamed series changed; everything else was compared and left alone.
    assert 0 < db.meeting_writes - writes < report.events


def test_cli_sync_local_imports_and_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from functions.cli import main

    monkeypatch.setenv("PREP_SQLITE_PATH", str(tmp_path / "prep.db"))
    monkeypatch.setenv("PREP_DEV_KEY_PATH", str(tmp_path / "key.pem"))
    monkeypatch.delenv("PREP_MODE", raising=False)
    monkeypatch.delenv("PREP_CALENDAR_API_ENDPOINT", raising=False)
    assert main(["sync-local", "--ics", str(SAMPLE)]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["full"] is True and report["written"] > 10
    db = CountingStore(tmp_path / "prep.db")
    try:
        user = db.get_user(LOCAL_USER_ID)
        assert user is not None and user.email == "you@example.com"
        assert db.get_sync_state(LOCAL_USER_ID, "primary") is not None
    finally:
        db.close()
    bad = tmp_path / "bad.ics"
    bad.write_text("this is not a calendar")
    assert main(["sync-local", "--ics", str(bad)]) == 2
    assert "not valid iCalendar" in capsys.readouterr().err
    assert main(["sync-local", "--ics", str(tmp_path / "missing.ics")]) == 2


# ---------------------------------------------------------------- parsing details


def source_for(tmp_path: Path, data: bytes, now: datetime = TUESDAY) -> IcsCalendarSource:
    path = tmp_path / "cal.ics"
    path.write_bytes(data)
    return IcsCalendarSource(path, self_email="you@example.com", clock=FixedClock(now))


def test_recurrence_exdate_and_moved_instance(tmp_path: Path) -> None:
    data = ics(
        vevent(
            "series-1",
            "DTSTART;TZID=Europe/Berlin:20260302T100000",
            "DTEND;TZID=Europe/Berlin:20260302T103000",
            "RRULE:FREQ=WEEKLY;COUNT=4",
            "EXDATE;TZID=Europe/Berlin:20260309T100000",
            "SUMMARY:Weekly",
        ),
        vevent(
            "series-1",
            "RECURRENCE-ID;TZID=Europe/Berlin:20260316T100000",
            "DTSTART;TZID=Europe/Berlin:20260317T150000",
            "DTEND;TZID=Europe/Berlin:20260317T153000",
            "SUMMARY:Weekly (moved)",
        ),
    )
    source = source_for(tmp_path, data)
    events = list_all(source, "primary", time_min=datetime(2026, 3, 1, tzinfo=UTC))
    starts = {e["id"].split("_")[1]: (e["start"]["dateTime"], e["summary"]) for e in events}
    assert starts == {
        "20260302T090000Z": ("2026-03-02T10:00:00+01:00", "Weekly"),
        "20260316T090000Z": ("2026-03-17T15:00:00+01:00", "Weekly (moved)"),
        "20260323T090000Z": ("2026-03-23T10:00:00+01:00", "Weekly"),
    }
    assert {e["recurringEventId"] for e in events} == {events[0]["id"].split("_")[0]}
    assert all(e["start"]["timeZone"] == "Europe/Berlin" for e in events)
    moved = next(e for e in events if e["summary"] == "Weekly (moved)")
    assert moved["originalStartTime"]["dateTime"] == "2026-03-16T10:00:00+01:00"
    assert source.get_event("primary", moved["id"])["summary"] == "Weekly (moved)"
    with pytest.raises(EventNotFound):
        source.get_event("primary", "nope")


def test_attendees_organizer_status_and_times(tmp_path: Path) -> None:
    data = ics(
        vevent(
            "one",
            "DTSTART:20260311T100000",  # floating: read in X-WR-TIMEZONE
            "DURATION:PT45M",
            "SUMMARY:Planning <b>bold</b>",
            "ORGANIZER;CN=Org:mailto:org@example.com",
            "ATTENDEE;CN=Org;PARTSTAT=ACCEPTED:mailto:org@example.com",
            "ATTENDEE;PARTSTAT=TENTATIVE:mailto:YOU@example.com",
            "ATTENDEE;ROLE=OPT-PARTICIPANT:mailto:opt@example.com",
            "ATTENDEE;CUTYPE=RESOURCE;PARTSTAT=ACCEPTED:mailto:projector@example.com",
        ),
        vevent("two", "DTSTART:20260312T090000Z", "DTEND:20260312T100000Z", "STATUS:CANCELLED"),
        vevent("three", "DTSTART;VALUE=DATE:20260313", "SUMMARY:Holiday"),
        header="X-WR-TIMEZONE:America/New_York",
    )
    events = {e["iCalUID"]: e for e in list_all(source_for(tmp_path, data), "primary")}
    assert set(events) == {"one", "three"}  # cancelled events are not in a full listing
    one = events["one"]
    assert one["start"] == {"dateTime": "2026-03-11T10:00:00-04:00", "timeZone": "America/New_York"}
    assert one["end"]["dateTime"] == "2026-03-11T10:45:00-04:00"
    assert one["summary"] == "Planning <b>bold</b>"  # kept as data; escaped where rendered
    assert one["organizer"] == {"email": "org@example.com", "displayName": "Org"}
    people = {a["email"].lower(): a for a in one["attendees"]}
    assert people["org@example.com"]["organizer"] is True
    assert people["you@example.com"] == {
        "email": "YOU@example.com",
        "responseStatus": "tentative",
        "self": True,
    }
    assert people["opt@example.com"]["optional"] is True
    assert people["opt@example.com"]["responseStatus"] == "needsAction"
    assert people["projector@example.com"]["resource"] is True
    assert events["three"]["start"] == {"date": "2026-03-13"}
    assert events["three"]["end"] == {"date": "2026-03-14"}


def test_files_without_the_sample_marker_are_never_shifted(tmp_path: Path) -> None:
    data = ics(vevent("old", "DTSTART:20250101T100000Z", "DTEND:20250101T110000Z"))
    source = source_for(tmp_path, data)
    assert (
        list_all(source, "primary", time_min=datetime(2024, 12, 1, tzinfo=UTC))[0]["start"][
            "dateTime"
        ]
        == "2025-01-01T10:00:00+00:00"
    )
    assert list_all(source, "primary") == []  # long past: outside the default window


def test_sample_rolls_across_dst_keeping_wall_clock_times(tmp_path: Path) -> None:
    summer = datetime(2026, 7, 14, 13, 0, tzinfo=UTC)  # a Tuesday, EDT
    source = IcsCalendarSource(SAMPLE, self_email="you@example.com", clock=FixedClock(summer))
    events = {e["summary"]: e for e in list_all(source, "primary")}
    qbr = datetime.fromisoformat(events["Acme Corp QBR"]["start"]["dateTime"])
    assert qbr.astimezone(NY).strftime("%a %H:%M") == "Tue 10:00"
    assert qbr.utcoffset() == timedelta(hours=-4)  # January's -05:00 became summer time
    assert qbr > summer
    incident = datetime.fromisoformat(
        events["Incident review: checkout latency (SEV2)"]["start"]["dateTime"]
    )
    assert incident.date() == date(2026, 7, 15)


def test_token_emulation_matches_google_rules(tmp_path: Path) -> None:
    source = source_for(tmp_path, ics(vevent("a", "DTSTART:20260311T100000Z")))
    first = source.list_events("primary")
    assert first.next_sync_token and first.next_page_token is None
    with pytest.raises(ValueError, match="time_min"):
        source.list_events("primary", sync_token=first.next_sync_token, time_min=TUESDAY)
    with pytest.raises(SyncTokenExpired):
        source.list_events("primary", sync_token="garbage")
    old = IcsCalendarSource(
        source.path, self_email="x@example.com", clock=FixedClock(TUESDAY + timedelta(days=40))
    )
    with pytest.raises(SyncTokenExpired):  # tokens age out like Google's
        old.list_events("primary", sync_token=first.next_sync_token)


def test_broken_files_are_reported_not_crashed_on(tmp_path: Path) -> None:
    with pytest.raises(IcsFileError, match="does not exist"):
        IcsCalendarSource(tmp_path / "none.ics", self_email="y@example.com").list_events("primary")
    with pytest.raises(IcsFileError, match="not valid"):
        source_for(tmp_path, b"BEGIN:VCALENDAR\r\nnonsense").list_events("primary")


def test_many_instances_page_like_the_api(tmp_path: Path) -> None:
    # Sub-hourly rules are refused (bombs), so the volume comes from twelve hourly
    # series, each capped at MAX_OCCURRENCES_PER_SERIES (250) instances.
    data = ics(
        *(
            vevent(
                f"hourly-{minute}",
                f"DTSTART:20260310T00{minute:02d}00Z",
                f"DTEND:20260310T00{minute + 4:02d}00Z",
                "RRULE:FREQ=HOURLY",
            )
            for minute in range(0, 60, 5)
        ),
    )
    source = source_for(tmp_path, data)
    first = source.list_events("primary")
    assert len(first.events) == 2500 and first.next_page_token and not first.next_sync_token
    events = list_all(source, "primary")
    assert len(events) > 2500 and len({e["id"] for e in events}) == len(events)


def test_an_endless_series_is_listed_to_the_horizon_and_incremental_listings_agree(
    tmp_path: Path,
) -> None:
    path = tmp_path / "cal.ics"
    path.write_bytes(
        ics(
            vevent(
                "weekly",
                "DTSTART:20260311T150000Z",
                "DTEND:20260311T153000Z",
                "RRULE:FREQ=WEEKLY",
            )
        )
    )
    source = IcsCalendarSource(
        path, self_email="you@example.com", clock=FixedClock(TUESDAY), horizon=timedelta(days=45)
    )
    full = list_all(source, "primary", time_min=TUESDAY, time_max=TUESDAY + timedelta(days=90))
    # The source's own horizon (the setting) bounds the listing, day-aligned.
    assert len(full) == 7
    starts = [datetime.fromisoformat(e["start"]["dateTime"]) for e in full]
    assert max(starts) < TUESDAY + timedelta(days=45)
    token = source.list_events("primary", time_min=TUESDAY, time_max=TUESDAY + timedelta(days=90))
    assert token.next_sync_token is not None
    # The incremental listing covers the same window: nothing "new" or "gone".
    assert source.list_events("primary", sync_token=token.next_sync_token).events == []
    # A shorter time_max narrows a full listing further.
    short = list_all(source, "primary", time_min=TUESDAY, time_max=TUESDAY + timedelta(days=16))
    assert len(short) == 3
    with pytest.raises(ValueError, match="time_max"):
        source.list_events("primary", sync_token=token.next_sync_token, time_max=TUESDAY)
