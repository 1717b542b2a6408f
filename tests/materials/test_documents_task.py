"""Documents through the generate task: locally from config/documents, in production from Drive.

The Drive case runs the real google-api-python-client against the fake Drive
server with the user's own token; a failing Drive hands the task back to the
queue (503) instead of making materials without the documents.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from google.oauth2.credentials import Credentials

from functions.bootstrap import Bootstrap, set_services
from functions.calendar.mapping import meeting_from_event
from functions.domain.meetings import Attachment
from functions.domain.prep_state import PrepState
from functions.domain.users import ContextSource, Preferences
from functions.materials.documents.port import DRIVE_READONLY, GOOGLE_DOC
from functions.materials.local_files import LocalMaterialsStorage, LocalSigningKey
from functions.oauth.credentials import StoredGrant
from functions.prep.queueing import queue_generation
from tests.materials.conftest import make_meeting, make_user
from tests.materials.test_generation_task import Stack
from tests.support.fake_drive_reader import fake_drive
from tests.support.fake_vertex import FakeVertex
from tests.support.recording_queue import RecordingQueue

#: A user who turned the documents source on in Settings.
DOCUMENTS_ON = Preferences(context_sources=frozenset({ContextSource.DOCUMENTS}))
CALENDAR_READONLY = "https://www.googleapis.com/auth/calendar.readonly"


def _page(services: Bootstrap, user_id: str, event_id: str) -> str:
    stored = services.store.get_meeting(user_id, event_id)
    assert stored is not None and stored.materials_ref
    storage = services.materials_storage
    assert isinstance(storage, LocalMaterialsStorage)
    return (storage.read(stored.materials_ref + ".html") or b"").decode()


def _deliver(services: Bootstrap, meeting: Any, times: int = 1) -> list[dict[str, Any]]:
    """Queue the generation, then deliver its task `times` times (a retry is a redelivery)."""
    queue = RecordingQueue()
    stored = services.store.get_meeting(meeting.user_id, meeting.event_id)
    assert stored is not None
    queue_generation(services.store, queue, stored)
    stack = Stack(services=services, fake=FakeVertex(), key=LocalSigningKey.generate())
    answers = []
    for _ in range(times):
        resp = stack.deliver(queue.last().payload)
        body: dict[str, Any] = resp.get_json() or {}
        body["http_status"] = resp.status_code
        answers.append(body)
    return answers


def test_local_materials_show_the_sample_documents(services: Bootstrap) -> None:
    user = make_user(preferences=DOCUMENTS_ON)
    services.store.put_user(user)
    link = "https://docs.google.com/document/d/sample-acme-renewal/edit"
    meeting = make_meeting(
        user,
        prep_state=PrepState.NOTIFIED,
        meeting_type="qbr",
        attachments=(Attachment("Acme renewal proposal", link),),
    )
    services.store.upsert_meetings([meeting])
    assert _deliver(services, meeting)[0]["outcome"] == "ready"
    page = _page(services, user.user_id, meeting.event_id)
    assert f"Attachment: Acme renewal proposal {link}; cited once" in page
    assert "Standing context: FY27 budget" in page  # config/standing_context.yaml, qbr
    assert "two-year term at 8% uplift" in page


def test_documents_stay_unread_until_the_switch_is_on_and_the_materials_say_so(
    services: Bootstrap,
) -> None:
    """Locally too the "Attached documents" switch decides: off, nothing is read."""
    user = make_user()
    services.store.put_user(user)
    link = "https://docs.google.com/document/d/sample-acme-renewal/edit"
    meeting = make_meeting(
        user,
        prep_state=PrepState.NOTIFIED,
        meeting_type="qbr",
        attachments=(Attachment("Acme renewal proposal", link),),
    )
    services.store.upsert_meetings([meeting])
    assert _deliver(services, meeting)[0]["outcome"] == "ready"
    page = _page(services, user.user_id, meeting.event_id)
    assert "two-year term at 8% uplift" not in page
    assert "Standing context" not in page
    assert "attached documents: not turned on" in page


class _UserTokens:
    """Each user's stored grant, as a bearer token the fake Drive knows."""

    delegation = None

    def __init__(self, scopes: tuple[str, ...] = (DRIVE_READONLY,)) -> None:
        self.scopes = scopes

    def load(self, user_id: str) -> StoredGrant:
        return StoredGrant(refresh_token=f"rt-{user_id}", scopes=self.scopes)

    def credentials_for(self, user_id: str) -> Credentials:
        return Credentials(token=f"tok-{user_id}")


