"""The follow-up task at a meeting's end: one message, once, only when it is wanted.

Tasks go through the deployed routing table with a signed OIDC token, and
the production Gmail and Chat clients talk to the fake Google server.
"""

from __future__ import annotations

import dataclasses
import threading
import time as time_module
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from functions.domain.followups import FollowupMode
from functions.domain.meetings import Attendee, EventStatus, ResponseStatus
from functions.domain.prep_state import PrepState
from functions.domain.users import Preferences, QuietHours
from functions.followup.scheduling import FOLLOWUP_PATH, followup_task
from functions.followup.task import FollowupJob, run_followup
from functions.followup.token import open_token
from functions.notify.delivery import deliver_outgoing
from functions.notify.port import Notifiers
from functions.tasks.endpoint import RetryLater
from tests.followup.conftest import ENDED
from tests.support.factories import EMAIL, NOW, USER_ID, MemoryChat, MemoryEmail, make_user
from tests.support.fake_google_apis import CHAT_CREATE
from tests.support.google_world import World, body
from tests.support.recording_queue import RecordingQueue
from tests.support.roots import make_services
from tests.support.threads import run_together


def _card_inputs(world: World) -> list[str]:
    card = world.fake.chat_posts[0].body["cardsV2"][0]["card"]
    return [w["textInput"]["name"] for w in card["sections"][0]["widgets"] if "textInput" in w]


def test_one_chat_card_with_the_form_then_replays_send_nothing(world: World) -> None:
    task = followup_task(world.meeting())
    first = world.run(task)
    assert first.status_code == 200 and body(first)["outcome"] == "asked"
    assert body(first)["channels"] == {"email": "disabled", "chat": "sent"}
    assert (world.emails, world.chats) == (0, 1)
    assert _card_inputs(world) == ["decisions", "action_items"]
    for _ in range(3):
        again = world.run(task)
        assert again.status_code == 200 and body(again)["outcome"] == "already_asked"
    assert (world.emails, world.chats) == (0, 1)
    stored = world.meeting().followup
    assert stored is not None and stored.channel == "chat" and stored.asked_at == NOW


def test_a_transient_chat_failure_is_retried_once_it_works(world: World) -> None:
    world.fake.fail(CHAT_CREATE, 500)
    task = followup_task(world.meeting())
    assert world.run(task).status_code == 503
    assert world.chats == 0
    assert body(world.run(task))["outcome"] == "asked"
    world.run(task)
    assert world.chats == 1


def test_by_email_a_signed_link_to_the_form_and_never_an_id(world: World) -> None:
    prefs = Preferences(followup_mode=FollowupMode.EMAIL)
    world.services.store.put_user(make_user(preferences=prefs))
    task = followup_task(world.meeting())
    assert body(world.run(task))["channels"] == {"email": "sent", "chat": "disabled"}
    world.run(task)
    assert (world.emails, world.chats) == (1, 0)
    mail = world.fake.sent_mail[0].message
    plain = mail.get_body(preferencelist=("plain",))
    assert plain is not None
    text = plain.get_content()
    link = next(line for line in text.splitlines() if "/followup?t=" in line)
    assert USER_ID not in link and "evt0001" not in link
    token = parse_qs(urlsplit(link).query)["t"][0]
    keyring = world.services.credentials.sealer.keyring
    grant = open_token(keyring, token, NOW)
    assert (grant.user_id, grant.event_id) == (USER_ID, "evt0001")


def test_a_retry_stays_on_the_channel_first_chosen(world: World) -> None:
    world.fake.fail(CHAT_CREATE, 500)
    task = followup_task(world.meeting())
    assert world.run(task).status_code == 503
    # The user switches to email between the failed attempt and the retry.
    world.services.store.put_user(
        make_user(preferences=Preferences(followup_mode=FollowupMode.EMAIL))
    )
    assert body(world.run(task))["channels"] == {"email": "disabled", "chat": "sent"}
    assert (world.emails, world.chats) == (0, 1)


