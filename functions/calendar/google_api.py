"""The production calendar: Calendar API v3 through google-api-python-client.

A thin pass-through: events stay in the API's own JSON shape (see `port`), and
the only logic here is turning Google's errors into the few outcomes the sync
must tell apart (resync, back off, reconnect, give up). The client is built on
first use with the discovery document that ships inside the library, so a
cold start never fetches one and a test can point it at a local fake with
`api_endpoint`.

No retries happen here (`num_retries=0`): a rate-limited or failing sync hands
the whole task back to Cloud Tasks, whose queue-level backoff spreads retries
across instances instead of sleeping inside one request.

`GoogleCalendarWriter` adds what booking a prep block needs (freeBusy.query,
events.insert); it is built only from a sidebar click's token, never by the sync.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from functions.calendar.port import (
    MAX_PAGE_SIZE,
    AccessRevoked,
    CalendarError,
    CalendarUnavailable,
    Channel,
    Event,
    EventNotFound,
    EventPage,
    PermissionDenied,
    PushCalendarSource,
    RateLimited,
    SyncTokenExpired,
)
from functions.calendar.writer import Busy, CalendarWriter, EventExists

if TYPE_CHECKING:
    from google.auth.credentials import Credentials

#: Seconds one HTTP call may take before the sync gives up and retries later.
DEFAULT_TIMEOUT_S = 30.0

#: Calendar's usage-limit reasons (403 or 429); everything else on a 403 is about access.
RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"})


def _error_reasons(content: bytes) -> tuple[set[str], set[str]]:
    """(reasons, domains) from a Google JSON error body; empty when it is not one."""
    try:
        body = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return set(), set()
    error = body.get("error") if isinstance(body, dict) else None
    errors = error.get("errors") if isinstance(error, dict) else None
    reasons: set[str] = set()
    domains: set[str] = set()
    for item in errors if isinstance(errors, list) else []:
        if isinstance(item, dict):
            if isinstance(item.get("reason"), str):
                reasons.add(item["reason"])
            if isinstance(item.get("domain"), str):
                domains.add(item["domain"])
    return reasons, domains


def translate_http_error(status: int, content: bytes) -> CalendarError:
    """Map one Calendar API error response to the port's exceptions.

    Messages carry the status and reason only: Google's error text can quote
    request parameters, and these messages end up in logs.
    """
    reasons, domains = _error_reasons(content)
    tag = f"{status} {','.join(sorted(reasons)) or 'no reason'}"
    if status == 410:
        return SyncTokenExpired(tag)
    if status == 429 or (
        status == 403 and (reasons & RATE_LIMIT_REASONS or "usageLimits" in domains)
    ):
        return RateLimited(tag)
    if status == 401:
        return AccessRevoked(tag)
    if status == 403:
        return PermissionDenied(tag)
    if status == 404:
        return EventNotFound(tag)
    if status == 409:
        return EventExists(tag)
    if status >= 500 or status == 408:
        return CalendarUnavailable(tag)
    # 400 and other 4xx: a request we built wrong. Not retryable, but not the
    # user's fault either; surface it as unavailable so it is retried a bounded
    # number of times by the queue and shows up in logs.
    return CalendarUnavailable(tag)


def _expires_at(raw: Any) -> datetime | None:
    """Channel.expiration: Unix milliseconds, sent as a string (int64) or a number."""
    try:
        millis = int(raw)
    except (TypeError, ValueError):
        return None
    return datetime.fromtimestamp(millis / 1000, UTC)


def _rfc3339(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("time_min must be timezone-aware")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class GoogleCalendarSource(PushCalendarSource):
    """One user's calendars, read with that user's OAuth credentials."""

    def __init__(
        self,
        credentials: Credentials,
        *,
        api_endpoint: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self._credentials = credentials
        self._api_endpoint = api_endpoint
        self._timeout_s = timeout_s
        self._client: Any = None
        self._lock = threading.Lock()
        #: HTTP requests sent so far (page fetches, gets, watch/stop); for reports and tests.
        self.calls = 0

    def _service(self) -> Any:
        with self._lock:
            if self._client is None:
                from functions.google_clients import authorized_http, discovery_service

                self._client = discovery_service(
                    "calendar",
                    "v3",
                    http=authorized_http(self._credentials, timeout_s=self._timeout_s),
                    api_endpoint=self._api_endpoint,
                )
            return self._client

    def _execute(self, make_request: Callable[[Any], Any]) -> Any:
        """Run one API request, translating every failure into a `CalendarError`."""
        import httplib2  # type: ignore[import-untyped, unused-ignore]
        from google.auth import exceptions as auth_exceptions
        from googleapiclient.errors import HttpError

        request = make_request(self._service())
        self.calls += 1
        try:
            return request.execute(num_retries=0)
        except HttpError as exc:
            raise translate_http_error(exc.resp.status, exc.content) from None
        except auth_exceptions.RefreshError as exc:
            # invalid_grant (revoked, expired, password change) is final; a 5xx
            # from the token endpoint is marked retryable by google-auth.
            if getattr(exc, "retryable", False):
                raise CalendarUnavailable("token endpoint unavailable") from None
            raise AccessRevoked("refresh failed") from None
        except auth_exceptions.TransportError:
            raise CalendarUnavailable("token endpoint unreachable") from None
        except (httplib2.HttpLib2Error, OSError):
            raise CalendarUnavailable("calendar unreachable") from None

    def list_events(
        self,
        calendar_id: str,
        *,
        sync_token: str | None = None,
        page_token: str | None = None,
        time_min: datetime | None = None,
        time_max: datetime | None = None,
    ) -> EventPage:
        """One page of events.list, following the sync guide's parameter rules.

        With a sync token only the parameters that must stay identical to the
        full sync are sent (singleEvents, maxResults); timeMin and timeMax are
        among those Google rejects alongside a sync token, so asking for both
        is a bug here.
        """
        if sync_token is not None and (time_min is not None or time_max is not None):
            raise ValueError("time_min and time_max cannot be combined with a sync token")
        params: dict[str, Any] = {
            "calendarId": calendar_id,
            "singleEvents": True,
            "maxResults": MAX_PAGE_SIZE,
        }
        if sync_token is not None:
            params["syncToken"] = sync_token
        else:
            if time_min is not None:
                params["timeMin"] = _rfc3339(time_min)
            if time_max is not None:
                params["timeMax"] = _rfc3339(time_max)
        if page_token is not None:
            params["pageToken"] = page_token
        body = self._execute(lambda s: s.events().list(**params))
        if not isinstance(body, Mapping):
            raise CalendarUnavailable("events.list answered with no JSON object")
        items = body.get("items") or []
        return EventPage(
            events=[e for e in items if isinstance(e, Mapping)],
            next_page_token=body.get("nextPageToken") or None,
            next_sync_token=body.get("nextSyncToken") or None,
        )

    def get_event(self, calendar_id: str, event_id: str) -> Event:
        body = self._execute(lambda s: s.events().get(calendarId=calendar_id, eventId=event_id))
        if not isinstance(body, Mapping):
            raise CalendarUnavailable("events.get answered with no JSON object")
        return body

    def watch(
        self, calendar_id: str, *, channel_id: str, address: str, token: str, ttl: timedelta
    ) -> Channel:
        """events.watch with the same list parameters the sync uses.

        Google expects the watched request to look like the listing it stands
        for; the notification only says "something changed", and the sync
        then lists with its stored token.
        """
        if len(channel_id) > 64 or len(token) > 256:
            raise ValueError("channel ids are at most 64 characters and tokens 256")
        body = {
            "id": channel_id,
            "type": "web_hook",
            "address": address,
            "token": token,
            "params": {"ttl": str(int(ttl.total_seconds()))},
        }
        got = self._execute(
            lambda s: s.events().watch(
                calendarId=calendar_id, singleEvents=True, maxResults=MAX_PAGE_SIZE, body=body
            )
        )
        if not isinstance(got, Mapping) or not isinstance(got.get("resourceId"), str):
            raise CalendarUnavailable("events.watch answered without a resourceId")
        return Channel(
            channel_id=str(got.get("id") or channel_id),
            resource_id=got["resourceId"],
            expires_at=_expires_at(got.get("expiration")),
        )

    def stop_channel(self, channel_id: str, resource_id: str) -> None:
        try:
            self._execute(
                lambda s: s.channels().stop(body={"id": channel_id, "resourceId": resource_id})
            )
        except EventNotFound:
            return  # already stopped or expired: the goal is reached


def _instant(raw: Any) -> datetime:
    if not isinstance(raw, str):
        raise CalendarUnavailable("freeBusy answered a period without a time")
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise CalendarUnavailable("freeBusy answered a malformed time") from None
    if parsed.tzinfo is None:
        raise CalendarUnavailable("freeBusy answered a time without an offset")
    return parsed.astimezone(UTC)


class GoogleCalendarWriter(GoogleCalendarSource, CalendarWriter):
    """The user's own calendars with write access: freeBusy.query, events.insert and .delete.

    Built per sidebar click from the add-on's `userOAuthToken`, which carries
    the write scopes only once the user granted them.
    """

    def busy_periods(
        self, calendar_id: str, *, time_min: datetime, time_max: datetime
    ) -> list[Busy]:
        """One freeBusy.query; a per-calendar `errors` entry means "unknown", not "free"."""
        body = {
            "timeMin": _rfc3339(time_min),
            "timeMax": _rfc3339(time_max),
            "items": [{"id": calendar_id}],
        }
        got = self._execute(lambda s: s.freebusy().query(body=body))
        calendars = got.get("calendars") if isinstance(got, Mapping) else None
        if not isinstance(calendars, Mapping):
            raise CalendarUnavailable("freeBusy answered without calendars")
        entry = calendars.get(calendar_id)
        if entry is None and len(calendars) == 1:
            # Google may key the answer by the resolved id (the email) rather than "primary".
            entry = next(iter(calendars.values()))
        if not isinstance(entry, Mapping):
            raise CalendarUnavailable("freeBusy answered without the asked calendar")
        if entry.get("errors"):
            raise CalendarUnavailable("freeBusy could not compute this calendar")
        periods = entry.get("busy") or []
        if not isinstance(periods, list):
            raise CalendarUnavailable("freeBusy answered busy periods that are not a list")
        out = []
        for period in periods:
            if isinstance(period, Mapping):
                out.append(Busy(_instant(period.get("start")), _instant(period.get("end"))))
        return out

    def insert_event(self, calendar_id: str, event: Mapping[str, Any]) -> Event:
        body = dict(event)
        got = self._execute(
            lambda s: s.events().insert(calendarId=calendar_id, body=body, sendUpdates="none")
        )
        if not isinstance(got, Mapping):
            raise CalendarUnavailable("events.insert answered with no JSON object")
        return got

    def delete_event(self, calendar_id: str, event_id: str) -> None:
        """Delete an event (the smoke test's own); one that is gone already counts as deleted.

        Calendar answers 404 for an unknown id and 410 for one deleted before.
        """
        try:
            self._execute(
                lambda s: s.events().delete(
                    calendarId=calendar_id, eventId=event_id, sendUpdates="none"
                )
            )
        except (EventNotFound, SyncTokenExpired):
            return
