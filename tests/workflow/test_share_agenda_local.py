""" "Share agenda with guests" end to end in `make run`'s app (local mode, no Google).

The eventOpen card offers the button once the prep is ready; the click goes
through `/addon` like the card preview's, the local Drive stand-in keeps the
document under the data folder, the local calendar records the attachment,
and the document is served at the link the click opens, as a guest would
read it. A hostile title stays text all the way.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import flask
import functions_framework
import pytest

from addon import views
from functions.share.agenda import NOT_ALLOWED, SHARED_DOC_KEY
from functions.share.local import LocalAgendaCalendar, LocalAgendaDocs, doc_id_of, local_folder
from tests.support.addon_helpers import button_ops, only_card
from tests.support.app_harness import ROOT, App, ready_meeting, running_app


@pytest.fixture(scope="module")
def flask_app() -> flask.Flask:
    app: flask.Flask = functions_framework.create_app(target="local", source=str(ROOT / "main.py"))
    return app


@pytest.fixture
def app(tmp_path: Path, flask_app: flask.Flask) -> Iterator[App]:
    with running_app(tmp_path, flask_app) as target:
        yield target


def _post(app: App, body: dict[str, Any]) -> dict[str, Any]:
    token = body["authorizationEventObject"]["systemIdToken"]
    resp = app.post_json("/addon", body, token)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    answer: dict[str, Any] = resp.get_json()
    return answer


def _share(app: App, event_id: str) -> dict[str, Any]:
    return _post(app, app.event_object(parameters={"op": "share_agenda", "eventId": event_id}))


def test_preview_button_shares_a_clean_agenda_served_locally(app: App) -> None:
    meeting = ready_meeting(app, "a-qbr")
    card = only_card(_post(app, app.event_object(meeting=meeting)))
    assert button_ops(card)[views.SHARE_AGENDA] == {"op": "share_agenda", "eventId": "a-qbr"}

    answer = _share(app, "a-qbr")["renderActions"]["action"]
    assert answer["notification"]["text"].startswith("Agenda shared")
    url = answer["link"]["url"]
    assert url.startswith(app.settings.public_url + "/dev/shared-agenda?doc=")

    parts = urlsplit(url)
    page = app.call("GET", parts.path, query=parts.query)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "<h2>Agenda</h2>" in text and text.count("<h2>") == 1
    assert "<script>alert(1)</script>" not in text
    assert "Acme QBR &lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "script-src" not in page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]

    calendar = LocalAgendaCalendar(
        local_folder(app.settings), app.services.store, meeting.user_id, meeting.organizer_email
    )
    event = calendar.get_event(meeting.calendar_id, "a-qbr")
    (attachment,) = event["attachments"]
    assert attachment["fileUrl"] == url and attachment["fileId"] == doc_id_of(url)
    assert event["extendedProperties"]["private"][SHARED_DOC_KEY] == doc_id_of(url)
    docs = LocalAgendaDocs(local_folder(app.settings), app.settings.public_url)
    meta = docs.meta(doc_id_of(url) or "")
    assert meta is not None and meta["readers"] == ["bob@example.com"]

    # The same click again: the same document, still one attachment.
    again = _share(app, "a-qbr")["renderActions"]["action"]
    assert again["link"]["url"] == url
    assert "updated" in again["notification"]["text"]
    assert len(calendar.get_event(meeting.calendar_id, "a-qbr")["attachments"]) == 1
    assert len(list(local_folder(app.settings).glob("*.html"))) == 1


def test_locally_only_the_organizer_may_share(app: App) -> None:
    meeting = ready_meeting(app, "a-one")
    app.services.store.upsert_meetings([replace(meeting, organizer_email="sam@example.com")])
    answer = _share(app, "a-one")["renderActions"]["action"]
    assert answer["notification"]["text"] == NOT_ALLOWED
    assert not list(local_folder(app.settings).glob("*.html"))


def test_the_local_document_route_refuses_unknown_ids_and_other_hosts(app: App) -> None:
    assert app.call("GET", "/dev/shared-agenda", query="doc=../../etc/passwd").status_code == 404
    assert app.call("GET", "/dev/shared-agenda", query="doc=" + "a" * 24).status_code == 404
    ready_meeting(app, "a-qbr")
    url = _share(app, "a-qbr")["renderActions"]["action"]["link"]["url"]
    query = urlsplit(url).query
    assert app.call("GET", "/dev/shared-agenda", query=query).status_code == 200
    # DNS rebinding: a page under another name that resolves here gets nothing.
    rebound = app.call(
        "GET", "/dev/shared-agenda", query=query, headers={"Host": "evil.example:8080"}
    )
    assert rebound.status_code == 403
    assert app.call("POST", "/dev/shared-agenda", query=query).status_code == 405
