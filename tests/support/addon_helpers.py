"""Helpers for the sidebar tests: signed event objects, a client, and card validation.

`Client.post` validates every card of every successful answer with Google's
own `google-apps-card` schema (unknown fields, bad enums and wrong types are
errors) plus `card_problems` (the limits the schema does not know), so no
test can receive a card that was not checked.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import flask
from google.apps import card_v1

from addon import scopes
from addon.cards import card_problems, cards_in
from addon.endpoint import make_endpoint
from addon.sidebar import Sidebar
from functions.auth.dev_keys import DevSigner
from functions.calendar.mapping import meeting_from_event
from functions.calendar.port import (
    CalendarSource,
    Event,
    EventNotFound,
    EventPage,
)
from functions.domain.meetings import Meeting
from functions.domain.planning import plan_meeting
from functions.domain.users import User
from functions.store.port import Store
from functions.web import dispatch

AUDIENCE = "https://addon.example.test/addon"
SA_EMAIL = "service-42@gcp-sa-gsuiteaddons.iam.gserviceaccount.com"
CLIENT_ID = "42-addon.apps.googleusercontent.com"
ALL_SCOPES = list(scopes.MANIFEST_SCOPES)

_TEXT_KEYS = {"text", "topLabel", "bottomLabel", "title", "subtitle", "header", "label"}
_NAVIGATION_KEYS = {"pushCard", "updateCard", "pop", "popToRoot", "popToCard"}
_ACTION_KEYS = {"navigations", "notification", "link"}


def assert_valid_card(card: Mapping[str, Any]) -> None:
    card_v1.Card.from_json(json.dumps(card), ignore_unknown_fields=False)
    assert card_problems(card) == [], card_problems(card)


def assert_valid_answer(payload: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Check the render-action envelope and every card in it; returns the cards."""
    if "requesting_google_scopes" in payload:
        # Exactly the missing scopes, each declared in the manifest, each once.
        assert set(payload) == {"requesting_google_scopes"}
        wanted = payload["requesting_google_scopes"]
        assert set(wanted) == {"scopes"}, wanted
        assert wanted["scopes"] and len(set(wanted["scopes"])) == len(wanted["scopes"])
        assert set(wanted["scopes"]) <= set(ALL_SCOPES), wanted
        return []
    if "renderActions" in payload:
        assert set(payload) == {"renderActions"}
        action = payload["renderActions"]["action"]
    else:
        assert set(payload) == {"action"}
        action = payload["action"]
    assert set(action) <= _ACTION_KEYS and action, action
    for nav in action.get("navigations", []):
        assert len(nav) == 1 and set(nav) <= _NAVIGATION_KEYS, nav
    if "link" in action:
        assert action["link"]["url"].startswith(("https://", "http://127.0.0.1"))
    found = cards_in(payload)
    for card in found:
        assert_valid_card(card)
    return found


def texts(card: Mapping[str, Any]) -> str:
    """Every text a user could read on the card, joined (for assertions)."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in _TEXT_KEYS and isinstance(value, str):
                    out.append(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card)
    return "\n".join(out)


def button_ops(card: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Button text -> the parameters its action posts."""
    found: dict[str, dict[str, str]] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "text" in node and isinstance(node.get("onClick"), dict):
                act = node["onClick"].get("action")
                if act is not None:
                    found[node["text"]] = {p["key"]: p["value"] for p in act["parameters"]}
                elif "openLink" in node["onClick"]:
                    found[node["text"]] = {"openLink": node["onClick"]["openLink"]["url"]}
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card)
    return found


