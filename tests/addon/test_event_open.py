"""eventOpen: the opened meeting's type, prep state and trigger time, stored or fetched."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest

from addon.sidebar import Sidebar
from addon.views import STALLED
from functions.auth.dev_keys import DevSigner
from functions.bootstrap import Bootstrap, google_calendar
from functions.calendar.port import CalendarUnavailable, PermissionDenied
from functions.config import Settings
from functions.domain.prep_state import PrepState
from functions.domain.users import User
from functions.materials.lease import generation_lease
from functions.prep.queueing import PREP_QUEUE
from functions.store.port import Store
from tests.addon.conftest import NOW
from tests.support.addon_helpers import (
    Client,
    StubCalendar,
    button_ops,
    calendar_event,
    event_body,
    only_card,
    opened_event,
    seed_meeting,
    texts,
    widgets,
)
from tests.support.fake_calendar import fake_calendar
from tests.support.recording_queue import RecordingQueue

START = NOW + timedelta(days=2, hours=7)  # 2026-12-03 15:00 UTC


def _open(client: Client, signer: DevSigner, event_id: str, **kwargs: object) -> dict[str, object]:
    series = kwargs.pop("series_id", None)
    body = event_body(signer, opened=opened_event(event_id, series), **kwargs)  # type: ignore[arg-type]
    return only_card(client.post(body))


def test_a_stored_meeting_shows_type_state_and_trigger_in_the_users_zone_and_locale(
    client: Client, signer: DevSigner, db: Store, alice: User, services: Bootstrap
) -> None:
    seed_meeting(
        db,
        alice,
        calendar_event("ev1", START, title="Weekly 1:1 with Bob"),
        now=NOW,
        classifier=services.classifier,
    )
    card = _open(client, signer, "ev1", time_zone="Europe/Berlin", locale="de-DE")
    shown = texts(card)
    assert "Weekly 1:1 with Bob" in shown
    assert "1:1" in shown and "Why: keyword '1:1', 2 people" in shown
    assert "Scheduled" in shown
    # 1:1 prep starts 24 h before: 2026-12-02 15:00 UTC is 16:00 in Berlin, German
    # conventions (day before month, 24-hour clock) in the card's language, English.
    assert "Wed, 2 Dec, 16:00" in shown
    assert "Central European Standard Time" in shown
    assert button_ops(card)["Generate prep"] == {"op": "generate", "eventId": "ev1"}

    card = _open(client, signer, "ev1", time_zone="America/New_York", locale="en-US")
    assert "Wed, Dec 2, 10:00\u202fAM" in texts(card)


def test_opening_keeps_the_users_zone_and_locale_for_background_work(
    client: Client, signer: DevSigner, db: Store, alice: User, services: Bootstrap
) -> None:
    seed_meeting(db, alice, calendar_event("ev1", START), now=NOW, classifier=services.classifier)
    _open(client, signer, "ev1", time_zone="Asia/Tokyo", locale="ja-JP")
    stored = db.get_user("alice")
    assert stored is not None
    assert (stored.time_zone, stored.locale) == ("Asia/Tokyo", "ja-JP")


def test_ready_meetings_offer_regenerate(
    client: Client, signer: DevSigner, db: Store, alice: User, services: Bootstrap
) -> None:
    seed_meeting(db, alice, calendar_event("ev1", START), now=NOW, classifier=services.classifier)
    db.set_prep_state("alice", "ev1", PrepState.GENERATING)
    db.set_prep_state("alice", "ev1", PrepState.READY, materials_ref="materials/alice/ev1")
    ops = button_ops(_open(client, signer, "ev1"))
    # Its own action, naming the materials it replaces (a late Generate changes nothing).
    assert ops["Regenerate"] == {
        "op": "regenerate",
        "eventId": "ev1",
        "materials": "materials/alice/ev1",
    }
    assert "Generate prep" not in ops
    assert "Ready" in texts(_open(client, signer, "ev1"))


def test_generating_meetings_show_preparing_and_no_generate_button(
    client: Client, signer: DevSigner, db: Store, alice: User, services: Bootstrap
) -> None:
    seed_meeting(db, alice, calendar_event("ev1", START), now=NOW, classifier=services.classifier)
    _generating_since(db, NOW - timedelta(seconds=30))
    card = _open(client, signer, "ev1")
    assert "Preparing…" in texts(card)
    assert set(button_ops(card)) >= {"Refresh"}
    assert "Generate prep" not in button_ops(card)
    assert "Try again" not in button_ops(card)


def _generating_since(db: Store, since: datetime) -> None:
    db.update_meeting(
        "alice",
        "ev1",
        lambda m: dataclasses.replace(
            m.with_prep_state(PrepState.GENERATING), generating_since=since
        ),
    )


def test_a_generation_past_its_lease_offers_try_again(
    client: Client, signer: DevSigner, db: Store, alice: User, services: Bootstrap
) -> None:
    """The worker died mid-generation: after the lease the card stops saying "Preparing…"."""
    seed_meeting(db, alice, calendar_event("ev1", START), now=NOW, classifier=services.classifier)
    lease = generation_lease(services.settings.materials)
    _generating_since(db, NOW - lease - timedelta(seconds=1))
    card = _open(client, signer, "ev1")
    assert "Preparing…" not in texts(card) and STALLED in texts(card)
    assert button_ops(card)["Try again"] == {"op": "generate", "eventId": "ev1"}


def test_declined_meetings_say_why_there_is_no_prep(
    client: Client, signer: DevSigner, db: Store, alice: User, services: Bootstrap
) -> None:
    seed_meeting(
        db,
        alice,
        calendar_event("ev1", START, my_response="declined"),
        now=NOW,
        classifier=services.classifier,
    )
    card = _open(client, signer, "ev1")
    assert "Because you declined it." in texts(card)
    assert "Generate prep" not in button_ops(card)


def test_a_recurring_instance_offers_a_series_wide_type_change(
    client: Client, signer: DevSigner, db: Store, alice: User, services: Bootstrap
) -> None:
    seed_meeting(
        db,
        alice,
        calendar_event("s1_20261203T150000Z", START, series_id="s1"),
        now=NOW,
        classifier=services.classifier,
    )
    card = _open(client, signer, "s1_20261203T150000Z", series_id="s1")
    inputs = {
        w["selectionInput"]["name"]: w["selectionInput"]
        for w in widgets(card)
        if "selectionInput" in w
    }
    assert inputs["type_scope"]["type"] == "RADIO_BUTTON"
    assert [i["value"] for i in inputs["type_scope"]["items"]] == ["event", "series"]
    assert {i["value"] for i in inputs["meeting_type"]["items"]} >= {"one_on_one", "qbr", "default"}


def test_hostile_titles_are_escaped(
    client: Client, signer: DevSigner, db: Store, alice: User, services: Bootstrap
) -> None:
    title = '<img src=x onerror=alert(1)> <b>Q3</b> & "plans"'
    seed_meeting(
        db,
        alice,
        calendar_event("ev1", START, title=title),
        now=NOW,
        classifier=services.classifier,
    )
    shown = texts(_open(client, signer, "ev1"))
    assert "<img" not in shown and "<b>Q3" not in shown
    assert '&lt;img src=x onerror=alert(1)&gt; &lt;b&gt;Q3&lt;/b&gt; &amp; "plans"' in shown


def test_an_unsaved_event_asks_to_save_it_first(
    client: Client, signer: DevSigner, alice: User
) -> None:
    body = event_body(signer, opened={"calendarId": "primary"})
    assert "Save the event first" in texts(only_card(client.post(body)))


# ---------------------------------------------------------------- events the sync has not seen


def test_an_unseen_event_is_fetched_with_the_users_token_planned_and_kept(
    client: Client,
    signer: DevSigner,
    db: Store,
    calendar: StubCalendar,
    queue: RecordingQueue,
) -> None:
    calendar.events[("ya29.alice", "s9_20261203T150000Z")] = calendar_event(
        "s9_20261203T150000Z",
        START,
        title="Acme QBR",
        guests=("cfo@acme.example", "bob@example.com"),
        series_id="s9",
    )
    body = event_body(
        signer,
        opened=opened_event("s9_20261203T150000Z", "s9", "alice@example.com"),
        oauth_token="ya29.alice",
    )
    card = only_card(client.post(body))
    # Workspace named Alice's own calendar by her address; it is the sync's `primary`.
    assert calendar.gets == [("ya29.alice", "primary", "s9_20261203T150000Z")]
    assert "Acme QBR" in texts(card) and "Quarterly business review" in texts(card)
    stored = db.get_meeting("alice", "s9_20261203T150000Z")
    assert stored is not None and stored.series_id == "s9" and stored.calendar_id == "primary"
    assert stored.prep_state is PrepState.SCHEDULED and stored.meeting_type == "qbr"
    assert db.get_user("alice") is not None  # a meeting is never stored without its user
    [prep] = queue.of_queue(PREP_QUEUE)
    assert prep.payload["event_id"] == "s9_20261203T150000Z"
    assert prep.schedule_at == stored.prep_trigger_at
    # Opened again: served from the store, no second fetch.
    client.post(body)
    assert len(calendar.gets) == 1


def test_an_unseen_event_needs_the_calendar_read_scope_first(
    client: Client, signer: DevSigner, calendar: StubCalendar
) -> None:
    granted = [
        "https://www.googleapis.com/auth/calendar.addons.execute",
        "https://www.googleapis.com/auth/calendar.addons.current.event.read",
        "https://www.googleapis.com/auth/userinfo.email",
    ]
    body = event_body(signer, opened=opened_event("new1"), authorized=granted)
    assert client.post(body) == {
        "requesting_google_scopes": {
            "scopes": ["https://www.googleapis.com/auth/calendar.events.owned.readonly"]
        }
    }
    assert calendar.gets == []
    # A broader grant made earlier covers the need.
    calendar.events[("ya29.user-access-token", "new1")] = calendar_event("new1", START)
    body = event_body(
        signer,
        opened=opened_event("new1"),
        authorized=[*granted, "https://www.googleapis.com/auth/calendar.readonly"],
    )
    assert "Meeting" in texts(only_card(client.post(body)))


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (None, "this one is not available to it"),  # 404: not on the user's calendars
        (PermissionDenied("403"), "this one is not available to it"),
        (CalendarUnavailable("503"), "Calendar did not answer"),
    ],
)
def test_unseen_events_that_cannot_be_fetched_get_a_message_card(
    *,
    client: Client,
    signer: DevSigner,
    db: Store,
    calendar: StubCalendar,
    error: Exception | None,
    message: str,
) -> None:
    calendar.error = error
    card = only_card(client.post(event_body(signer, opened=opened_event("nope"))))
    assert message in texts(card)
    assert db.get_meeting("alice", "nope") is None


def test_another_users_event_id_is_never_read_from_their_store(
    *,
    client: Client,
    signer: DevSigner,
    db: Store,
    alice: User,
    services: Bootstrap,
    calendar: StubCalendar,
) -> None:
    seed_meeting(
        db,
        alice,
        calendar_event("secret", START, title="Layoffs"),
        now=NOW,
        classifier=services.classifier,
    )
    body = event_body(signer, "mallory", opened=opened_event("secret"), oauth_token="ya29.mallory")
    card = only_card(client.post(body))
    assert "Layoffs" not in texts(card)
    # Mallory's own token was used to ask Calendar, which does not show her Alice's event.
    # She named Alice's calendar: not her own address, so it stays as named (not `primary`).
    assert calendar.gets == [("ya29.mallory", "alice@example.com", "secret")]
    assert db.get_meeting("mallory", "secret") is None


def test_local_mode_shows_not_synced_yet(
    services: Bootstrap, queue: RecordingQueue, signer: DevSigner, alice: User
) -> None:
    local = Client(Sidebar(services=services, task_queue=queue, calendar_for=None))
    card = only_card(local.post(event_body(signer, opened=opened_event("unknown"))))
    assert "Not synced yet" in texts(card)


def test_unseen_events_through_the_real_calendar_client_and_a_fake_calendar_api(
    services: Bootstrap, settings: Settings, queue: RecordingQueue, signer: DevSigner, db: Store
) -> None:
    """The production path end to end: google-api-python-client against a local fake API."""
    with fake_calendar() as fake:
        alice_token = fake.access_token_for("alice@example.com")
        mallory_token = fake.access_token_for("mallory@example.com")
        fake.put_event(
            "alice@example.com",
            calendar_event("fake1", START, title="Board meeting prep", guests=("ceo@example.com",)),
        )
        wired = dataclasses.replace(settings, calendar_api_endpoint=fake.api_endpoint)
        client = Client(
            Sidebar(services=services, task_queue=queue, calendar_for=google_calendar(wired))
        )
        body = event_body(
            signer,
            opened=opened_event("fake1", calendar_id="alice@example.com"),
            oauth_token=alice_token,
        )
        assert "Board meeting prep" in texts(only_card(client.post(body)))
        stored = db.get_meeting("alice", "fake1")
        assert stored is not None and stored.version  # the API's etag came through

        # Mallory's token cannot read Alice's calendar: Calendar answers 404, she sees nothing.
        body = event_body(
            signer,
            "mallory",
            opened=opened_event("fake1", calendar_id="alice@example.com"),
            oauth_token=mallory_token,
        )
        card = only_card(client.post(body))
        assert "Board meeting prep" not in texts(card) and "not available" in texts(card)
        assert db.get_meeting("mallory", "fake1") is None


def test_try_again_after_calendar_did_not_answer(
    client: Client, signer: DevSigner, db: Store, calendar: StubCalendar
) -> None:
    calendar.error = CalendarUnavailable("503")
    card = only_card(
        client.post(event_body(signer, opened=opened_event("late", calendar_id="cal-a")))
    )
    retry = button_ops(card)["Try again"]
    assert retry == {"op": "reopen", "eventId": "late", "calendarId": "cal-a"}
    calendar.error = None
    calendar.events[("ya29.user-access-token", "late")] = calendar_event(
        "late", START, title="Late one"
    )
    answer = client.post(
        event_body(signer, op="reopen", params={k: v for k, v in retry.items() if k != "op"})
    )
    assert "Late one" in texts(only_card(answer))
    assert calendar.gets[-1] == ("ya29.user-access-token", "cal-a", "late")
    assert db.get_meeting("alice", "late") is not None


def test_an_event_on_a_calendar_the_sync_does_not_read_gets_its_task_from_the_sidebar(
    *,
    client: Client,
    signer: DevSigner,
    db: Store,
    alice: User,
    calendar: StubCalendar,
    queue: RecordingQueue,
) -> None:
    """A connected user's background sync reads `primary` (and delegated calendars) only.

    The sidebar leaves a far trigger on those to the sync's sweep; for a team
    calendar no sync will ever sweep, so the sidebar queues it itself.
    """
    from functions.domain.users import ConnectionState

    db.put_user(dataclasses.replace(alice, connection=ConnectionState.CONNECTED))
    team = "c_team@group.calendar.google.com"
    start = NOW + timedelta(days=5)  # a 24 h lead: past the sync's 2-day prep horizon
    calendar.events[("ya29.alice", "t1")] = calendar_event(
        "t1", start, title="Weekly 1:1", guests=("bob@example.com",)
    )
    body = event_body(signer, opened=opened_event("t1", None, team), oauth_token="ya29.alice")
    client.post(body)
    stored = db.get_meeting("alice", "t1")
    assert stored is not None and stored.calendar_id == team
    assert stored.prep_state is PrepState.SCHEDULED and stored.prep_trigger_at is not None
    [prep] = queue.of_queue(PREP_QUEUE)
    assert prep.payload["event_id"] == "t1" and prep.schedule_at == stored.prep_trigger_at
