"""The embedded default's calendar writer: prep-time blocks without Google.

"Block 30 min to prepare" (`addon.prep_block`) needs a calendar it can read
free/busy time from and write an event to. Locally the calendar is a read-only
.ics export, so the blocks are kept beside the database in `prep-blocks.json`
and the free/busy answer combines the .ics meetings with those blocks. It
keeps the promises the booking logic relies on, as Calendar does: a taken
event id is refused with `EventExists`, a missing one is `EventNotFound`,
and busy time excludes events marked free, declined or cancelled (freeBusy's
rules). Writes are atomic (a temporary file moved
into place) and serialised within the process.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from functions.calendar.mapping import UnusableEvent, meeting_from_event
from functions.calendar.port import CalendarSource, Event
from functions.calendar.writer import Busy, CalendarWriter, EventExists

BLOCKS_FILE = "prep-blocks.json"
#: A local calendar with more blocks than this is refused (a loop, not a person).
MAX_BLOCKS = 10_000
#: Pages of a listing read for one free/busy answer.
MAX_PAGES = 50

_LOCK = threading.Lock()


def blocks_path(sqlite_path: str | Path) -> Path:
    return Path(sqlite_path).parent / BLOCKS_FILE


class LocalCalendarWriter(CalendarWriter):
    """Reads `calendars` (the local .ics sources), writes blocks to a JSON file."""

    def __init__(self, calendars: CalendarSource, path: Path, *, user_id: str) -> None:
        self._calendars = calendars
        self.path = path
        self._user_id = user_id

    def blocks(self) -> dict[str, dict[str, Any]]:
        try:
            loaded = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # none yet, or unreadable: no blocks
            return {}
        if not isinstance(loaded, dict):
            return {}
        return {k: v for k, v in loaded.items() if isinstance(v, dict)}

    def get_event(self, calendar_id: str, event_id: str) -> Event:
        found = self.blocks().get(event_id)
        if found is not None:
            return found
        return self._calendars.get_event(calendar_id, event_id)

    def busy_periods(
        self, calendar_id: str, *, time_min: datetime, time_max: datetime
    ) -> Sequence[Busy]:
        events: list[Mapping[str, Any]] = list(self.blocks().values())
        page_token: str | None = None
        for _ in range(MAX_PAGES):
            page = self._calendars.list_events(
                calendar_id, page_token=page_token, time_min=time_min, time_max=time_max
            )
            events += page.events
            page_token = page.next_page_token
            if page_token is None:
                break
        busy = []
        for raw in events:
            try:
                m = meeting_from_event(raw, user_id=self._user_id, calendar_id=calendar_id)
            except UnusableEvent:
                continue
            if raw.get("status") == "cancelled" or m.transparency == "transparent" or m.declined:
                continue
            if m.end > time_min and m.start < time_max:
                busy.append(Busy(max(m.start, time_min), min(m.end, time_max)))
        return sorted(busy, key=lambda b: b.start)

    def insert_event(self, calendar_id: str, event: Mapping[str, Any]) -> Event:
        event_id = str(event.get("id", ""))
        if not event_id:
            raise ValueError("a prep block needs an id")
        with _LOCK:
            blocks = self.blocks()
            if event_id in blocks:
                raise EventExists("an event with this id exists, or did")
            if len(blocks) >= MAX_BLOCKS:
                raise ValueError("too many local prep blocks")
            stored = {**event, "status": "confirmed", "organizer": {"self": True}}
            blocks[event_id] = stored
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
            partial.write_text(json.dumps(blocks, ensure_ascii=False), encoding="utf-8")
            partial.replace(self.path)
        return stored
