"""Past authentication: hostile bodies from callers whose credentials are valid.

A verified caller can still send anything: the add-on's event object comes
from Workspace but describes other people's events; Cloud Tasks replays
whatever was queued; Chat relays what users clicked. With valid tokens these
properties reach the body parsing and the handlers themselves: the answer is
a valid card (add-on), a Chat reply whose cards validate, a task
acknowledgement, or a clean 4xx; never a 5xx, a trace, or a crash turned
into an error card; and a refused request writes nothing.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from addon.actions import ACTIONS
from functions.bootstrap import task_routes
from tests.fuzz.strategies import edge_text, fuzz_settings, json_values
from tests.support.app_harness import ALICE, BOB, App, assert_sane
from tests.support.roots import listing_root

KNOWN_EVENTS = ("a-one", "a-qbr", "a-series_20260320T090000Z", "b-one", "missing")
KNOWN_USERS = (ALICE, BOB, "ghost")
FORM_FIELDS = (
    "meeting_type",
    "type_scope",
    "channels",
    "lead_one_on_one",
    "lead_qbr",
    "quiet_start",
    "quiet_end",
    "delivery_mode",
    "digest_time",
)
#: Log lines that mean a handler crashed (dispatch's 500, the add-on's error card).
CRASH_MESSAGES = frozenset({"unhandled error", "add-on request failed"})

ids = st.one_of(st.sampled_from(KNOWN_EVENTS), edge_text)


def _crashes(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        f"{r.getMessage()} {getattr(r, 'error', '')}"
        for r in caplog.records
        if r.getMessage() in CRASH_MESSAGES
    ]


# ---------------------------------------------------------------- the add-on


@given(
    op=st.one_of(st.none(), st.sampled_from(sorted(ACTIONS)), edge_text),
    event_id=st.one_of(st.none(), ids),
    params=st.dictionaries(edge_text, edge_text, max_size=3),
    form=st.dictionaries(
        st.one_of(st.sampled_from(FORM_FIELDS), edge_text),
        st.lists(edge_text, max_size=3),
        max_size=4,
    ),
    opened=st.one_of(
        st.none(),
        st.fixed_dictionaries(
            {"calendarId": st.one_of(st.just("primary"), edge_text), "id": ids},
            optional={"recurringEventId": edge_text},
        ),
    ),
)
@fuzz_settings(examples=120)
def test_signed_event_objects_with_hostile_contents(
    app: App,
    caplog: pytest.LogCaptureFixture,
    *,
    op: str | None,
    event_id: str | None,
    params: dict[str, str],
    form: dict[str, list[str]],
    opened: dict[str, str] | None,
) -> None:
    parameters = dict(params)
    if op is not None:
        parameters["op"] = op
    if event_id is not None:
        parameters["eventId"] = event_id
    # The user's own zone and locale: every verified request refreshes the stored
    # ones (even one then refused), which `test_zone_and_locale` covers on its own.
    body = app.event_object(parameters=parameters, form=form, time_zone="Europe/Berlin")
    if opened is not None:
        body["calendar"] = opened
    before = app.fingerprint()
    with caplog.at_level(logging.INFO):
        caplog.clear()
        resp = app.post_json("/addon", body)
    assert_sane(resp, kind="addon")
    assert _crashes(caplog) == []
    if resp.status_code >= 400:
        assert app.fingerprint() == before


@given(
    zone=st.one_of(st.sampled_from(("Europe/Berlin", "Asia/Kolkata", "Etc/GMT+12")), edge_text),
    locale=st.one_of(st.sampled_from(("fr-FR", "ar-EG", "he", "zh-Hant-TW")), edge_text),
    offset=json_values,
)
@fuzz_settings(examples=60)
def test_zone_and_locale(
    app: App, caplog: pytest.LogCaptureFixture, zone: str, locale: str, offset: Any
) -> None:
    """Whatever Workspace says about the user's zone and locale, the card renders and
    only a real zone and a known locale are kept for background work."""
    from zoneinfo import ZoneInfo

    from babel import Locale

    body = app.event_object(meeting=app.meetings["a-one"])
    body["commonEventObject"]["timeZone"] = {"id": zone, "offset": offset}
    body["commonEventObject"]["userLocale"] = locale
    with caplog.at_level(logging.INFO):
        caplog.clear()
        resp = app.post_json("/addon", body)
    assert_sane(resp, kind="addon")
    assert _crashes(caplog) == []
    user = app.services.store.get_user(ALICE)
    assert user is not None
    ZoneInfo(user.time_zone)  # raises if garbage was stored
    Locale.parse(user.locale.replace("-", "_"))


@given(
    section=st.sampled_from(
        ("commonEventObject", "calendar", "authorizationEventObject", "parameters", "formInputs")
    ),
    value=json_values,
)
@fuzz_settings(examples=80)
def test_signed_event_objects_with_wrong_types(
    app: App, caplog: pytest.LogCaptureFixture, section: str, value: Any
) -> None:
    body = app.event_object(meeting=app.meetings["a-one"])
    if section in ("parameters", "formInputs"):
        body["commonEventObject"][section] = value
    elif section == "authorizationEventObject":
        body[section]["authorizedScopes"] = value
    else:
        body[section] = value
    before = app.fingerprint()
    with caplog.at_level(logging.INFO):
        caplog.clear()
        resp = app.post_json("/addon", body)
    assert_sane(resp, kind="addon")
    assert _crashes(caplog) == []
    if resp.status_code >= 400:
        assert app.fingerprint() == before


# ---------------------------------------------------------------- Cloud Tasks

TASK_KEYS = (
    "user_id",
    "event_id",
    "version",
    "calendar_id",
    "slot",
    "after",
    "not_before",
    "trigger_at",
    "date",
)


@given(
    path=st.sampled_from(sorted(task_routes(listing_root()))),
    payload=st.dictionaries(
        st.one_of(st.sampled_from(TASK_KEYS), edge_text),
        st.one_of(st.sampled_from(KNOWN_USERS), st.sampled_from(KNOWN_EVENTS), json_values),
        max_size=5,
    ),
)
@example(path="/tasks/sync", payload={"user_id": "\ud800"})
@example(path="/tasks/fanout", payload={"after": "x\udfff"})
@example(path="/tasks/prep", payload={"user_id": ALICE, "event_id": "\ud800", "version": "v"})
@example(path="/tasks/generate", payload={"user_id": ALICE, "event_id": "\ud800"})
@fuzz_settings(examples=150)
def test_verified_tasks_with_hostile_payloads(
    app: App, caplog: pytest.LogCaptureFixture, path: str, payload: dict[str, Any]
) -> None:
    before = app.fingerprint()
    with caplog.at_level(logging.INFO):
        caplog.clear()
        resp = app.post_json(path, payload, app.task_token())
    if resp.status_code == 503 and "not_before" in payload:
        # A deferred task delivered before its time asks to be retried (by design).
        assert resp.get_json() == {"error": "retry", "message": "transient failure; retry later"}
        return
    assert_sane(resp, kind="task")
    assert _crashes(caplog) == []
    if resp.status_code >= 400 or resp.get_json()["status"] == "dropped":
        assert app.fingerprint() == before


# ---------------------------------------------------------------- Google Chat


@given(
    kind=st.one_of(
        st.sampled_from(("CARD_CLICKED", "MESSAGE", "ADDED_TO_SPACE", "REMOVED_FROM_SPACE")),
        edge_text,
    ),
    user=st.one_of(
        st.sampled_from(KNOWN_USERS).map(lambda u: f"users/{u}"),
        edge_text.map(lambda t: f"users/{t}"),
        json_values,
    ),
    params=st.dictionaries(
        st.sampled_from(("op", "event_id", "version", "source")) | edge_text,
        st.one_of(st.just("generate"), ids, json_values),
        max_size=4,
    ),
    legacy=st.lists(json_values, max_size=3),
    space=json_values | st.just({"type": "DM"}),
)
@example(kind="ADDED_TO_SPACE", user="users/\ud800", params={}, legacy=[], space={"type": "DM"})
@example(
    kind="CARD_CLICKED",
    user=f"users/{ALICE}",
    params={"op": "generate", "event_id": "a\udfff"},
    legacy=[],
    space={"type": "DM"},
)
@fuzz_settings(examples=120)
def test_verified_chat_events_with_hostile_contents(
    app: App,
    caplog: pytest.LogCaptureFixture,
    *,
    kind: str,
    user: Any,
    params: dict[str, Any],
    legacy: list[Any],
    space: Any,
) -> None:
    event = {
        "type": kind,
        "user": {"name": user, "type": "HUMAN"},
        "space": space,
        "common": {"invokedFunction": "generatePrep", "parameters": params},
        "action": {"actionMethodName": "generatePrep", "parameters": legacy},
    }
    before = app.fingerprint()
    with caplog.at_level(logging.INFO):
        caplog.clear()
        resp = app.post_json("/chat", event, app.chat_token())
    assert_sane(resp, kind="chat")
    assert _crashes(caplog) == []
    if resp.status_code >= 400:
        assert app.fingerprint() == before


# ---------------------------------------------------------------- push notifications


@given(
    channel=st.one_of(st.just("chan-0001"), edge_text.filter(lambda t: t.isprintable())),
    token_for=st.sampled_from((ALICE, BOB, "forged", "none")),
    state=st.one_of(
        st.sampled_from(("exists", "not_exists", "sync")), edge_text.filter(str.isprintable)
    ),
    resource=st.one_of(st.just("res-0001"), edge_text.filter(str.isprintable)),
)
@fuzz_settings(examples=80)
def test_webhook_headers(
    app: App,
    caplog: pytest.LogCaptureFixture,
    *,
    channel: str,
    token_for: str,
    state: str,
    resource: str,
) -> None:
    headers = app.channel_headers(ALICE if token_for in ("forged", "none") else token_for)
    headers.update(
        {
            "X-Goog-Channel-ID": channel,
            "X-Goog-Resource-State": state,
            "X-Goog-Resource-ID": resource,
        }
    )
    if token_for == "forged":
        headers["X-Goog-Channel-Token"] = headers["X-Goog-Channel-Token"][:-4] + "0000"
    elif token_for == "none":
        del headers["X-Goog-Channel-Token"]
    headers = {k: v.encode("utf-8", "replace").decode("latin-1") for k, v in headers.items()}
    before = app.fingerprint()
    with caplog.at_level(logging.INFO):
        caplog.clear()
        resp = app.call("POST", "/calendar/webhook", headers=headers)
    assert_sane(resp, kind="json")
    assert _crashes(caplog) == []
    if resp.status_code >= 400:
        assert app.fingerprint() == before
