"""The delegate flow with a second user: an assistant prepares an executive's meetings.

Both are users of ours. The executive shared their calendar with the
assistant at the fake Calendar API; the assistant adds it, the sync files the
executive's meetings under the assistant, reminders reach the assistant only
(labelled with whose meeting it is), the executive's own record and meetings
never change, and a revoked delegation (404 or 403 on the calendar) is shown
to the assistant and stops the sync of that calendar.
"""

from __future__ import annotations

import base64
import dataclasses
import urllib.parse
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from functions.delegation.access import Access
from functions.delegation.keys import (
    delegated_key,
    is_delegated,
    owner_of,
    source_event_id,
)
from functions.delegation.manage import add_calendar, check_again, remove_calendar
from functions.domain.prep_state import PrepState
from functions.domain.users import CalendarProblem, ConnectionState, Preferences, User
from functions.notify.content import calendar_event_url
from functions.oauth import scopes as oauth_scopes
from functions.prep.notify_task import PrepJob, run_prep
from functions.prep.queueing import PREP_PATH, prep_task
from functions.store.codec import meeting_to_doc, user_to_doc
from functions.sync.handlers import handle_fanout, handle_sync
from functions.sync.tasks import SYNC_PATH, soon_sync_task
from tests.delegation.conftest import (
    ASSISTANT,
    ASSISTANT_ID,
    EXEC,
    EXEC_ID,
    NOW,
    World,
)
from tests.support.fake_calendar import timed_event
from tests.support.recording_queue import RecordingQueue
from tests.support.roots import make_services

EXEC_NAME = "Alex Exec"


def _exec_events(world: World) -> None:
    fake = world.fake
    start = NOW + timedelta(hours=5)
    fake.put_event(
        EXEC,
        timed_event(
            "exec1on1",
            start,
            summary="1:1 Alex / Sam",
            attendees=(EXEC, "sam@example.com"),
            organizer=EXEC,
        ),
    )
    declined = timed_event(
        "execdeclined",
        start + timedelta(hours=1),
        summary="1:1 Alex / Lee",
        attendees=(EXEC, "lee@example.com"),
        organizer="lee@example.com",
    )
    declined["attendees"][0]["responseStatus"] = "declined"
    fake.put_event(EXEC, declined)
    # The assistant is invited too: the same event on both calendars.
    shared = timed_event(
        "sharedstaff",
        start + timedelta(hours=2),
        summary="1:1 planning with Asha",
        attendees=(EXEC, ASSISTANT),
        organizer=EXEC,
    )
    fake.put_event(EXEC, shared)
    fake.put_event(ASSISTANT, shared)
    for event in fake.calendars[EXEC].values():
        for a in event.event.get("attendees", []):
            if a["email"] == EXEC:
                a["displayName"] = EXEC_NAME


@pytest.fixture
def both(world: World) -> World:
    world.add_user(ASSISTANT_ID, ASSISTANT)
    world.add_user(
        EXEC_ID,
        EXEC,
        preferences=Preferences(email_enabled=False, lead_hours={"one_on_one": 3.0}),
    )
    world.fake.share(EXEC, ASSISTANT)
    _exec_events(world)
    return world


def _prep_tasks_for(world: World, user_id: str) -> list[Any]:
    return [t for t in world.queue.on_path(PREP_PATH) if t.payload["user_id"] == user_id]


