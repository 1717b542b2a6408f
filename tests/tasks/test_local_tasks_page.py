"""Issue 17: `/dev/tasks` is a page a person can read, and JSON stays for scripts.

Served through the local entry point's routing, on a local root whose task
queue delivers to a stub that fails the generation and succeeds the rest.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import flask
import pytest
from werkzeug.test import TestResponse

from addon.dev_event import LOCAL_USER_ID
from functions.bootstrap import Bootstrap, get_services, local_routes, set_services
from functions.domain.clock import FixedClock
from functions.prep.queueing import GENERATE_PATH, generation_task, prep_task
from functions.tasks.local_queue import Delivery, LocalTaskQueue, RetryPolicy
from functions.web import dispatch
from tests.support.factories import NOW, make_meeting, make_user
from tests.support.roots import make_services

HOSTILE = "<script>alert(1)</script> & <b>Board</b>"


def _deliver(delivery: Delivery) -> int:
    return 503 if delivery.path == GENERATE_PATH else 200


@pytest.fixture
def root(tmp_path: Path) -> Iterator[Bootstrap]:
    clock = FixedClock(NOW)
    queue = LocalTaskQueue(
        _deliver, clock=clock, retry=RetryPolicy(max_attempts=2, min_backoff=timedelta(minutes=1))
    )
    services = make_services(tmp_path, clock=clock, tasks=queue)
    services.store.put_user(make_user(user_id=LOCAL_USER_ID, time_zone="America/New_York"))
    set_services(services)
    yield services
    set_services(None)
    services.store.close()


def _get(path: str, **headers: str) -> TestResponse:
    app = flask.Flask(__name__)

    @app.route("/<path:path>", methods=["GET", "POST"])
    def any_path(path: str) -> flask.Response:
        return dispatch(local_routes(get_services()), flask.request)

    return app.test_client().get(
        path,
        base_url="http://127.0.0.1:8080",
        environ_overrides={"REMOTE_ADDR": "127.0.0.1"},
        headers=headers,
    )


def _fill(root: Bootstrap) -> None:
    queue = root.tasks
    assert isinstance(queue, LocalTaskQueue)
    later = make_meeting(
        user_id=LOCAL_USER_ID,
        event_id="evt-later",
        title=HOSTILE,
        prep_trigger_at=NOW + timedelta(hours=3),  # 11:00 UTC: 07:00 in New York (EDT)
    )
    failing = make_meeting(user_id=LOCAL_USER_ID, event_id="evt-fail", title="Pricing review")
    root.store.upsert_meetings([later, failing])
    queue.enqueue(prep_task(later))
    queue.enqueue(generation_task(failing))
    queue.run_due()  # the generation fails once and waits for its retry


def test_the_tasks_page_says_what_each_task_is_in_the_users_zone(root: Bootstrap) -> None:
    _fill(root)
    resp = _get("/dev/tasks", Accept="text/html,application/xhtml+xml,*/*;q=0.8")
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    page = resp.get_data(as_text=True)
    # The meeting's title, escaped; never markup from a calendar.
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;Board&lt;/b&gt;" in page
    assert "<script" not in page and "<b>Board" not in page
    # Kind, due time in the user's own zone, state, attempts and the last error.
    assert "Prep reminder" in page and "Generate prep" in page
    row = next(r for r in page.split("<tr") if "Board" in r)
    assert "Mon 16 Mar 07:00 EDT" in row
    assert "scheduled" in page and "retrying" in page
    assert "HTTP 503" in page
    assert "Pricing review" in page
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_a_task_that_gave_up_shows_its_attempts_and_error(root: Bootstrap) -> None:
    _fill(root)
    queue = root.tasks
    assert isinstance(queue, LocalTaskQueue)
    queue.drain()
    page = _get("/dev/tasks").get_data(as_text=True)
    row = next(r for r in page.split("<tr") if "Pricing review" in r)
    assert "gave up" in row and "<td>2</td>" in row and "HTTP 503" in row
    done = next(r for r in page.split("<tr") if "Board" in r)
    assert "succeeded" in done and "HTTP" not in done


@pytest.mark.parametrize(
    ("path", "headers"),
    [("/dev/tasks?format=json", {}), ("/dev/tasks", {"Accept": "application/json"})],
)
def test_scripts_still_get_the_json(root: Bootstrap, path: str, headers: dict[str, str]) -> None:
    _fill(root)
    resp = _get(path, **headers)
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    body = resp.get_json()
    assert set(body) == {"pending", "attempts", "finished"}
    assert {p["path"] for p in body["pending"]} == {"/tasks/prep", GENERATE_PATH}
    assert body["attempts"][0]["status"] == 503


def test_an_empty_queue_says_so(root: Bootstrap) -> None:
    page = _get("/dev/tasks").get_data(as_text=True)
    assert "No tasks yet" in page


def test_follow_up_and_correction_tasks_are_named_by_kind(root: Bootstrap) -> None:
    from functions.followup.scheduling import followup_task
    from functions.notify.corrections import correction_task

    queue = root.tasks
    assert isinstance(queue, LocalTaskQueue)
    meeting = make_meeting(user_id=LOCAL_USER_ID, event_id="evt-done", title="1:1 with Sam")
    root.store.upsert_meetings([meeting])
    queue.enqueue(followup_task(meeting))
    queue.enqueue(correction_task(meeting))
    page = _get("/dev/tasks", Accept="text/html").get_data(as_text=True)
    assert "Follow-up question" in page and "Message correction" in page
    assert "/tasks/followup" not in page and "/tasks/correct" not in page
