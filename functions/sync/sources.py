"""Whether a user's background sync reads the local .ics or the Calendar API.

Locally (the embedded default) every user's calendar is the .ics file in
force (the last one imported, else `PREP_ICS_PATH`: `functions.sync.local`),
unless `PREP_CALENDAR_API_ENDPOINT` points at a Calendar API (the tests' fake).
Otherwise it is the Calendar API with the user's stored OAuth grant. The
source itself is built by the root (`functions.bootstrap.calendar_source`).
"""

from __future__ import annotations

from functions.config import Settings


def uses_ics(settings: Settings) -> bool:
    return settings.is_local and not settings.calendar_api_endpoint
