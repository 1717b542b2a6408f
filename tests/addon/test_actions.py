"""Button actions: generate, change type, settings, connect, disconnect and delete."""

from __future__ import annotations

import dataclasses
import sys
import types
from collections.abc import Sequence
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, cast

import pytest

from addon import actions
from addon.sidebar import Sidebar
from functions.auth.dev_keys import DevSigner
from functions.bootstrap import Bootstrap
from functions.calendar.port import CalendarSource, Event, EventNotFound, EventPage
from functions.domain.clock import FixedClock
from functions.domain.meetings import Meeting
from functions.domain.prep_state import PrepState
from functions.domain.sync_state import SyncState
from functions.domain.users import ConnectionState, QuietHours, User
from functions.prep.queueing import GENERATE_QUEUE, PREP_PATH, generation_task
from functions.store.port import Store
from functions.sync.engine import sync_calendar
from functions.sync.horizons import PREP_HORIZON
from functions.tasks.port import MAX_SCHEDULE_AHEAD
from tests.addon.conftest import NOW
from tests.support.addon_helpers import (
    Client,
    button_ops,
    calendar_event,
    event_body,
    note,
    only_card,
    seed_meeting,
    texts,
)
from tests.support.recording_queue import RecordingQueue

START = NOW + timedelta(days=2)

if TYPE_CHECKING:
    from functions.materials.storage import MaterialsStorage


@pytest.fixture
def meeting(db: Store, alice: User, services: Bootstrap) -> Meeting:
    return seed_meeting(
        db,
        alice,
        calendar_event("ev1", START, title="Weekly 1:1 with Bob"),
        now=NOW,
        classifier=services.classifier,
    )


def _act(
    client: Client, signer: DevSigner, op: str, user: str = "alice", **kwargs: object
) -> dict[str, object]:
    return client.post(event_body(signer, user, op=op, **kwargs))  # type: ignore[arg-type]


# ---------------------------------------------------------------- generate


def test_generate_queues_the_work_and_answers_preparing_at_once(
    client: Client, signer: DevSigner, db: Store, queue: RecordingQueue, meeting: Meeting
) -> None:
    answer = _act(client, signer, "generate", params={"eventId": "ev1"})
    card = only_card(answer)
    assert "renderActions" in answer
    assert answer["renderActions"]["action"]["navigations"][0].keys() == {"updateCard"}  # type: ignore[index]
    assert "Preparing…" in texts(card)
    assert "Preparing…" in (note(answer) or "")
    assert queue.of_queue(GENERATE_QUEUE) == [generation_task(meeting)]
    stored = db.get_meeting("alice", "ev1")
    assert stored is not None and stored.prep_state is PrepState.GENERATING


def test_a_double_click_queues_one_generation(
    client: Client, signer: DevSigner, queue: RecordingQueue, meeting: Meeting
) -> None:
    for _ in range(3):
        assert "Preparing…" in texts(
            only_card(_act(client, signer, "generate", params={"eventId": "ev1"}))
        )
    assert len(queue.of_queue(GENERATE_QUEUE)) == 1


def test_regenerate_on_ready_meetings_queues_again(
    client: Client, signer: DevSigner, db: Store, queue: RecordingQueue, meeting: Meeting
) -> None:
    db.set_prep_state("alice", "ev1", PrepState.GENERATING)
    db.set_prep_state("alice", "ev1", PrepState.READY, materials_ref="materials/1")
    _act(client, signer, "regenerate", params={"eventId": "ev1", "materials": "materials/1"})
    [task] = queue.of_queue(GENERATE_QUEUE)
    assert task.payload["event_id"] == "ev1"


