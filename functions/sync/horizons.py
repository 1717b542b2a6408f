"""The sync's horizons, and the one rule for which prep tasks belong in the queue now.

Kept apart from `functions.sync.engine` because two callers outside the sync
need them on every cold start: settings validation (`shortest_sync_horizon`
bounds `PREP_SYNC_HORIZON_DAYS`) and the sidebar (`prep_task_due`). Importing
the whole engine for them cost ~10 ms of the first eventOpen (issue 14); the
engine uses these very definitions.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from functions.domain.meetings import Meeting
from functions.domain.prep_state import PrepState
from functions.domain.users import MAX_LEAD_HOURS

#: Prep tasks are created for triggers before now plus this; later ones wait for a later sync.
PREP_HORIZON = timedelta(days=2)
#: How far ahead meetings are stored and planned (the PREP_SYNC_HORIZON_DAYS default).
DEFAULT_SYNC_HORIZON = timedelta(days=90)
#: How often a full listing re-windows the stored horizon.
HORIZON_REFRESH = timedelta(days=7)


def shortest_sync_horizon(prep_horizon: timedelta = PREP_HORIZON) -> timedelta:
    """The least horizon that still stores every meeting before its prep trigger.

    A meeting enters the listing at the latest `horizon_refresh` after it came
    within the horizon, and its trigger can be `MAX_LEAD_HOURS` before its start
    and must be stored before it enters the prep horizon.
    """
    return timedelta(hours=MAX_LEAD_HOURS) + prep_horizon + HORIZON_REFRESH


def prep_task_due(meeting: Meeting, now: datetime, horizon: timedelta = PREP_HORIZON) -> bool:
    """Whether `meeting`'s prep task belongs in the queue at `now`.

    Shared by the sync and the sidebar, so a trigger the sidebar leaves out is
    one the next sync's sweep picks up when it enters the horizon (Cloud Tasks
    refuses anything more than 30 days ahead, and each creation is one RPC).
    """
    return (
        meeting.prep_state is PrepState.SCHEDULED
        and meeting.start > now
        and meeting.prep_trigger_at is not None
        and meeting.prep_trigger_at < now + horizon
    )
