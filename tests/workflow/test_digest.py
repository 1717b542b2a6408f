"""Digest mode: one morning message per day, exactly once, at the user's local time.

Tasks go through the deployed routing table with a signed OIDC token and the
production Gmail and Chat adapters talk to the fake Google server (which
validates every card with google-apps-card), as in `test_prep_task.py`. The
last test runs the whole path on the local task queue under a moving clock:
an .ics synced, prep tasks firing (silently, for a digest user), one digest a
morning, every task replayed.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import flask
import pytest
from google.apps.card_v1 import Card
from google.oauth2.credentials import Credentials

from functions import bootstrap
from functions.bootstrap import Bootstrap, set_services
from functions.chat.auth import CHAT_ISSUER
from functions.domain.clock import FixedClock
from functions.domain.meetings import Meeting
from functions.domain.prep_state import PrepState
from functions.domain.users import ConnectionState, DeliveryMode, Preferences, QuietHours, User
from functions.notify.digest import next_window, send_time, window, window_of
from functions.notify.gmail import GmailSender
from functions.notify.google_chat import ChatAppSender
from functions.notify.port import Notifiers
from functions.prep.digest_task import (
    DIGEST_PATH,
    digest_task,
    ensure_next_digest,
    next_digest_task,
    task_for_window,
)
from functions.prep.notify_task import PrepJob, run_prep
from functions.prep.queueing import GENERATE_PATH, PREP_PATH, prep_task
from functions.store.codec import user_from_doc, user_to_doc
from functions.sync.handlers import handle_fanout
from functions.sync.local import LOCAL_USER_ID, sync_local
from functions.sync.tasks import SYNC_PATH
from functions.tasks.local_queue import LocalTaskQueue
from functions.tasks.port import Task
from functions.web import dispatch
from tests.support.factories import EMAIL, USER_ID, make_meeting, make_user
from tests.support.fake_google_apis import CHAT_CREATE, GMAIL_SEND, FakeGoogle, fake_google_apis
from tests.support.recording_queue import RecordingQueue
from tests.support.roots import make_services
from tests.support.task_delivery import deliver_task
from tests.support.threads import run_together

BERLIN = ZoneInfo("Europe/Berlin")
#: Monday 2026-03-16, 07:00 in Berlin: an hour before the 08:00 digest.
NOW = datetime(2026, 3, 16, 6, 0, tzinfo=UTC)
MONDAY = date(2026, 3, 16)
DIGEST_AT = time(8, 0)


def digest_user(**prefs: Any) -> User:
    return make_user(
        preferences=Preferences(delivery_mode=DeliveryMode.DIGEST, digest_time=DIGEST_AT, **prefs)
    )


def berlin(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), BERLIN)


def meeting(event_id: str, start: datetime, **changes: Any) -> Meeting:
    changes.setdefault("prep_trigger_at", start - timedelta(hours=24))
    return make_meeting(event_id=event_id, start=start, version=f"v-{event_id}", **changes)


# ---------------------------------------------------------------- the send time and windows


def test_send_time_is_the_local_wall_clock_across_dst() -> None:
    # Berlin moves from UTC+1 to UTC+2 on Sunday 2026-03-29.
    assert send_time(date(2026, 3, 28), DIGEST_AT, BERLIN) == datetime(
        2026, 3, 28, 7, 0, tzinfo=UTC
    )
    assert send_time(date(2026, 3, 29), DIGEST_AT, BERLIN) == datetime(
        2026, 3, 29, 6, 0, tzinfo=UTC
    )
    # 02:30 does not exist that night: the digest goes at the jump (03:00 CEST).
    assert send_time(date(2026, 3, 29), time(2, 30), BERLIN) == datetime(
        2026, 3, 29, 1, 0, tzinfo=UTC
    )
    # 02:30 happens twice on 2026-10-25: the first pass (still CEST) is the send time.
    assert send_time(date(2026, 10, 25), time(2, 30), BERLIN) == datetime(
        2026, 10, 25, 0, 30, tzinfo=UTC
    )
    new_york = ZoneInfo("America/New_York")  # DST starts 2026-03-08
    assert send_time(date(2026, 3, 7), DIGEST_AT, new_york) == datetime(
        2026, 3, 7, 13, 0, tzinfo=UTC
    )
    assert send_time(date(2026, 3, 8), DIGEST_AT, new_york) == datetime(
        2026, 3, 8, 12, 0, tzinfo=UTC
    )


ZONES = ("Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata")
#: The days around each zone's 2026 clock changes.
CHANGES = (date(2026, 3, 8), date(2026, 3, 29), date(2026, 4, 5), date(2026, 10, 4))
CHANGES_AUTUMN = (date(2026, 10, 25), date(2026, 11, 1))


@pytest.mark.parametrize("zone_name", ZONES)
@pytest.mark.parametrize("at", [time(0, 0), time(2, 30), time(8, 0), time(23, 30)])
def test_windows_tile_time_without_gaps_or_overlaps(zone_name: str, at: time) -> None:
    """Every instant belongs to exactly one digest, whatever the clocks do."""
    zone = ZoneInfo(zone_name)
    for change in (*CHANGES, *CHANGES_AUTUMN):
        days = [change + timedelta(days=d) for d in range(-2, 3)]
        for day in days:
            win = window(day, at, zone)
            assert win.ends == window(day + timedelta(days=1), at, zone).starts
            assert timedelta(hours=22) <= win.ends - win.starts <= timedelta(hours=26)
            assert win.starts.astimezone(zone).date() == day
        instant = window(days[0], at, zone).starts
        stop = window(days[-1], at, zone).starts
        while instant < stop:
            found = window_of(instant, at, zone)
            assert found.starts <= instant < found.ends
            nxt = next_window(instant, at, zone)
            assert nxt.starts > instant and nxt.starts == found.ends
            instant += timedelta(minutes=17)


def test_the_next_digest_task_is_named_per_user_day_and_time() -> None:
    user = digest_user()
    task = next_digest_task(user, NOW)
    assert task.schedule_at == berlin(MONDAY, 8)
    assert task.payload == {"user_id": USER_ID, "date": "2026-03-16", "at": "08:00"}
    # Past the send time: tomorrow's.
    later = next_digest_task(user, berlin(MONDAY, 8, 1))
    assert later.schedule_at == berlin(MONDAY + timedelta(days=1), 8)
    assert later.name != task.name
    assert next_digest_task(user, NOW - timedelta(hours=1)).name == task.name
    other_time = dataclasses.replace(
        user, preferences=dataclasses.replace(user.preferences, digest_time=time(7, 30))
    )
    assert next_digest_task(other_time, NOW).name != task.name
    assert ensure_next_digest(RecordingQueue(), make_user(), NOW) is None  # per-meeting user


# ---------------------------------------------------------------- the task, through the routes


def outcome(response: flask.Response) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["status"] == "ok"
    return str(body["outcome"])


#: One app for every request context: building Flask apps from several threads at
#: once trips a CPython 3.11 bug in `ast.parse` (werkzeug compiles its URL rules).
_APP = flask.Flask(__name__)


@dataclass
class World:
    services: Bootstrap
    fake: FakeGoogle
    queue: RecordingQueue
    clock: FixedClock

    def put(self, *meetings: Meeting) -> None:
        self.services.store.upsert_meetings(list(meetings))

    def get(self, event_id: str) -> Meeting:
        found = self.services.store.get_meeting(USER_ID, event_id)
        assert found is not None
        return found

    def run(self, task: Task) -> flask.Response:
        settings = self.services.settings
        bearer = self.services.dev_signer.id_token(
            audience=settings.tasks_audience, subject="cloud-tasks", email=settings.tasks_sa_email
        )
        with _APP.test_request_context(
            task.path,
            method="POST",
            data=task.body(),
            headers={"Authorization": f"Bearer {bearer}", "Content-Type": "application/json"},
        ):
            return dispatch(bootstrap.task_routes(bootstrap.get_services()), flask.request)

    def digest(self, day: date = MONDAY) -> Task:
        return task_for_window(USER_ID, window(day, DIGEST_AT, BERLIN), DIGEST_AT)

    @property
    def counts(self) -> tuple[int, int]:
        return len(self.fake.sent_mail), len(self.fake.chat_posts)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with fake_google_apis() as fake:
        clock = FixedClock(berlin(MONDAY, 8))
        queue = RecordingQueue()
        notifiers = Notifiers(
            email=GmailSender(lambda uid: Credentials(token=f"user-{uid}"), api_endpoint=fake.url),
            chat=ChatAppSender(lambda: Credentials(token="app"), api_endpoint=fake.url),
        )
        services = make_services(tmp_path, clock=clock, notifiers=notifiers, tasks=queue)
        services.store.put_user(digest_user())
        fake.add_dm(USER_ID)
        set_services(services)
        try:
            yield World(services, fake, queue, clock)
        finally:
            set_services(None)
            services.store.close()


def _monday_meetings() -> list[Meeting]:
    tuesday = MONDAY + timedelta(days=1)
    return [
        meeting("today1", berlin(MONDAY, 15), title="Weekly 1:1 with Sam"),
        # Before tomorrow's digest: this digest is the last one before it starts.
        meeting("early", berlin(tuesday, 7, 30), title="Early sync"),
        # A QBR next week whose prep starts today (14 days' lead would be earlier; 6 here).
        meeting(
            "qbr",
            berlin(MONDAY + timedelta(days=6), 10),
            title="Q1 QBR with Acme",
            meeting_type="qbr",
            prep_trigger_at=berlin(MONDAY, 12),
        ),
        # Not listed: declined, cancelled, auto-prepped, prep already ready, started already.
        meeting("declined", berlin(MONDAY, 16), skip_reason="declined"),
        meeting("gone", berlin(MONDAY, 17), prep_state=PrepState.CANCELLED),
        meeting("ready", berlin(MONDAY, 11), prep_state=PrepState.READY, materials_ref="m1"),
        meeting("started", berlin(MONDAY, 7, 30)),
        # Not listed: tomorrow after the next digest, prep starting then too (that one lists it).
        meeting("tomorrow", berlin(tuesday, 9), prep_trigger_at=berlin(tuesday, 8, 30)),
    ]


def test_one_digest_lists_what_needs_prep_and_moves_it_to_notified(world: World) -> None:
    world.put(*_monday_meetings())
    answer = world.run(world.digest())
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["outcome"] == "sent" and body["items"] == 3 and body["announced"] == 3
    assert world.counts == (1, 1)

    mail = world.fake.sent_mail[0]
    assert mail.user_id == "me" and mail.authorization == f"Bearer user-{USER_ID}"
    assert str(mail.message["Subject"]) == "Your prep for Mon, Mar 16: 3 meetings"
    text = mail.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    for title in ("Weekly 1:1 with Sam", "Early sync", "Q1 QBR with Acme"):
        assert title in text
    for absent in ("Meeting prep declined", "Started", "tomorrow"):
        assert absent not in text
    assert text.index("Weekly 1:1 with Sam") < text.index("Early sync") < text.index("Q1 QBR")
    assert "Prep starts now for these later meetings" in text

    post = world.fake.chat_posts[0]
    assert post.space == f"spaces/dm-{USER_ID}"
    card = post.body["cardsV2"][0]["card"]
    Card.from_json(json.dumps(card), ignore_unknown_fields=False)
    generate = [
        {p["key"]: p["value"] for p in b["onClick"]["action"]["parameters"]}
        for s in card["sections"]
        for w in s["widgets"]
        for b in w.get("buttonList", {}).get("buttons", [])
        if "action" in b["onClick"]
    ]
    assert [g["event_id"] for g in generate] == ["today1", "early", "qbr"]
    assert all(g["source"] == "digest" and g["op"] == "generate" for g in generate)
    assert "Sam" not in post.body["text"]  # no calendar text in Chat's plain text

    for event_id in ("today1", "early", "qbr"):
        assert world.get(event_id).prep_state is PrepState.NOTIFIED
    assert world.get("tomorrow").prep_state is PrepState.SCHEDULED
    # The next morning's digest was queued by this one.
    assert world.digest(MONDAY + timedelta(days=1)).name in world.queue.tasks


def test_exactly_once_across_retries_and_duplicate_deliveries(world: World) -> None:
    world.put(*_monday_meetings())
    world.fake.fail(CHAT_CREATE, 500)
    first = world.run(world.digest())
    assert first.status_code == 503  # Cloud Tasks retries
    assert world.counts == (1, 0)
    second = world.run(world.digest())
    assert second.status_code == 200 and second.get_json()["channels"] == {
        "email": "already_sent",
        "chat": "sent",
    }
    assert world.counts == (1, 1)
    # The retry listed what the first attempt had already moved to notified.
    assert second.get_json()["items"] == 3
    for _ in range(3):
        again = world.run(world.digest())
        assert again.get_json()["outcome"] == "already_sent"
    assert world.counts == (1, 1)


def test_concurrent_duplicates_send_once(world: World) -> None:
    world.put(*_monday_meetings())
    task = world.digest()
    results: list[int] = []
    barrier = threading.Barrier(4)

    def deliver() -> None:
        barrier.wait()
        results.append(world.run(task).status_code)

    run_together([deliver] * 4)
    # One sends. A duplicate that ran while the Chat send was still unconfirmed
    # is told to come back (503) rather than trusting a send that may yet fail.
    assert sorted(set(results)) <= [200, 503] and results.count(200) >= 1
    assert world.counts == (1, 1)
    for _ in range(results.count(503)):
        again = world.run(task)
        assert again.status_code == 200 and again.get_json()["outcome"] == "already_sent"
    assert world.counts == (1, 1)


def test_a_gmail_failure_is_retried_without_a_second_chat(world: World) -> None:
    world.put(*_monday_meetings())
    world.fake.fail(GMAIL_SEND, 503)
    assert world.run(world.digest()).status_code == 503
    assert world.counts == (0, 1)
    assert world.run(world.digest()).status_code == 200
    assert world.counts == (1, 1)


def test_no_digest_on_a_day_with_nothing_to_prepare(world: World) -> None:
    world.put(*[m for m in _monday_meetings() if m.event_id in ("declined", "ready", "tomorrow")])
    assert outcome(world.run(world.digest())) == "empty"
    assert world.counts == (0, 0)
    # Still the next morning's is queued, and a meeting booked later today that the
    # retried task would see is not announced twice by anyone.
    assert world.digest(MONDAY + timedelta(days=1)).name in world.queue.tasks
    assert outcome(world.run(world.digest())) == "empty"


def test_auto_prep_types_are_left_to_auto_prep(world: World) -> None:
    world.services.store.put_user(digest_user(auto_prep_types=frozenset({"one_on_one"})))
    world.put(meeting("today1", berlin(MONDAY, 15)))
    assert outcome(world.run(world.digest())) == "empty"


def test_per_meeting_reminders_are_suppressed_but_the_state_still_advances(world: World) -> None:
    world.clock.set(berlin(MONDAY, 7))
    world.put(meeting("today1", berlin(MONDAY, 15), prep_trigger_at=berlin(MONDAY, 7)))
    job = PrepJob(USER_ID, "today1", "v-today1", trigger_at=berlin(MONDAY, 7))
    assert run_prep(world.services, job) == {"outcome": "in_digest"}
    assert world.counts == (0, 0)
    assert world.get("today1").prep_state is PrepState.SCHEDULED

    world.clock.set(berlin(MONDAY, 8))
    assert world.run(world.digest()).status_code == 200
    assert world.get("today1").prep_state is PrepState.NOTIFIED
    # The same prep task delivered again, after the digest: still nothing of its own.
    assert run_prep(world.services, job) == {"outcome": "in_digest"}
    assert world.run(prep_task(world.get("today1"))).get_json()["outcome"] == "in_digest"
    assert world.counts == (1, 1)

    # Generate prep from the digest moves it on as from a single reminder.
    from functions.chat.endpoint import on_generate

    reply = on_generate(world.services, USER_ID, "today1", from_digest=True)
    assert reply["actionResponse"] == {"type": "NEW_MESSAGE"}
    Card.from_json(json.dumps(reply["cardsV2"][0]["card"]), ignore_unknown_fields=False)
    assert world.get("today1").prep_state is PrepState.GENERATING


def test_per_meeting_users_are_unchanged(world: World) -> None:
    world.services.store.put_user(make_user())
    world.put(meeting("today1", berlin(MONDAY, 15), prep_trigger_at=berlin(MONDAY, 8)))
    result = run_prep(world.services, PrepJob(USER_ID, "today1", "v-today1"))
    assert result["outcome"] == "notified"
    assert outcome(world.run(world.digest())) == "not_digest"
    assert world.counts == (1, 1)


def test_a_changed_digest_time_makes_the_old_task_stale(world: World) -> None:
    world.put(*_monday_meetings())
    old = world.digest()
    user = digest_user()
    moved = dataclasses.replace(
        user, preferences=dataclasses.replace(user.preferences, digest_time=time(9, 30))
    )
    world.services.store.put_user(moved)
    assert outcome(world.run(old)) == "stale"
    assert world.counts == (0, 0)
    new = next_digest_task(moved, world.clock.now())
    assert new.name in world.queue.tasks and new.schedule_at == berlin(MONDAY, 9, 30)
    world.clock.set(berlin(MONDAY, 9, 30))
    assert world.run(new).get_json()["outcome"] == "sent"
    assert world.counts == (1, 1)


def test_an_early_task_waits_and_a_late_one_expires(world: World) -> None:
    world.put(*_monday_meetings())
    world.clock.set(
        berlin(
            MONDAY,
            7,
            59,
        )
    )
    assert world.run(world.digest()).status_code == 503  # clock skew: retried
    world.clock.set(berlin(MONDAY + timedelta(days=1), 8))
    assert outcome(world.run(world.digest())) == "expired"
    assert world.counts == (0, 0)


def test_quiet_hours_defer_the_digest_to_their_end(world: World) -> None:
    world.services.store.put_user(digest_user(quiet_hours=QuietHours(time(22), time(9))))
    world.put(*_monday_meetings())
    answer = world.run(world.digest()).get_json()
    assert answer["outcome"] == "deferred"
    assert datetime.fromisoformat(answer["until"]) == berlin(MONDAY, 9)
    assert world.counts == (0, 0)
    deferred = digest_task(USER_ID, MONDAY, DIGEST_AT, berlin(MONDAY, 9), deferred=True)
    assert deferred.name in world.queue.tasks
    world.clock.set(berlin(MONDAY, 9))
    assert world.run(deferred).get_json()["outcome"] == "sent"
    assert world.run(world.digest()).get_json()["outcome"] == "already_sent"
    assert world.counts == (1, 1)


def test_hostile_titles_stay_inert(world: World) -> None:
    hostile = '<users/all> <a href="https://evil.example">x</a>\r\nBcc: victim@example.com'
    world.put(meeting("today1", berlin(MONDAY, 15), title=hostile))
    assert world.run(world.digest()).status_code == 200
    message = world.fake.sent_mail[0].message
    assert message["Bcc"] is None
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert '<a href="https://evil.example">' not in html and "&lt;users/all&gt;" in html
    post = world.fake.chat_posts[0].body
    assert "users/all" not in post["text"]
    assert '<a href="https://evil.example">' not in json.dumps(post["cardsV2"])


def test_the_fanout_queues_the_next_digest_once_it_is_near(world: World) -> None:
    store = world.services.store
    store.put_user(dataclasses.replace(digest_user(), connection=ConnectionState.CONNECTED))
    store.put_user(
        User(
            "each-user",
            "e@example.com",
            time_zone="Europe/Berlin",
            connection=ConnectionState.CONNECTED,
        )
    )
    world.clock.set(berlin(MONDAY, 5))  # three hours ahead: not yet
    result = handle_fanout(world.services, {})
    assert result["digests_created"] == 0 and result["created"] == 2
    world.clock.set(berlin(MONDAY, 6, 30))
    assert handle_fanout(world.services, {})["digests_created"] == 1
    assert handle_fanout(world.services, {})["digests_created"] == 0  # same name: deduplicated
    digests = world.queue.on_path(DIGEST_PATH)
    assert [t.schedule_at for t in digests] == [berlin(MONDAY, 8)]
    assert len(world.queue.on_path(SYNC_PATH)) == 4  # two users, two slots


def test_user_documents_without_the_new_fields_read_as_before() -> None:
    doc = user_to_doc(make_user())
    for key in ("delivery_mode", "digest_time", "delegated_calendars"):
        del doc["preferences"][key]
    del doc["calendar_problems"]
    user = user_from_doc(doc)
    assert user == make_user()
    assert user.preferences.delivery_mode is DeliveryMode.EACH
    assert user.preferences.digest_time == time(8, 0)
    doc["preferences"]["delivery_mode"] = "carrier-pigeon"  # written by a newer version
    assert user_from_doc(doc).preferences.delivery_mode is DeliveryMode.EACH
    digest = digest_user()
    assert user_from_doc(user_to_doc(digest)) == digest


# ---------------------------------------------------------------- end to end on the local queue

ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//meeting-prep//digest//EN
BEGIN:VEVENT
UID:d-one-on-one@example.com
DTSTAMP:20260301T120000Z
DTSTART;TZID=Europe/Berlin:20260316T150000
DTEND;TZID=Europe/Berlin:20260316T153000
SUMMARY:1:1 Sam / You
ORGANIZER;CN=You:mailto:you@example.com
ATTENDEE;CN=You;PARTSTAT=ACCEPTED:mailto:you@example.com
ATTENDEE;CN=Sam Ortiz;PARTSTAT=ACCEPTED:mailto:sam@example.com
END:VEVENT
BEGIN:VEVENT
UID:d-review@example.com
DTSTAMP:20260301T120000Z
DTSTART;TZID=Europe/Berlin:20260318T100000
DTEND;TZID=Europe/Berlin:20260318T110000
SUMMARY:Project review
ORGANIZER;CN=Dana:mailto:dana@example.com
ATTENDEE;CN=Dana;PARTSTAT=ACCEPTED:mailto:dana@example.com
ATTENDEE;CN=You;PARTSTAT=ACCEPTED:mailto:you@example.com
END:VEVENT
BEGIN:VEVENT
UID:d-declined@example.com
DTSTAMP:20260301T120000Z
DTSTART;TZID=Europe/Berlin:20260316T170000
DTEND;TZID=Europe/Berlin:20260316T173000
SUMMARY:1:1 I declined
ORGANIZER;CN=Lee:mailto:lee@example.com
ATTENDEE;CN=Lee;PARTSTAT=ACCEPTED:mailto:lee@example.com
ATTENDEE;CN=You;PARTSTAT=DECLINED:mailto:you@example.com
END:VEVENT
END:VCALENDAR
"""