def test_generate_on_a_ready_meeting_queues_nothing(
    client: Client, signer: DevSigner, db: Store, queue: RecordingQueue, meeting: Meeting
) -> None:
    """A double click's second Generate, landing after the first generation finished."""
    db.set_prep_state("alice", "ev1", PrepState.GENERATING)
    db.set_prep_state("alice", "ev1", PrepState.READY, materials_ref="materials/1")
    _act(client, signer, "generate", params={"eventId": "ev1"})
    assert queue.of_queue(GENERATE_QUEUE) == []
    stored = db.get_meeting("alice", "ev1")
    assert stored is not None and stored.prep_state is PrepState.READY


def test_a_second_regenerate_on_replaced_materials_queues_nothing(
    client: Client, signer: DevSigner, db: Store, queue: RecordingQueue, meeting: Meeting
) -> None:
    """Regenerate names the materials it replaces: a click drawn on older ones is stale."""
    db.set_prep_state("alice", "ev1", PrepState.GENERATING)
    db.set_prep_state("alice", "ev1", PrepState.READY, materials_ref="materials/2")
    _act(client, signer, "regenerate", params={"eventId": "ev1", "materials": "materials/1"})
    assert queue.of_queue(GENERATE_QUEUE) == []


def test_generate_on_a_cancelled_meeting_explains_instead_of_failing(
    *,
    client: Client,
    signer: DevSigner,
    db: Store,
    alice: User,
    services: Bootstrap,
    queue: RecordingQueue,
) -> None:
    seed_meeting(
        db,
        alice,
        calendar_event("gone", START, status="cancelled"),
        now=NOW,
        classifier=services.classifier,
    )
    answer = _act(client, signer, "generate", params={"eventId": "gone"})
    assert "cannot start" in (note(answer) or "")
    assert queue.tasks == {}


def test_a_queue_outage_gives_a_retryable_message(
    client: Client, signer: DevSigner, db: Store, queue: RecordingQueue, meeting: Meeting
) -> None:
    queue.fail = True
    answer = _act(client, signer, "generate", params={"eventId": "ev1"})
    assert "try again" in (note(answer) or "")
    stored = db.get_meeting("alice", "ev1")
    assert stored is not None and stored.prep_state is PrepState.SCHEDULED


def test_nobody_can_generate_for_another_users_meeting(
    client: Client, signer: DevSigner, db: Store, queue: RecordingQueue, meeting: Meeting
) -> None:
    answer = _act(client, signer, "generate", "mallory", params={"eventId": "ev1"})
    assert "not in your prep list" in (note(answer) or "")
    assert queue.tasks == {}
    stored = db.get_meeting("alice", "ev1")
    assert stored is not None and stored.prep_state is PrepState.SCHEDULED


def test_other_event_actions_are_scoped_to_the_caller(
    client: Client, signer: DevSigner, meeting: Meeting
) -> None:
    for op in ("event", "refresh", "materials", "set_type"):
        answer = _act(
            client, signer, op, "mallory", params={"eventId": "ev1"}, form={"meeting_type": ["qbr"]}
        )
        assert "not in your prep list" in (note(answer) or ""), op


# ---------------------------------------------------------------- open materials


def test_open_materials_returns_a_fresh_signed_link(
    client: Client, signer: DevSigner, db: Store, meeting: Meeting, monkeypatch: pytest.MonkeyPatch
) -> None:
    db.set_prep_state("alice", "ev1", PrepState.GENERATING)
    db.set_prep_state("alice", "ev1", PrepState.READY, materials_ref="materials/alice/ev1")
    asked: list[Meeting] = []

    def signed_url_for(services: Bootstrap, m: Meeting) -> str:
        asked.append(m)
        return f"https://storage.googleapis.com/bucket/{m.materials_ref}?X-Goog-Signature=abc"

    stand_in = types.ModuleType("functions.materials.links")
    stand_in.signed_url_for = signed_url_for  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "functions.materials.links", stand_in)

    card = only_card(_act(client, signer, "refresh", params={"eventId": "ev1"}))
    assert button_ops(card)["Open materials"] == {"op": "materials", "eventId": "ev1"}
    answer = _act(client, signer, "materials", params={"eventId": "ev1"})
    link = answer["renderActions"]["action"]["link"]  # type: ignore[index]
    assert link["url"].endswith("materials/alice/ev1?X-Goog-Signature=abc")
    assert [m.event_id for m in asked] == ["ev1"]


