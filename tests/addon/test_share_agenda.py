""" "Share agenda with guests": organizer check, scopes at the click, agenda only, one doc.

The click runs the production adapters (google-api-python-client) against
`tests/support/fake_calendar.py` (events.get, events.patch with attachments)
and `tests/support/fake_drive.py` (files.create/update with media,
permissions.create), with one access token whose scopes both fakes hold to
the discovery documents' per-method scopes. Materials come from the real
generation task (the offline generator), so the private sections are really
there to leak if the sharing took them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from google.oauth2.credentials import Credentials

from addon import scopes, views
from addon.share import share_meeting_agenda
from addon.sidebar import Call, Sidebar
from functions.auth.dev_keys import DevSigner
from functions.bootstrap import Bootstrap
from functions.config import Settings
from functions.domain.clock import FixedClock
from functions.domain.meetings import Meeting
from functions.domain.users import User
from functions.materials.handler import handle_generate
from functions.materials.local_files import LocalMaterialsStorage, LocalSigningKey
from functions.materials.model import SharedAgendaItem, SummaryRecord
from functions.materials.offline import OfflineGenerator
from functions.materials.storage import MaterialsObjects, materials_ref
from functions.share.agenda import MAX_ATTACHMENTS, NOT_ALLOWED, SHARED_DOC_KEY, InFlight
from functions.share.google_api import GoogleAgendaCalendar, GoogleAgendaDocs
from functions.share.port import AgendaCalendar, AgendaDocs
from functions.store.port import Store
from tests.addon.conftest import NOW
from tests.support.addon_helpers import (
    ALL_SCOPES,
    Client,
    button_ops,
    calendar_event,
    event_body,
    only_card,
    opened_event,
    seed_meeting,
)
from tests.support.fake_calendar import FakeCalendar, fake_calendar
from tests.support.fake_drive import FakeDrive, fake_drive, loopback_http

ALICE = "alice@example.com"
BOB = "bob@example.com"
CAROL = "carol@partner.example"
START = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
WITHOUT_SHARE = [s for s in ALL_SCOPES if s not in (scopes.EVENTS_WRITE, scopes.DRIVE_FILE)]
HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)"> Q4 & "plans"'


@pytest.fixture
def services(settings: Settings, clock: FixedClock, tmp_path: Path) -> Iterator[Bootstrap]:
    """The add-on's services, generating offline into local files under tmp_path."""
    storage = LocalMaterialsStorage(
        tmp_path / "materials", LocalSigningKey.generate(), "http://127.0.0.1:8080", clock
    )
    s = Bootstrap(settings, clock=clock, generator=OfflineGenerator(), materials_storage=storage)
    yield s
    s.store.close()


@pytest.fixture(autouse=True)
def _no_ready_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("functions.notify.ready.send_ready", lambda *_: None)


@pytest.fixture
def fake() -> Iterator[FakeCalendar]:
    with fake_calendar() as server:
        yield server


@pytest.fixture
def drive() -> Iterator[FakeDrive]:
    with fake_drive() as server:
        server.google_accounts.update({BOB, CAROL})
        yield server


@pytest.fixture
def sidebar(sidebar: Sidebar, fake: FakeCalendar, drive: FakeDrive) -> Sidebar:
    def ports(_call: Call, token: str) -> tuple[AgendaCalendar, AgendaDocs]:
        creds = Credentials(token=token)
        return (
            GoogleAgendaCalendar(creds, api_endpoint=fake.api_endpoint),
            GoogleAgendaDocs(
                creds, api_endpoint=drive.api_endpoint, transport=loopback_http(drive.base_url)
            ),
        )

    return dataclasses.replace(sidebar, share_ports=ports)