@pytest.mark.parametrize("adapter", ["outbox", "google"])
def test_a_week_of_digests_on_the_local_queue(tmp_path: Path, adapter: str) -> None:
    from functions.notify.outbox_page import outbox_of
    from functions.notify.port import Channel

    ics = tmp_path / "calendar.ics"
    ics.write_text(ICS, encoding="utf-8")
    clock = FixedClock(NOW)  # Monday 07:00 Berlin
    env = {
        "PREP_ICS_PATH": str(ics),
        "PREP_LOCAL_USER_EMAIL": "you@example.com",
        "PREP_MATERIALS_DIR": str(tmp_path / "materials"),
        "PREP_MATERIALS_SIGNING_KEY": str(tmp_path / "materials-key.json"),
    }
    with fake_google_apis() as fake:
        notifiers = None
        if adapter == "google":
            notifiers = Notifiers(
                email=GmailSender(lambda u: Credentials(token=f"u-{u}"), api_endpoint=fake.url),
                chat=ChatAppSender(lambda: Credentials(token="app"), api_endpoint=fake.url),
            )
            fake.add_dm(LOCAL_USER_ID)
        services = make_services(tmp_path, clock=clock, notifiers=notifiers, env=env)
        user = User(
            LOCAL_USER_ID,
            "you@example.com",
            time_zone="Europe/Berlin",
            connection=ConnectionState.CONNECTED,
            preferences=Preferences(delivery_mode=DeliveryMode.DIGEST, digest_time=DIGEST_AT),
        )
        services.store.put_user(user)
        queue = services.tasks
        assert isinstance(queue, LocalTaskQueue)
        set_services(services)

        def subjects() -> list[str]:
            if adapter == "google":
                return [str(m.message["Subject"]) for m in fake.sent_mail]
            outbox = outbox_of(services)
            assert outbox is not None
            return [e.subject for e in reversed(outbox.entries(channel=Channel.EMAIL))]

        def chats() -> int:
            if adapter == "google":
                return len(fake.chat_posts)
            outbox = outbox_of(services)
            assert outbox is not None
            return len(outbox.entries(channel=Channel.CHAT))

        def state(title: str) -> PrepState:
            found = [
                m
                for m in services.store.list_meetings(
                    LOCAL_USER_ID,
                    start_from=NOW - timedelta(days=1),
                    start_before=NOW + timedelta(9),
                )
                if m.title == title
            ]
            assert len(found) == 1
            return found[0].prep_state

        try:
            sync_local(services, ics)
            ensure_next_digest(queue, user, clock.now())  # what saving the setting does
            queue.run_due()  # the 1:1's prep task (due now): silent for a digest user
            assert subjects() == [] and chats() == 0
            assert state("1:1 Sam / You") is PrepState.SCHEDULED

            days = [MONDAY + timedelta(days=d) for d in range(4)]
            expected = [
                "Your prep for Mon, Mar 16: 1 meeting",  # the 1:1 this afternoon
                "Your prep for Tue, Mar 17: 1 meeting",  # the review's prep starts
                "Your prep for Wed, Mar 18: 1 meeting",  # the review itself
            ]
            for i, day in enumerate(days):
                for hour in (7, 8, 12, 18):
                    clock.set(berlin(day, hour))
                    sync_local(services, ics)  # the periodic sync
                    queue.run_due()
                assert subjects() == expected[: min(i + 1, 3)], day
            # Thursday: nothing to prepare, no digest.
            assert chats() == 3
            assert state("1:1 Sam / You") is PrepState.NOTIFIED
            assert state("Project review") is PrepState.NOTIFIED
            assert state("1:1 I declined") is PrepState.CANCELLED

            # Cloud Tasks may deliver any task again: replay every delivered one twice.
            done = [f.task for f in queue.finished() if f.task.path in (DIGEST_PATH, PREP_PATH)]
            assert len([t for t in done if t.path == DIGEST_PATH]) == 4
            for task in done * 2:
                assert (
                    deliver_task(services, task, routes=bootstrap.local_routes).status_code == 200
                )
            assert len(subjects()) == 3 and chats() == 3
            # Friday's digest is already queued by Thursday's.
            assert any(
                t.path == DIGEST_PATH and t.payload["date"] == "2026-03-20" for t in queue.pending()
            )
        finally:
            set_services(None)
            services.store.close()


