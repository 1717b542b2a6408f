"""Which calendar a user's background sync reads.

Locally (the embedded default) every user's calendar is the .ics file in
force (the last one imported, else `PREP_ICS_PATH`: `functions.sync.local`),
unless `PREP_CALENDAR_API_ENDPOINT` points at a Calendar API (the tests' fake).
Otherwise it is the Calendar API with the user's stored OAuth grant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from functions.calendar.port import CalendarSource
from functions.domain.users import User

if TYPE_CHECKING:
    from functions.services import Services


def uses_ics(services: Services) -> bool:
    settings = services.settings
    return settings.is_local and not settings.calendar_api_endpoint


def calendar_source(services: Services, user: User) -> CalendarSource:
    """Build the source; raises `ReconnectNeeded` when the user's grant is gone."""
    settings = services.settings
    if uses_ics(services):
        from functions.calendar.ics import IcsCalendarSource
        from functions.sync.local import active_ics_path

        return IcsCalendarSource(
            active_ics_path(settings)[0],
            self_email=user.email,
            clock=services.clock,
            default_tz=user.time_zone,
            horizon=settings.sync_horizon,
        )
    from functions.calendar.google_api import GoogleCalendarSource

    credentials = services.credentials.credentials_for(user.user_id)
    return GoogleCalendarSource(credentials, api_endpoint=settings.calendar_api_endpoint)
