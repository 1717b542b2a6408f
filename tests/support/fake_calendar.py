"""A fake Google Calendar v3 API and OAuth token endpoint, on loopback, for tests and benches.

The production adapter (`GoogleCalendarSource`, google-api-python-client) talks
to this server unchanged through `client_options={"api_endpoint": ...}`, so the
code under test is the code that talks to Google. What it implements follows
Google's documentation (Calendar API reference rev 20261030, the sync, push
and errors guides; OAuth 2.0 for web-server apps):

- events.list: `maxResults` (default 250, at most 2500; `page_cap` lowers the
  server's page size to force paging), `pageToken` over a snapshot taken on
  the first page, `nextSyncToken` only on the last page, `timeMin`/`timeMax`
  (end > timeMin, start < timeMax), `showDeleted`, `updatedMin`, `iCalUID`,
  `eventTypes`. With `syncToken`: only entries changed since that token,
  deletions always included as `status: cancelled` (a deleted event carries
  little more than its id); iCalUID, orderBy, privateExtendedProperty, q,
  sharedExtendedProperty, timeMin, timeMax and updatedMin are refused with
  400, as is showDeleted=false; an invalidated token answers 410
  `fullSyncRequired`.
- Every event carries a read-only `htmlLink` built from its real calendar id.
- events.get; events.insert (a client-chosen `id` must be 5-1024 base32hex
  characters, a taken id answers 409 `duplicate` even after the event was
  deleted, writing needs the calendar's owner, start and end are required
  and end must be after start); freeBusy.query (busy periods of the asked
  calendars within the window, merged and clipped to it; opaque, confirmed
  events the calendar's owner has not declined; an unknown calendar gets an
  `errors` entry, not an HTTP error); events.watch (web_hook channels: id at most 64 characters and
  unique, HTTPS address, token at most 256, `params.ttl` seconds, default
  604800; answers `api#channel` with `resourceId` and `expiration` in Unix
  milliseconds as a string), channels.stop (204; unknown channel 404).
- events.delete (owner only; 404 unknown id, 410 `deleted` when deleted
  before; a deleted event is then listed as cancelled).
- events.patch (owner's calendar; arrays replace, extended properties merge
  by key; `attachments` change only with `supportsAttachments=true`, at most
  25, each with a `fileUrl`, `fileId` filled from a Drive link; a guest
  changes shared fields only with `guestsCanModify`, else 403
  `forbiddenForNonOrganizer`). `patches` records each one.
- Per-user access: every request needs a bearer token this server issued;
  `primary` is the token owner's calendar, another user's calendar is 404,
  `self` flags are computed for the caller. A token issued with explicit
  `scopes` is held to the scopes the Calendar v3 discovery document lists
  for each method (403 `insufficientPermissions` otherwise), so a test can
  prove that the scopes an adapter asks for are enough.
- Error injection per method and call number (429/403 usageLimits, 500, 401,
  410, 404, or a dropped connection), and call counting.
- OAuth: POST /token (refresh_token and authorization_code grants with PKCE
  S256; a revoked or unknown refresh token is 400 `invalid_grant`), POST
  /revoke.

- Recurring events: an event stored with `recurrence` (RRULE/RDATE/EXDATE
  lines) is a series. With `singleEvents=true` listings return its instances
  instead (ids `<series>_<UTC start>` or `<series>_<date>`, `recurringEventId`,
  `originalStartTime`, wall-clock times kept across DST), expanded with
  `recurring-ical-events`; a stored instance (an exception, or a deleted one)
  replaces the expanded one. `timeMin`/`timeMax` bound the expansion; without
  `timeMax` a series with no end is listed for `ENDLESS_EXPANSION` (years), as
  Google's own listing runs on for years. An incremental listing after a change
  to a series returns all of its instances, and after its deletion each of them
  as cancelled. events.get answers an instance id; freeBusy counts instances.

What it does not do: free-text search, ACL changes, delivering
push notifications (tests POST `notification_headers()` to the webhook
themselves: Google only delivers to public HTTPS addresses).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import itertools
import json
import re
import secrets
import socket
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from functools import cache
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo

from tests.support.discovery import Conformance
from tests.support.loopback import serve_loopback

if TYPE_CHECKING:
    from google.oauth2.credentials import Credentials

API_PREFIX = "/calendar/v3/"
DEFAULT_PAGE = 250
MAX_PAGE = 2500
DEFAULT_CHANNEL_TTL_S = 604800
CALENDAR_SCOPE = "https://www.googleapis.com/auth/calendar.events.readonly"
TEST_CLIENT = "test-client"
TEST_SECRET = "test-secret"
#: How far a series with no end is expanded when the listing has no timeMax. Google does
#: not document its own cap; its listings of such a series run on for years.
ENDLESS_EXPANSION = timedelta(days=5 * 366)

#: Parameters Google refuses next to a syncToken (events.list reference).
SYNC_TOKEN_FORBIDDEN = (
    "iCalUID",
    "orderBy",
    "privateExtendedProperty",
    "q",
    "sharedExtendedProperty",
    "timeMin",
    "timeMax",
    "updatedMin",
)
_KNOWN_LIST_PARAMS = frozenset(
    {
        "alt",
        "alwaysIncludeEmail",
        "eventTypes",
        "iCalUID",
        "maxAttendees",
        "maxResults",
        "orderBy",
        "pageToken",
        "showDeleted",
        "showHiddenInvitations",
        "singleEvents",
        "syncToken",
        "timeMax",
        "timeMin",
        "timeZone",
        "updatedMin",
        *SYNC_TOKEN_FORBIDDEN,
    }
)

# Error bodies as the Calendar errors guide shows them: (domain, reason, message).
_ERRORS: dict[int, tuple[str, str, str]] = {
    400: ("global", "badRequest", "Bad Request"),
    401: ("global", "authError", "Invalid Credentials"),
    403: ("usageLimits", "userRateLimitExceeded", "User Rate Limit Exceeded"),
    404: ("global", "notFound", "Not Found"),
    409: ("global", "duplicate", "The requested identifier already exists."),
    410: (
        "calendar",
        "fullSyncRequired",
        "Sync token is no longer valid, a full sync is required.",
    ),
    429: ("usageLimits", "rateLimitExceeded", "Rate Limit Exceeded"),
    500: ("global", "backendError", "Backend Error"),
    503: ("global", "backendError", "Backend Error"),
}
_REASON_DOMAINS = {
    "rateLimitExceeded": "usageLimits",
    "userRateLimitExceeded": "usageLimits",
    "quotaExceeded": "usageLimits",
    "forbidden": "global",
    "insufficientPermissions": "global",
    "requiredAccessLevel": "global",
    "forbiddenForNonOrganizer": "calendar",
}

_JSON = "application/json; charset=UTF-8"

#: An injected status 0 closes the connection without answering.
DROP_CONNECTION = 0

#: Client-chosen event ids (events.insert reference): base32hex characters, 5 to 1024 of them.
_EVENT_ID = re.compile(r"[a-v0-9]{5,1024}")
#: This fake's method names -> (discovery resource, method).
_DISCOVERY_METHODS = {
    "events.list": ("events", "list"),
    "events.get": ("events", "get"),
    "events.insert": ("events", "insert"),
    "events.delete": ("events", "delete"),
    "events.patch": ("events", "patch"),
    "events.watch": ("events", "watch"),
    "channels.stop": ("channels", "stop"),
    "freebusy.query": ("freebusy", "query"),
}


@cache
def method_scopes(api_method: str) -> frozenset[str]:
    """The scopes Google accepts for a method, from the discovery document the client ships."""
    from googleapiclient.discovery_cache import get_static_doc

    doc = json.loads(get_static_doc("calendar", "v3") or "{}")
    resource, name = _DISCOVERY_METHODS[api_method]
    return frozenset(doc["resources"][resource]["methods"][name]["scopes"])


def error_body(status: int, reason: str | None = None, message: str | None = None) -> bytes:
    domain, default_reason, default_message = _ERRORS.get(status, ("global", "error", "Error"))
    if reason is not None:
        domain = _REASON_DOMAINS.get(reason, domain)
    item = {"domain": domain, "reason": reason or default_reason}
    text = message or default_message
    item["message"] = text
    return json.dumps({"error": {"errors": [item], "code": status, "message": text}}).encode()


class _ApiError(Exception):
    def __init__(self, status: int, reason: str | None = None, message: str | None = None):
        super().__init__(status)
        self.status = status
        self.body = error_body(status, reason, message)


def html_link(calendar_id: str, event_id: str) -> str:
    """An event's `htmlLink` as Calendar builds it: `eid` is unpadded base64 of
    "<event id> <calendar id>", and the calendar id is the real one (an address,
    never `primary`)."""
    eid = base64.urlsafe_b64encode(f"{event_id} {calendar_id}".encode()).decode().rstrip("=")
    return f"https://www.google.com/calendar/event?eid={eid}"


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_time(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _ApiError(400, "invalid", "Invalid value for a time parameter") from None
    if parsed.tzinfo is None:
        raise _ApiError(400, "invalid", "A time parameter needs a time zone offset")
    return parsed


def _event_bound(value: Any) -> datetime | None:
    """An EventDateTime as an instant (all-day dates at UTC midnight: close enough here)."""
    if not isinstance(value, Mapping):
        return None
    if isinstance(value.get("dateTime"), str):
        return datetime.fromisoformat(value["dateTime"].replace("Z", "+00:00"))
    if isinstance(value.get("date"), str):
        d = date.fromisoformat(value["date"])
        return datetime(d.year, d.month, d.day, tzinfo=UTC)
    return None


def _ics_time(name: str, value: Mapping[str, Any]) -> str:
    """An EventDateTime as an iCalendar DTSTART/DTEND line (wall clock in its zone)."""
    if isinstance(value.get("date"), str):
        return f"{name};VALUE=DATE:{value['date'].replace('-', '')}"
    moment = datetime.fromisoformat(str(value["dateTime"]).replace("Z", "+00:00"))
    zone = value.get("timeZone")
    if isinstance(zone, str) and zone:
        return f"{name};TZID={zone}:{moment.astimezone(ZoneInfo(zone)):%Y%m%dT%H%M%S}"
    return f"{name}:{moment.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def _instance_time(value: date | datetime, zone: str | None) -> dict[str, str]:
    if not isinstance(value, datetime):
        return {"date": value.isoformat()}
    out = {"dateTime": value.isoformat()}
    if zone:
        out["timeZone"] = zone
    return out


def expand_series(series: Mapping[str, Any], lo: datetime, hi: datetime) -> list[dict[str, Any]]:
    """The instances of a recurring event that overlap [lo, hi), as singleEvents=true lists them."""
    import icalendar
    import recurring_ical_events

    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//fake-calendar//EN",
        "BEGIN:VEVENT",
        f"UID:{series['id']}",
        _ics_time("DTSTART", series["start"]),
        _ics_time("DTEND", series["end"]),
        *[str(line) for line in series.get("recurrence") or ()],
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    try:
        calendar = icalendar.Calendar.from_ical("\r\n".join(lines) + "\r\n")
        occurrences = recurring_ical_events.of(calendar).between(lo, hi)
    except (ValueError, KeyError, TypeError):
        raise _ApiError(400, "invalid", "Invalid recurrence rule.") from None
    zone = series["start"].get("timeZone")
    base = {k: v for k, v in series.items() if k != "recurrence"}
    out = []
    for occurrence in occurrences:
        start, end = occurrence.decoded("DTSTART"), occurrence.decoded("DTEND")
        if isinstance(start, datetime):
            stamp = start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        else:
            stamp = start.strftime("%Y%m%d")
        etag = hashlib.sha256(f"{series.get('etag')}/{stamp}".encode()).hexdigest()[:16]
        out.append(
            {
                **copy.deepcopy(base),
                "id": f"{series['id']}_{stamp}",
                "etag": f'"{int(etag, 16)}"',
                "start": _instance_time(start, zone),
                "end": _instance_time(end, zone),
                "recurringEventId": series["id"],
                "originalStartTime": _instance_time(start, zone),
            }
        )
    return out


def _cancelled_instance(instance: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "kind": "calendar#event",
        "etag": instance["etag"],
        "id": instance["id"],
        "status": "cancelled",
        "recurringEventId": instance["recurringEventId"],
        "originalStartTime": instance["originalStartTime"],
    }


def _bool_param(params: Mapping[str, list[str]], name: str) -> bool | None:
    if name not in params:
        return None
    return params[name][-1].lower() == "true"


@dataclass
class Grant:
    """One user's consent to one OAuth client: what the token endpoint knows."""

    email: str
    client_id: str
    client_secret: str
    refresh_token: str
    scope: str = CALENDAR_SCOPE
    revoked: bool = False