def test_the_chat_click_on_a_digest_through_the_chat_endpoint(world: World) -> None:
    """The verified Chat endpoint with the digest's real button parameters."""
    world.put(meeting("today1", berlin(MONDAY, 15)))
    world.run(world.digest())
    card = world.fake.chat_posts[0].body["cardsV2"][0]["card"]
    action = next(
        b["onClick"]["action"]
        for s in card["sections"]
        for w in s["widgets"]
        for b in w.get("buttonList", {}).get("buttons", [])
        if "action" in b["onClick"]
    )
    event = {
        "type": "CARD_CLICKED",
        "space": {"name": f"spaces/dm-{USER_ID}", "type": "DM"},
        "user": {"name": f"users/{USER_ID}", "type": "HUMAN"},
        "action": {"actionMethodName": action["function"], "parameters": action["parameters"]},
    }
    token = world.services.dev_signer.id_token(
        audience=world.services.settings.notify.chat_audience, subject="chat", email=CHAT_ISSUER
    )
    app = flask.Flask(__name__)
    with app.test_request_context(
        "/chat",
        method="POST",
        data=json.dumps(event),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    ):
        answer = dispatch(bootstrap.chat_routes(bootstrap.get_services()), flask.request)
    assert answer.status_code == 200
    assert answer.get_json()["actionResponse"] == {"type": "NEW_MESSAGE"}
    assert world.get("today1").prep_state is PrepState.GENERATING
    assert len(world.queue.on_path(GENERATE_PATH)) == 1
    assert world.counts == (1, 1)  # the digest itself is untouched, nothing else sent