@dataclass
class Env:
    client: Client
    signer: DevSigner
    db: Store
    fake: FakeCalendar
    drive: FakeDrive
    alice: User
    services: Bootstrap

    def seed(
        self,
        *,
        organizer: str = ALICE,
        title: str = "Launch review",
        description: str = "",
        **extra: Any,
    ) -> Meeting:
        event = calendar_event("ev1", START, title=title, guests=(BOB, CAROL))
        event["organizer"] = {"email": organizer}
        if description:
            event["description"] = description
        event.update(extra)
        self.fake.put_event(ALICE, event)
        planned = seed_meeting(
            self.db, self.alice, event, now=NOW, classifier=self.services.classifier
        )
        meeting = dataclasses.replace(planned, description=description)
        self.db.upsert_meetings([meeting])
        return meeting

    def prepare(self, event_id: str = "ev1", replaces: str | None = None) -> Meeting:
        payload = {"user_id": "alice", "event_id": event_id}
        if replaces:
            payload["replaces"] = replaces
        outcome = handle_generate(self.services, payload)
        assert outcome["outcome"] == "ready", outcome
        got = self.db.get_meeting("alice", event_id)
        assert got is not None
        return got

    def token(self, granted: Sequence[str] = ALL_SCOPES) -> str:
        token = self.fake.access_token_for(ALICE, scopes=granted)
        self.drive.tokens[token] = (ALICE, frozenset(granted))
        return token

    def click(
        self, *, authorized: Sequence[str] = ALL_SCOPES, token: str | None = None
    ) -> dict[str, Any]:
        return self.client.post(
            event_body(
                self.signer,
                op="share_agenda",
                params={"eventId": "ev1"},
                authorized=authorized,
                oauth_token=token or self.token(authorized),
            )
        )

    def event(self) -> dict[str, Any]:
        return next(e for e in self.fake.events(ALICE) if e["id"] == "ev1")


@pytest.fixture
def env(
    client: Client,
    signer: DevSigner,
    *,
    db: Store,
    fake: FakeCalendar,
    drive: FakeDrive,
    alice: User,
    services: Bootstrap,
) -> Env:
    return Env(client, signer, db, fake, drive, alice, services)


def _note(answer: dict[str, Any]) -> str:
    return str(answer["renderActions"]["action"]["notification"]["text"])


# ---------------------------------------------------------------- the button


def test_the_button_shows_once_prep_is_ready_for_a_meeting_with_guests(env: Env) -> None:
    env.seed()
    card = only_card(env.client.post(event_body(env.signer, opened=opened_event("ev1"))))
    assert views.SHARE_AGENDA not in button_ops(card)  # nothing to share yet
    env.prepare()
    card = only_card(env.client.post(event_body(env.signer, opened=opened_event("ev1"))))
    assert button_ops(card)[views.SHARE_AGENDA] == {"op": "share_agenda", "eventId": "ev1"}


# ---------------------------------------------------------------- scopes at the click


def test_opening_the_event_never_asks_for_the_share_scopes(env: Env) -> None:
    env.seed()
    env.prepare()
    answer = env.client.post(
        event_body(env.signer, opened=opened_event("ev1"), authorized=WITHOUT_SHARE)
    )
    assert "requesting_google_scopes" not in answer
    assert only_card(answer)


def test_the_click_asks_for_exactly_the_missing_write_scopes_and_calls_nothing(env: Env) -> None:
    env.seed()
    env.prepare()
    env.fake.reset_calls()
    answer = env.click(authorized=WITHOUT_SHARE)
    assert answer == {
        "requesting_google_scopes": {"scopes": [scopes.EVENTS_WRITE, scopes.DRIVE_FILE]}
    }
    assert env.fake.calls == [] and env.drive.calls == []
    # Calendar granted earlier: only Drive is asked for.
    answer = env.click(authorized=[*WITHOUT_SHARE, scopes.EVENTS_WRITE])
    assert answer == {"requesting_google_scopes": {"scopes": [scopes.DRIVE_FILE]}}


def test_the_narrow_scopes_are_enough_for_every_call_made(env: Env) -> None:
    env.seed()
    env.prepare()
    narrow = [*scopes.SHARE_AGENDA]
    answer = env.click(authorized=narrow, token=env.token(narrow))
    assert "Agenda shared" in _note(answer)
    assert scopes.DRIVE_FILE in scopes.MANIFEST_SCOPES


# ---------------------------------------------------------------- organizer check


def test_a_guest_who_may_not_modify_the_event_is_refused_and_nothing_is_written(env: Env) -> None:
    env.seed(organizer=BOB)
    env.prepare()
    answer = env.click()
    assert _note(answer) == NOT_ALLOWED
    assert env.drive.files == {}
    assert env.fake.patches == []
    assert "attachments" not in env.event()


def test_a_guest_the_organizer_lets_modify_the_event_may_share(env: Env) -> None:
    env.seed(organizer=BOB, guestsCanModify=True)
    env.prepare()
    assert "Agenda shared" in _note(env.click())
    assert len(env.event()["attachments"]) == 1