@pytest.mark.parametrize(
    ("meeting_type", "asked"),
    [("one_on_one", True), ("leadership", True), ("staff", False), ("qbr", False)],
)
def test_off_by_default_except_one_on_ones_and_leadership(
    world: World, meeting_type: str, asked: bool
) -> None:
    world.put(dataclasses.replace(world.meeting(), meeting_type=meeting_type))
    outcome = body(world.run(followup_task(world.meeting())))["outcome"]
    assert outcome == ("asked" if asked else "off")
    assert world.chats == (1 if asked else 0)


def test_the_one_switch_turns_it_off(world: World) -> None:
    world.services.store.put_user(
        make_user(preferences=Preferences(followup_mode=FollowupMode.OFF))
    )
    assert body(world.run(followup_task(world.meeting())))["outcome"] == "off"
    assert (world.emails, world.chats) == (0, 0)


def test_a_type_the_user_chose_is_followed_up(world: World) -> None:
    prefs = Preferences(followup_types=frozenset({"staff"}))
    world.services.store.put_user(make_user(preferences=prefs))
    world.put(dataclasses.replace(world.meeting(), meeting_type="staff"))
    assert body(world.run(followup_task(world.meeting())))["outcome"] == "asked"


@pytest.mark.parametrize(
    ("change", "outcome"),
    [
        ({"status": EventStatus.CANCELLED, "skip_reason": "cancelled"}, "skipped"),
        ({"prep_state": PrepState.CANCELLED, "skip_reason": "declined"}, "skipped"),
        ({"prep_state": PrepState.NOTIFIED, "materials_ref": None}, "not_prepared"),
        ({"prep_state": PrepState.SCHEDULED, "materials_ref": None}, "not_prepared"),
    ],
)
def test_cancelled_declined_or_unprepared_meetings_send_nothing(
    world: World, change: dict[str, object], outcome: str
) -> None:
    world.put(dataclasses.replace(world.meeting(), **change))  # type: ignore[arg-type]
    assert body(world.run(followup_task(world.meeting())))["outcome"] == outcome
    assert (world.emails, world.chats) == (0, 0)


def test_declined_through_the_attendee_list_sends_nothing(world: World) -> None:
    declined = (
        Attendee(EMAIL, "Ana", ResponseStatus.DECLINED, is_self=True),
        Attendee("sam@example.com", "Sam", ResponseStatus.ACCEPTED),
    )
    world.put(
        dataclasses.replace(
            world.meeting(),
            attendees=declined,
            skip_reason="declined",
            prep_state=PrepState.CANCELLED,
        )
    )
    assert body(world.run(followup_task(world.meeting())))["outcome"] == "skipped"


def test_a_moved_meeting_gets_a_new_task_and_the_old_one_does_nothing(world: World) -> None:
    old = followup_task(world.meeting())
    moved = dataclasses.replace(
        world.meeting(),
        start=ENDED.start - timedelta(minutes=30),
        end=ENDED.end - timedelta(minutes=30),
        version="v2",
    )
    world.put(moved)
    new = followup_task(moved)
    assert new.name != old.name and new.schedule_at == moved.end + timedelta(minutes=5)
    assert body(world.run(old))["outcome"] == "stale"
    assert body(world.run(new))["outcome"] == "asked"
    assert world.chats == 1


def test_before_the_end_it_retries_and_long_after_it_expires(world: World) -> None:
    meeting = world.meeting()
    world.clock.set(meeting.end - timedelta(minutes=1))
    assert world.run(followup_task(meeting)).status_code == 503
    world.clock.set(meeting.end + timedelta(days=4))
    assert body(world.run(followup_task(meeting)))["outcome"] == "expired"
    assert world.chats == 0


def test_answered_meetings_are_not_asked_again(world: World) -> None:
    from functions.domain.followups import FollowUp

    world.put(dataclasses.replace(world.meeting(), followup=FollowUp(answered_at=NOW)))
    assert body(world.run(followup_task(world.meeting())))["outcome"] == "answered"
    assert world.chats == 0