# ---------------------------------------------------------------- the setting, in the sidebar


def test_choosing_the_digest_in_settings(world: World) -> None:
    from tests.delegation.sidebar import sidebar_body, sidebar_client
    from tests.support.addon_helpers import note, only_card, texts

    store = world.services.store
    store.put_user(make_user())
    client = sidebar_client(world.services)
    world.clock.set(berlin(MONDAY, 7))

    def save(**form: list[str]) -> dict[str, Any]:
        fields = {"channels": ["email", "chat"], **form}
        return client.post(
            sidebar_body(world.services, USER_ID, EMAIL, op="save_settings", form=fields)
        )

    card = only_card(client.post(sidebar_body(world.services, USER_ID, EMAIL, op="settings")))
    assert "How reminders arrive" in texts(card) and "One morning digest" in texts(card)

    assert note(save(delivery_mode=["digest"], digest_time=["7h"])) == (
        "Digest time: use HH:MM, like 22:00"
    )
    assert note(save(delivery_mode=["digest"], digest_time=["07:30"])) == "Settings saved."
    user = store.get_user(USER_ID)
    assert user is not None and user.preferences.delivery_mode is DeliveryMode.DIGEST
    assert user.preferences.digest_time == time(7, 30)
    queued = world.queue.on_path(DIGEST_PATH)
    assert [t.schedule_at for t in queued] == [berlin(MONDAY, 7, 30)]
    save(delivery_mode=["digest"], digest_time=["07:30"])  # saved again: nothing new
    assert len(world.queue.on_path(DIGEST_PATH)) == 1

    # A reminder suppressed while in digest mode is owed again when the user switches back.
    world.put(meeting("today1", berlin(MONDAY, 15), prep_trigger_at=berlin(MONDAY, 7)))
    assert outcome(world.run(prep_task(world.get("today1")))) == "in_digest"
    world.clock.set(berlin(MONDAY, 7, 10))
    assert note(save(delivery_mode=["each"])) == "Settings saved."
    again = [t for t in world.queue.on_path(PREP_PATH) if t.payload["event_id"] == "today1"]
    assert [t.schedule_at for t in again] == [berlin(MONDAY, 7, 10)]
    assert outcome(world.run(again[0])) == "notified"
    assert world.counts == (1, 1)