def widgets(card: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for section in card.get("sections", []):
        yield from section["widgets"]


# ---------------------------------------------------------------- tokens and bodies


def system_token(signer: DevSigner, **overrides: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": "https://accounts.google.com",
        "aud": AUDIENCE,
        "sub": "1100000000000000000001",
        "email": SA_EMAIL,
        "email_verified": True,
        "iat": now,
        "exp": now + 600,
    }
    claims.update(overrides)
    return signer.sign({k: v for k, v in claims.items() if v is not None})


def user_token(signer: DevSigner, user_id: str = "alice", **overrides: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": "https://accounts.google.com",
        "aud": CLIENT_ID,
        "sub": user_id,
        "email": f"{user_id}@example.com",
        "email_verified": True,
        "iat": now,
        "exp": now + 600,
    }
    claims.update(overrides)
    return signer.sign({k: v for k, v in claims.items() if v is not None})


def event_body(
    signer: DevSigner,
    user_id: str = "alice",
    *,
    op: str | None = None,
    params: Mapping[str, str] | None = None,
    form: Mapping[str, Sequence[str]] | None = None,
    opened: Mapping[str, Any] | None = None,
    authorized: Sequence[str] | None = None,
    time_zone: str = "America/New_York",
    locale: str = "en-US",
    oauth_token: str = "ya29.user-access-token",  # noqa: S107 - a fake token
    with_user_token: bool = True,
) -> dict[str, Any]:
    common: dict[str, Any] = {
        "hostApp": "CALENDAR",
        "platform": "WEB",
        "userLocale": locale,
        "timeZone": {"id": time_zone, "offset": -18000000},
    }
    parameters = dict(params or {})
    if op is not None:
        parameters["op"] = op
    if parameters:
        common["parameters"] = parameters
    if form:
        common["formInputs"] = {k: {"stringInputs": {"value": list(v)}} for k, v in form.items()}
    auth: dict[str, Any] = {
        "userOAuthToken": oauth_token,
        "systemIdToken": system_token(signer),
        "authorizedScopes": list(ALL_SCOPES if authorized is None else authorized),
    }
    if with_user_token:
        auth["userIdToken"] = user_token(signer, user_id)
    body: dict[str, Any] = {"commonEventObject": common, "authorizationEventObject": auth}
    if opened is not None:
        body["calendar"] = dict(opened)
    return body


def opened_event(
    event_id: str, series_id: str | None = None, calendar_id: str = "alice@example.com"
) -> dict[str, Any]:
    """The `calendar` object as Workspace sends it: the calendar's real id (for the
    user's own calendar their address, never `primary`)."""
    out: dict[str, Any] = {"calendarId": calendar_id, "id": event_id}
    if series_id:
        out["recurringEventId"] = series_id
    return out


# ---------------------------------------------------------------- fakes


@dataclass
class StubCalendar(CalendarSource):
    """Events by (token, event id): each user's token sees only that user's events."""

    events: dict[tuple[str, str], Event] = field(default_factory=dict)
    error: Exception | None = None
    gets: list[tuple[str, str, str]] = field(default_factory=list)
    token: str = ""

    def list_events(
        self,
        calendar_id: str,
        *,
        sync_token: str | None = None,
        page_token: str | None = None,
        time_min: datetime | None = None,
        time_max: datetime | None = None,
    ) -> EventPage:
        raise AssertionError("the sidebar never lists events")

    def get_event(self, calendar_id: str, event_id: str) -> Event:
        self.gets.append((self.token, calendar_id, event_id))
        if self.error is not None:
            raise self.error
        try:
            return self.events[(self.token, event_id)]
        except KeyError:
            raise EventNotFound("404") from None

    def as_user(self, token: str) -> StubCalendar:
        self.token = token
        return self


# ---------------------------------------------------------------- client


class Client:
    """POSTs to the add-on endpoint through the same dispatch the entry point uses."""

    def __init__(self, sidebar: Sidebar) -> None:
        self.app = flask.Flask(__name__)
        handler = make_endpoint(lambda: sidebar)
        routes = {"/addon": handler}

        @self.app.route("/<path:_>", methods=["GET", "POST", "PUT"])
        def any_path(_: str) -> flask.Response:
            return dispatch(routes, flask.request)

        self.http = self.app.test_client()

    def raw(self, body: bytes | str | None = None, **kwargs: Any) -> Any:
        return self.http.post("/addon", data=body, **kwargs)

    def post(
        self,
        body: Mapping[str, Any] | Any,
        *,
        authorization: str | bool | None = True,
        expect: int = 200,
    ) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        if authorization is True:
            token = body["authorizationEventObject"]["systemIdToken"]
            headers["Authorization"] = f"Bearer {token}"
        elif isinstance(authorization, str):
            headers["Authorization"] = authorization
        resp = self.http.post("/addon", data=json.dumps(body), headers=headers)
        assert resp.status_code == expect, (resp.status_code, resp.get_data(as_text=True))
        payload: dict[str, Any] = resp.get_json()
        if expect == 200:
            assert_valid_answer(payload)
        return payload


def only_card(payload: Mapping[str, Any]) -> dict[str, Any]:
    found = cards_in(payload)
    assert len(found) == 1, payload
    return found[0]


def note(payload: Mapping[str, Any]) -> str | None:
    action = payload.get("action") or payload.get("renderActions", {}).get("action", {})
    text = action.get("notification", {}).get("text")
    return text if isinstance(text, str) else None


# ---------------------------------------------------------------- data


def calendar_event(
    event_id: str,
    start: datetime,
    *,
    title: str = "Meeting",
    user_email: str = "alice@example.com",
    guests: Sequence[str] = ("bob@example.com",),
    minutes: int = 30,
    series_id: str | None = None,
    status: str = "confirmed",
    my_response: str = "accepted",
) -> dict[str, Any]:
    end = start + timedelta(minutes=minutes)
    body: dict[str, Any] = {
        "id": event_id,
        "etag": f'"{event_id}-1"',
        "status": status,
        "summary": title,
        "start": {"dateTime": start.isoformat(), "timeZone": "UTC"},
        "end": {"dateTime": end.isoformat(), "timeZone": "UTC"},
        "attendees": [
            {"email": user_email, "self": True, "responseStatus": my_response},
            *({"email": g, "responseStatus": "accepted"} for g in guests),
        ],
        "organizer": {"email": user_email},
    }
    if series_id:
        body["recurringEventId"] = series_id
    return body


def seed_meeting(
    store: Store,
    user: User,
    event: Mapping[str, Any],
    *,
    now: datetime,
    classifier: Any,
) -> Meeting:
    incoming = meeting_from_event(event, user_id=user.user_id, calendar_id="primary")
    planned = plan_meeting(incoming, None, user=user, classifier=classifier, now=now)
    store.upsert_meetings([planned])
    return planned
