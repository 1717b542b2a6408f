"""Per-user, per-calendar bookkeeping of the incremental Calendar sync."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class SyncState:
    user_id: str
    calendar_id: str
    #: Calendar's nextSyncToken; None means the next run is a full sync.
    sync_token: str | None = None
    last_full_sync_at: datetime | None = None
    last_sync_at: datetime | None = None
    #: Push channel (events.watch) currently open for this calendar, if any.
    channel_id: str | None = None
    channel_resource_id: str | None = None
    channel_expires_at: datetime | None = None
