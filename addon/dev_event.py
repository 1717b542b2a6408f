"""Local mode: event objects exactly like Workspace's, signed by the local dev key.

`python main.py dev-event` and the card preview both use this, so what they
send goes through the same verification as a real request; only the key that
signed the tokens differs (the local one, which production never trusts).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from addon import scopes
from functions.domain.classification import skip_reason
from functions.domain.meetings import Meeting
from functions.domain.prep_state import PrepState
from functions.timefmt import valid_locale, valid_zone

if TYPE_CHECKING:
    from addon.deps import AddonDeps

#: The one user of local mode (the .ics import's, `functions.sync.local`), unless `--user-id`.
LOCAL_USER_ID = "local-user"
#: Stands in for Workspace's userOAuthToken; nothing local ever sends it anywhere.
LOCAL_OAUTH_TOKEN = "local-mode-has-no-google-token"  # noqa: S105 - a placeholder


class NoMeeting(LookupError):
    """There is no meeting to build an eventOpen object for; the message says what to do."""


def _offset_ms(zone: str, at: datetime) -> int:
    offset = ZoneInfo(zone).utcoffset(at) or timedelta(0)
    return int(offset.total_seconds() * 1000)


def signed_tokens(services: AddonDeps, *, user_id: str, email: str) -> tuple[str, str]:
    """(systemIdToken, userIdToken) for the local add-on deployment."""
    settings = services.settings
    signer = services.dev_signer
    system = signer.id_token(
        audience=settings.addon_audience,
        subject="local-addon-service-account",
        email=settings.addon_sa_email,
    )
    user = signer.id_token(audience=settings.oauth_client_id, subject=user_id, email=email)
    return system, user


def calendar_object(meeting: Meeting, *, owner_email: str = "") -> dict[str, Any]:
    """The `calendar` part of an eventOpen event object for a stored meeting.

    Workspace names the user's own calendar by their address, never `primary`
    (the id the sync stores it under); with `owner_email` this does the same.
    """
    calendar_id = meeting.calendar_id
    if calendar_id == "primary" and owner_email:
        calendar_id = owner_email
    cal: dict[str, Any] = {"calendarId": calendar_id, "id": meeting.event_id}
    if meeting.series_id:
        cal["recurringEventId"] = meeting.series_id
    if meeting.organizer_email:
        cal["organizer"] = {"email": meeting.organizer_email}
    cal["attendees"] = [
        {
            "email": a.email,
            **({"displayName": a.display_name} if a.display_name else {}),
            **({"self": True} if a.is_self else {}),
            **({"organizer": True} if a.organizer else {}),
            **({"optional": True} if a.optional else {}),
            **({"resource": True} if a.resource else {}),
            "responseStatus": a.response_status.value,
        }
        for a in meeting.attendees
    ]
    cal["capabilities"] = {"canSeeAttendees": True, "canSeeConferenceData": True}
    return cal


def event_object(
    services: AddonDeps,
    *,
    user_id: str,
    email: str,
    meeting: Meeting | None = None,
    parameters: Mapping[str, str] | None = None,
    form: Mapping[str, Sequence[str]] | None = None,
    time_zone: str | None = None,
    locale: str | None = None,
) -> dict[str, Any]:
    """A complete, signed event object; with `meeting`, an eventOpen for it."""
    zone = valid_zone(time_zone) or (meeting.time_zone if meeting else None) or "UTC"
    system, user = signed_tokens(services, user_id=user_id, email=email)
    common: dict[str, Any] = {
        "hostApp": "CALENDAR",
        "platform": "WEB",
        "userLocale": valid_locale(locale) or "en-US",
        "timeZone": {"id": zone, "offset": _offset_ms(zone, services.clock.now())},
    }
    if parameters:
        common["parameters"] = dict(parameters)
    if form:
        common["formInputs"] = {
            name: {"stringInputs": {"value": list(values)}} for name, values in form.items()
        }
    body: dict[str, Any] = {
        "commonEventObject": common,
        "authorizationEventObject": {
            "userOAuthToken": LOCAL_OAUTH_TOKEN,
            "userIdToken": user,
            "systemIdToken": system,
            "authorizedScopes": list(scopes.MANIFEST_SCOPES),
        },
    }
    if meeting is not None:
        body["calendar"] = calendar_object(meeting, owner_email=email)
    return body


def local_email(services: AddonDeps, user_id: str) -> str:
    """The address a local user's tokens carry: the stored one, else the configured one."""
    user = services.store.get_user(user_id)
    return user.email if user is not None and user.email else services.settings.local_user_email


#: How many upcoming meetings are searched for one that needs prep before settling for the next.
_PICK_WINDOW = 200


def needs_prep(meeting: Meeting) -> bool:
    """Worth opening first: not declined, cancelled, all-day, free or solo, and not skipped."""
    return (
        skip_reason(meeting) is None
        and meeting.skip_reason is None
        and meeting.prep_state is not PrepState.CANCELLED
    )


def next_to_open(upcoming: Sequence[Meeting]) -> Meeting | None:
    """The first meeting (in start order) that needs prep, else the first one at all.

    Opening a declined meeting's "no prep" card first tells a newcomer nothing
    about the product; the fallback keeps a calendar of only skipped meetings usable.
    """
    return next((m for m in upcoming if needs_prep(m)), upcoming[0] if upcoming else None)


def pick_meeting(services: AddonDeps, user_id: str, event_id: str | None) -> Meeting:
    """The named meeting, or the user's next one that needs prep; `NoMeeting` says what to do."""
    store = services.store
    if event_id:
        found = store.get_meeting(user_id, event_id)
        if found is None:
            raise NoMeeting(f"no meeting {event_id!r} for user {user_id!r} in the local store")
        return found
    now = services.clock.now()
    upcoming = store.list_meetings(
        user_id, start_from=now, start_before=now + timedelta(days=366), limit=_PICK_WINDOW
    )
    first = next_to_open(upcoming)
    if first is not None:
        return first
    raise NoMeeting(
        f"user {user_id!r} has no upcoming meetings in the local store; import a calendar, "
        "add sample meetings from the preview page (/preview), or pass --event-id"
    )


def dev_event(
    services: AddonDeps, *, event_id: str | None = None, user_id: str = LOCAL_USER_ID
) -> dict[str, Any]:
    """What `python main.py dev-event` prints: a ready-to-POST eventOpen object."""
    if not services.settings.is_local:
        raise NoMeeting("dev-event signs with the local development key: local mode only")
    meeting = pick_meeting(services, user_id, event_id)
    user = services.store.get_user(user_id)
    return event_object(
        services,
        user_id=user_id,
        email=local_email(services, user_id),
        meeting=meeting,
        time_zone=user.time_zone if user else None,
        locale=user.locale if user else None,
    )