def test_the_organizer_check_reads_calendar_not_the_request_body(env: Env) -> None:
    """The stored meeting says alice organizes; Calendar says bob does: Calendar wins."""
    env.seed()
    env.prepare()
    event = env.event()
    event["organizer"] = {"email": BOB}
    env.fake.put_event(ALICE, event)
    assert _note(env.click()) == NOT_ALLOWED
    assert env.drive.files == {}


# ---------------------------------------------------------------- what guests see


def test_the_shared_doc_holds_the_agenda_and_none_of_the_private_sections(env: Env) -> None:
    env.seed(description="Agenda:\n- Budget review\n- Hiring plan\nQuestion: who owns QA?")
    meeting = env.prepare()
    answer = env.click()
    assert "Agenda shared" in _note(answer)
    (doc,) = env.drive.owned_by(ALICE)
    assert doc.mime_type == "application/vnd.google-apps.document"
    record = env.services.materials_storage.read_summary(meeting.materials_ref or "")
    assert record is not None and record.agenda
    for item in record.agenda:
        assert item.title.replace("&", "&amp;") in doc.content
    private = env.services.materials_storage.read((meeting.materials_ref or "") + ".html")
    assert private is not None
    for heading in ("Summary", "Questions to ask", "Talking points", "Risks", "People", "Sources"):
        assert f"<h2>{heading}" in private.decode()
        assert f"<h2>{heading}" not in doc.content
    assert doc.content.count("<h2>") == 1 and "<h2>Agenda</h2>" in doc.content
    assert "<blockquote>" not in doc.content  # the quoted invitation stays private
    assert "Source" not in doc.content  # sources name the organizer's earlier meetings
    # Guests were added as readers (bob and carol), never the sharer.
    assert set(doc.readers) == {BOB, CAROL}
    (attachment,) = env.event()["attachments"]
    assert attachment["fileUrl"] == doc.web_view_link
    assert attachment["fileId"] == doc.file_id
    assert env.event()["extendedProperties"]["private"][SHARED_DOC_KEY] == doc.file_id
    assert answer["renderActions"]["action"]["link"]["url"] == doc.web_view_link


def test_a_guest_without_a_google_account_is_skipped_not_mailed(env: Env) -> None:
    env.drive.google_accounts.discard(CAROL)
    env.seed()
    env.prepare()
    assert "Agenda shared" in _note(env.click())
    (doc,) = env.drive.owned_by(ALICE)
    assert set(doc.readers) == {BOB}
    assert len(env.event()["attachments"]) == 1


def test_a_hostile_title_and_agenda_are_text_in_the_shared_doc(env: Env) -> None:
    title = HOSTILE + "\n\u202eexe.txt " + "x" * 300
    env.seed(title=title, description=f"Agenda:\n- {HOSTILE}\n")
    env.prepare()
    env.click()
    (doc,) = env.drive.owned_by(ALICE)
    assert "<script" not in doc.content and "<img" not in doc.content
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in doc.content
    # The document's name (shown in Drive and on the attachment) is one bounded line.
    assert "\n" not in doc.name and "\u202e" not in doc.name
    assert len(doc.name) <= len("Agenda: ") + 100
    assert env.event()["attachments"][0]["title"] == doc.name
    assert "Content-Security-Policy" in doc.content


# ---------------------------------------------------------------- idempotent


def test_sharing_twice_keeps_one_document_and_one_attachment(env: Env) -> None:
    env.seed()
    env.prepare()
    other = {"fileUrl": "https://docs.google.com/document/d/theirNotes/edit", "title": "Notes"}
    event = env.event()
    event["attachments"] = [other]
    env.fake.put_event(ALICE, event)
    assert "Agenda shared" in _note(env.click())
    patches = len(env.fake.patches)
    assert "updated" in _note(env.click())
    assert len(env.drive.owned_by(ALICE)) == 1
    attachments = env.event()["attachments"]
    assert [a["title"] for a in attachments] == ["Notes", "Agenda: Launch review"]
    assert len(env.fake.patches) == patches  # nothing to change on the event the second time


def test_regenerating_then_sharing_updates_the_same_document(env: Env) -> None:
    meeting = env.seed(description="Agenda:\n- Budget review\n")
    meeting = env.prepare()
    env.click()
    (doc,) = env.drive.owned_by(ALICE)
    first_ref = meeting.materials_ref
    changed = dataclasses.replace(
        meeting, description="Agenda:\n- Pricing decision\n", version="v2"
    )
    env.db.upsert_meetings([changed])
    # "Regenerate" on the card, then the generation task it queued.
    env.client.post(
        event_body(
            env.signer, op="regenerate", params={"eventId": "ev1", "materials": first_ref or ""}
        )
    )
    regenerated = env.prepare(replaces=first_ref)
    assert regenerated.materials_ref != first_ref
    assert "updated" in _note(env.click())
    (same,) = env.drive.owned_by(ALICE)
    assert same.file_id == doc.file_id and same.versions == 2
    assert "Pricing decision" in same.content and "Budget review" not in same.content
    assert len(env.event()["attachments"]) == 1


