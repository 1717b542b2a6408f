"""The whole local app behind Flask's test client, with signed callers and a store fingerprint.

Shared by the fuzz and security suites. `App` serves the `local` entry point
exactly as `make run` does (`functions_framework.create_app(target="local")`),
on local services over a fresh SQLite store with two users (local-user, who
has a stored channel, a ready meeting with materials and some upcoming
meetings; and bob, with a meeting of his own). It mints what each kind of
caller presents (an add-on event object, a Cloud Tasks OIDC token, a Chat
token, a push channel's headers), so a test can get past authentication and
reach the body parsing, or deliberately not.

`fingerprint()` hashes every row of every table of the app's databases, the
pending local tasks and the materials files: equal before and after a
refused request means the refusal wrote nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import flask
from flask.testing import FlaskClient
from google.apps import card_v1
from werkzeug.test import TestResponse

from addon.cards import Host, card_problems
from addon.dev_event import event_object
from functions.auth.dev_keys import dev_signer
from functions.bootstrap import Bootstrap, set_services
from functions.chat.auth import CHAT_ISSUER
from functions.config import load_settings
from functions.domain.clock import FixedClock
from functions.domain.meetings import Meeting
from functions.domain.prep_state import PrepState
from functions.domain.sync_state import SyncState
from functions.domain.users import ConnectionState, User
from functions.sync.channels import channel_secret, channel_token
from functions.tasks.local_queue import LocalTaskQueue
from tests.support.addon_helpers import assert_valid_answer, calendar_event, seed_meeting
from tests.support.factories import NOW
from tests.support.fake_oauth import FakeGoogleOAuth, fake_google_oauth
from tests.support.roots import make_services, shared_dev_key

ROOT = Path(__file__).resolve().parents[2]
ALICE = "local-user"
ALICE_EMAIL = "you@example.com"
BOB = "bob-108"
BOB_EMAIL = "bob@example.com"
CHANNEL_ID = "chan-0001"
RESOURCE_ID = "res-0001"

_TRACE = re.compile(r"Traceback \(most recent call last\)|File \"/|line \d+, in ")


class App:
    """Not a dataclass: hypothesis prints dataclasses field by field with every failure."""

    def __init__(
        self,
        services: Bootstrap,
        client: FlaskClient,
        tmp: Path,
        meetings: dict[str, Meeting],
        oauth: FakeGoogleOAuth,
    ) -> None:
        self.services = services
        self.client = client
        self.tmp = tmp
        self.meetings = meetings
        #: Google's OAuth server (consent screen, token and revoke endpoints), faked.
        self.oauth = oauth

    def __repr__(self) -> str:
        return f"App({self.tmp.name})"

    # ---------------------------------------------------------------- callers
    @property
    def settings(self) -> Any:
        return self.services.settings

    def event_object(
        self, user_id: str = ALICE, email: str = ALICE_EMAIL, **kwargs: Any
    ) -> dict[str, Any]:
        """A signed add-on event object (both ID tokens valid) for `user_id`."""
        return event_object(self.services, user_id=user_id, email=email, **kwargs)

    def task_token(self, **overrides: Any) -> str:
        claims: dict[str, Any] = {
            "audience": self.settings.tasks_audience,
            "subject": "cloud-tasks",
            "email": self.settings.tasks_sa_email,
        }
        claims.update(overrides)
        return str(self.services.dev_signer.id_token(**claims))

    def chat_token(self, **overrides: Any) -> str:
        claims: dict[str, Any] = {
            "audience": self.settings.notify.chat_audience,
            "subject": "chat",
            "email": CHAT_ISSUER,
        }
        claims.update(overrides)
        return str(self.services.dev_signer.id_token(**claims))

    def channel_headers(
        self, user_id: str = ALICE, *, state: str = "exists", channel_id: str = CHANNEL_ID
    ) -> dict[str, str]:
        token = channel_token(channel_secret(self.settings), channel_id, user_id, "primary")
        return {
            "X-Goog-Channel-ID": channel_id,
            "X-Goog-Channel-Token": token,
            "X-Goog-Resource-State": state,
            "X-Goog-Resource-ID": RESOURCE_ID,
            "X-Goog-Message-Number": "2",
        }

    # ---------------------------------------------------------------- requests
    def call(
        self,
        method: str,
        path: str,
        *,
        data: bytes | str | Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | str | None = None,
    ) -> TestResponse:
        return self.client.open(
            path,
            method=method,
            data=data,
            headers=dict(headers or {}),
            query_string=query,
            base_url="http://127.0.0.1:8080",
        )

    def post_json(
        self, path: str, body: Any, bearer: str | None = None, **headers: str
    ) -> TestResponse:
        all_headers = {"Content-Type": "application/json", **headers}
        if bearer is not None:
            all_headers["Authorization"] = f"Bearer {bearer}"
        return self.call("POST", path, data=json.dumps(body), headers=all_headers)

    # ---------------------------------------------------------------- state
    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for db in sorted(self.tmp.glob("*.db")):
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
                tables = [
                    row[0]
                    for row in conn.execute(
                        "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name"
                    )
                ]
                for table in tables:
                    digest.update(table.encode())
                    for row in conn.execute(f'SELECT * FROM "{table}" ORDER BY 1'):  # noqa: S608
                        digest.update(repr(row).encode())
            conn.close()
        queue = self.services.tasks
        if isinstance(queue, LocalTaskQueue):
            for task in queue.pending():
                digest.update(task.name.encode())
        materials = self.tmp / "materials"
        if materials.exists():
            for path in sorted(materials.rglob("*")):
                digest.update(str(path.relative_to(materials)).encode())
        return digest.hexdigest()


@contextmanager
def running_app(tmp: Path, flask_app: flask.Flask) -> Iterator[App]:
    """`make_app`, installed as the process's services, with Google's OAuth endpoints on a
    loopback fake (local mode would otherwise call its own stand-in at 127.0.0.1:8080,
    where anything, or nothing, may be listening)."""
    settings = load_settings({})
    with fake_google_oauth(
        client_id=settings.oauth_web_client_id,
        client_secret=settings.oauth_web_client_secret,
        redirect_uri=settings.oauth_redirect_uri,
        signer=dev_signer(shared_dev_key()),
    ) as oauth:
        app = make_app(tmp, flask_app, oauth)
        set_services(app.services)
        try:
            yield app
        finally:
            set_services(None)
            app.services.store.close()


def make_app(tmp: Path, flask_app: flask.Flask, oauth: FakeGoogleOAuth) -> App:
    """Local services over a fresh store in `tmp`, seeded, and a client of `flask_app`."""
    env = {
        "PREP_MATERIALS_DIR": str(tmp / "materials"),
        "PREP_MATERIALS_SIGNING_KEY": str(tmp / "materials-key.json"),
        "PREP_LOCAL_USER_EMAIL": ALICE_EMAIL,
        "PREP_OAUTH_AUTH_URI": oauth.auth_uri,
        "PREP_OAUTH_TOKEN_URI": oauth.token_uri,
        "PREP_OAUTH_REVOKE_URI": oauth.revoke_uri,
    }
    services = make_services(tmp, clock=FixedClock(NOW), env=env)
    store = services.store
    alice = User(
        ALICE,
        ALICE_EMAIL,
        time_zone="Europe/Berlin",
        connection=ConnectionState.CONNECTED,
    )
    bob = User(BOB, BOB_EMAIL, time_zone="UTC", connection=ConnectionState.CONNECTED)
    store.put_user(alice)
    store.put_user(bob)
    meetings: dict[str, Meeting] = {}
    seeds = [
        (alice, "a-one", "Weekly 1:1 with Sam", None, 6),
        (alice, "a-qbr", "Acme QBR <script>alert(1)</script>", None, 30),
        (alice, "a-series_20260320T090000Z", "Leadership sync", "a-series", 96),
        (bob, "b-one", "Bob's private board meeting", None, 8),
    ]
    for user, event_id, title, series, hours in seeds:
        event = calendar_event(
            event_id,
            NOW + timedelta(hours=hours),
            title=title,
            user_email=user.email,
            series_id=series,
        )
        meetings[event_id] = seed_meeting(
            store, user, event, now=NOW, classifier=services.classifier
        )
    # A stored push channel for local-user, so a signed ping reaches the queueing code.
    store.put_sync_state(
        dataclasses.replace(
            SyncState(ALICE, "primary"),
            channel_id=CHANNEL_ID,
            channel_resource_id=RESOURCE_ID,
            channel_expires_at=NOW + timedelta(days=6),
        )
    )
    # Resources created lazily on first use exist from the start, so that creating
    # them never shows up as a change made by whatever request came first.
    from functions.notify.outbox_page import outbox_of

    outbox_of(services)
    _ = services.tasks
    return App(services, flask_app.test_client(), tmp, meetings, oauth)


def ready_meeting(app: App, event_id: str = "a-one") -> Meeting:
    """Give `event_id` real materials (the offline generator, through the task)."""
    from functions.prep.queueing import generation_task

    meeting = app.meetings[event_id]
    task = generation_task(meeting)
    resp = app.post_json(task.path, dict(task.payload), app.task_token())
    assert resp.status_code == 200, resp.get_data(as_text=True)
    stored = app.services.store.get_meeting(meeting.user_id, event_id)
    # Ready, and delivered once the "ready" message went out (to the local outbox).
    assert stored is not None and stored.prep_state in (PrepState.READY, PrepState.DELIVERED)
    assert stored.materials_ref
    return stored


# ---------------------------------------------------------------- what a good answer is


def assert_no_leak(resp: TestResponse) -> None:
    text = resp.get_data(as_text=True)
    assert not _TRACE.search(text), text[:500]


def assert_json_error(resp: TestResponse) -> None:
    """A 4xx with the app's error shape: {"error": code, "message": text}, nothing else."""
    assert 400 <= resp.status_code < 500, (resp.status_code, resp.get_data(as_text=True)[:300])
    body = resp.get_json(silent=True)
    assert isinstance(body, dict), resp.get_data(as_text=True)[:300]
    assert set(body) == {"error", "message"}, body
    assert isinstance(body["error"], str) and isinstance(body["message"], str)


