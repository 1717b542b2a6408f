"""Local mode: `main.py dev-event` and the card preview routes, on the local dev key."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import flask
import pytest

from addon.dev_event import LOCAL_USER_ID, NoMeeting, dev_event
from addon.sidebar import Sidebar
from functions.bootstrap import Bootstrap, get_services, local_routes, set_services
from functions.cli import main
from functions.config import Mode, Settings, load_settings
from functions.domain.users import User
from functions.web import dispatch
from tests.support.addon_helpers import (
    Client,
    assert_valid_answer,
    calendar_event,
    only_card,
    seed_meeting,
    texts,
)
from tests.support.recording_queue import RecordingQueue

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "PREP_MODE": "local",
        "PREP_SQLITE_PATH": str(tmp_path / "prep.db"),
        "PREP_DEV_KEY_PATH": str(tmp_path / "dev-key.pem"),
        "PREP_PUBLIC_URL": "http://127.0.0.1:8080",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


@pytest.fixture
def local(env: dict[str, str]) -> Iterator[Bootstrap]:
    services = Bootstrap(load_settings())
    set_services(services)
    yield services
    set_services(None)
    services.store.close()


@pytest.fixture
def me(local: Bootstrap) -> User:
    user = User(user_id=LOCAL_USER_ID, email="you@example.com", time_zone="Europe/Berlin")
    local.store.put_user(user)
    return user


def _seed(
    local: Bootstrap, me: User, event_id: str, days: float, title: str = "Weekly 1:1 with Sam"
) -> None:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=days)
    seed_meeting(
        local.store,
        me,
        calendar_event(event_id, start, title=title, user_email=me.email),
        now=datetime.now(UTC),
        classifier=local.classifier,
    )


# ---------------------------------------------------------------- dev-event


def test_dev_event_prints_an_event_object_the_endpoint_accepts(
    local: Bootstrap, me: User, capsys: pytest.CaptureFixture[str]
) -> None:
    _seed(local, me, "later", 3, "Later one")
    _seed(local, me, "next", 1)
    assert main(["dev-event"]) == 0
    out = capsys.readouterr()
    body = json.loads(out.out)
    assert body["calendar"]["id"] == "next"  # the next meeting by default
    assert "curl" in out.err
    # POSTed as printed (token in the body), it opens that meeting's card.
    client = Client(Sidebar(services=local, task_queue=RecordingQueue()))
    card = only_card(client.post(body, authorization=None))
    assert "Weekly 1:1 with Sam" in texts(card)

    assert main(["dev-event", "--event-id", "later"]) == 0
    assert json.loads(capsys.readouterr().out)["calendar"]["id"] == "later"


def test_dev_event_from_another_process_is_accepted(local: Bootstrap, me: User) -> None:
    """What the README shows: `main.py dev-event` in a shell, POSTed to the running server."""
    _seed(local, me, "next", 1)
    assert local.dev_signer.certs()  # this process (the "server") loads its key first
    time.sleep(1.1)  # certificates carry whole seconds: the other process's is a later one
    printed = subprocess.run(
        [sys.executable, "main.py", "dev-event"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    client = Client(Sidebar(services=local, task_queue=RecordingQueue()))
    card = only_card(client.post(json.loads(printed.stdout), authorization=None))
    assert "Weekly 1:1 with Sam" in texts(card)


def test_dev_event_explains_an_empty_store(
    local: Bootstrap, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dev-event"]) == 1
    err = capsys.readouterr().err
    assert "no upcoming meetings" in err and err.count("\n") == 1
    assert main(["dev-event", "--event-id", "nope"]) == 1
    assert "no meeting 'nope'" in capsys.readouterr().err


def test_dev_event_is_local_only(
    env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    production = Bootstrap(Settings(mode=Mode.PRODUCTION, sqlite_path=tmp_path / "p.db"))
    with pytest.raises(NoMeeting, match="local mode only"):
        dev_event(production)
    production.store.close()


def test_dev_event_tokens_are_refused_in_production(
    local: Bootstrap, me: User, tmp_path: Path
) -> None:
    """The local key is not Google's: a production deployment refuses what it signs."""
    from tests.support.google_certs import cert_server

    _seed(local, me, "next", 1)
    body = dev_event(local)
    with cert_server() as certs:
        prod = Bootstrap(
            Settings(
                mode=Mode.PRODUCTION,
                sqlite_path=tmp_path / "p.db",
                google_certs_url=certs.url,
                addon_audience=local.settings.addon_audience,
                addon_sa_email=local.settings.addon_sa_email,
                oauth_client_id=local.settings.oauth_client_id,
            )
        )
        client = Client(Sidebar(services=prod, task_queue=RecordingQueue()))
        assert client.post(body, authorization=None, expect=401)["error"] == "unauthenticated"
        prod.store.close()


# ---------------------------------------------------------------- preview routes


