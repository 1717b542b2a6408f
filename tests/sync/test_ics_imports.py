"""Importing calendars nobody here wrote: bombs, broken events, and reporting what was left out.

Every event the file holds either becomes instances in the listing or is
named in the source's `skipped` (and the import report) with a reason; a
hostile recurrence rule costs a bounded amount of work.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from functions.calendar import ics as ics_module
from functions.calendar.ics import IcsCalendarSource, forget_snapshots, list_all
from functions.domain.clock import FixedClock

TUESDAY = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_snapshots() -> Iterator[None]:
    forget_snapshots()
    yield
    forget_snapshots()


def calendar(*events: str, header: str = "") -> bytes:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//test//EN"]
    lines += [header] if header else []
    return ("\r\n".join([*lines, *events, "END:VCALENDAR"]) + "\r\n").encode()


def vevent(uid: str | None, *lines: str) -> str:
    head = ["BEGIN:VEVENT"] + ([f"UID:{uid}"] if uid is not None else [])
    return "\r\n".join([*head, "DTSTAMP:20260101T000000Z", *lines, "END:VEVENT"])


def source_for(tmp_path: Path, data: bytes) -> IcsCalendarSource:
    path = tmp_path / "cal.ics"
    path.write_bytes(data)
    return IcsCalendarSource(path, self_email="you@example.com", clock=FixedClock(TUESDAY))


def reasons(source: IcsCalendarSource) -> dict[str, str]:
    return {s.uid: s.reason for s in source.skipped}


@pytest.mark.parametrize("freq", ["SECONDLY", "MINUTELY"])
def test_a_sub_hourly_rule_is_refused_before_it_is_expanded(tmp_path: Path, freq: str) -> None:
    """The 207-byte bomb: before, FREQ=SECONDLY ran for minutes and listed millions."""
    data = (
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:bomb\r\nDTSTART:20260301T000000Z\r\n"
        f"DTEND:20260301T000001Z\r\nRRULE:FREQ={freq}\r\nSUMMARY:x\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()
    assert len(data) < 210
    source = source_for(tmp_path, data)
    assert list_all(source, "primary") == []
    assert reasons(source) == {"bomb": "recurs_more_than_hourly"}


def test_by_parts_that_multiply_a_daily_rule_into_a_bomb_are_refused(tmp_path: Path) -> None:
    hours = ",".join(str(h) for h in range(24))
    minutes = ",".join(str(m) for m in range(60))
    source = source_for(
        tmp_path,
        calendar(
            vevent(
                "dense",
                "DTSTART:20260301T000000Z",
                "DTEND:20260301T000100Z",
                f"RRULE:FREQ=DAILY;BYHOUR={hours};BYMINUTE={minutes}",
            )
        ),
    )
    assert list_all(source, "primary") == []
    assert reasons(source) == {"dense": "recurs_more_than_hourly"}


def test_an_hourly_rule_from_long_ago_is_refused_by_its_cost(tmp_path: Path) -> None:
    """dateutil walks every step from DTSTART, even the decades before the window."""
    source = source_for(
        tmp_path,
        calendar(
            vevent(
                "old", "DTSTART:19900101T000000Z", "DTEND:19900101T003000Z", "RRULE:FREQ=HOURLY"
            ),
            vevent(
                "fine", "DTSTART:19900101T090000Z", "DTEND:19900101T093000Z", "RRULE:FREQ=DAILY"
            ),
        ),
    )
    events = list_all(source, "primary")
    assert reasons(source) == {"old": "too_many_steps"}
    assert events and all(e["recurringEventId"] == ics_module._event_id("fine") for e in events)


def test_a_dense_series_is_capped_and_the_cap_is_reported(tmp_path: Path) -> None:
    source = source_for(
        tmp_path,
        calendar(
            vevent(
                "hourly", "DTSTART:20260301T000000Z", "DTEND:20260301T001500Z", "RRULE:FREQ=HOURLY"
            ),
            vevent(
                "daily", "DTSTART:20260301T090000Z", "DTEND:20260301T091500Z", "RRULE:FREQ=DAILY"
            ),
        ),
    )
    events = list_all(source, "primary")
    hourly = [e for e in events if e["recurringEventId"] == ics_module._event_id("hourly")]
    daily = [e for e in events if e["recurringEventId"] == ics_module._event_id("daily")]
    assert 0 < len(hourly) <= ics_module.MAX_OCCURRENCES_PER_SERIES
    # From today (Mar 10) to the end of the horizon, the whole window: never capped.
    assert len(daily) == ics_module.HORIZON.days
    [capped] = source.skipped
    assert (capped.uid, capped.reason) == ("hourly", "too_many_occurrences")
    assert "listed until" in capped.detail


def test_the_file_cap_bounds_the_listing_and_names_what_it_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ics_module, "MAX_OCCURRENCES_PER_FILE", 100)
    one_offs = [
        vevent(
            f"one-{i}", f"DTSTART:202603{11 + i // 10:02d}T{8 + i % 10:02d}0000Z", "DURATION:PT30M"
        )
        for i in range(80)
    ]
    series = [
        vevent(f"daily-{i}", f"DTSTART:20260311T{i:02d}3000Z", "DURATION:PT15M", "RRULE:FREQ=DAILY")
        for i in range(3)
    ]
    source = source_for(tmp_path, calendar(*one_offs, *series))
    events = list_all(source, "primary")
    assert len(events) <= 100
    assert len([e for e in events if "recurringEventId" not in e]) == 80
    assert {s.uid: s.reason for s in source.skipped} == {
        "daily-0": "file_limit",
        "daily-1": "file_limit",
        "daily-2": "file_limit",
    }


def test_every_broken_event_is_counted_with_its_reason(tmp_path: Path) -> None:
    """Before, each of these vanished while the import said "skipped": 0."""
    good = ("DTSTART:20260311T150000Z", "DTEND:20260311T153000Z")
    source = source_for(
        tmp_path,
        calendar(
            vevent("ok", *good, "SUMMARY:Fine"),
            vevent("bad-exdate", *good, "RRULE:FREQ=DAILY", "EXDATE:2026031X", "SUMMARY:A"),
            vevent("bad-dtstart", "DTSTART:2026-03-11", "DTEND:20260311T153000Z", "SUMMARY:B"),
            vevent("bad-rrule", *good, "RRULE:FREQ=SOMETIMES", "SUMMARY:C"),
            vevent(None, *good, "SUMMARY:No UID"),
            vevent("no-start", "SUMMARY:D"),
        ),
    )
    events = list_all(source, "primary")
    assert [e["iCalUID"] for e in events] == ["ok"]
    assert reasons(source) == {
        "bad-exdate": "bad_exdate",
        "bad-dtstart": "bad_dtstart",
        "bad-rrule": "bad_rrule",
        "": "no_uid",
        "no-start": "bad_dtstart",
    }
    no_uid = next(s for s in source.skipped if s.reason == "no_uid")
    assert no_uid.as_dict()["summary"] == "No UID"


def test_a_broken_override_leaves_its_series_standing(tmp_path: Path) -> None:
    source = source_for(
        tmp_path,
        calendar(
            vevent(
                "weekly",
                "DTSTART:20260302T150000Z",
                "DTEND:20260302T153000Z",
                "RRULE:FREQ=WEEKLY;COUNT=4",
            ),
            vevent(
                "weekly",
                "RECURRENCE-ID:20260309T150000Z",
                "DTSTART:2026-03-09T16",
                "DTEND:20260309T163000Z",
            ),
        ),
    )
    events = list_all(source, "primary")
    assert len(events) == 3  # Mar 9, 16, 23 (Mar 2 ended before the window)
    assert [(s.uid, s.reason) for s in source.skipped] == [("weekly", "bad_dtstart")]


def test_an_empty_rrule_is_no_recurrence(tmp_path: Path) -> None:
    """`RRULE:` with no value (as in a public German holidays feed) used to drop the event."""
    source = source_for(
        tmp_path,
        calendar(vevent("holiday", "DTSTART;VALUE=DATE:20260312", "RRULE:", "SUMMARY:Holiday")),
    )
    assert [e["start"] for e in list_all(source, "primary")] == [{"date": "2026-03-12"}]
    assert source.skipped == ()


PUBLIC = Path(__file__).parent / "calendars" / "icalendar"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("issue_165_missing_event.ics", "no_uid"),
        ("issue_1081_invalid_rrule_freq.ics", "bad_rrule"),
        ("broken_dtstart.ics", "bad_dtstart"),
    ],
)
def test_public_broken_calendars_are_reported_not_dropped(
    tmp_path: Path, name: str, reason: str
) -> None:
    """Calendars from icalendar's own test suite: each one's single event is named."""
    source = source_for(tmp_path, (PUBLIC / name).read_bytes())
    assert list_all(source, "primary") == []
    assert [s.reason for s in source.skipped] == [reason]


def test_a_rule_the_expander_cannot_read_is_named_and_the_rest_listed(tmp_path: Path) -> None:
    """The light series share one expander call; a failure there is traced to its series."""
    source = source_for(
        tmp_path,
        calendar(
            vevent("ok-1", "DTSTART:20260311T150000Z", "DURATION:PT30M", "SUMMARY:One"),
            vevent(
                "typo",
                "DTSTART:20260302T150000Z",
                "DURATION:PT30M",
                "RRULE:FREQ=WEEKLY;UNTL=20261023;BYDAY=TH",  # UNTIL misspelt (a real feed's)
            ),
            vevent("ok-2", "DTSTART:20260303T090000Z", "DURATION:PT30M", "RRULE:FREQ=WEEKLY"),
        ),
    )
    events = list_all(source, "primary")
    assert {e["iCalUID"] for e in events} == {"ok-1", "ok-2"}
    assert [(s.uid, s.reason) for s in source.skipped] == [("typo", "bad_recurrence")]


def test_day_level_parts_count_towards_the_expansion_cost(tmp_path: Path) -> None:
    days = ",".join(str(d) for d in range(1, 367))
    hours = ",".join(str(h) for h in range(24))
    source = source_for(
        tmp_path,
        calendar(
            vevent(
                "every-hour-since-1970",
                "DTSTART:19700101T000000Z",
                "DURATION:PT5M",
                f"RRULE:FREQ=YEARLY;BYYEARDAY={days};BYHOUR={hours}",
            )
        ),
    )
    assert list_all(source, "primary") == []
    assert reasons(source) == {"every-hour-since-1970": "too_many_steps"}