def assert_chat_answer(body: Any) -> None:
    """A Chat reply: an object; any card in it validates with google-apps-card."""
    assert isinstance(body, dict)
    for entry in body.get("cardsV2", []):
        card = entry["card"]
        card_v1.Card.from_json(json.dumps(card), ignore_unknown_fields=False)
        assert card_problems(card, Host.CHAT) == []


def assert_sane(resp: TestResponse, *, kind: str) -> None:
    """Never a 5xx or a trace; a 4xx is the app's JSON error (or a static page for pages)."""
    assert resp.status_code < 500, (resp.status_code, resp.get_data(as_text=True)[:300])
    assert_no_leak(resp)
    if resp.status_code >= 400:
        if kind == "page":
            assert resp.mimetype in ("text/html", "application/json"), resp.mimetype
            if resp.mimetype == "application/json":
                assert_json_error(resp)
        elif kind == "oauth":
            body = resp.get_json(silent=True)
            assert isinstance(body, dict) and isinstance(body.get("error"), str), body
        else:
            assert_json_error(resp)
        return
    if kind == "addon" and resp.status_code == 200:
        assert_valid_answer(resp.get_json())
    elif kind == "chat" and resp.status_code == 200:
        assert_chat_answer(resp.get_json())
    elif kind == "task" and resp.status_code == 200:
        body = resp.get_json()
        assert isinstance(body, dict) and body.get("status") in ("ok", "dropped"), body
