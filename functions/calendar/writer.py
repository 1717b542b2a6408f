"""The calendar writer port: what booking a prep-time block needs from a calendar.

Separate from `CalendarSource` because writing needs scopes the sync never
asks for (`calendar.events.owned` and `calendar.freebusy`), granted only by a
user who opts in from the sidebar, and only with that user's add-on token.

Prep blocks carry a private extended property naming the event they prepare
for. `is_prep_block` lets anything that reads the calendar (the sync) tell
our own blocks from meetings, so a prep block never gets prep of its own.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from functions.calendar.port import CalendarError, Event

#: `extendedProperties.private` key and value marking an event as our prep block.
PREP_MARKER_KEY = "meetingPrep"
PREP_MARKER_VALUE = "prep_block"
#: `extendedProperties.private` key holding the id of the event the block prepares for.
PREP_FOR_KEY = "meetingPrepFor"


class EventExists(CalendarError):
    """409 duplicate: an event with this id exists on the calendar, or did.

    Calendar keeps a deleted event's id taken, so a client-chosen id cannot
    simply be inserted again after the user deleted its event.
    """


@dataclass(frozen=True, slots=True)
class Busy:
    """One busy period as freeBusy.query reports it (UTC instants)."""

    start: datetime
    end: datetime


class CalendarWriter(ABC):
    """One user's own calendars, with write access."""

    @abstractmethod
    def get_event(self, calendar_id: str, event_id: str) -> Event:
        """events.get; raises `EventNotFound` (a deleted event may come back cancelled)."""

    @abstractmethod
    def busy_periods(
        self, calendar_id: str, *, time_min: datetime, time_max: datetime
    ) -> Sequence[Busy]:
        """freeBusy.query for one calendar over [time_min, time_max)."""

    @abstractmethod
    def insert_event(self, calendar_id: str, event: Mapping[str, Any]) -> Event:
        """events.insert without notifying anyone; raises `EventExists` on a taken id."""


def is_prep_block(event: Mapping[str, Any]) -> bool:
    """Whether a Calendar API event is a prep block this product booked."""
    props = event.get("extendedProperties")
    private = props.get("private") if isinstance(props, Mapping) else None
    return isinstance(private, Mapping) and private.get(PREP_MARKER_KEY) == PREP_MARKER_VALUE