def test_open_materials_before_they_are_ready(
    client: Client, signer: DevSigner, meeting: Meeting
) -> None:
    answer = _act(client, signer, "materials", params={"eventId": "ev1"})
    assert note(answer) == "The materials are not ready yet."


# ---------------------------------------------------------------- change type


def test_change_type_for_one_meeting(
    client: Client, signer: DevSigner, db: Store, meeting: Meeting
) -> None:
    answer = _act(
        client,
        signer,
        "set_type",
        params={"eventId": "ev1"},
        form={"meeting_type": ["qbr"], "type_scope": ["event"]},
    )
    card = only_card(answer)
    assert "Quarterly business review" in texts(card)
    assert "Chosen by you for this meeting" in texts(card)
    assert note(answer) == "Type set to Quarterly business review for this meeting."
    user = db.get_user("alice")
    assert user is not None and dict(user.preferences.type_overrides) == {"event:ev1": "qbr"}
    stored = db.get_meeting("alice", "ev1")
    assert stored is not None and stored.meeting_type == "qbr"
    # QBR prep starts 336 h (two weeks) ahead, which is already past: it starts now.
    assert stored.prep_trigger_at == NOW


def test_change_type_for_the_whole_series(
    client: Client, signer: DevSigner, db: Store, alice: User, services: Bootstrap
) -> None:
    for day in range(3):
        start = START + timedelta(days=7 * day)
        seed_meeting(
            db,
            alice,
            calendar_event(f"s1_{day}", start, title="Sync", series_id="s1"),
            now=NOW,
            classifier=services.classifier,
        )
    seed_meeting(
        db,
        alice,
        calendar_event("other", START, title="Sync"),
        now=NOW,
        classifier=services.classifier,
    )
    db.put_user(
        dataclasses.replace(
            alice,
            preferences=dataclasses.replace(
                alice.preferences, type_overrides={"event:s1_0": "qbr"}
            ),
        )
    )

    answer = _act(
        client,
        signer,
        "set_type",
        params={"eventId": "s1_0"},
        form={"meeting_type": ["leadership"], "type_scope": ["series"]},
    )
    assert "Chosen by you for the whole series" in texts(only_card(answer))
    user = db.get_user("alice")
    assert user is not None and dict(user.preferences.type_overrides) == {"series:s1": "leadership"}
    types_now = {
        m.event_id: m.meeting_type
        for m in db.list_meetings("alice", start_from=NOW, start_before=NOW + timedelta(days=60))
    }
    assert types_now == {
        "s1_0": "leadership",
        "s1_1": "leadership",
        "s1_2": "leadership",
        "other": "one_on_one",  # two colleagues: the structural 1:1 rule
    }


def test_change_type_refuses_unknown_types_and_series_of_one(
    client: Client, signer: DevSigner, db: Store, meeting: Meeting
) -> None:
    answer = _act(
        client, signer, "set_type", params={"eventId": "ev1"}, form={"meeting_type": ["ceo_whim"]}
    )
    assert note(answer) == "Pick one of the listed meeting types."
    answer = _act(
        client,
        signer,
        "set_type",
        params={"eventId": "ev1"},
        form={"meeting_type": ["qbr"], "type_scope": ["series"]},
    )
    assert note(answer) == "This meeting is not part of a series."
    body = event_body(
        signer,
        op="set_type",
        params={"eventId": "ev1"},
        form={"meeting_type": ["qbr"], "type_scope": ["galaxy"]},
    )
    client.post(body, expect=400)
    user = db.get_user("alice")
    assert user is not None and not user.preferences.type_overrides


# ---------------------------------------------------------------- settings