@dataclass
class Call:
    method: str
    owner: str | None
    params: dict[str, str]
    status: int


@dataclass
class _Stored:
    #: Replaced, never mutated, on every change: listings may hold on to it as a snapshot.
    event: dict[str, Any]
    seq: int


@dataclass
class _Injection:
    method: str
    status: int
    reason: str | None
    skip: int
    times: int


@dataclass
class _PageCursor:
    calendar_id: str
    owner: str
    params: dict[str, str]
    remaining: list[dict[str, Any]]
    sync_seq: int


@dataclass
class FakeChannel:
    channel_id: str
    resource_id: str
    calendar_id: str
    owner: str
    address: str
    token: str | None
    expires_at: datetime
    params: dict[str, str] = field(default_factory=dict)
    messages: int = 0


@dataclass
class _Code:
    email: str
    client_id: str
    redirect_uri: str | None
    code_challenge: str | None
    scope: str


class FakeCalendar:
    """State and behaviour of the fake; `fake_calendar()` serves it over HTTP."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._seq = itertools.count(1)
        self.now: datetime | None = None  #: fixed "now" for expirations; None = real time
        self.page_cap: int | None = None  #: server-side page size limit (forces paging)
        self.calendars: dict[str, dict[str, _Stored]] = {}
        self.shares: dict[str, set[str]] = {}  #: calendar id -> emails that may read it
        self.grants: dict[str, Grant] = {}  #: refresh token -> grant
        self.clients: dict[str, str] = {}  #: client id -> secret
        self.access_tokens: dict[str, str] = {}  #: access token -> email
        #: (calendar, event id, body) of every events.patch that changed something.
        self.patches: list[tuple[str, str, dict[str, Any]]] = []
        #: access token -> the scopes it carries; tokens not listed may call every method.
        self.token_scopes: dict[str, frozenset[str]] = {}
        self._token_of_refresh: dict[str, set[str]] = {}
        self.codes: dict[str, _Code] = {}
        self.channels: dict[str, FakeChannel] = {}
        self.stopped_channels: list[FakeChannel] = []
        self._sync_tokens: dict[str, tuple[str, int]] = {}
        #: (calendar, series id) -> the series as it was before deletion (for its instances).
        self._deleted_series: dict[tuple[str, str], dict[str, Any]] = {}
        self._dead_sync_tokens: set[str] = set()
        self._pages: dict[str, _PageCursor] = {}
        self._injections: list[_Injection] = []
        self.calls: list[Call] = []
        self.base_url = ""
        #: Every request and answer checked against calendar.v3's discovery document.
        self.conformance = Conformance({API_PREFIX: "calendar.v3"})

    # ------------------------------------------------------------ addresses
    @property
    def api_endpoint(self) -> str:
        """What the client gets as `api_endpoint` (Google's is .../calendar/v3/)."""
        return f"{self.base_url}{API_PREFIX}"

    @property
    def token_uri(self) -> str:
        return f"{self.base_url}/token"

    @property
    def revoke_uri(self) -> str:
        return f"{self.base_url}/revoke"

    def _now(self) -> datetime:
        return self.now or datetime.now(UTC)

    # ------------------------------------------------------------ users and OAuth
    def register_client(self, client_id: str = TEST_CLIENT, secret: str = TEST_SECRET) -> None:
        with self._lock:
            self.clients[client_id] = secret

    def add_user(
        self, email: str, *, client_id: str = TEST_CLIENT, client_secret: str = TEST_SECRET
    ) -> Grant:
        """A user who consented: their calendar exists and a refresh token is issued."""
        with self._lock:
            self.clients.setdefault(client_id, client_secret)
            self.calendars.setdefault(email, {})
            grant = Grant(email, client_id, client_secret, f"1//fake-{secrets.token_urlsafe(16)}")
            self.grants[grant.refresh_token] = grant
            return grant

    def access_token_for(self, email: str, *, scopes: Iterable[str] | None = None) -> str:
        """Issue an access token directly (for tests that skip the refresh step).

        With `scopes`, the token may call only the methods those scopes allow.
        """
        with self._lock:
            self.calendars.setdefault(email, {})
            token = f"ya29.fake-{secrets.token_urlsafe(16)}"
            self.access_tokens[token] = email
            if scopes is not None:
                self.token_scopes[token] = frozenset(scopes)
            return token

    def credentials(self, grant: Grant) -> Credentials:
        """google-auth user credentials that refresh against this fake's token endpoint."""
        from google.oauth2.credentials import Credentials

        return Credentials(
            token=None,
            refresh_token=grant.refresh_token,
            token_uri=self.token_uri,
            client_id=grant.client_id,
            client_secret=grant.client_secret,
            scopes=[grant.scope],
        )

    def revoke(self, email: str) -> None:
        """The user removed the app's access: refresh and access tokens stop working."""
        with self._lock:
            for token, grant in self.grants.items():
                if grant.email == email:
                    grant.revoked = True
                    for access in self._token_of_refresh.get(token, set()):
                        self.access_tokens.pop(access, None)
            for access, owner in list(self.access_tokens.items()):
                if owner == email:
                    del self.access_tokens[access]

    def expire_access_tokens(self) -> None:
        """Every issued access token is now expired (401); refresh tokens still work."""
        with self._lock:
            self.access_tokens.clear()

    def issue_code(
        self,
        email: str,
        *,
        client_id: str = "test-client",
        redirect_uri: str | None = None,
        code_challenge: str | None = None,
        scope: str = CALENDAR_SCOPE,
    ) -> str:
        """What Google's consent screen would hand back on the redirect: a one-time code."""
        with self._lock:
            self.clients.setdefault(client_id, "test-secret")
            self.calendars.setdefault(email, {})
            code = f"4/fake-{secrets.token_urlsafe(16)}"
            self.codes[code] = _Code(email, client_id, redirect_uri, code_challenge, scope)
            return code

    def share(self, calendar_id: str, email: str) -> None:
        with self._lock:
            self.calendars.setdefault(calendar_id, {})
            self.shares.setdefault(calendar_id, set()).add(email)

    # ------------------------------------------------------------ calendar data
    def put_event(self, calendar_id: str, event: Mapping[str, Any]) -> dict[str, Any]:
        """Insert or update an event (a new etag and `updated` every time)."""
        with self._lock:
            events = self.calendars.setdefault(calendar_id, {})
            body = copy.deepcopy(dict(event))
            event_id = body.get("id") or secrets.token_hex(13)
            seq = next(self._seq)
            previous = events.get(event_id)
            body.update(
                kind="calendar#event",
                id=event_id,
                etag=f'"{3300000000000000 + seq}"',
                updated=_rfc3339(self._now()),
                status=body.get("status", "confirmed"),
            )
            body.setdefault("iCalUID", f"{event_id}@google.com")
            # The API always answers with eventType; transparency only when not "opaque".
            body.setdefault("eventType", "default")
            body.setdefault(
                "created", (previous.event if previous else body).get("created", body["updated"])
            )
            body.setdefault("organizer", {"email": calendar_id})
            body.setdefault("creator", body["organizer"])
            body["htmlLink"] = html_link(calendar_id, event_id)  # read-only, set by Calendar
            events[event_id] = _Stored(body, seq)
            return copy.deepcopy(body)

    def delete_event(self, calendar_id: str, event_id: str) -> None:
        """Delete: later incremental listings return it as cancelled, with little else."""
        with self._lock:
            if event_id not in self.calendars[calendar_id]:
                # One instance of a series: from now on a stored (cancelled) exception.
                instance = self._instance_by_id(calendar_id, event_id)
                self.calendars[calendar_id][event_id] = _Stored(instance, next(self._seq))
            stored = self.calendars[calendar_id][event_id]
            if stored.event.get("recurrence"):
                self._deleted_series[(calendar_id, event_id)] = stored.event
            seq = next(self._seq)
            kept: dict[str, Any] = {
                k: stored.event[k]
                for k in ("recurringEventId", "originalStartTime")
                if k in stored.event
            }
            stored.event = {
                "kind": "calendar#event",
                "etag": f'"{3300000000000000 + seq}"',
                "id": event_id,
                "status": "cancelled",
                **kept,
            }
            stored.seq = seq

    def events(self, calendar_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(s.event) for s in self.calendars.get(calendar_id, {}).values()]

    def invalidate_sync_tokens(self, calendar_id: str | None = None) -> None:
        """Every sync token issued so far (for one calendar, or all) now answers 410."""
        with self._lock:
            for token, (cal, _) in self._sync_tokens.items():
                if calendar_id is None or cal == calendar_id:
                    self._dead_sync_tokens.add(token)

    # ------------------------------------------------------------ faults and counting
    def fail(
        self, method: str, status: int, *, reason: str | None = None, after: int = 0, times: int = 1
    ) -> None:
        """Answer `status` to `method` after `after` more successful calls, `times` times.

        Methods: events.list, events.get, events.insert, events.patch, events.watch,
        channels.stop, freebusy.query, token.
        Status 0 drops the connection (note httplib2 retries a dropped request once).
        """
        with self._lock:
            self._injections.append(_Injection(method, status, reason, after, times))

    def _injected(self, method: str) -> _Injection | None:
        for inj in self._injections:
            if inj.method != method or inj.times <= 0:
                continue
            if inj.skip > 0:
                inj.skip -= 1
                continue
            inj.times -= 1
            return inj
        return None

    def count(self, method: str | None = None, *, owner: str | None = None) -> int:
        with self._lock:
            return sum(
                1
                for c in self.calls
                if (method is None or c.method == method) and (owner is None or c.owner == owner)
            )

    def reset_calls(self) -> None:
        with self._lock:
            self.calls.clear()

    # ------------------------------------------------------------ push helpers
    def notification_headers(self, channel_id: str, *, state: str = "exists") -> dict[str, str]:
        """The headers Google would POST to the channel's address (no body)."""
        with self._lock:
            ch = self.channels[channel_id]
            ch.messages += 1
            headers = {
                "X-Goog-Channel-ID": ch.channel_id,
                "X-Goog-Message-Number": str(ch.messages),
                "X-Goog-Resource-ID": ch.resource_id,
                "X-Goog-Resource-State": state,
                "X-Goog-Resource-URI": f"{self.api_endpoint}calendars/{ch.calendar_id}/events",
                "X-Goog-Channel-Expiration": format_datetime(ch.expires_at, usegmt=True),
            }
            if ch.token is not None:
                headers["X-Goog-Channel-Token"] = ch.token
            return headers

    # ------------------------------------------------------------ request handling
    def handle(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, bytes, str]:
        """One HTTP request -> (status, body, content type). Status 0 drops the connection."""
        params = dict(parse_qs(query, keep_blank_values=True))
        flat = {k: v[-1] for k, v in params.items()}
        with self._lock:
            if path == "/token" and method == "POST":
                return self._token(body, headers.get("authorization", ""))
            if path == "/revoke" and method == "POST":
                return self._revoke(query, body)
            api_method, calendar_id, event_id = self._route(method, path)
            owner = self._owner(headers)
            call = Call(api_method, owner, flat, 200)
            self.calls.append(call)
            try:
                injected = self._injected(api_method)
                if injected is not None:
                    call.status = injected.status
                    if injected.status == DROP_CONNECTION:
                        return DROP_CONNECTION, b"", ""
                    raise _ApiError(injected.status, injected.reason)
                if owner is None:
                    raise _ApiError(401)
                self._check_scopes(api_method, headers)
                payload = self._dispatch(
                    api_method,
                    owner,
                    calendar_id=calendar_id,
                    event_id=event_id,
                    params=params,
                    body=body,
                )
            except _ApiError as exc:
                call.status = exc.status
                return exc.status, exc.body, "application/json; charset=UTF-8"
            if payload is None:
                call.status = 204
                return 204, b"", ""
            return 200, json.dumps(payload).encode(), "application/json; charset=UTF-8"

    @staticmethod
    def _route(method: str, path: str) -> tuple[str, str, str]:
        if not path.startswith(API_PREFIX):
            return "unknown", "", ""
        parts = [unquote(p) for p in path[len(API_PREFIX) :].split("/")]
        if method == "POST" and parts == ["channels", "stop"]:
            return "channels.stop", "", ""
        if method == "POST" and parts == ["freeBusy"]:
            return "freebusy.query", "", ""
        if len(parts) >= 3 and parts[0] == "calendars" and parts[2] == "events":
            if len(parts) == 3 and method == "GET":
                return "events.list", parts[1], ""
            if len(parts) == 3 and method == "POST":
                return "events.insert", parts[1], ""
            if len(parts) == 4 and parts[3] == "watch" and method == "POST":
                return "events.watch", parts[1], ""
            if len(parts) == 4 and method == "GET":
                return "events.get", parts[1], parts[3]
            if len(parts) == 4 and method == "DELETE":
                return "events.delete", parts[1], parts[3]
            if len(parts) == 4 and method == "PATCH":
                return "events.patch", parts[1], parts[3]
        return "unknown", "", ""

    def _owner(self, headers: Mapping[str, str]) -> str | None:
        auth = headers.get("authorization", "")
        if not auth.lower().startswith("bearer "):
            return None
        return self.access_tokens.get(auth[7:].strip())

    def _check_scopes(self, api_method: str, headers: Mapping[str, str]) -> None:
        granted = self.token_scopes.get(headers.get("authorization", "")[7:].strip())
        if granted is None or api_method not in _DISCOVERY_METHODS:
            return
        if not granted & method_scopes(api_method):
            raise _ApiError(
                403, "insufficientPermissions", "Request had insufficient authentication scopes."
            )

    def _calendar_for(self, owner: str, calendar_id: str) -> str:
        resolved = owner if calendar_id == "primary" else calendar_id
        if resolved not in self.calendars or (
            resolved != owner and owner not in self.shares.get(resolved, set())
        ):
            raise _ApiError(404)
        return resolved

    def _dispatch(
        self,
        api_method: str,
        owner: str,
        *,
        calendar_id: str,
        event_id: str,
        params: dict[str, list[str]],
        body: bytes,
    ) -> dict[str, Any] | None:
        if api_method == "events.list":
            return self._list(owner, self._calendar_for(owner, calendar_id), params)
        if api_method == "events.get":
            cal = self._calendar_for(owner, calendar_id)
            stored = self.calendars[cal].get(event_id)
            if stored is None:
                return self._for_caller(self._instance_by_id(cal, event_id), owner)
            return self._for_caller(stored.event, owner)
        if api_method == "events.watch":
            return self._watch(owner, self._calendar_for(owner, calendar_id), params, body)
        if api_method == "channels.stop":
            self._stop(owner, body)
            return None
        if api_method == "events.insert":
            return self._insert(owner, self._calendar_for(owner, calendar_id), body)
        if api_method == "freebusy.query":
            return self._free_busy(owner, body)
        if api_method == "events.delete":
            self._delete(owner, self._calendar_for(owner, calendar_id), event_id)
            return None
        if api_method == "events.patch":
            cal = self._calendar_for(owner, calendar_id)
            return self._patch(owner, cal, event_id, params, body)
        raise _ApiError(404)

    def _patch(
        self, owner: str, cal: str, event_id: str, params: dict[str, list[str]], body: bytes
    ) -> dict[str, Any]:
        """events.patch as Calendar documents it (Event.attachments, EventAttachment).

        Arrays in the body replace the stored ones; `extendedProperties.private`
        and `.shared` merge by key. `attachments` change only with
        `supportsAttachments=true` (otherwise they are left as they were), at
        most 25, each new one with a `fileUrl`; `fileId` is read-only and
        Calendar fills it from a Drive URL. Shared fields of an event organized
        by someone else change only when the organizer lets guests modify it
        (`guestsCanModify`); a guest may always set their own private properties.
        """
        if cal != owner:
            raise _ApiError(
                403, "requiredAccessLevel", "You need to have writer access to this calendar."
            )
        stored = self.calendars[cal].get(event_id)
        if stored is None or stored.event.get("status") == "cancelled":
            raise _ApiError(404)
        try:
            change = json.loads(body or b"{}")
        except ValueError:
            raise _ApiError(400, "parseError", "Parse Error") from None
        if not isinstance(change, dict):
            raise _ApiError(400, "parseError", "Parse Error")
        event = copy.deepcopy(stored.event)
        organizer = event.get("organizer") or {}
        organizes = str(organizer.get("email", "")).lower() == owner.lower()
        supports = params.get("supportsAttachments", ["false"])[-1] == "true"
        if not supports:
            change.pop("attachments", None)
        shared_change = {k for k in change if k not in ("extendedProperties", "reminders")} | (
            {"extendedProperties.shared"}
            if isinstance(change.get("extendedProperties"), dict)
            and "shared" in change["extendedProperties"]
            else set()
        )
        if shared_change and not organizes and event.get("guestsCanModify") is not True:
            raise _ApiError(
                403,
                "forbiddenForNonOrganizer",
                "Shared properties can only be changed by the organizer of the event.",
            )
        if "attachments" in change:
            attachments = change["attachments"]
            if len(attachments) > 25:
                raise _ApiError(400, "invalid", "Too many attachments; the limit is 25.")
            kept = []
            for a in attachments:
                url = a.get("fileUrl")
                if not isinstance(url, str) or not url:
                    raise _ApiError(400, "required", "Missing attachment file URL.")
                entry = {k: v for k, v in a.items() if k != "fileId"}
                drive_id = drive_file_id(url)
                if drive_id is not None:
                    entry["fileId"] = drive_id
                    entry.setdefault("iconLink", DRIVE_ICON)
                kept.append(entry)
            event["attachments"] = kept
        for key, value in change.items():
            if key == "attachments":
                continue
            if key == "extendedProperties" and isinstance(value, dict):
                props = event.setdefault("extendedProperties", {})
                for part in ("private", "shared"):
                    if isinstance(value.get(part), dict):
                        props[part] = {**props.get(part, {}), **value[part]}
                continue
            event[key] = value
        self.patches.append((cal, event_id, copy.deepcopy(change)))
        updated = self.put_event(cal, event)
        return self._for_caller(updated, owner)

    def _insert(self, owner: str, cal: str, body: bytes) -> dict[str, Any]:
        if cal != owner:
            raise _ApiError(
                403, "requiredAccessLevel", "You need to have writer access to this calendar."
            )
        try:
            event = json.loads(body or b"{}")
        except ValueError:
            raise _ApiError(400, "parseError", "Parse Error") from None
        if not isinstance(event, dict):
            raise _ApiError(400, "parseError", "Parse Error")
        event_id = event.get("id")
        if event_id is not None:
            if not isinstance(event_id, str) or not _EVENT_ID.fullmatch(event_id):
                raise _ApiError(400, "invalid", "Invalid resource id value.")
            if event_id in self.calendars[cal]:
                raise _ApiError(409)  # deleted events keep their id taken
        start, end = _event_bound(event.get("start")), _event_bound(event.get("end"))
        if start is None:
            raise _ApiError(400, "required", "Missing start time.")
        if end is None:
            raise _ApiError(400, "required", "Missing end time.")
        if end <= start:
            raise _ApiError(400, "timeRangeEmpty", "The specified time range is empty.")
        for read_only in ("kind", "etag", "htmlLink", "created", "updated", "creator"):
            event.pop(read_only, None)
        event["organizer"] = {"email": cal}
        event["creator"] = {"email": owner}
        stored = self.put_event(cal, event)
        return self._for_caller(stored, owner)

    def _delete(self, owner: str, cal: str, event_id: str) -> None:
        """events.delete: the owner's calendar only; 404 unknown, 410 deleted before."""
        if cal != owner:
            raise _ApiError(
                403, "requiredAccessLevel", "You need to have writer access to this calendar."
            )
        stored = self.calendars[cal].get(event_id)
        if stored is None:
            raise _ApiError(404)
        if stored.event.get("status") == "cancelled":
            raise _ApiError(410, "deleted", "Resource has been deleted")
        self.delete_event(cal, event_id)

    def _free_busy(self, owner: str, body: bytes) -> dict[str, Any]:
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            raise _ApiError(400, "parseError", "Parse Error") from None
        if not isinstance(req, dict):
            raise _ApiError(400, "parseError", "Parse Error")
        for name in ("timeMin", "timeMax"):
            if not isinstance(req.get(name), str):
                raise _ApiError(400, "required", f"Missing {name}.")
        time_min, time_max = _parse_time(req["timeMin"]), _parse_time(req["timeMax"])
        if time_max <= time_min:
            raise _ApiError(400, "timeRangeEmpty", "The specified time range is empty.")
        items = req.get("items") or []
        if not isinstance(items, list) or len(items) > 50:
            raise _ApiError(400, "invalid", "Invalid items")
        calendars: dict[str, Any] = {}
        for item in items:
            asked = item.get("id") if isinstance(item, dict) else None
            if not isinstance(asked, str):
                raise _ApiError(400, "required", "Missing calendar id.")
            try:
                cal = self._calendar_for(owner, asked)
            except _ApiError:
                calendars[asked] = {"errors": [{"domain": "global", "reason": "notFound"}]}
                continue
            calendars[asked] = {"busy": self._busy(cal, time_min, time_max)}
        return {
            "kind": "calendar#freeBusy",
            "timeMin": _rfc3339(time_min),
            "timeMax": _rfc3339(time_max),
            "calendars": calendars,
        }

    def _busy(self, cal: str, time_min: datetime, time_max: datetime) -> list[dict[str, str]]:
        periods: list[tuple[datetime, datetime]] = []
        events: list[dict[str, Any]] = []
        for stored in list(self.calendars[cal].values()):
            if stored.event.get("recurrence"):
                events += self._instances(cal, stored.event, time_min, time_max)
            else:
                events.append(stored.event)
        for event in events:
            if event.get("status") == "cancelled" or event.get("transparency") == "transparent":
                continue
            declined = any(
                isinstance(a, dict)
                and str(a.get("email", "")).lower() == cal.lower()
                and a.get("responseStatus") == "declined"
                for a in event.get("attendees") or []
            )
            start, end = _event_bound(event.get("start")), _event_bound(event.get("end"))
            if declined or start is None or end is None or end <= time_min or start >= time_max:
                continue
            periods.append((max(start, time_min), min(end, time_max)))
        merged: list[tuple[datetime, datetime]] = []
        for start, end in sorted(periods):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        return [{"start": _rfc3339(s), "end": _rfc3339(e)} for s, e in merged]

    @staticmethod
    def _for_caller(event: Mapping[str, Any], owner: str) -> dict[str, Any]:
        """The event as `owner` sees it: `self` set on their attendee and organizer entries."""
        out = dict(event)
        if isinstance(out.get("attendees"), list):
            out["attendees"] = [dict(a) if isinstance(a, dict) else a for a in out["attendees"]]
        if isinstance(out.get("organizer"), dict):
            out["organizer"] = dict(out["organizer"])
        for person in [*out.get("attendees", []), out.get("organizer")]:
            if isinstance(person, dict) and "email" in person:
                if person["email"].lower() == owner.lower():
                    person["self"] = True
                else:
                    person.pop("self", None)
        return out

    def _series_start(self, series: Mapping[str, Any]) -> datetime:
        start = _event_bound(series.get("start"))
        if start is None:
            raise _ApiError(400, "required", "Missing start time.")
        return start - timedelta(days=1)

    def _instances(
        self, cal: str, series: Mapping[str, Any], lo: datetime | None, hi: datetime | None
    ) -> list[dict[str, Any]]:
        """Expanded instances not replaced by a stored exception or deleted instance."""
        low = lo if lo is not None else self._series_start(series)
        high = hi if hi is not None else self._now() + ENDLESS_EXPANSION
        if high <= low:
            return []
        stored = self.calendars[cal]
        return [i for i in expand_series(series, low, high) if i["id"] not in stored]

    def _instance_by_id(self, cal: str, event_id: str) -> dict[str, Any]:
        series_id, _, stamp = event_id.rpartition("_")
        stored = self.calendars[cal].get(series_id)
        if stored is None or not stored.event.get("recurrence"):
            raise _ApiError(404)
        try:
            if "T" in stamp:
                at = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            else:
                at = datetime.strptime(stamp, "%Y%m%d").replace(tzinfo=UTC)
        except ValueError:
            raise _ApiError(404) from None
        near = self._instances(cal, stored.event, at - timedelta(days=2), at + timedelta(days=2))
        for instance in near:
            if instance["id"] == event_id:
                return instance
        raise _ApiError(404)

    def _list(self, owner: str, cal: str, params: dict[str, list[str]]) -> dict[str, Any]:
        flat = {k: v[-1] for k, v in params.items()}
        unknown = set(flat) - _KNOWN_LIST_PARAMS
        if unknown:
            raise _ApiError(400, "invalidParameter", f"Unknown parameter: {sorted(unknown)[0]}")
        try:
            max_results = int(flat.get("maxResults", DEFAULT_PAGE))
        except ValueError:
            raise _ApiError(400, "invalid", "Invalid value for maxResults") from None
        if not 1 <= max_results <= MAX_PAGE:
            raise _ApiError(400, "invalid", "Invalid value for maxResults")
        page_size = min(max_results, self.page_cap or MAX_PAGE)
        sync_token = flat.get("syncToken")
        query = {k: v for k, v in flat.items() if k not in ("pageToken", "alt")}

        page_token = flat.get("pageToken")
        if page_token is not None:
            cursor = self._pages.get(page_token)
            if cursor is None or cursor.params != query or cursor.owner != owner:
                raise _ApiError(400, "invalid", "Invalid page token value")
        else:
            if sync_token is not None:
                for name in SYNC_TOKEN_FORBIDDEN:
                    if name in flat:
                        raise _ApiError(
                            400, "invalidParameter", f"{name} is not allowed with syncToken"
                        )
                if _bool_param(params, "showDeleted") is False:
                    raise _ApiError(400, "invalidParameter", "showDeleted=false with syncToken")
                if sync_token in self._dead_sync_tokens or sync_token not in self._sync_tokens:
                    raise _ApiError(410)
                token_cal, since = self._sync_tokens[sync_token]
                if token_cal != cal:
                    raise _ApiError(410)
                items = self._changes_since(cal, since, params)
            else:
                items = self._full_listing(cal, params)
            cursor = _PageCursor(cal, owner, query, items, self._current_seq())
        page, rest = cursor.remaining[:page_size], cursor.remaining[page_size:]
        response: dict[str, Any] = {
            "kind": "calendar#events",
            "etag": f'"p{cursor.sync_seq}"',
            "summary": cal,
            "updated": _rfc3339(self._now()),
            "timeZone": "UTC",
            "accessRole": "owner" if cal == owner else "reader",
            "defaultReminders": [],
            "items": [self._for_caller(e, owner) for e in page],
        }
        if page_token is not None:
            del self._pages[page_token]
        if rest:
            next_token = f"pg-{secrets.token_urlsafe(12)}"
            self._pages[next_token] = _PageCursor(cal, owner, query, rest, cursor.sync_seq)
            response["nextPageToken"] = next_token
        else:
            token = f"sy-{secrets.token_urlsafe(12)}"
            self._sync_tokens[token] = (cal, cursor.sync_seq)
            response["nextSyncToken"] = token
        return response

    def _current_seq(self) -> int:
        """A sequence number above every change so far: where a listing's snapshot stands."""
        return next(self._seq)

    def _changes_since(
        self, cal: str, since: int, params: dict[str, list[str]]
    ) -> list[dict[str, Any]]:
        types = set(params.get("eventTypes", []))
        single = bool(_bool_param(params, "singleEvents"))
        out: list[dict[str, Any]] = []
        for stored in list(self.calendars[cal].values()):
            event = stored.event
            if stored.seq <= since or (types and event.get("eventType", "default") not in types):
                continue
            deleted = self._deleted_series.get((cal, event["id"]))
            if single and event.get("recurrence"):
                out += self._instances(cal, event, None, None)
            elif single and event.get("status") == "cancelled" and deleted is not None:
                out += [_cancelled_instance(i) for i in self._instances(cal, deleted, None, None)]
            else:
                out.append(event)
        return out

    def _full_listing(self, cal: str, params: dict[str, list[str]]) -> list[dict[str, Any]]:
        flat = {k: v[-1] for k, v in params.items()}
        time_min = _parse_time(flat["timeMin"]) if "timeMin" in flat else None
        time_max = _parse_time(flat["timeMax"]) if "timeMax" in flat else None
        updated_min = _parse_time(flat["updatedMin"]) if "updatedMin" in flat else None
        if time_min and time_max and time_max <= time_min:
            raise _ApiError(400, "timeRangeEmpty", "The specified time range is empty.")
        show_deleted = bool(_bool_param(params, "showDeleted")) or updated_min is not None
        types = set(params.get("eventTypes", []))
        ical_uid = flat.get("iCalUID")
        order_by = flat.get("orderBy")
        if order_by == "startTime" and not _bool_param(params, "singleEvents"):
            raise _ApiError(400, "invalid", "orderBy=startTime needs singleEvents=true")
        if order_by not in (None, "startTime", "updated"):
            raise _ApiError(400, "invalid", "Invalid value for orderBy")
        if "q" in flat or "privateExtendedProperty" in flat or "sharedExtendedProperty" in flat:
            raise _ApiError(400, "invalidParameter", "this fake does not search")
        single = bool(_bool_param(params, "singleEvents"))
        listed: list[dict[str, Any]] = []
        for stored in list(self.calendars[cal].values()):
            if single and stored.event.get("recurrence"):
                listed += self._instances(cal, stored.event, time_min, time_max)
            else:
                listed.append(stored.event)
        out = []
        for event in listed:
            cancelled = event.get("status") == "cancelled"
            if cancelled and not show_deleted:
                continue
            if types and event.get("eventType", "default") not in types:
                continue
            if ical_uid is not None and event.get("iCalUID") != ical_uid:
                continue
            if (
                updated_min is not None
                and "updated" in event
                and _parse_time(event["updated"]) < updated_min
            ):
                continue
            start, end = _event_bound(event.get("start")), _event_bound(event.get("end"))
            if time_min is not None and end is not None and end <= time_min:
                continue
            if time_max is not None and start is not None and start >= time_max:
                continue
            out.append(event)
        if order_by == "startTime":
            out.sort(key=lambda e: _event_bound(e.get("start")) or datetime.min.replace(tzinfo=UTC))
        elif order_by == "updated":
            out.sort(key=lambda e: e.get("updated", ""))
        return out

    def _watch(
        self, owner: str, cal: str, params: dict[str, list[str]], body: bytes
    ) -> dict[str, Any]:
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            raise _ApiError(400, "parseError", "Parse Error") from None
        channel_id = req.get("id")
        if not isinstance(channel_id, str) or not channel_id:
            raise _ApiError(400, "required", "Required channel id")
        if len(channel_id) > 64:
            raise _ApiError(400, "invalid", "Channel id is too long")
        if channel_id in self.channels:
            raise _ApiError(400, "channelIdNotUnique", "Channel id not unique")
        if req.get("type") not in ("web_hook", "webhook"):
            raise _ApiError(400, "invalid", "Invalid channel type")
        address = req.get("address")
        if not isinstance(address, str) or not address.startswith("https://"):
            raise _ApiError(400, "push.webhookUrlNotHttps", "WebHook callback must be HTTPS")
        token = req.get("token")
        if token is not None and (not isinstance(token, str) or len(token) > 256):
            raise _ApiError(400, "invalid", "Channel token is too long")
        now = self._now()
        ttl_raw = (req.get("params") or {}).get("ttl")
        if ttl_raw is not None:
            expires = now + timedelta(seconds=int(ttl_raw))
        elif req.get("expiration") is not None:
            expires = datetime.fromtimestamp(int(req["expiration"]) / 1000, UTC)
        else:
            expires = now + timedelta(seconds=DEFAULT_CHANNEL_TTL_S)
        resource_id = base64.b32encode(hashlib.sha256(cal.encode()).digest()[:15]).decode()
        channel = FakeChannel(
            channel_id,
            resource_id.lower(),
            cal,
            owner,
            address,
            token,
            expires,
            {k: v[-1] for k, v in params.items()},
            messages=1,  # Google's "sync" message on creation is number 1
        )
        self.channels[channel_id] = channel
        return {
            "kind": "api#channel",
            "id": channel_id,
            "resourceId": channel.resource_id,
            "resourceUri": f"{self.api_endpoint}calendars/{cal}/events?alt=json",
            "token": token,
            "expiration": str(int(expires.timestamp() * 1000)),
        }

    def _stop(self, owner: str, body: bytes) -> None:
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            raise _ApiError(400, "parseError", "Parse Error") from None
        channel = self.channels.get(req.get("id", ""))
        if (
            channel is None
            or channel.resource_id != req.get("resourceId")
            or channel.owner != owner
        ):
            raise _ApiError(404, "notFound", "Channel not found for project")
        self.stopped_channels.append(self.channels.pop(channel.channel_id))

    # ------------------------------------------------------------ OAuth endpoints
    def _token(self, body: bytes, authorization: str = "") -> tuple[int, bytes, str]:
        form = {k: v[-1] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        if authorization.lower().startswith("basic "):
            # Client authentication by HTTP Basic (RFC 6749 2.3.1), as requests-oauthlib does.
            try:
                pair = base64.b64decode(authorization[6:].strip()).decode()
            except ValueError:
                pair = ""
            basic_id, _, basic_secret = pair.partition(":")
            form.setdefault("client_id", unquote(basic_id))
            form.setdefault("client_secret", unquote(basic_secret))
        self.calls.append(Call("token", None, {"grant_type": form.get("grant_type", "")}, 200))
        injected = self._injected("token")
        if injected is not None:
            self.calls[-1].status = injected.status
            if injected.status == DROP_CONNECTION:
                return DROP_CONNECTION, b"", ""
            return _oauth_error(injected.status, "server_error", "injected failure")
        client_id = form.get("client_id", "")
        if self.clients.get(client_id) is None or (
            "client_secret" in form and self.clients[client_id] != form["client_secret"]
        ):
            return _oauth_error(401, "invalid_client", "The OAuth client was not found.")
        grant_type = form.get("grant_type")
        if grant_type == "refresh_token":
            grant = self.grants.get(form.get("refresh_token", ""))
            if grant is None or grant.revoked or grant.client_id != client_id:
                return _oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
            access = self._mint_access(grant)
            payload: dict[str, Any] = {
                "access_token": access,
                "expires_in": 3599,
                "scope": grant.scope,
                "token_type": "Bearer",
            }
            return 200, json.dumps(payload).encode(), "application/json; charset=utf-8"
        if grant_type == "authorization_code":
            code = self.codes.pop(form.get("code", ""), None)
            if code is None or code.client_id != client_id:
                return _oauth_error(400, "invalid_grant", "Malformed auth code.")
            if code.redirect_uri is not None and form.get("redirect_uri") != code.redirect_uri:
                return _oauth_error(400, "redirect_uri_mismatch", "Bad Request")
            if code.code_challenge is not None:
                verifier = form.get("code_verifier", "")
                digest = hashlib.sha256(verifier.encode()).digest()
                challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
                if not secrets.compare_digest(challenge, code.code_challenge):
                    return _oauth_error(400, "invalid_grant", "Invalid code verifier.")
            grant = Grant(
                code.email,
                client_id,
                self.clients[client_id],
                f"1//fake-{secrets.token_urlsafe(16)}",
                code.scope,
            )
            self.grants[grant.refresh_token] = grant
            payload = {
                "access_token": self._mint_access(grant),
                "expires_in": 3599,
                "refresh_token": grant.refresh_token,
                "scope": grant.scope,
                "token_type": "Bearer",
            }
            return 200, json.dumps(payload).encode(), "application/json; charset=utf-8"
        return _oauth_error(400, "unsupported_grant_type", "Invalid grant_type.")

    def _mint_access(self, grant: Grant) -> str:
        access = f"ya29.fake-{secrets.token_urlsafe(16)}"
        self.access_tokens[access] = grant.email
        self._token_of_refresh.setdefault(grant.refresh_token, set()).add(access)
        return access

    def _revoke(self, query: str, body: bytes) -> tuple[int, bytes, str]:
        form = {k: v[-1] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        form.update({k: v[-1] for k, v in parse_qs(query).items()})
        token = form.get("token", "")
        self.calls.append(Call("revoke", None, {}, 200))
        grant = self.grants.get(token)
        if grant is not None:
            grant.revoked = True
            for access in self._token_of_refresh.get(token, set()):
                self.access_tokens.pop(access, None)
            return 200, b"{}", "application/json"
        if token in self.access_tokens:
            del self.access_tokens[token]
            return 200, b"{}", "application/json"
        return _oauth_error(400, "invalid_token", "Token expired or revoked")


#: The icon Calendar shows for a Drive attachment (what its answers carry).
DRIVE_ICON = (
    "https://drive-thirdparty.googleusercontent.com/16/type/application/vnd.google-apps.document"
)
_DRIVE_URL = re.compile(
    r"https://(?:docs|drive)\.google\.com/(?:document/d/|file/d/|open\?id=)([A-Za-z0-9_-]+)"
)


def drive_file_id(url: str) -> str | None:
    """The Drive file id in an alternateLink/webViewLink-style URL, as Calendar reads it."""
    found = _DRIVE_URL.match(url)
    return found.group(1) if found else None


def _oauth_error(status: int, error: str, description: str) -> tuple[int, bytes, str]:
    body = json.dumps({"error": error, "error_description": description}).encode()
    return status, body, "application/json; charset=utf-8"


@contextmanager
def fake_calendar(fake: FakeCalendar | None = None) -> Iterator[FakeCalendar]:
    """Serve a `FakeCalendar` on a free loopback port for the duration of the block."""
    state = fake or FakeCalendar()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in separate writes; without this, Nagle plus
            # the client's delayed ACK adds ~40 ms to every keep-alive request.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def _serve(self) -> None:
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            api_method, problem = state.conformance.request(
                self.command, split.path, split.query, body
            )
            if problem is not None:
                status, payload, ctype = 400, error_body(400, "badRequest", problem), _JSON
            else:
                status, payload, ctype = state.handle(
                    self.command, split.path, split.query, headers, body
                )
                state.conformance.response(api_method, status, payload)
            if status == DROP_CONNECTION:
                self.close_connection = True
                return
            self.send_response(status)
            if ctype:
                self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if payload:
                self.wfile.write(payload)

        do_GET = _serve
        do_POST = _serve
        do_DELETE = _serve
        do_PATCH = _serve

        def log_message(self, format: str, *args: object) -> None:
            return

    with serve_loopback(Handler, "fake-calendar") as url:
        state.base_url = url
        yield state
    # Only on a clean exit: a failing test keeps its own error.
    state.conformance.assert_clean()


def timed_event(
    event_id: str,
    start: datetime,
    *,
    minutes: int = 30,
    summary: str = "Meeting",
    attendees: tuple[str, ...] = (),
    organizer: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A Calendar-API-shaped timed event for seeding the fake."""
    end = start + timedelta(minutes=minutes)
    tz = str(start.tzinfo) if start.tzinfo is not None else "UTC"
    body: dict[str, Any] = {
        "id": event_id,
        "summary": summary,
        "start": {"dateTime": start.isoformat(), "timeZone": tz},
        "end": {"dateTime": end.isoformat(), "timeZone": tz},
        "attendees": [{"email": a, "responseStatus": "accepted"} for a in attendees],
        **extra,
    }
    if organizer is not None:
        body["organizer"] = {"email": organizer}
    return body
