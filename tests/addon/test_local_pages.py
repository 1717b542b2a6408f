"""Issue 17, the local product: the front page at `/`, and where `/preview` opens.

Requests go through the local entry point's own routing (`local_routes`),
as `make run` serves them, on a local root over a fresh store.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import flask
import pytest
from werkzeug.test import TestResponse

from addon.dev_event import LOCAL_USER_ID, NoMeeting, pick_meeting
from functions.bootstrap import Bootstrap, get_services, local_routes, set_services
from functions.config import Mode
from functions.domain.meetings import Attendee, EventStatus, Meeting, ResponseStatus
from functions.domain.prep_state import PrepState
from functions.web import dispatch
from tests.support.factories import EMAIL, NOW, make_meeting, make_user
from tests.support.roots import make_services

HOSTILE = "<script>alert(1)</script> & <b>Roadmap</b>"


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Bootstrap]:
    root = make_services(tmp_path)
    root.store.put_user(make_user(user_id=LOCAL_USER_ID, time_zone="America/New_York"))
    set_services(root)
    yield root
    set_services(None)
    root.store.close()


def _get(path: str, *, host: str = "127.0.0.1:8080", peer: str = "127.0.0.1") -> TestResponse:
    app = flask.Flask(__name__)

    @app.route("/", defaults={"path": ""}, methods=["GET", "POST"])
    @app.route("/<path:path>", methods=["GET", "POST"])
    def any_path(path: str) -> flask.Response:
        return dispatch(local_routes(get_services()), flask.request)

    return app.test_client().get(
        path, base_url=f"http://{host}", environ_overrides={"REMOTE_ADDR": peer}
    )


def _mine(event_id: str, hours: float, **changes: Any) -> Meeting:
    start = NOW + timedelta(hours=hours)
    return make_meeting(
        user_id=LOCAL_USER_ID,
        event_id=event_id,
        start=start,
        end=start + timedelta(minutes=30),
        **changes,
    )


def _declined(event_id: str, hours: float) -> Meeting:
    me = Attendee(EMAIL, "Ana", ResponseStatus.DECLINED, is_self=True)
    other = Attendee("sam@example.com", "Sam", ResponseStatus.ACCEPTED)
    return _mine(event_id, hours, title="Optional vendor demo", attendees=(me, other))


# ---------------------------------------------------------------- `/`


def test_the_front_page_says_what_runs_and_lists_the_next_meetings(services: Bootstrap) -> None:
    services.store.upsert_meetings(
        [
            _mine("evt-hostile", 3, title=HOSTILE, prep_state=PrepState.READY),
            _mine("evt-past", -5, title="Yesterday's standup"),
        ]
    )
    resp = _get("/")
    assert resp.status_code == 200
    assert resp.mimetype == "text/html"
    page = resp.get_data(as_text=True)
    # What is running.
    assert "local" in page and "sqlite" in page and "offline" in page
    assert "sample.ics" in page  # the .ics in force (the sample week, by default)
    # The next meeting: title escaped, time in the user's zone (11:00 UTC is 07:00 in New York).
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;Roadmap&lt;/b&gt;" in page
    assert "<script" not in page and "<b>Roadmap" not in page
    assert "America/New_York" in page and "07:00" in page
    assert "ready" in page and "1:1" in page
    assert "Yesterday" not in page  # only what is ahead
    # Links to the other local pages and the README's commands.
    for href in ("/preview", "/dev/outbox", "/dev/tasks"):
        assert f'href="{href}"' in page
    assert "make run" in page and "make test" in page
    assert "script-src" not in resp.headers["Content-Security-Policy"]
    assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_the_front_page_with_no_meetings_says_how_to_get_some(services: Bootstrap) -> None:
    page = _get("/").get_data(as_text=True)
    assert "No upcoming meetings" in page and "sync-local --ics" in page


def test_the_front_page_answers_this_machine_only(services: Bootstrap) -> None:
    services.store.upsert_meetings([_mine("evt-1", 3, title="Board prep")])
    for host, peer in (("evil.example:8080", "127.0.0.1"), ("127.0.0.1:8080", "192.168.1.20")):
        resp = _get("/", host=host, peer=peer)
        assert resp.status_code == 403
        assert "Board prep" not in resp.get_data(as_text=True)


def test_the_front_page_is_a_404_outside_local_mode(services: Bootstrap) -> None:
    # A root of its own with the production setting, as a redeploy would build: the
    # fixture's root is left as it was built (nothing patches a built root).
    set_services(
        services.replaced(settings=dataclasses.replace(services.settings, mode=Mode.PRODUCTION))
    )
    resp = _get("/")
    assert resp.status_code == 404
    assert resp.get_json()["error"] == "not_found"


# ---------------------------------------------------------------- where /preview opens


def test_the_preview_opens_on_the_next_meeting_that_needs_prep(services: Bootstrap) -> None:
    services.store.upsert_meetings(
        [
            _declined("evt-declined", 1),
            _mine("evt-cancelled", 2, status=EventStatus.CANCELLED),
            _mine("evt-skipped", 3, skip_reason="user_skipped"),
            _mine("evt-prep-cancelled", 4, prep_state=PrepState.CANCELLED),
            _mine("evt-wanted", 5),
        ]
    )
    listed = _get("/preview/meetings").get_json()
    assert listed["meetings"][0]["eventId"] == "evt-declined"  # the picker still lists it
    assert listed["next"] == "evt-wanted"
    assert pick_meeting(services, LOCAL_USER_ID, None).event_id == "evt-wanted"
    # A chosen event is still honoured, declined or not.
    assert pick_meeting(services, LOCAL_USER_ID, "evt-declined").event_id == "evt-declined"


def test_the_preview_opens_on_a_past_meeting_never(services: Bootstrap) -> None:
    services.store.upsert_meetings([_mine("evt-earlier", -2), _mine("evt-later", 2)])
    assert _get("/preview/meetings").get_json()["next"] == "evt-later"


def test_with_only_skipped_meetings_the_preview_opens_on_the_next_one(
    services: Bootstrap,
) -> None:
    services.store.upsert_meetings([_declined("evt-declined", 1)])
    assert _get("/preview/meetings").get_json()["next"] == "evt-declined"
    assert pick_meeting(services, LOCAL_USER_ID, None).event_id == "evt-declined"


def test_with_no_meetings_there_is_nothing_to_open(services: Bootstrap) -> None:
    assert _get("/preview/meetings").get_json()["next"] is None
    with pytest.raises(NoMeeting):
        pick_meeting(services, LOCAL_USER_ID, None)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/preview", "text/html; charset=utf-8"),
        ("/preview/app.js", "text/javascript; charset=utf-8"),
        ("/preview/app.css", "text/css; charset=utf-8"),
    ],
)
def test_the_preview_assets_name_their_charset_once(
    services: Bootstrap, path: str, expected: str
) -> None:
    resp = _get(path)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == expected