def test_settings_card_shows_current_preferences(
    client: Client, signer: DevSigner, alice: User
) -> None:
    answer = _act(client, signer, "settings")
    card = only_card(answer)
    assert answer["renderActions"]["action"]["navigations"][0].keys() == {"pushCard"}  # type: ignore[index]
    shown = texts(card)
    assert "Send reminders by" in shown and "Quiet hours" in shown and "Your keywords" in shown
    assert button_ops(card)["Save settings"] == {"op": "save_settings"}
    assert button_ops(card)["Disconnect and delete my data"] == {"op": "confirm_delete"}


def test_saving_settings(client: Client, signer: DevSigner, db: Store, alice: User) -> None:
    form = {
        "channels": ["chat"],
        "lead_qbr": ["100"],
        "lead_one_on_one": ["24"],  # the default: not stored as an override
        "lead_incident_review": ["1,5"],
        "quiet_start": ["22:00"],
        "quiet_end": ["07:30"],
        # Commas, semicolons and new lines separate; one spelling per keyword is kept.
        "keywords_executive": ["board prep, Aufsichtsrat;  Board   prep \n"],
        "keywords_qbr": [""],
    }
    answer = _act(client, signer, "save_settings", form=form)
    assert note(answer) == "Settings saved."
    user = db.get_user("alice")
    assert user is not None
    prefs = user.preferences
    assert (prefs.email_enabled, prefs.chat_enabled) == (False, True)
    assert dict(prefs.lead_hours) == {"qbr": 100.0, "incident_review": 1.5}
    assert prefs.type_keywords == {"executive": ("board prep", "Aufsichtsrat")}
    assert "board prep, Aufsichtsrat" in str(only_card(answer))
    assert prefs.quiet_hours == QuietHours(time(22, 0), time(7, 30))
    assert "22:00" in str(only_card(answer))


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"lead_qbr": ["soon"]}, "Quarterly business review: enter a time like 2 days or 3 hours"),
        ({"lead_qbr": ["31 days"]}, "Quarterly business review: between 0 hours and 30 days"),
        ({"quiet_start": ["22:00"]}, "Quiet hours: fill in both times, or neither"),
        ({"quiet_start": ["25:00"], "quiet_end": ["07:00"]}, "Quiet from: use HH:MM, like 22:00"),
        (
            {"quiet_start": ["07:00"], "quiet_end": ["07:00"]},
            "Quiet hours: start and end must differ",
        ),
        (
            {"keywords_qbr": [", ".join(f"w{i}" for i in range(11))]},
            "Quarterly business review: at most 10 keywords",
        ),
        (
            {"keywords_qbr": ["x" * 41]},
            "Quarterly business review: keywords are at most 40 characters",
        ),
        (
            {"keywords_qbr": ["?!"]},
            "Quarterly business review: a keyword needs a letter or a digit",
        ),
        (
            {"keywords_qbr": ["Board"], "keywords_executive": ["board"]},
            "\u201cboard\u201d is listed under both Quarterly business review"
            " and Executive meeting",
        ),
    ],
)
def test_bad_settings_are_explained_and_not_saved(
    *,
    client: Client,
    signer: DevSigner,
    db: Store,
    alice: User,
    form: dict[str, list[str]],
    message: str,
) -> None:
    answer = _act(client, signer, "save_settings", form={"channels": ["email", "chat"], **form})
    assert note(answer) == message
    assert db.get_user("alice") == alice