def test_a_deleted_document_is_replaced_and_its_stale_attachment_dropped(env: Env) -> None:
    env.seed()
    env.prepare()
    env.click()
    (doc,) = env.drive.owned_by(ALICE)
    env.drive.delete(doc.file_id)
    assert "Agenda shared" in _note(env.click())
    (fresh,) = env.drive.owned_by(ALICE)
    assert fresh.file_id != doc.file_id
    assert [a["fileId"] for a in env.event()["attachments"]] == [fresh.file_id]


def test_a_second_click_while_one_is_sharing_creates_nothing(env: Env) -> None:
    env.seed()
    meeting = env.prepare()
    assert env.db.claim("alice", "share-agenda:primary:ev1", lease=None)
    answer = env.click()
    assert "already" in _note(answer)
    assert env.drive.files == {} and env.fake.patches == []
    env.db.release_claim("alice", "share-agenda:primary:ev1")
    assert "Agenda shared" in _note(env.click())
    assert meeting.event_id == "ev1"


def test_an_event_with_25_other_attachments_is_refused_without_dropping_one(env: Env) -> None:
    env.seed()
    env.prepare()
    event = env.event()
    event["attachments"] = [
        {"fileUrl": f"https://docs.google.com/document/d/other{i}/edit", "title": f"F{i}"}
        for i in range(MAX_ATTACHMENTS)
    ]
    env.fake.put_event(ALICE, event)
    assert "25 attachments" in _note(env.click())
    assert env.drive.files == {} and env.fake.patches == []
    assert len(env.event()["attachments"]) == MAX_ATTACHMENTS


# ---------------------------------------------------------------- without Flask


def test_old_materials_without_a_stored_agenda_are_not_shared(env: Env, db: Store) -> None:
    meeting = env.seed()
    ref = materials_ref("alice", "ev1", "old-materials-1")
    env.services.materials_storage.put(
        ref,
        MaterialsObjects(
            html="<!DOCTYPE html><p>prep</p>",
            markdown="# prep\n",
            summary=SummaryRecord(meeting_start=START),
        ),
    )
    ready = dataclasses.replace(meeting, materials_ref=ref)
    calendar, docs = _never_called()
    outcome = share_meeting_agenda(
        calendar, docs, db, env.services.materials_storage, user_id="alice", meeting=ready
    )
    assert not isinstance(outcome, InFlight)
    assert "no agenda" in getattr(outcome, "text", "")
    # And a record with an agenda renders it.
    env.services.materials_storage.put(
        ref,
        MaterialsObjects(
            html="<!DOCTYPE html><p>prep</p>",
            markdown="# prep\n",
            summary=SummaryRecord(
                meeting_start=START, agenda=[SharedAgendaItem(title="Budget", minutes=10)]
            ),
        ),
    )
    from addon.share import agenda_html

    page = agenda_html(env.services.materials_storage, ready, "en-US")
    assert page is not None and "Budget" in page and "10 min" in page


