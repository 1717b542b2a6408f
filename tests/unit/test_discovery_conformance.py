"""The discovery-document validator the fake servers use, and its hooks in those fakes.

The validator must be at least as strict as Google: each test here gives it a
request Google would refuse and checks that it names the problem.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.calendar.google_api import GoogleCalendarSource
from tests.support.discovery import Conformance, check_request, check_response, find_method
from tests.support.fake_calendar import FakeCalendar, fake_calendar, timed_event
from tests.support.fake_google_apis import fake_google_apis

ALICE = "alice@example.com"
LIST = "/calendar/v3/calendars/primary/events"
INSERT_BODY = {
    "summary": "Prep",
    "start": {"dateTime": "2026-12-03T10:00:00Z"},
    "end": {"dateTime": "2026-12-03T10:30:00Z"},
}


def problems(method: str, path: str, query: str = "", body: Any = None) -> list[str]:
    raw = b"" if body is None else json.dumps(body).encode()
    found, issues = check_request("calendar.v3", method, path, query, raw)
    assert found is not None or issues
    return issues


def test_a_conforming_list_request_has_no_problems() -> None:
    query = "singleEvents=true&maxResults=2500&timeMin=2026-12-03T10:00:00Z&alt=json"
    query += "&eventTypes=default&eventTypes=focusTime"
    assert problems("GET", LIST, query) == []


def test_an_unknown_query_parameter_is_refused() -> None:
    assert problems("GET", LIST, "singleEvents=true&expand=yes") == [
        "calendar.events.list: unknown query parameter 'expand'"
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("maxResults=many", "calendar.events.list: maxResults: 'many' is not an integer"),
        ("maxResults=0", "calendar.events.list: maxResults: 0 is below the minimum 1"),
        ("singleEvents=yes", "calendar.events.list: singleEvents: 'yes' is not a boolean"),
        (
            "timeMin=2026-12-03T10:00:00",
            "calendar.events.list: timeMin: '2026-12-03T10:00:00' is not an RFC 3339 "
            "timestamp with an offset",
        ),
        (
            "orderBy=title",
            "calendar.events.list: orderBy: 'title' is not one of ['startTime', 'updated']",
        ),
        (
            "timeZone=UTC&timeZone=Europe/Paris",
            "calendar.events.list: timeZone is not repeated but was given 2 times",
        ),
    ],
)
def test_a_parameter_of_the_wrong_type_or_value_is_refused(query: str, expected: str) -> None:
    assert problems("GET", LIST, query) == [expected]


def test_a_missing_required_parameter_is_refused() -> None:
    path = "/calendar/v3/calendars/primary/events/abcde/move"
    found, issues = check_request("calendar.v3", "POST", path, "sendUpdates=none", b"")
    assert found is not None and found.id == "calendar.events.move"
    assert issues == ["calendar.events.move: required parameter destination is missing"]


def test_an_unknown_body_field_is_refused_through_refs() -> None:
    body = {**INSERT_BODY, "attendees": [{"email": "a@example.com", "rsvp": "yes"}]}
    assert problems("POST", LIST, "", body) == ["Event.attendees[0]: unknown property 'rsvp'"]


def test_a_body_field_of_the_wrong_type_is_refused() -> None:
    body = {**INSERT_BODY, "guestsCanModify": "true", "sequence": "2"}
    assert problems("POST", LIST, "", body) == [
        "Event.guestsCanModify: expected a boolean, got str",
        "Event.sequence: expected an integer, got str",
    ]


def test_a_field_the_method_requires_is_refused_when_missing() -> None:
    body = {"summary": "no times"}
    assert problems("POST", LIST, "", body) == [
        "Event: end is required by calendar.events.insert",
        "Event: start is required by calendar.events.insert",
    ]


def test_an_unknown_path_or_verb_is_refused() -> None:
    assert problems("DELETE", "/calendar/v3/calendars/primary/everything") == [
        "DELETE /calendar/v3/calendars/primary/everything: no calendar.v3 method has this "
        "verb and path"
    ]


def test_path_patterns_choose_the_method_and_are_enforced() -> None:
    hit = find_method("chat.v1", "POST", "/v1/spaces/AAA/messages")
    assert hit is not None
    assert (hit[0].id, hit[1]) == ("chat.spaces.messages.create", {"parent": "spaces/AAA"})
    assert find_method("chat.v1", "POST", "/v1/rooms/AAA/messages") is None


def test_a_response_with_a_field_google_never_sends_is_a_violation() -> None:
    hit = find_method("calendar.v3", "GET", LIST)
    assert hit is not None
    answer = {"kind": "calendar#events", "items": [{"id": "abcde", "sumary": "typo"}]}
    assert check_response(hit[0], answer) == [
        "calendar.events.list -> Events.items[0]: unknown property 'sumary'"
    ]
    assert check_response(hit[0], {"kind": "calendar#events", "items": []}) == []


def test_string_formats_in_bodies_are_checked() -> None:
    hit = find_method("gmail.v1", "POST", "/gmail/v1/users/me/messages/send")
    assert hit is not None
    assert check_response(hit[0], {"id": "1", "historyId": "12x"}) == [
        "gmail.users.messages.send -> Message.historyId: '12x' is not an integer string"
    ]


def test_the_fake_calendar_answers_400_to_a_nonconforming_request_and_fails_the_test() -> None:
    served = fake_calendar()
    fake = served.__enter__()
    fake.add_user(ALICE)
    status, body = _get(fake, LIST + "?expand=yes", fake.access_token_for(ALICE))
    assert status == 400
    assert "unknown query parameter 'expand'" in body["error"]["message"]
    assert fake.calls == []  # refused before the fake's own handling
    with pytest.raises(AssertionError, match="unknown query parameter 'expand'"):
        served.__exit__(None, None, None)


def test_the_fake_calendar_checks_what_the_real_adapter_sends_and_receives() -> None:
    with fake_calendar() as fake:
        grant = fake.add_user(ALICE)
        start = datetime.now(UTC) + timedelta(days=1)
        fake.put_event(ALICE, timed_event("evt00001", start, attendees=("b@example.com",)))
        source = GoogleCalendarSource(fake.credentials(grant), api_endpoint=fake.api_endpoint)
        page = source.list_events("primary", time_min=start - timedelta(days=2))
        assert [e["id"] for e in page.events] == ["evt00001"]
    assert fake.conformance.checked == ["calendar.events.list", "calendar.events.list -> 200"]


def test_a_response_the_fake_gets_wrong_fails_the_test() -> None:
    """A fake seeded with a field Google never sends is caught when it answers with it."""
    served = fake_calendar()
    fake = served.__enter__()
    grant = fake.add_user(ALICE)
    start = datetime.now(UTC) + timedelta(days=1)
    fake.put_event(ALICE, timed_event("evt00001", start, agenda="not a Calendar field"))
    source = GoogleCalendarSource(fake.credentials(grant), api_endpoint=fake.api_endpoint)
    source.list_events("primary", time_min=start - timedelta(days=2))
    with pytest.raises(AssertionError, match="unknown property 'agenda'"):
        served.__exit__(None, None, None)


def test_the_gmail_and_chat_fake_refuses_unknown_parameters() -> None:
    served = fake_google_apis()
    fake = served.__enter__()
    fake.add_dm("u1")
    request = urllib.request.Request(  # noqa: S310 - loopback only
        f"{fake.url}v1/spaces/dm-u1/messages?requestID=r1",
        data=json.dumps({"text": "hi"}).encode(),
        headers={"Authorization": "Bearer t", "Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310 - loopback only
    assert caught.value.code == 400
    assert fake.chat_posts == []
    with pytest.raises(AssertionError, match="unknown query parameter 'requestID'"):
        served.__exit__(None, None, None)


def _get(fake: FakeCalendar, path: str, token: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(f"{fake.base_url}{path}")  # noqa: S310 - loopback only
    request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_conformance_ignores_paths_outside_its_apis() -> None:
    c = Conformance({"/calendar/v3/": "calendar.v3"})
    assert c.request("POST", "/token", "", b"grant_type=x") == (None, None)
    assert c.violations == [] and c.checked == []


def test_a_disabled_checker_checks_and_records_nothing() -> None:
    c = Conformance({"/calendar/v3/": "calendar.v3"}, enabled=False)
    assert c.request("GET", LIST, "expand=yes", b"") == (None, None)
    assert c.violations == [] and c.checked == []


def test_every_method_the_adapters_call_is_checked_and_conforms() -> None:
    """Each googleapiclient call the product makes, once, through the checking fakes."""
    from email.message import EmailMessage

    from google.oauth2.credentials import Credentials

    from functions.calendar.google_api import GoogleCalendarWriter
    from functions.mail.gmail import GmailThreads
    from functions.mail.port import MailLimits
    from functions.notify.gmail import GmailSender
    from functions.notify.google_chat import ChatAppSender

    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    with fake_calendar() as calendar, fake_google_apis() as google:
        grant = calendar.add_user(ALICE)
        source = GoogleCalendarWriter(
            calendar.credentials(grant), api_endpoint=calendar.api_endpoint
        )
        page = source.list_events("primary", time_min=start - timedelta(days=1))
        assert page.next_sync_token is not None
        source.list_events("primary", sync_token=page.next_sync_token)
        created = source.insert_event(
            "primary",
            {
                "summary": "Prep",
                "start": {"dateTime": start.isoformat()},
                "end": {"dateTime": (start + timedelta(minutes=30)).isoformat()},
                "extendedProperties": {"private": {"prep": "1"}},
            },
        )
        source.get_event("primary", created["id"])
        source.busy_periods("primary", time_min=start, time_max=start + timedelta(hours=1))
        channel = source.watch(
            "primary",
            channel_id="chan-1",
            address="https://prep.example.com/calendar/webhook",
            token="t" * 40,
            ttl=timedelta(days=7),
        )
        source.stop_channel(channel.channel_id, channel.resource_id)
        source.delete_event("primary", created["id"])

        google.add_dm("u1")
        mail = EmailMessage()
        mail["To"], mail["Subject"] = ALICE, "Prep"
        mail.set_content("ready")
        GmailSender(lambda _u: Credentials(token="u"), api_endpoint=google.url).send("u1", mail)
        chat = ChatAppSender(lambda: Credentials(token="app"), api_endpoint=google.url)
        name = chat.send_direct("u1", {"text": "ready"}, request_id="r1")
        assert chat.update_message(name, {"text": "moved"}) is True
        google.add_thread("Renewal", ("tom@acme.com", ALICE, datetime.now(UTC), "usage?"))
        threads = GmailThreads(lambda _u: Credentials(token="u"), api_endpoint=google.url)
        assert threads.recent_threads("u1", ["tom@acme.com"], datetime.now(UTC), MailLimits())
    # Both fakes exited cleanly: no violations. And every method was checked, both ways.
    methods = set(calendar.conformance.checked + google.conformance.checked)
    assert {m for m in methods if "->" not in m} == {
        "calendar.events.list",
        "calendar.events.insert",
        "calendar.events.get",
        "calendar.freebusy.query",
        "calendar.events.watch",
        "calendar.channels.stop",
        "calendar.events.delete",
        "gmail.users.messages.send",
        "gmail.users.threads.list",
        "gmail.users.threads.get",
        "chat.spaces.findDirectMessage",
        "chat.spaces.messages.create",
        "chat.spaces.messages.patch",
    }
    assert {m.split(" -> ")[0] for m in methods if "->" in m} == {
        m for m in methods if "->" not in m
    }