def test_new_keywords_reclassify_upcoming_meetings(
    client: Client, signer: DevSigner, db: Store, queue: RecordingQueue, meeting: Meeting
) -> None:
    assert meeting.meeting_type == "one_on_one"
    form = {"channels": ["email", "chat"], "keywords_executive": ["Bob"]}
    answer = _act(client, signer, "save_settings", form=form)
    assert note(answer) == "Settings saved."
    stored = db.get_meeting("alice", "ev1")
    assert stored is not None and stored.meeting_type == "executive"
    # The executive type's own lead time (config) now sets the trigger.
    queued = [t for t in queue.queued() if t.payload.get("event_id") == "ev1"]
    assert [t.schedule_at for t in queued] == [stored.prep_trigger_at]
    assert stored.prep_trigger_at != meeting.prep_trigger_at
    card = only_card(_act(client, signer, "refresh", params={"eventId": "ev1"}))
    assert "Matched your keyword 'Bob'" in texts(card)


# ---------------------------------------------------------------- connect, disconnect, delete


def test_connect_opens_googles_consent_in_an_overlay(
    client: Client, signer: DevSigner, monkeypatch: pytest.MonkeyPatch
) -> None:
    from functions.oauth import flow

    calls: list[tuple[str, str]] = []

    def start_authorization(services: Bootstrap, user_id: str, email: str) -> str:
        calls.append((user_id, email))
        return "https://accounts.google.com/o/oauth2/v2/auth?state=s&code_challenge=c"

    monkeypatch.setattr(flow, "start_authorization", start_authorization)
    answer = _act(client, signer, "connect")
    link = answer["renderActions"]["action"]["link"]  # type: ignore[index]
    assert link == {
        "url": "https://accounts.google.com/o/oauth2/v2/auth?state=s&code_challenge=c",
        "openAs": "OVERLAY",
        "onClose": "RELOAD",
    }
    assert calls == [("alice", "alice@example.com")]  # the verified user, from the token