def test_quiet_hours_defer_the_question_to_the_end_of_the_night(world: World) -> None:
    # 23:30 CET on Monday; the meeting ended at 22:30 CET. Quiet 22:00-07:00.
    at = datetime(2026, 3, 16, 22, 30, tzinfo=UTC)
    world.clock.set(at)
    night = Preferences(quiet_hours=QuietHours(time(22, 0), time(7, 0)))
    world.services.store.put_user(make_user(preferences=night))
    meeting = dataclasses.replace(
        world.meeting(), start=at - timedelta(hours=1, minutes=30), end=at - timedelta(hours=1)
    )
    world.put(meeting)
    resp = world.run(followup_task(meeting))
    assert body(resp)["outcome"] == "deferred"
    assert (world.emails, world.chats) == (0, 0)
    [deferred] = world.queue.on_path(FOLLOWUP_PATH)
    assert deferred.schedule_at == datetime(2026, 3, 17, 6, 0, tzinfo=UTC)
    # A replay during the night asks for the very same deferral.
    assert body(world.run(followup_task(meeting)))["created"] is False
    # Delivered early (clock skew) it retries instead of deferring onto its own name.
    world.clock.set(datetime(2026, 3, 17, 5, 59, tzinfo=UTC))
    assert world.run(deferred).status_code == 503
    world.clock.set(datetime(2026, 3, 17, 6, 0, tzinfo=UTC))
    assert body(world.run(deferred))["outcome"] == "asked"
    assert body(world.run(followup_task(meeting)))["outcome"] == "already_asked"
    assert world.chats == 1


def test_concurrent_duplicates_ask_once(tmp_path: Path) -> None:
    email, chat = MemoryEmail(), MemoryChat()
    queue = RecordingQueue()
    services = make_services(tmp_path, notifiers=Notifiers(email=email, chat=chat), tasks=queue)
    services.store.put_user(make_user())
    services.store.upsert_meetings([ENDED])
    chat.before_send = lambda: time_module.sleep(0.02)
    gate = threading.Barrier(4)
    results: list[object] = []
    lock = threading.Lock()

    def worker() -> None:
        gate.wait()
        try:
            out: object = run_followup(
                store=services.store,
                tasks=queue,
                now=NOW,
                job=FollowupJob(USER_ID, "evt0001", "v1"),
                label_of=services.classifier.rules.label_of,
                deliver=lambda o, p: deliver_outgoing(services, o, claim_prefix=p),
                form_url=lambda u, e: "https://example.invalid/followup?t=x",
            )
        except RetryLater as exc:
            out = exc
        with lock:
            results.append(out)

    run_together([worker] * 4, timeout=10)
    assert len(results) == 4
    assert (len(email.sent), len(chat.sent)) == (0, 1)


def test_a_meeting_moved_after_it_was_asked_is_not_asked_again(world: World) -> None:
    task = followup_task(world.meeting())
    assert body(world.run(task))["outcome"] == "asked"
    asked = world.meeting()
    moved = dataclasses.replace(
        asked,
        start=asked.start + timedelta(minutes=15),
        end=asked.end + timedelta(minutes=15),
        version="v2",
    )
    world.put(moved)  # (the sync keeps our own follow-up record across versions)
    world.clock.set(moved.end + timedelta(minutes=5))
    assert body(world.run(followup_task(moved)))["outcome"] == "already_asked"
    assert world.chats == 1


def test_a_hostile_title_stays_out_of_headers_and_is_escaped_in_the_email(world: World) -> None:
    prefs = Preferences(followup_mode=FollowupMode.EMAIL)
    world.services.store.put_user(make_user(preferences=prefs))
    world.put(
        dataclasses.replace(world.meeting(), title="Hi\r\nBcc: x@evil.example <script>x</script>")
    )
    world.run(followup_task(world.meeting()))
    mail = world.fake.sent_mail[0].message
    assert mail["Bcc"] is None
    assert "\n" not in str(mail["Subject"])
    html_part = mail.get_body(preferencelist=("html",))
    assert html_part is not None
    html = html_part.get_content()
    assert "<script>x" not in html and "&lt;script&gt;x" in html


