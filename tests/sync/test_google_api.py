"""GoogleCalendarSource (the real google-api-python-client) against the fake Calendar API."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from google.auth import exceptions as auth_exceptions
from google.oauth2.credentials import Credentials

from functions.calendar.google_api import GoogleCalendarSource, translate_http_error
from functions.calendar.port import (
    AccessRevoked,
    CalendarError,
    CalendarUnavailable,
    EventNotFound,
    PermissionDenied,
    RateLimited,
    SyncTokenExpired,
)
from tests.support.fake_calendar import FakeCalendar, Grant, fake_calendar, timed_event
from tests.sync.conftest import NOW, seed

ALICE = "alice@example.com"


@pytest.fixture
def fake() -> Iterator[FakeCalendar]:
    with fake_calendar() as server:
        server.now = NOW
        yield server


@pytest.fixture
def grant(fake: FakeCalendar) -> Grant:
    return fake.add_user(ALICE)


@pytest.fixture
def source(fake: FakeCalendar, grant: Grant) -> GoogleCalendarSource:
    return GoogleCalendarSource(fake.credentials(grant), api_endpoint=fake.api_endpoint)


def test_full_listing_pages_and_gives_a_sync_token_only_on_the_last_page(
    fake: FakeCalendar, source: GoogleCalendarSource
) -> None:
    seed(fake, ALICE, 7)
    fake.page_cap = 3
    pages = [source.list_events("primary", time_min=NOW - timedelta(days=1))]
    while pages[-1].next_page_token:
        pages.append(
            source.list_events(
                "primary", time_min=NOW - timedelta(days=1), page_token=pages[-1].next_page_token
            )
        )
    assert [len(p.events) for p in pages] == [3, 3, 1]
    assert [p.next_sync_token is not None for p in pages] == [False, False, True]
    sent = [c.params for c in fake.calls if c.method == "events.list"]
    assert all(p["maxResults"] == "2500" and p["singleEvents"] == "true" for p in sent)
    assert all(p["timeMin"] == "2026-03-09T14:00:00Z" and "syncToken" not in p for p in sent)
    # The caller's own attendee entry is flagged, as Calendar does for the token owner.
    me = [a for a in pages[0].events[0]["attendees"] if a["email"] == ALICE]
    assert me[0]["self"] is True


def test_incremental_listing_returns_only_changes_including_deletions(
    fake: FakeCalendar, source: GoogleCalendarSource
) -> None:
    ids = seed(fake, ALICE, 4)
    first = source.list_events("primary", time_min=NOW)
    assert first.next_sync_token
    assert source.list_events("primary", sync_token=first.next_sync_token).events == []
    fake.delete_event(ALICE, ids[1])
    fake.put_event(ALICE, {**fake.events(ALICE)[2], "summary": "moved"})
    changes = source.list_events("primary", sync_token=first.next_sync_token)
    by_id = {e["id"]: e for e in changes.events}
    assert set(by_id) == {ids[1], ids[2]}
    assert by_id[ids[1]]["status"] == "cancelled"
    assert by_id[ids[2]]["summary"] == "moved"
    sent = [c.params for c in fake.calls if c.method == "events.list"][-1]
    assert sent["syncToken"] == first.next_sync_token and "timeMin" not in sent


def test_sync_token_and_time_min_together_is_refused_before_any_call(
    source: GoogleCalendarSource,
) -> None:
    with pytest.raises(ValueError, match="time_min"):
        source.list_events("primary", sync_token="x", time_min=NOW)
    assert source.calls == 0


@pytest.mark.parametrize(
    ("status", "reason", "expected"),
    [
        (410, None, SyncTokenExpired),
        (429, None, RateLimited),
        (403, "rateLimitExceeded", RateLimited),
        (403, "userRateLimitExceeded", RateLimited),
        (403, "quotaExceeded", RateLimited),
        (403, "forbidden", PermissionDenied),
        (404, None, EventNotFound),
        (500, None, CalendarUnavailable),
        (503, None, CalendarUnavailable),
    ],
)
def test_http_errors_map_to_port_errors(
    fake: FakeCalendar,
    source: GoogleCalendarSource,
    status: int,
    reason: str | None,
    expected: type[CalendarError],
) -> None:
    fake.fail("events.list", status, reason=reason)
    with pytest.raises(expected):
        source.list_events("primary", time_min=NOW)
    # The failure was one call; the next one works.
    assert source.list_events("primary", time_min=NOW).next_sync_token


def test_one_401_is_healed_by_a_refresh_but_two_mean_access_revoked(
    fake: FakeCalendar, source: GoogleCalendarSource
) -> None:
    fake.fail("events.list", 401)
    assert source.list_events("primary", time_min=NOW).next_sync_token
    refreshes = fake.count("token")
    assert refreshes == 2  # the first use, then again after the 401
    fake.fail("events.list", 401, times=3)  # AuthorizedHttp refreshes twice before giving up
    with pytest.raises(AccessRevoked):
        source.list_events("primary", time_min=NOW)


def test_revoked_refresh_token_is_access_revoked(
    fake: FakeCalendar, source: GoogleCalendarSource
) -> None:
    fake.revoke(ALICE)
    with pytest.raises(AccessRevoked):
        source.list_events("primary", time_min=NOW)
    assert fake.count("events.list") == 0  # the refresh failed before any API call


def test_dropped_connections_are_calendar_unavailable(
    fake: FakeCalendar, source: GoogleCalendarSource
) -> None:
    fake.fail("events.list", 0, times=2)  # httplib2 retries a dropped request once
    with pytest.raises(CalendarUnavailable):
        source.list_events("primary", time_min=NOW)


class _RetryableRefreshFailure(Credentials):
    def __init__(self) -> None:
        super().__init__(token=None, refresh_token="r", token_uri="http://127.0.0.1:9/token")  # type: ignore[no-untyped-call]

    def refresh(self, request: Any) -> None:
        raise auth_exceptions.RefreshError("server_error", retryable=True)


def test_a_retryable_token_endpoint_failure_is_unavailable_not_revoked(
    fake: FakeCalendar,
) -> None:
    source = GoogleCalendarSource(_RetryableRefreshFailure(), api_endpoint=fake.api_endpoint)
    with pytest.raises(CalendarUnavailable):
        source.list_events("primary", time_min=NOW)


def test_error_bodies_that_are_not_json_still_map_by_status() -> None:
    assert isinstance(translate_http_error(429, b"<html>slow down</html>"), RateLimited)
    assert isinstance(translate_http_error(403, b""), PermissionDenied)
    domain_only = json.dumps(
        {"error": {"errors": [{"domain": "usageLimits", "reason": "somethingNew"}]}}
    ).encode()
    assert isinstance(translate_http_error(403, domain_only), RateLimited)
    # Messages never quote Google's error text (it can echo request parameters).
    text = json.dumps({"error": {"errors": [{"reason": "notFound"}], "message": "secret q"}})
    assert "secret" not in str(translate_http_error(404, text.encode()))


def test_get_event_and_not_found(fake: FakeCalendar, source: GoogleCalendarSource) -> None:
    ids = seed(fake, ALICE, 1)
    assert source.get_event("primary", ids[0])["id"] == ids[0]
    with pytest.raises(EventNotFound):
        source.get_event("primary", "missing")


def test_another_users_calendar_is_not_found(
    fake: FakeCalendar, source: GoogleCalendarSource
) -> None:
    fake.add_user("bob@example.com")
    seed(fake, "bob@example.com", 2)
    with pytest.raises(EventNotFound):
        source.list_events("bob@example.com", time_min=NOW)


def test_watch_and_stop_a_channel(fake: FakeCalendar, source: GoogleCalendarSource) -> None:
    channel = source.watch(
        "primary",
        channel_id="chan-1",
        address="https://prep.example.test/calendar/webhook",
        token="tok",
        ttl=timedelta(days=7),
    )
    assert channel.channel_id == "chan-1"
    assert channel.expires_at == NOW + timedelta(days=7)
    stored = fake.channels["chan-1"]
    assert (stored.token, stored.address, stored.calendar_id) == (
        "tok",
        "https://prep.example.test/calendar/webhook",
        ALICE,
    )
    assert stored.params["singleEvents"] == "true"
    source.stop_channel("chan-1", channel.resource_id)
    assert "chan-1" not in fake.channels
    source.stop_channel("chan-1", channel.resource_id)  # already gone: still fine


def test_watch_refuses_plain_http_addresses_like_google(source: GoogleCalendarSource) -> None:
    with pytest.raises(CalendarUnavailable, match="400"):
        source.watch(
            "primary",
            channel_id="c",
            address="http://prep.example.test/hook",
            token="t",
            ttl=timedelta(days=1),
        )


# ---------------------------------------------------------------- the fake's own semantics


def _raw(
    fake: FakeCalendar, path: str, token: str | None, **params: str
) -> tuple[int, dict[str, Any]]:
    url = f"{fake.base_url}{path}?{urllib.parse.urlencode(params)}"
    request = urllib.request.Request(url)  # noqa: S310 - loopback only
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_fake_refuses_parameters_google_refuses_with_a_sync_token(fake: FakeCalendar) -> None:
    token = fake.access_token_for(ALICE)
    seed(fake, ALICE, 1)
    status, body = _raw(fake, "/calendar/v3/calendars/primary/events", token)
    sync = body["nextSyncToken"]
    path = "/calendar/v3/calendars/primary/events"
    for extra in (
        {"timeMin": "2026-01-01T00:00:00Z"},
        {"timeMax": "2026-01-01T00:00:00Z"},
        {"updatedMin": "2026-01-01T00:00:00Z"},
        {"orderBy": "startTime"},
        {"iCalUID": "x"},
        {"q": "x"},
        {"showDeleted": "false"},
    ):
        status, body = _raw(fake, path, token, syncToken=sync, **extra)
        assert status == 400, extra
    assert _raw(fake, path, token, maxResults="2501")[0] == 400
    assert _raw(fake, path, None)[0] == 401
    fake.invalidate_sync_tokens()
    status, body = _raw(fake, path, token, syncToken=sync)
    assert status == 410
    assert body["error"]["errors"][0]["reason"] == "fullSyncRequired"


def test_fake_page_tokens_are_bound_to_their_query(fake: FakeCalendar) -> None:
    token = fake.access_token_for(ALICE)
    seed(fake, ALICE, 3)
    path = "/calendar/v3/calendars/primary/events"
    _, first = _raw(fake, path, token, maxResults="2")
    assert "nextSyncToken" not in first
    page = first["nextPageToken"]
    assert _raw(fake, path, token, maxResults="2", pageToken=page, showDeleted="true")[0] == 400
    status, second = _raw(fake, path, token, maxResults="2", pageToken=page)
    assert status == 200 and len(second["items"]) == 1 and "nextSyncToken" in second


def test_fake_cancelled_events_appear_in_full_listings_only_with_show_deleted(
    fake: FakeCalendar,
) -> None:
    token = fake.access_token_for(ALICE)
    ids = seed(fake, ALICE, 2)
    fake.delete_event(ALICE, ids[0])
    path = "/calendar/v3/calendars/primary/events"
    assert [e["id"] for e in _raw(fake, path, token)[1]["items"]] == [ids[1]]
    shown = _raw(fake, path, token, showDeleted="true")[1]["items"]
    assert {e["id"]: e["status"] for e in shown} == {ids[0]: "cancelled", ids[1]: "confirmed"}


def _post_form(url: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
    data = urllib.parse.urlencode(form).encode()
    try:
        with urllib.request.urlopen(url, data=data, timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_fake_token_endpoint_refresh_code_exchange_and_revocation(fake: FakeCalendar) -> None:
    import base64
    import hashlib

    grant = fake.add_user(ALICE)
    refresh = {
        "grant_type": "refresh_token",
        "refresh_token": grant.refresh_token,
        "client_id": grant.client_id,
        "client_secret": grant.client_secret,
    }
    status, body = _post_form(fake.token_uri, refresh)
    assert status == 200 and body["access_token"].startswith("ya29.")
    verifier = "v" * 50
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    code = fake.issue_code(ALICE, redirect_uri="https://app/cb", code_challenge=challenge)
    exchange = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": "https://app/cb",
        "client_id": "test-client",
        "client_secret": "test-secret",
        "code_verifier": "wrong",
    }
    assert _post_form(fake.token_uri, exchange)[1]["error"] == "invalid_grant"
    code = fake.issue_code(ALICE, redirect_uri="https://app/cb", code_challenge=challenge)
    status, body = _post_form(fake.token_uri, {**exchange, "code": code, "code_verifier": verifier})
    assert status == 200 and body["refresh_token"].startswith("1//")
    assert _post_form(fake.token_uri, {**exchange, "code": code})[0] == 400  # single use
    basic = base64.b64encode(f"{grant.client_id}:{grant.client_secret}".encode()).decode()
    request = urllib.request.Request(  # noqa: S310 - loopback only
        fake.token_uri,
        data=urllib.parse.urlencode(
            {"grant_type": "refresh_token", "refresh_token": grant.refresh_token}
        ).encode(),
        headers={"Authorization": f"Basic {basic}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        assert json.loads(response.read())["token_type"] == "Bearer"
    assert _post_form(fake.revoke_uri, {"token": grant.refresh_token})[0] == 200
    status, body = _post_form(fake.token_uri, refresh)
    assert (status, body["error"]) == (400, "invalid_grant")


def test_fake_counts_calls_per_method_and_owner(fake: FakeCalendar) -> None:
    token = fake.access_token_for(ALICE)
    fake.put_event(ALICE, timed_event("e1", NOW))
    _raw(fake, "/calendar/v3/calendars/primary/events", token)
    _raw(fake, "/calendar/v3/calendars/primary/events/e1", token)
    assert fake.count("events.list") == 1
    assert fake.count("events.get", owner=ALICE) == 1
    assert fake.count() == 2


# ---------------------------------------------------------------- recurring events in the fake


def _weekly_series(fake: FakeCalendar, *, rule: str = "RRULE:FREQ=WEEKLY") -> dict[str, Any]:
    start = datetime(2026, 3, 11, 9, 0, tzinfo=ZoneInfo("America/New_York"))
    return fake.put_event(
        ALICE,
        timed_event(
            "weekly1",
            start,
            summary="Team sync",
            attendees=(ALICE, "sam@example.com"),
            recurrence=[rule],
        ),
    )


def _all_items(fake: FakeCalendar, token: str, **params: str) -> list[dict[str, Any]]:
    path = "/calendar/v3/calendars/primary/events"
    status, body = _raw(fake, path, token, maxResults="2500", **params)
    assert status == 200, body
    items: list[dict[str, Any]] = list(body["items"])
    while "nextPageToken" in body:
        status, body = _raw(
            fake, path, token, maxResults="2500", pageToken=body["nextPageToken"], **params
        )
        items += body["items"]
    return items


def test_fake_expands_an_endless_series_for_years_without_time_max(fake: FakeCalendar) -> None:
    token = fake.access_token_for(ALICE)
    _weekly_series(fake)
    items = _all_items(fake, token, singleEvents="true", timeMin="2026-03-10T00:00:00Z")
    assert len(items) > 52 * 4  # an endless weekly series runs on for years
    first = items[0]
    assert first["id"] == "weekly1_20260311T130000Z"
    assert first["recurringEventId"] == "weekly1"
    assert first["originalStartTime"] == first["start"]
    assert "recurrence" not in first
    # Wall-clock time stays 09:00 New York across the November DST change.
    hours = {datetime.fromisoformat(e["start"]["dateTime"]).hour for e in items}
    assert hours == {9}
    assert len({e["id"] for e in items}) == len(items)


def test_fake_bounds_the_expansion_by_time_min_and_time_max(fake: FakeCalendar) -> None:
    token = fake.access_token_for(ALICE)
    _weekly_series(fake)
    items = _all_items(
        fake,
        token,
        singleEvents="true",
        timeMin="2026-03-10T00:00:00Z",
        timeMax="2026-06-08T00:00:00Z",  # 90 days
    )
    assert len(items) == 13
    # Without singleEvents the series itself is listed, once.
    (series,) = _all_items(fake, token, timeMin="2026-03-10T00:00:00Z")
    assert series["id"] == "weekly1" and series["recurrence"] == ["RRULE:FREQ=WEEKLY"]


def test_fake_series_exceptions_deletions_and_incremental_listings(fake: FakeCalendar) -> None:
    token = fake.access_token_for(ALICE)
    _weekly_series(fake, rule="RRULE:FREQ=WEEKLY;COUNT=10")
    full = _all_items(fake, token, singleEvents="true", timeMin="2026-03-10T00:00:00Z")
    assert len(full) == 10
    _, body = _raw(fake, "/calendar/v3/calendars/primary/events", token, singleEvents="true")
    sync = body["nextSyncToken"]
    # One moved instance and one deleted instance replace the expanded ones.
    moved = {**full[1], "summary": "Team sync (moved)"}
    fake.put_event(ALICE, moved)
    fake.delete_event(ALICE, full[2]["id"])
    after = _all_items(fake, token, singleEvents="true", timeMin="2026-03-10T00:00:00Z")
    by_id = {e["id"]: e for e in after}
    assert sorted(by_id) == sorted(e["id"] for e in full if e["id"] != full[2]["id"])
    assert by_id[full[1]["id"]]["summary"] == "Team sync (moved)"
    changes = _all_items(fake, token, singleEvents="true", syncToken=sync)
    assert {e["id"]: e.get("status") for e in changes} == {
        full[1]["id"]: "confirmed",
        full[2]["id"]: "cancelled",
    }
    # events.get answers an instance id.
    status, got = _raw(fake, f"/calendar/v3/calendars/primary/events/{full[3]['id']}", token)
    assert status == 200 and got["recurringEventId"] == "weekly1"
    # A change to the series lists every instance; deleting it cancels every one.
    _, body = _raw(fake, "/calendar/v3/calendars/primary/events", token, singleEvents="true")
    sync = body["nextSyncToken"]
    series = next(e for e in fake.events(ALICE) if e["id"] == "weekly1")
    fake.put_event(ALICE, {**series, "summary": "Team sync v2"})
    changes = _all_items(fake, token, singleEvents="true", syncToken=sync)
    assert len(changes) == 8 and {e["summary"] for e in changes} == {"Team sync v2"}
    fake.delete_event(ALICE, "weekly1")
    changes = _all_items(fake, token, singleEvents="true", syncToken=sync)
    cancelled = [e for e in changes if e["status"] == "cancelled"]
    assert len(cancelled) >= 8 and all(e["recurringEventId"] == "weekly1" for e in cancelled)