def test_the_delegate_flow_with_a_second_user(both: World) -> None:
    world = both
    store = world.store
    # The executive uses the product too: their own calendar is synced under them.
    assert handle_sync(world.services, {"user_id": EXEC_ID})["sync"] == "done"
    exec_doc = user_to_doc(world.user(EXEC_ID))
    exec_meetings = {
        m.event_id: meeting_to_doc(m)
        for m in store.list_meetings(EXEC_ID, start_from=NOW, start_before=NOW + timedelta(7))
    }
    exec_tasks = _prep_tasks_for(world, EXEC_ID)

    # The assistant adds the executive's calendar: access is proven at once.
    lists_before = world.fake.count("events.list", owner=ASSISTANT)
    change = add_calendar(world.services, world.user(ASSISTANT_ID), "  Exec@Example.com ")
    assert change.access is Access.OK
    assert world.fake.count("events.list", owner=ASSISTANT) == lists_before + 1
    assistant = world.user(ASSISTANT_ID)
    assert assistant.preferences.delegated_calendars == (EXEC,)
    assert soon_sync_task(ASSISTANT_ID, EXEC, NOW).name in world.queue.tasks

    # The sync of that calendar files the executive's meetings under the assistant.
    report = handle_sync(world.services, {"user_id": ASSISTANT_ID, "calendar_id": EXEC})
    assert report["sync"] == "done" and report["written"] == 3
    handle_sync(world.services, {"user_id": ASSISTANT_ID})  # and the assistant's own calendar
    mine = {
        m.event_id: m
        for m in store.list_meetings(ASSISTANT_ID, start_from=NOW, start_before=NOW + timedelta(7))
    }
    one_on_one = mine[delegated_key(EXEC, "exec1on1")]
    assert one_on_one.calendar_id == EXEC and is_delegated(one_on_one)
    assert one_on_one.self_attendee is not None and one_on_one.self_attendee.email == EXEC
    assert one_on_one.meeting_type == "one_on_one"
    assert one_on_one.prep_state is PrepState.SCHEDULED
    # The executive declined this one: no prep, whoever else accepted.
    declined = mine[delegated_key(EXEC, "execdeclined")]
    assert declined.skip_reason == "declined" and declined.prep_state is PrepState.CANCELLED
    # An event on both calendars is two meetings: the assistant's own, and the executive's.
    own, theirs = mine["sharedstaff"], mine[delegated_key(EXEC, "sharedstaff")]
    assert own.calendar_id == "primary" and own.self_attendee.email == ASSISTANT  # type: ignore[union-attr]
    assert theirs.self_attendee.email == EXEC  # type: ignore[union-attr]
    assert owner_of(own) is None
    owner = owner_of(theirs)
    assert owner is not None and owner.address == EXEC and owner.name == EXEC_NAME
    # Links open the executive's copy in Calendar.
    assert source_event_id(theirs) == "sharedstaff"
    eid = calendar_event_url(theirs).rpartition("eid=")[2]
    raw = urllib.parse.unquote(eid)
    assert base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode() == f"sharedstaff {EXEC}"

    # Reminders reach the assistant, labelled; nothing reaches the executive.
    task = next(
        t
        for t in _prep_tasks_for(world, ASSISTANT_ID)
        if t.payload["event_id"] == one_on_one.event_id
    )
    world.clock.set(one_on_one.prep_trigger_at or NOW)
    result = run_prep(
        world.services, PrepJob(ASSISTANT_ID, task.payload["event_id"], task.payload["version"])
    )
    assert result["outcome"] == "notified"
    mails = world.google.sent_mail
    assert [m.authorization for m in mails] == [f"Bearer user-{ASSISTANT_ID}"]
    subject = str(mails[0].message["Subject"])
    assert subject.startswith(f"Coming up for {EXEC_NAME}: 1:1 Alex / Sam")
    assert str(mails[0].message["To"]) == ASSISTANT  # not the executive's name
    text = mails[0].message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert f"{EXEC_NAME}'s 1:1" in text and f"You prepare {EXEC}'s meetings" in text
    assert world.google.chat_messages_for(EXEC_ID) == []
    chats = world.google.chat_messages_for(ASSISTANT_ID)
    assert len(chats) == 1 and f"for {EXEC}" in chats[0].body["text"]
    assert EXEC_NAME in chats[0].body["cardsV2"][0]["card"]["header"]["subtitle"]

    # The executive's record, meetings and tasks are exactly as they were.
    assert user_to_doc(world.user(EXEC_ID)) == exec_doc
    assert {
        m.event_id: meeting_to_doc(m)
        for m in store.list_meetings(EXEC_ID, start_from=NOW, start_before=NOW + timedelta(7))
    } == exec_meetings
    assert _prep_tasks_for(world, EXEC_ID) == exec_tasks

    # The fan-out syncs the assistant's own calendar and the executive's.
    handle_fanout(world.services, {})
    synced = {
        (t.payload["user_id"], t.payload["calendar_id"]) for t in world.queue.on_path(SYNC_PATH)
    }
    assert (ASSISTANT_ID, EXEC) in synced and (ASSISTANT_ID, "primary") in synced
    assert (EXEC_ID, "primary") in synced and len(synced) == 3


def _revoke_share(world: World) -> None:
    with world.fake._lock:
        world.fake.shares[EXEC].discard(ASSISTANT)