def _ended_with_notes(world: World, prefs: Preferences) -> None:
    """The ended 1:1 with the notes document Meet attached (the sample staff notes)."""
    from functions.domain.meetings import Attachment

    notes = Attachment(
        "Weekly staff meeting - Notes",
        "https://docs.google.com/document/d/sample-staff-notes/edit",
        "application/vnd.google-apps.document",
        "sample-staff-notes",
    )
    world.services.store.put_user(make_user(preferences=prefs))
    world.put(dataclasses.replace(world.meeting(), attachments=(notes,)))


def _proposed_items(world: World) -> str:
    card = world.fake.chat_posts[0].body["cardsV2"][0]["card"]
    (items,) = [
        w["textInput"]
        for w in card["sections"][0]["widgets"]
        if w.get("textInput", {}).get("name") == "action_items"
    ]
    return str(items.get("value", ""))


def test_the_notes_action_items_are_proposed_in_the_question(world: World) -> None:
    from functions.domain.users import ContextSource

    _ended_with_notes(world, Preferences(context_sources=frozenset({ContextSource.DOCUMENTS})))
    assert body(world.run(followup_task(world.meeting())))["outcome"] == "asked"
    proposed = _proposed_items(world)
    assert "Sam to share the revised hiring plan" in proposed
    assert "Priya to draft the Q1 roadmap summary" in proposed
    assert "Freeze new roadmap items" not in proposed  # a decision, not an action item


def test_nothing_is_proposed_while_documents_are_off(world: World) -> None:
    _ended_with_notes(world, Preferences())
    assert body(world.run(followup_task(world.meeting())))["outcome"] == "asked"
    assert _proposed_items(world) == ""


def test_an_edit_after_the_meeting_that_does_not_move_it_still_asks(world: World) -> None:
    """A new etag after the end (Meet attaches its notes, a guest replies late) is no move:
    no later task would come, so the one at the end still asks, once."""
    task = followup_task(world.meeting())
    world.put(dataclasses.replace(world.meeting(), version="v2", description="Notes attached"))
    assert body(world.run(task))["outcome"] == "asked"
    assert body(world.run(task))["outcome"] == "already_asked"
    assert world.chats == 1


def test_an_edit_during_quiet_hours_does_not_lose_the_deferred_question(world: World) -> None:
    at = datetime(2026, 3, 16, 22, 30, tzinfo=UTC)
    world.clock.set(at)
    night = Preferences(quiet_hours=QuietHours(time(22, 0), time(7, 0)))
    world.services.store.put_user(make_user(preferences=night))
    meeting = dataclasses.replace(
        world.meeting(), start=at - timedelta(hours=1, minutes=30), end=at - timedelta(hours=1)
    )
    world.put(meeting)
    assert body(world.run(followup_task(meeting)))["outcome"] == "deferred"
    [deferred] = world.queue.on_path(FOLLOWUP_PATH)
    world.put(dataclasses.replace(world.meeting(), version="v2"))  # a guest replied overnight
    world.clock.set(datetime(2026, 3, 17, 6, 0, tzinfo=UTC))
    assert body(world.run(deferred))["outcome"] == "asked"
    assert world.chats == 1


def test_an_assistant_is_not_asked_about_the_executives_meeting(world: World) -> None:
    """A meeting synced from an executive's calendar (assistant mode) was the executive's:
    the assistant was not there, so no "How did your 1:1 go?" reaches them."""
    from functions.delegation.keys import delegated_key
    from functions.followup.scheduling import wants_followup

    executive = "exec@example.com"
    theirs = dataclasses.replace(
        world.meeting(), event_id=delegated_key(executive, "evt0001"), calendar_id=executive
    )
    world.put(theirs)
    user = world.services.store.get_user(USER_ID)
    assert user is not None and not wants_followup(user, theirs)
    assert body(world.run(followup_task(theirs)))["outcome"] == "off"
    assert (world.emails, world.chats) == (0, 0)
