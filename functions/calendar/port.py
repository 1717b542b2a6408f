"""The calendar port: what the sync and the sidebar need from a calendar.

Events travel as the Calendar API's own JSON shape (`Event` resource), so the
production adapter is a thin pass-through and the local .ics adapter converts
to that one shape; `functions.calendar.mapping` turns it into a `Meeting`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from functions.errors import PermanentError, TransientError

Event = Mapping[str, Any]

#: The Calendar API's largest page; fewer round trips per full sync.
MAX_PAGE_SIZE = 2500


class CalendarError(Exception):
    """Base of the failures a caller must tell apart."""


class SyncTokenExpired(CalendarError):
    """410 GONE: the sync token is no longer valid; do a clean full sync."""


class RateLimited(CalendarError, TransientError):
    """403/429 usageLimits: back off and retry later (through the task queue)."""


class CalendarUnavailable(CalendarError, TransientError):
    """5xx or a network failure: retry later."""


class AccessRevoked(CalendarError, PermanentError):
    """401 / invalid_grant: the user's grant is gone; they must reconnect."""


class EventNotFound(CalendarError):
    """404: no such event (or no access to it)."""


class PermissionDenied(CalendarError, PermanentError):
    """403 other than usage limits: the grant does not reach this calendar; retrying won't help."""


@dataclass(frozen=True, slots=True)
class EventPage:
    events: Sequence[Event]
    next_page_token: str | None = None
    #: Only on the last page of a listing, as in the Calendar API.
    next_sync_token: str | None = None


@dataclass(frozen=True, slots=True)
class Channel:
    """A push channel (events.watch) as the Calendar API returned it."""

    channel_id: str
    resource_id: str
    expires_at: datetime | None


class CalendarSource(ABC):
    @abstractmethod
    def list_events(
        self,
        calendar_id: str,
        *,
        sync_token: str | None = None,
        page_token: str | None = None,
        time_min: datetime | None = None,
        time_max: datetime | None = None,
    ) -> EventPage:
        """One page of events.list with singleEvents=true and maxResults=2500.

        With `sync_token`, only changes since then (deletions as cancelled
        events), however far ahead they are; `time_min` and `time_max` (events
        starting before it: a series with no end is otherwise listed for
        years) are only allowed on a full sync.
        """

    @abstractmethod
    def get_event(self, calendar_id: str, event_id: str) -> Event:
        """events.get; raises `EventNotFound`."""


class PushCalendarSource(CalendarSource):
    """A calendar that can tell us when it changes (events.watch), so syncs run on change.

    Separate from `CalendarSource` because the local .ics source has nobody to
    push; callers check for it with `isinstance` and fall back to polling.
    """

    @abstractmethod
    def watch(
        self, calendar_id: str, *, channel_id: str, address: str, token: str, ttl: timedelta
    ) -> Channel:
        """events.watch: open a web_hook channel to `address` carrying `token` back."""

    @abstractmethod
    def stop_channel(self, channel_id: str, resource_id: str) -> None:
        """channels.stop; a channel that is already gone counts as stopped."""