@pytest.mark.parametrize("how", ["unshared_404", "forbidden_403"])
def test_a_revoked_delegation_is_shown_and_stops_the_sync(both: World, how: str) -> None:
    world = both
    assert add_calendar(world.services, world.user(ASSISTANT_ID), EXEC).access is Access.OK
    handle_sync(world.services, {"user_id": ASSISTANT_ID, "calendar_id": EXEC})
    owed = world.store.get_meeting(ASSISTANT_ID, delegated_key(EXEC, "exec1on1"))
    assert owed is not None and owed.prep_state is PrepState.SCHEDULED
    pending_task = prep_task(owed)

    if how == "unshared_404":
        _revoke_share(world)
    else:
        world.fake.fail("events.list", 403, reason="forbidden")
    world.clock.advance(timedelta(minutes=15))
    answer = handle_sync(world.services, {"user_id": ASSISTANT_ID, "calendar_id": EXEC})
    assert answer == {"sync": "no_access"}

    assistant = world.user(ASSISTANT_ID)
    assert assistant.calendar_problems == {EXEC: CalendarProblem.NO_ACCESS.value}
    assert assistant.connection is ConnectionState.CONNECTED  # their own grant is fine
    assert assistant.preferences.delegated_calendars == (EXEC,)  # kept, to check again
    # Owed prep is cancelled: the reminder queued earlier sends nothing.
    cancelled = world.store.get_meeting(ASSISTANT_ID, delegated_key(EXEC, "exec1on1"))
    assert cancelled is not None and cancelled.prep_state is PrepState.CANCELLED
    world.clock.set(owed.prep_trigger_at or NOW)
    job = PrepJob(ASSISTANT_ID, pending_task.payload["event_id"], pending_task.payload["version"])
    assert run_prep(world.services, job)["outcome"] == "skipped"
    assert world.google.sent_mail == [] and world.google.chat_posts == []
    # The sync of that calendar stops: no task from the fan-out, no call if one runs anyway.
    world.queue.tasks.clear()
    handle_fanout(world.services, {})
    assert {t.payload["calendar_id"] for t in world.queue.on_path(SYNC_PATH)} == {"primary"}
    calls = world.fake.count("events.list")
    skipped = handle_sync(world.services, {"user_id": ASSISTANT_ID, "calendar_id": EXEC})
    assert skipped == {"sync": "skipped", "reason": "no_access"}
    assert world.fake.count("events.list") == calls

    # Shared again: "Check again" clears it and a clean full sync restores the prep.
    if how == "unshared_404":
        world.fake.share(EXEC, ASSISTANT)
    again = check_again(world.services, world.user(ASSISTANT_ID), EXEC)
    assert again.access is Access.OK and world.user(ASSISTANT_ID).calendar_problems == {}
    world.clock.set(NOW + timedelta(minutes=30))
    resync = handle_sync(world.services, {"user_id": ASSISTANT_ID, "calendar_id": EXEC})
    assert resync["sync"] == "done" and resync["full"] is True
    restored = world.store.get_meeting(ASSISTANT_ID, delegated_key(EXEC, "exec1on1"))
    assert restored is not None and restored.prep_state is PrepState.SCHEDULED


def test_check_again_keeps_the_problem_while_access_is_missing(both: World) -> None:
    world = both
    add_calendar(world.services, world.user(ASSISTANT_ID), EXEC)
    _revoke_share(world)
    handle_sync(world.services, {"user_id": ASSISTANT_ID, "calendar_id": EXEC})
    change = check_again(world.services, world.user(ASSISTANT_ID), EXEC)
    assert change.access is Access.NO_ACCESS and "share it with you" in change.message
    assert world.user(ASSISTANT_ID).calendar_problems == {EXEC: "no_access"}


def test_a_channel_on_the_executives_calendar_is_stopped_when_access_goes(both: World) -> None:
    world = both
    add_calendar(world.services, world.user(ASSISTANT_ID), EXEC)
    handle_sync(world.services, {"user_id": ASSISTANT_ID, "calendar_id": EXEC})
    channels = [c for c in world.fake.channels.values() if c.calendar_id == EXEC]
    assert len(channels) == 1 and channels[0].owner == ASSISTANT
    world.fake.fail("events.list", 404)
    world.clock.advance(timedelta(minutes=15))
    assert handle_sync(world.services, {"user_id": ASSISTANT_ID, "calendar_id": EXEC}) == {
        "sync": "no_access"
    }
    assert [c.channel_id for c in world.fake.stopped_channels] == [channels[0].channel_id]
    state = world.store.get_sync_state(ASSISTANT_ID, EXEC)
    assert state is not None and state.channel_id is None and state.sync_token is None