def test_documents_on_without_the_drive_scope_call_no_drive_and_say_so(
    services: Bootstrap,
) -> None:
    """Switched on, consent page closed: Drive is not asked with a token lacking the scope."""
    with fake_drive() as drive:
        drive.grant("tok-user-1", "me@example.com", CALENDAR_READONLY)
        drive.add("plan", "Acme plan", GOOGLE_DOC, "Renewal at 8%.", readers={"me@example.com"})
        settings = dataclasses.replace(
            services.settings,
            materials=dataclasses.replace(
                services.settings.materials, documents="drive", drive_api_endpoint=drive.url
            ),
        )
        root = services.replaced(
            settings=settings,
            credentials=_UserTokens(scopes=(CALENDAR_READONLY,)),  # type: ignore[arg-type]
        )
        set_services(root)
        user = make_user(preferences=DOCUMENTS_ON)
        root.store.put_user(user)
        link = "https://docs.google.com/document/d/plan/edit"
        meeting = make_meeting(
            user, prep_state=PrepState.NOTIFIED, attachments=(Attachment("Acme plan", link),)
        )
        root.store.upsert_meetings([meeting])
        assert _deliver(root, meeting)[0]["outcome"] == "ready"
        page = _page(root, user.user_id, meeting.event_id)
        assert drive.requests == []
        assert "attached documents: turned on, but access is not allowed yet" in page
        assert "you do not have access to it" not in page
        set_services(services)


def test_drive_documents_end_to_end_and_a_failing_drive_retries(services: Bootstrap) -> None:
    with fake_drive() as drive:
        drive.grant("tok-user-1", "me@example.com")
        drive.add(
            "plan",
            "Acme plan",
            GOOGLE_DOC,
            "Renewal at 8% uplift for two years.",
            readers={"me@example.com"},
        )
        settings = dataclasses.replace(
            services.settings,
            materials=dataclasses.replace(
                services.settings.materials, documents="drive", drive_api_endpoint=drive.url
            ),
        )
        root = services.replaced(settings=settings, credentials=_UserTokens())  # type: ignore[arg-type]
        set_services(root)
        user = make_user(preferences=DOCUMENTS_ON)
        root.store.put_user(user)
        # The event as the Calendar API sends it: attachments with fileId.
        event = {
            "id": "evt-d",
            "status": "confirmed",
            "summary": "Acme QBR",
            "start": {"dateTime": "2026-12-01T10:00:00Z"},
            "end": {"dateTime": "2026-12-01T11:00:00Z"},
            "attachments": [
                {
                    "fileUrl": "https://docs.google.com/document/d/plan/edit",
                    "title": "Acme plan",
                    "mimeType": GOOGLE_DOC,
                    "fileId": "plan",
                },
                {
                    "fileUrl": "https://drive.google.com/file/d/gone/view",
                    "title": "Old deck",
                    "fileId": "gone",
                },
            ],
        }
        mapped = meeting_from_event(event, user_id=user.user_id, calendar_id="primary")
        assert [a.file_id for a in mapped.attachments] == ["plan", "gone"]
        meeting = dataclasses.replace(mapped, prep_state=PrepState.NOTIFIED, version="v1")
        root.store.upsert_meetings([meeting])

        drive.fail(503)
        first, second = _deliver(root, meeting, times=2)
        assert first["http_status"] == 503  # Drive down: the queue retries
        assert second["outcome"] == "ready"
        page = _page(root, user.user_id, meeting.event_id)
        assert (
            "Attachment: Acme plan https://docs.google.com/document/d/plan/edit; cited once" in page
        )
        assert "Old deck https://drive.google.com/file/d/gone/view; could not be read" in page