class Browser:
    """The preview's HTTP conversation, through the local entry point's routing."""

    def __init__(self, host: str = "127.0.0.1:8080") -> None:
        app = flask.Flask(__name__)

        @app.route("/", defaults={"path": ""}, methods=["GET", "POST"])
        @app.route("/<path:path>", methods=["GET", "POST"])
        def any_path(path: str) -> flask.Response:
            return dispatch(local_routes(get_services()), flask.request)

        self.http = app.test_client()
        self.base = f"http://{host}"

    def get(self, path: str) -> Any:
        return self.http.get(path, base_url=self.base)

    def post(self, path: str, body: Any, headers: dict[str, str] | None = None) -> Any:
        return self.http.post(path, json=body, headers=headers or {}, base_url=self.base)


def test_the_preview_page_and_its_assets_are_served_with_a_strict_policy(local: Bootstrap) -> None:
    browser = Browser()
    page = browser.get("/preview")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    html = page.get_data(as_text=True)
    assert '<script src="/preview/app.js"' in html and "<script>" not in html
    assert browser.get("/preview/app.js").mimetype == "text/javascript"
    assert browser.get("/preview/app.css").mimetype == "text/css"


def test_the_preview_runs_the_real_endpoint(local: Bootstrap) -> None:
    browser = Browser()
    assert browser.get("/preview/meetings").get_json() == {
        "user": LOCAL_USER_ID,
        "next": None,
        "meetings": [],
    }
    added = browser.post(
        "/preview/samples", {"timeZone": "Europe/Berlin", "locale": "de-DE"}
    ).get_json()
    listed = browser.get("/preview/meetings").get_json()["meetings"]
    assert len(listed) == added["added"] and added["next"] == listed[0]["eventId"]
    assert any("<script>" in m["title"] for m in listed)  # raw data; the page renders it as text

    signed = browser.post(
        "/preview/event-object", {"trigger": "eventOpen", "eventId": added["next"]}
    ).get_json()
    assert signed["url"] == "/addon"
    answer = browser.post("/addon", signed["event"], {"Authorization": signed["authorization"]})
    assert answer.status_code == 200
    [card] = assert_valid_answer(answer.get_json())
    assert "Generate prep" in json.dumps(card)

    click = browser.post(
        "/preview/event-object",
        {"trigger": "action", "parameters": {"op": "generate", "eventId": added["next"]}},
    ).get_json()
    answer = browser.post("/addon", click["event"], {"Authorization": click["authorization"]})
    # Local mode has no task queue wired in this test: the card explains, nothing crashes.
    assert answer.status_code == 200
    assert_valid_answer(answer.get_json())


def test_samples_are_idempotent_and_escape_hostile_titles(local: Bootstrap) -> None:
    browser = Browser()
    first = browser.post("/preview/samples", {}).get_json()
    second = browser.post("/preview/samples", {}).get_json()
    assert first == second
    signed = browser.post(
        "/preview/event-object", {"trigger": "eventOpen", "eventId": "sample-hostile"}
    ).get_json()
    answer = browser.post(
        "/addon", signed["event"], {"Authorization": signed["authorization"]}
    ).get_json()
    shown = texts(only_card(answer))
    assert (
        "&lt;script&gt;alert('hi')&lt;/script&gt; &lt;b&gt;Roadmap&lt;/b&gt; &amp; planning"
        in shown
    )


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"trigger": "eventOpen"}, 400),
        ({"trigger": "eventOpen", "eventId": "missing"}, 404),
        ({"trigger": "bogus"}, 400),
        ({"trigger": "action", "parameters": ["op"]}, 400),
        ("not an object", 400),
    ],
)
def test_the_minting_route_checks_its_input(local: Bootstrap, body: Any, status: int) -> None:
    assert Browser().post("/preview/event-object", body).status_code == status


def test_the_minting_route_wants_a_json_post(local: Bootstrap) -> None:
    browser = Browser()
    assert browser.get("/preview/event-object").status_code == 405
    form = browser.http.post(
        "/preview/event-object", data={"trigger": "homepage"}, base_url=browser.base
    )
    assert form.status_code == 405  # a cross-site form cannot mint tokens


def test_the_preview_answers_on_loopback_only(local: Bootstrap) -> None:
    rebound = Browser(host="attacker.example:8080")
    for path in ("/preview", "/preview/meetings"):
        assert rebound.get(path).status_code == 403
    assert rebound.post("/preview/event-object", {"trigger": "homepage"}).status_code == 403
    assert Browser(host="localhost:8080").get("/preview").status_code == 200


def test_the_preview_does_not_exist_in_production(tmp_path: Path) -> None:
    production = Bootstrap(Settings(mode=Mode.PRODUCTION, sqlite_path=tmp_path / "p.db"))
    set_services(production)
    try:
        browser = Browser()
        assert browser.get("/preview").status_code == 404
        assert browser.post("/preview/event-object", {"trigger": "homepage"}).status_code == 404
        assert browser.post("/preview/samples", {}).status_code == 404
    finally:
        set_services(None)
        production.store.close()


def test_the_preview_and_dev_event_act_as_the_user_the_ics_import_fills() -> None:
    from functions.sync.local import LOCAL_USER_ID as IMPORTED_FOR

    assert LOCAL_USER_ID == IMPORTED_FOR