def test_adding_needs_the_scope_for_other_peoples_calendars(world: World) -> None:
    # Connected with the default grant only ("events on calendars you own").
    world.add_user(ASSISTANT_ID, ASSISTANT, scopes=world.services.settings.oauth_scopes)
    world.add_user(EXEC_ID, EXEC)
    world.fake.share(EXEC, ASSISTANT)
    before = world.user(ASSISTANT_ID)
    change = add_calendar(world.services, before, EXEC)
    assert change.access is Access.NEEDS_SCOPE and "Allow access" in change.message
    assert world.user(ASSISTANT_ID) == before  # nothing stored
    assert world.fake.count("events.list") == 0  # and Google was not even asked

    # "Allow access": the consent flow asks for that one scope on top (incremental).
    from functions.oauth.flow import start_authorization

    url = start_authorization(
        world.services,
        ASSISTANT_ID,
        ASSISTANT,
        extra_scopes=(oauth_scopes.CALENDAR_EVENTS_READONLY,),
    )
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    asked = query["scope"][0].split()
    assert oauth_scopes.CALENDAR_EVENTS_READONLY in asked
    assert set(world.services.settings.oauth_scopes) <= set(asked)
    assert query["include_granted_scopes"] == ["true"]
    plain = start_authorization(world.services, ASSISTANT_ID, ASSISTANT)
    plain_scopes = urllib.parse.parse_qs(urllib.parse.urlsplit(plain).query)["scope"][0]
    assert oauth_scopes.CALENDAR_EVENTS_READONLY not in plain_scopes.split()


def test_a_grant_that_lost_the_scope_is_shown_not_synced(both: World) -> None:
    world = both
    add_calendar(world.services, world.user(ASSISTANT_ID), EXEC)
    # The assistant reconnected without ticking the extra box.
    grant = world.services.credentials.load(ASSISTANT_ID)
    assert grant is not None
    world.services.credentials.save(
        ASSISTANT_ID, dataclasses.replace(grant, scopes=world.services.settings.oauth_scopes)
    )
    calls = world.fake.count("events.list")
    answer = handle_sync(world.services, {"user_id": ASSISTANT_ID, "calendar_id": EXEC})
    assert answer == {"sync": "skipped", "reason": "needs_scope"}
    assert world.user(ASSISTANT_ID).calendar_problems == {EXEC: "needs_scope"}
    assert world.fake.count("events.list") == calls


@pytest.mark.parametrize(
    ("typed", "answer"),
    [
        ("", "Enter the executive's email address."),
        ("not an address", "Enter an email address, like alex@example.com."),
        ("<users/all>@x.com", "Enter an email address, like alex@example.com."),
        (ASSISTANT.upper(), "That is your own calendar; it is always prepared."),
    ],
)
def test_unusable_calendar_ids_are_refused_without_asking_google(
    both: World, typed: str, answer: str
) -> None:
    before = world_user = both.user(ASSISTANT_ID)
    change = add_calendar(both.services, world_user, typed)
    assert change.access is None and change.message == answer
    assert both.user(ASSISTANT_ID) == before
    assert both.fake.count("events.list", owner=ASSISTANT) == 0


def test_a_calendar_nobody_shared_is_refused(both: World) -> None:
    before = both.user(ASSISTANT_ID)
    change = add_calendar(both.services, before, "stranger@example.com")
    assert change.access is Access.NO_ACCESS
    assert both.user(ASSISTANT_ID) == before


def test_removing_a_calendar_stops_its_prep(both: World) -> None:
    world = both
    add_calendar(world.services, world.user(ASSISTANT_ID), EXEC)
    handle_sync(world.services, {"user_id": ASSISTANT_ID, "calendar_id": EXEC})
    change = remove_calendar(world.services, world.user(ASSISTANT_ID), EXEC)
    assert change.user.preferences.delegated_calendars == ()
    gone = world.store.get_meeting(ASSISTANT_ID, delegated_key(EXEC, "exec1on1"))
    assert gone is not None and gone.prep_state is PrepState.CANCELLED
    assert handle_sync(world.services, {"user_id": ASSISTANT_ID, "calendar_id": EXEC}) == {
        "sync": "skipped",
        "reason": "not_delegated",
    }
    stopped = [c for c in world.fake.stopped_channels if c.calendar_id == EXEC]
    assert len(stopped) == 1