def test_delete_my_data_disconnects_and_forgets_only_the_caller(
    *,
    client: Client,
    signer: DevSigner,
    db: Store,
    alice: User,
    services: Bootstrap,
    meeting: Meeting,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from functions.oauth import flow

    bob = User(user_id="bob", email="bob@example.com")
    db.put_user(bob)
    seed_meeting(db, bob, calendar_event("bob1", START), now=NOW, classifier=services.classifier)
    disconnected: list[str] = []
    monkeypatch.setattr(flow, "disconnect", lambda services, user_id: disconnected.append(user_id))

    confirm = only_card(_act(client, signer, "confirm_delete"))
    assert button_ops(confirm)["Delete everything"] == {"op": "delete_data"}
    answer = _act(client, signer, "delete_data")
    navigations = answer["renderActions"]["action"]["navigations"]  # type: ignore[index]
    assert navigations[0] == {"popToRoot": True}
    assert "Not connected" in texts(only_card(answer))
    assert disconnected == ["alice"]
    assert db.get_user("alice") is None and db.get_meeting("alice", "ev1") is None
    assert db.get_user("bob") is not None and db.get_meeting("bob", "bob1") is not None


def test_delete_goes_ahead_when_revoking_fails(
    client: Client, signer: DevSigner, db: Store, meeting: Meeting, monkeypatch: pytest.MonkeyPatch
) -> None:
    from functions.oauth import flow

    def broken(services: Bootstrap, user_id: str) -> None:
        raise ConnectionError("google unreachable")

    monkeypatch.setattr(flow, "disconnect", broken)
    answer = _act(client, signer, "delete_data")
    assert "deleted" in (note(answer) or "")
    assert db.get_user("alice") is None


def test_back_and_refresh_navigate(client: Client, signer: DevSigner, meeting: Meeting) -> None:
    assert _act(client, signer, "back") == {
        "renderActions": {"action": {"navigations": [{"pop": True}]}}
    }
    home = _act(client, signer, "home")
    assert "Weekly 1:1 with Bob" in texts(only_card(home))
    pushed = _act(client, signer, "event", params={"eventId": "ev1"})
    assert pushed["renderActions"]["action"]["navigations"][0].keys() == {"pushCard"}  # type: ignore[index]


def test_a_crash_inside_an_action_becomes_a_message_not_a_500(
    client: Client, signer: DevSigner, meeting: Meeting, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(call: object) -> dict[str, object]:
        raise RuntimeError("secret title in a stack trace")

    monkeypatch.setitem(actions.ACTIONS, "refresh", boom)
    answer = _act(client, signer, "refresh", params={"eventId": "ev1"})
    assert note(answer) == "Meeting prep ran into a problem. Please try again in a moment."
    assert "secret" not in str(answer)


def test_new_lead_time_replans_upcoming_meetings_and_queues_their_reminders(
    client: Client, signer: DevSigner, db: Store, queue: RecordingQueue, meeting: Meeting
) -> None:
    assert meeting.prep_trigger_at == START - timedelta(hours=24)
    answer = _act(client, signer, "save_settings", form={"lead_one_on_one": ["6"]})
    assert note(answer) == "Settings saved."
    stored = db.get_meeting("alice", "ev1")
    assert stored is not None
    assert stored.prep_trigger_at == START - timedelta(hours=6)
    assert stored.prep_state is PrepState.SCHEDULED
    queued = [t for t in queue.queued() if t.payload.get("event_id") == "ev1"]
    assert [t.schedule_at for t in queued] == [START - timedelta(hours=6)]


def test_delete_my_data_also_deletes_the_callers_materials(
    sidebar: Sidebar,
    signer: DevSigner,
    meeting: Meeting,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from functions.oauth import flow

    monkeypatch.setattr(flow, "disconnect", lambda services, user_id: None)
    deleted: list[str] = []

    class Storage:
        def delete_user(self, user_id: str) -> int:
            deleted.append(user_id)
            return 3

    storage = cast("MaterialsStorage", Storage())
    assert isinstance(sidebar.services, Bootstrap)
    root = sidebar.services.replaced(materials_storage=storage)
    client = Client(dataclasses.replace(sidebar, services=root))
    answer = _act(client, signer, "delete_data")
    assert "deleted" in (note(answer) or "")
    assert deleted == ["alice"]


# ---------------------------------------------------------------- re-planning and the task horizon


@dataclasses.dataclass
class _Unchanged(CalendarSource):
    """A calendar nobody edits: incremental listings are empty, full ones list its events."""

    events: Sequence[Event]

    def list_events(
        self,
        calendar_id: str,
        *,
        sync_token: str | None = None,
        page_token: str | None = None,
        time_min: datetime | None = None,
        time_max: datetime | None = None,
    ) -> EventPage:
        if sync_token is not None:
            return EventPage([], next_sync_token=sync_token)
        assert time_min is not None and time_max is not None
        listed = [
            e
            for e in self.events
            if time_min < datetime.fromisoformat(e["end"]["dateTime"])
            and datetime.fromisoformat(e["start"]["dateTime"]) < time_max
        ]
        return EventPage(listed, next_sync_token="tok")

    def get_event(self, calendar_id: str, event_id: str) -> Event:
        raise EventNotFound("not asked")


def test_a_settings_save_queues_only_triggers_inside_the_sync_horizon_and_syncs_queue_the_rest(
    *,
    client: Client,
    signer: DevSigner,
    db: Store,
    queue: RecordingQueue,
    alice: User,
    services: Bootstrap,
    clock: FixedClock,
) -> None:
    # Every day a working day: this test is about the horizon, not about moving off weekends.
    connected = dataclasses.replace(
        alice,
        connection=ConnectionState.CONNECTED,
        preferences=dataclasses.replace(alice.preferences, working_days=frozenset(range(7))),
    )
    db.put_user(connected)
    starts = {
        "soon": NOW + timedelta(days=1),
        "mid": NOW + timedelta(days=12),
        "far": NOW + timedelta(days=60),  # its trigger is past Cloud Tasks' 30 days
    }
    events = [calendar_event(k, start, title="Weekly 1:1 with Bob") for k, start in starts.items()]
    for event in events:
        seed_meeting(db, connected, event, now=NOW, classifier=services.classifier)
    # The background sync ran just now, as it does every 15 minutes.
    db.put_sync_state(
        SyncState("alice", "primary", sync_token="tok", last_sync_at=NOW, last_full_sync_at=NOW)
    )

    answer = _act(client, signer, "save_settings", form={"lead_one_on_one": ["6"]})

    assert note(answer) == "Settings saved."
    stored = db.get_meetings("alice", list(starts))
    assert {k: m.prep_trigger_at for k, m in stored.items()} == {
        k: s - timedelta(hours=6) for k, s in starts.items()
    }
    assert [t.payload["event_id"] for t in queue.queued()] == ["soon"]

    # Later syncs (nothing changed in Calendar; a weekly full listing re-windows the
    # horizon) queue each one as it comes near.
    queued_at: dict[str, datetime] = {}
    while clock.now() < NOW + timedelta(days=61):
        clock.advance(timedelta(minutes=15 * 24))  # every sixth hour
        before = {t.name for t in queue.queued()}
        user = db.get_user("alice")
        assert user is not None
        sync_calendar(
            store=db,
            source=_Unchanged(events),
            tasks=queue,
            classifier=services.classifier,
            user=user,
            calendar_id="primary",
            now=clock.now(),
        )
        for task in queue.queued():
            # Prep tasks only: the 1:1s' follow-up tasks come with their own rule.
            if task.name not in before and task.path == PREP_PATH:
                queued_at[str(task.payload["event_id"])] = clock.now()
                assert task.schedule_at is not None
                assert task.schedule_at - clock.now() <= MAX_SCHEDULE_AHEAD
    assert set(queued_at) == {"mid", "far"}
    for event_id in ("mid", "far"):
        trigger = starts[event_id] - timedelta(hours=6)
        # Queued by the first sync whose horizon reaches the trigger, not earlier.
        assert (
            trigger - PREP_HORIZON
            < queued_at[event_id]
            <= trigger - PREP_HORIZON + timedelta(hours=6)
        )


def test_without_background_sync_the_sidebar_queues_up_to_the_cloud_tasks_limit(
    *,
    client: Client,
    signer: DevSigner,
    db: Store,
    queue: RecordingQueue,
    alice: User,
    services: Bootstrap,
) -> None:
    assert alice.connection is ConnectionState.NOT_CONNECTED
    for event_id, days in (("mid", 12), ("far", 60)):
        seed_meeting(
            db,
            alice,
            calendar_event(event_id, NOW + timedelta(days=days), title="Weekly 1:1 with Bob"),
            now=NOW,
            classifier=services.classifier,
        )
    _act(client, signer, "save_settings", form={"lead_one_on_one": ["6"]})
    assert [t.payload["event_id"] for t in queue.queued()] == ["mid"]


def test_a_series_re_type_queues_only_triggers_inside_the_sync_horizon(
    *,
    client: Client,
    signer: DevSigner,
    db: Store,
    queue: RecordingQueue,
    alice: User,
    services: Bootstrap,
) -> None:
    connected = dataclasses.replace(alice, connection=ConnectionState.CONNECTED)
    db.put_user(connected)
    for week in range(20):  # a weekly series, 20 weeks of it stored
        seed_meeting(
            db,
            connected,
            calendar_event(
                f"s1_{week}", NOW + timedelta(days=1, weeks=week), title="Sync", series_id="s1"
            ),
            now=NOW,
            classifier=services.classifier,
        )
    _act(
        client,
        signer,
        "set_type",
        params={"eventId": "s1_0"},
        form={"meeting_type": ["one_on_one"], "type_scope": ["series"]},
    )
    stored = db.list_meetings("alice", start_from=NOW, start_before=NOW + timedelta(days=400))
    assert {m.meeting_type for m in stored} == {"one_on_one"}
    # Every occurrence re-planned; one task, for the only trigger within two days.
    assert [t.payload["event_id"] for t in queue.queued()] == ["s1_0"]
