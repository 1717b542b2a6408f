"""How far ahead the product looks: the prep-task horizon and the sync horizon.

A prep task is created only when its trigger is within `PREP_HORIZON` (Cloud
Tasks refuses schedules more than 30 days ahead, and each creation is one
RPC); meetings are stored `DEFAULT_SYNC_HORIZON` ahead, and the settings
refuse a horizon shorter than `shortest_sync_horizon()`. Pure values, so the
configuration check and the sync read the same numbers without importing
each other.
"""

from __future__ import annotations

from datetime import timedelta

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