def _never_called() -> tuple[AgendaCalendar, AgendaDocs]:
    class Refuse(AgendaCalendar, AgendaDocs):
        def get_event(self, calendar_id: str, event_id: str) -> dict[str, Any]:
            raise AssertionError("no call expected")

        def attach(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
            raise AssertionError("no call expected")

        def find(self, marker: str) -> Any:
            raise AssertionError("no call expected")

        def create(self, name: str, html: str, marker: str) -> Any:
            raise AssertionError("no call expected")

        def update(self, file_id: str, name: str, html: str) -> Any:
            raise AssertionError("no call expected")

        def grant_readers(self, file_id: str, emails: Sequence[str]) -> None:
            raise AssertionError("no call expected")

    refuse = Refuse()
    return refuse, refuse


# ---------------------------------------------------------------- the fake is as strict as Calendar


def test_the_fake_ignores_attachments_without_supports_attachments_and_caps_them(
    env: Env,
) -> None:
    from functions.calendar.port import CalendarError

    env.seed()
    calendar = GoogleAgendaCalendar(
        Credentials(token=env.token()), api_endpoint=env.fake.api_endpoint
    )
    body = {"attachments": [{"fileUrl": "https://docs.google.com/document/d/x1/edit"}]}
    # The raw call the adapter never makes: attachments without supportsAttachments.
    calendar._execute(lambda s: s.events().patch(calendarId="primary", eventId="ev1", body=body))
    assert "attachments" not in env.event()
    too_many = [
        {"fileUrl": f"https://docs.google.com/document/d/f{i}/edit"}
        for i in range(MAX_ATTACHMENTS + 1)
    ]
    with pytest.raises(CalendarError):
        calendar.attach("primary", "ev1", attachments=too_many, private={})
    assert "attachments" not in env.event()
    calendar.attach("primary", "ev1", attachments=too_many[:MAX_ATTACHMENTS], private={})
    assert len(env.event()["attachments"]) == MAX_ATTACHMENTS
    assert env.event()["attachments"][0]["fileId"] == "f0"


def test_a_document_deleted_mid_share_fails_that_click_and_the_next_replaces_it(
    env: Env, sidebar: Sidebar
) -> None:
    env.seed()
    env.prepare()
    env.click()
    (doc,) = env.drive.owned_by(ALICE)
    ports = sidebar.share_ports
    assert ports is not None

    class DeletedAfterUpdate(AgendaDocs):
        def __init__(self, inner: AgendaDocs) -> None:
            self.inner = inner

        def find(self, marker: str) -> Any:
            return self.inner.find(marker)

        def create(self, name: str, html: str, marker: str) -> Any:
            return self.inner.create(name, html, marker)

        def update(self, file_id: str, name: str, html: str) -> Any:
            got = self.inner.update(file_id, name, html)
            env.drive.delete(file_id)  # the owner deletes it right now
            return got

        def grant_readers(self, file_id: str, emails: Sequence[str]) -> None:
            self.inner.grant_readers(file_id, emails)

    def racing(call: Call, token: str) -> tuple[AgendaCalendar, AgendaDocs]:
        calendar, docs = ports(call, token)
        return calendar, DeletedAfterUpdate(docs)

    racy = Client(dataclasses.replace(sidebar, share_ports=racing))
    answer = racy.post(
        event_body(
            env.signer, op="share_agenda", params={"eventId": "ev1"}, oauth_token=env.token()
        )
    )
    assert "try again" in _note(answer)
    assert env.drive.files == {}
    # The claim was released: the next click shares a new document in its place.
    assert "Agenda shared" in _note(env.click())
    (fresh,) = env.drive.owned_by(ALICE)
    assert fresh.file_id != doc.file_id
    assert [a["fileId"] for a in env.event()["attachments"]] == [fresh.file_id]


def test_a_share_whose_event_patch_failed_reuses_its_document_on_the_next_click(
    env: Env,
) -> None:
    """The document was made, Calendar did not answer the patch: the retry finds it in Drive."""
    env.seed()
    env.prepare()
    env.fake.fail("events.patch", 503)
    assert "try again" in _note(env.click())
    (doc,) = env.drive.owned_by(ALICE)
    assert "attachments" not in env.event()
    assert "Agenda shared" in _note(env.click())
    assert env.drive.owned_by(ALICE) == [doc]
    assert [a["fileId"] for a in env.event()["attachments"]] == [doc.file_id]
    assert "drive.files.list" in env.drive.calls


def test_a_re_share_grants_only_guests_without_access_reading_every_page(env: Env) -> None:
    env.drive.page_cap = 1  # the owner and each reader on a page of their own
    env.seed()
    env.prepare()
    env.click()
    assert env.drive.calls.count("drive.permissions.create") == 2  # bob and carol
    env.drive.calls.clear()
    assert "updated" in _note(env.click())
    assert env.drive.calls.count("drive.permissions.create") == 0
    assert env.drive.calls.count("drive.permissions.list") == 3  # owner, bob, carol
    # A guest added since: only they are granted.
    event = env.event()
    event["attendees"] = [*event["attendees"], {"email": "dana@example.com"}]
    env.fake.put_event(ALICE, event)
    env.drive.google_accounts.add("dana@example.com")
    env.drive.calls.clear()
    env.click()
    assert env.drive.calls.count("drive.permissions.create") == 1
    (doc,) = env.drive.owned_by(ALICE)
    assert set(doc.readers) == {BOB, CAROL, "dana@example.com"}