def test_the_sample_calendar_attaches_documents_the_local_reader_has() -> None:
    """`ATTACH` lines become the API's attachments[], and each names a local document."""
    from datetime import UTC, datetime

    from functions.calendar.ics import IcsCalendarSource, list_all
    from functions.config import REPO_ROOT
    from functions.domain.clock import FixedClock
    from functions.materials.documents.local import LocalDocumentReader
    from functions.materials.documents.port import ref_for
    from functions.materials.settings import DEFAULT_DOCUMENTS_DIR

    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    source = IcsCalendarSource(
        REPO_ROOT / "config" / "sample.ics", self_email="you@example.com", clock=FixedClock(now)
    )
    events = {e["summary"]: e for e in list_all(source, "primary")}
    (qbr,) = events["Acme Corp QBR"]["attachments"]
    assert qbr == {
        "fileUrl": "https://docs.google.com/document/d/sample-acme-renewal/edit",
        "title": "Acme renewal proposal",
        "mimeType": GOOGLE_DOC,
    }
    reader = LocalDocumentReader(DEFAULT_DOCUMENTS_DIR)
    attached = [a for e in events.values() for a in e.get("attachments", [])]
    assert len(attached) >= 3
    for a in attached:
        ref = ref_for("", a["fileUrl"], a["title"])
        assert ref is not None and reader.read(ref, max_chars=200).text


def test_a_lost_grant_lists_the_files_and_a_failing_token_endpoint_retries(
    services: Bootstrap,
) -> None:
    """The root's document credentials speak the port's language (`document_credentials`)."""
    from functions.oauth.credentials import CredentialsUnavailable, ReconnectNeeded

    class _Failing:
        delegation = None

        def __init__(self, error: Exception) -> None:
            self.error = error

        def load(self, user_id: str) -> StoredGrant:
            return StoredGrant(refresh_token="rt", scopes=(DRIVE_READONLY,))

        def credentials_for(self, user_id: str) -> Credentials:
            raise self.error

    with fake_drive() as drive:
        settings = dataclasses.replace(
            services.settings,
            materials=dataclasses.replace(
                services.settings.materials, documents="drive", drive_api_endpoint=drive.url
            ),
        )
        user = make_user(preferences=DOCUMENTS_ON)
        services.store.put_user(user)
        link = "https://docs.google.com/document/d/plan/edit"
        meeting = make_meeting(
            user, prep_state=PrepState.NOTIFIED, attachments=(Attachment("Acme plan", link),)
        )
        services.store.upsert_meetings([meeting])

        unavailable = services.replaced(
            settings=settings,
            credentials=_Failing(CredentialsUnavailable("token endpoint 503")),  # type: ignore[arg-type]
        )
        set_services(unavailable)
        (answer,) = _deliver(unavailable, meeting)
        assert answer["http_status"] == 503

        gone = services.replaced(
            settings=settings,
            credentials=_Failing(ReconnectNeeded(user.user_id, "revoked")),  # type: ignore[arg-type]
        )
        set_services(gone)
        stack = Stack(services=gone, fake=FakeVertex(), key=LocalSigningKey.generate())
        from functions.prep.queueing import generation_task

        stored = gone.store.get_meeting(user.user_id, meeting.event_id)
        assert stored is not None
        resp = stack.deliver(generation_task(stored).payload)
        assert (resp.get_json() or {})["outcome"] == "ready"
        page = _page(gone, user.user_id, meeting.event_id)
        assert f"Acme plan {link}; could not be read: you do not have access to it" in page
        assert drive.requests == []  # nothing was sent without a grant
        set_services(services)


def test_a_drive_that_keeps_failing_ends_in_failed_not_preparing_for_good(
    services: Bootstrap,
) -> None:
    with fake_drive() as drive:
        drive.grant("tok-user-1", "me@example.com")
        drive.add("plan", "Acme plan", GOOGLE_DOC, "Renewal terms.", readers={"me@example.com"})
        settings = dataclasses.replace(
            services.settings,
            materials=dataclasses.replace(
                services.settings.materials,
                documents="drive",
                drive_api_endpoint=drive.url,
                max_transient_failures=2,
            ),
        )
        root = services.replaced(settings=settings, credentials=_UserTokens())  # type: ignore[arg-type]
        set_services(root)
        user = make_user(preferences=DOCUMENTS_ON)
        root.store.put_user(user)
        link = "https://docs.google.com/document/d/plan/edit"
        meeting = make_meeting(
            user, prep_state=PrepState.NOTIFIED, attachments=(Attachment("Acme plan", link),)
        )
        root.store.upsert_meetings([meeting])
        drive.fail(503, times=5)
        answers = _deliver(root, meeting, times=3)
        assert [a["http_status"] for a in answers[:2]] == [503, 503]
        assert answers[2]["outcome"] == "failed"
        stored = root.store.get_meeting(user.user_id, meeting.event_id)
        assert stored is not None and stored.prep_state is PrepState.FAILED
        set_services(services)
