"""Issue 17: assistant mode can be tried locally, with a second local calendar standing
for the executive's (`config/shared-calendars/alex.kim@example.com.ics`)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from functions.bootstrap import Bootstrap
from functions.delegation.access import Access
from functions.delegation.keys import owner_of
from functions.delegation.manage import add_calendar
from functions.domain.classification import SkipReason
from functions.domain.meetings import Meeting
from functions.sync.handlers import handle_sync
from functions.sync.local import (
    LOCAL_USER_ID,
    SAMPLE_SHARED_DIR,
    LocalCalendars,
    shared_ics_path,
    sync_local,
)
from tests.support.factories import NOW
from tests.support.roots import make_services

EXEC = "alex.kim@example.com"


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Bootstrap]:
    root = make_services(tmp_path)
    sync_local(root)  # the local user and their own sample week
    yield root
    root.store.close()


def _meetings(services: Bootstrap) -> list[Meeting]:
    return list(
        services.store.list_meetings(
            LOCAL_USER_ID, start_from=NOW - timedelta(days=1), start_before=NOW + timedelta(days=14)
        )
    )


def test_the_sample_executive_calendar_can_be_added_and_synced(services: Bootstrap) -> None:
    own = {m.event_id for m in _meetings(services)}
    user = services.store.get_user(LOCAL_USER_ID)
    assert user is not None
    change = add_calendar(services, user, EXEC)
    assert change.access is Access.OK, change.message
    report = handle_sync(services, {"user_id": LOCAL_USER_ID, "calendar_id": EXEC})
    assert report["written"] >= 4
    theirs = [m for m in _meetings(services) if m.event_id not in own]
    owners = [owner_of(m) for m in theirs]
    assert {o.name for o in owners if o is not None} == {"Alex Kim"} and None not in owners
    titles = {m.title for m in theirs}
    assert {"Board meeting prep", "Contoso renewal with Jordan Lee"} <= titles
    # The executive's own answer decides: a meeting Alex declined needs no prep.
    [pitch] = [m for m in theirs if m.title == "Vendor pitch: analytics suite"]
    assert pitch.skip_reason == SkipReason.DECLINED.value
    # The user's own meetings are untouched.
    assert own <= {m.event_id for m in _meetings(services)}


def test_a_calendar_nobody_shared_is_refused_and_ids_cannot_walk_out(
    services: Bootstrap, tmp_path: Path
) -> None:
    user = services.store.get_user(LOCAL_USER_ID)
    assert user is not None
    refused = add_calendar(services, user, "nobody@example.com")
    assert refused.access is Access.NO_ACCESS and "alex.kim@example.com" in refused.message
    for hostile in ("../../etc/passwd", "a/../../x@example.com", "", "x@exa mple.com"):
        assert shared_ics_path(services.settings, hostile) is None
    assert shared_ics_path(services.settings, EXEC) == SAMPLE_SHARED_DIR / f"{EXEC}.ics"


def test_a_calendar_shared_beside_the_database_is_read(services: Bootstrap) -> None:
    folder = Path(services.settings.sqlite_path).parent / "shared-calendars"
    folder.mkdir()
    mine = folder / "cto@example.com.ics"
    mine.write_text((SAMPLE_SHARED_DIR / f"{EXEC}.ics").read_text(encoding="utf-8"))
    assert shared_ics_path(services.settings, "CTO@example.com") == mine
    user = services.store.get_user(LOCAL_USER_ID)
    assert user is not None
    source = LocalCalendars(services.settings, services.clock, user)
    page = source.list_events("cto@example.com", time_min=NOW)
    assert page.events
    # On that calendar its owner is the `self` attendee, as in Calendar's copy there.
    selves = {a["email"] for e in page.events for a in e.get("attendees", []) if a.get("self")}
    assert selves <= {"cto@example.com"}