def test_the_executives_meetings_join_the_assistants_digest(both: World) -> None:
    from functions.domain.users import DeliveryMode
    from functions.prep.digest_task import DigestJob, run_digest

    world = both
    add_calendar(world.services, world.user(ASSISTANT_ID), EXEC)
    assistant = world.user(ASSISTANT_ID)
    world.store.put_user(
        dataclasses.replace(
            assistant,
            preferences=dataclasses.replace(
                assistant.preferences, delivery_mode=DeliveryMode.DIGEST
            ),
        )
    )
    handle_sync(world.services, {"user_id": ASSISTANT_ID, "calendar_id": EXEC})
    handle_sync(world.services, {"user_id": ASSISTANT_ID})
    # Tuesday 08:00 in Berlin was this morning; the digest of that window, a bit late.
    result = run_digest(
        world.services,
        DigestJob(ASSISTANT_ID, NOW.date(), world.user(ASSISTANT_ID).preferences.digest_time),
    )
    assert result["outcome"] == "sent" and result["items"] == 3
    text = world.google.sent_mail[0].message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert f'"1:1 Alex / Sam" (for {EXEC_NAME})' in text
    assert '"1:1 planning with Asha" (for' in text  # the executive's copy
    assert text.count("1:1 planning with Asha") == 2  # and the assistant's own
    assert "1:1 Alex / Lee" not in text  # declined by the executive
    assert world.google.chat_messages_for(EXEC_ID) == []


def test_the_executive_can_be_anyone_not_only_a_user_of_ours(world: World) -> None:
    """No User record for the executive is needed, and none is created."""
    world.add_user(ASSISTANT_ID, ASSISTANT)
    world.fake.add_user(EXEC)
    world.fake.share(EXEC, ASSISTANT)
    _exec_events(world)
    assert add_calendar(world.services, world.user(ASSISTANT_ID), EXEC).access is Access.OK
    assert (
        handle_sync(world.services, {"user_id": ASSISTANT_ID, "calendar_id": EXEC})["written"] == 3
    )
    assert world.store.get_user(EXEC_ID) is None
    users = world.store.list_connected_users(limit=10).users
    assert [u.user_id for u in users] == [ASSISTANT_ID]
    assert isinstance(users[0], User)


def test_the_embedded_default_reads_only_calendars_shared_locally(tmp_path: Path) -> None:
    """Locally a calendar nobody shared (no .ics under its address) is refused as Google
    refuses it, and the user record stays as it was (tests/delegation/test_local_assistant.py
    covers a calendar that is shared)."""
    from tests.support.factories import make_user

    services = make_services(tmp_path)
    user = make_user()
    services.store.put_user(user)
    change = add_calendar(services, user, EXEC)
    assert change.access is Access.NO_ACCESS
    assert services.store.get_user(user.user_id) == user
    services.store.close()


def test_materials_for_an_executives_meeting_go_to_the_assistant(tmp_path: Path) -> None:
    """Generation (offline generator, local storage) and the ready message, labelled."""
    from functions.bootstrap import set_services
    from functions.delegation.keys import as_delegated
    from functions.domain.meetings import Attendee, ResponseStatus
    from functions.materials.handler import handle_generate
    from functions.notify.port import Notifiers
    from functions.prep.queueing import queue_generation
    from tests.support.factories import MemoryChat, MemoryEmail, make_meeting

    email, chat = MemoryEmail(), MemoryChat()
    queue = RecordingQueue()
    services = make_services(
        tmp_path,
        notifiers=Notifiers(email=email, chat=chat),
        tasks=queue,
        env={
            "PREP_MATERIALS_DIR": str(tmp_path / "materials"),
            "PREP_MATERIALS_SIGNING_KEY": str(tmp_path / "materials-key.json"),
        },
    )
    set_services(services)
    try:
        assistant = User(ASSISTANT_ID, ASSISTANT, time_zone="Europe/Berlin")
        services.store.put_user(assistant)
        theirs = as_delegated(
            make_meeting(
                user_id=ASSISTANT_ID,
                calendar_id=EXEC,
                event_id="exec1on1",
                title="1:1 Alex / Sam",
                attendees=(
                    Attendee(EXEC, EXEC_NAME, ResponseStatus.ACCEPTED),
                    Attendee("sam@example.com", "Sam", ResponseStatus.ACCEPTED),
                ),
                prep_state=PrepState.NOTIFIED,
            )
        )
        services.store.upsert_meetings([theirs])
        queue_generation(services.store, queue, theirs)
        answer = handle_generate(services, queue.on_path("/tasks/generate")[0].payload)
        assert answer["outcome"] == "ready"
        assert [uid for uid, _ in email.sent] == [ASSISTANT_ID]
        assert str(email.sent[0][1]["Subject"]) == f"Prep for {EXEC_NAME} is ready: 1:1 Alex / Sam"
        assert [uid for uid, _, _ in chat.sent] == [ASSISTANT_ID]
        assert f"for {EXEC}" in chat.sent[0][1]["text"]
        stored = services.store.get_meeting(ASSISTANT_ID, theirs.event_id)
        assert stored is not None and stored.prep_state is PrepState.DELIVERED
        assert services.store.get_user(EXEC_ID) is None
    finally:
        set_services(None)
        services.store.close()
