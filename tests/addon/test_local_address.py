"""Issue 17: `main.py dev-event` signs for the running server's port, and a token for
another port is refused with a hint in the log (both addresses, never the token)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from addon.dev_event import LOCAL_USER_ID
from addon.sidebar import Sidebar
from functions.auth.id_tokens import WrongAudience, host_port
from functions.bootstrap import Bootstrap, set_services
from functions.cli import main
from functions.config import load_settings
from functions.domain.users import User
from functions.local_address import forget_served, served_url, server_file, write_served
from tests.support.addon_helpers import Client, calendar_event, only_card, seed_meeting, texts
from tests.support.recording_queue import RecordingQueue

OTHER = "http://127.0.0.1:9123"


@pytest.fixture
def local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Bootstrap]:
    monkeypatch.setenv("PREP_MODE", "local")
    monkeypatch.setenv("PREP_SQLITE_PATH", str(tmp_path / "prep.db"))
    monkeypatch.setenv("PREP_DEV_KEY_PATH", str(tmp_path / "dev-key.pem"))
    monkeypatch.setenv("PREP_PUBLIC_URL", "http://127.0.0.1:8080")  # the server's own
    services = Bootstrap(load_settings())
    set_services(services)
    me = User(user_id=LOCAL_USER_ID, email="you@example.com", time_zone="Europe/Berlin")
    services.store.put_user(me)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    seed_meeting(
        services.store,
        me,
        calendar_event("next", start, title="Weekly 1:1 with Sam", user_email=me.email),
        now=datetime.now(UTC),
        classifier=services.classifier,
    )
    # dev-event runs as from a shell where nobody set the address.
    monkeypatch.delenv("PREP_PUBLIC_URL")
    yield services
    set_services(None)
    services.store.close()


def _audience(event: dict[str, object]) -> str:
    import base64

    token = event["authorizationEventObject"]["systemIdToken"]  # type: ignore[index]
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["aud"])


def test_dev_event_signs_for_the_port_the_running_server_recorded(
    local: Bootstrap, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    write_served(local.settings.sqlite_path, OTHER)  # as `serve --port 9123` does
    assert main(["dev-event"]) == 0
    out = capsys.readouterr()
    event = json.loads(out.out)
    assert _audience(event) == f"{OTHER}/addon"
    assert f"signed for the running server at {OTHER}" in out.err
    # The server on 8080 refuses it, and its log says why without the token.
    client = Client(Sidebar(services=local, task_queue=RecordingQueue()))
    with caplog.at_level(logging.WARNING):
        answer = client.post(event, authorization=None, expect=401)
    assert answer == {"error": "unauthenticated", "message": "caller is not allowed"}
    [record] = [r for r in caplog.records if r.getMessage() == "add-on request rejected"]
    assert record.__dict__["expected"] == "127.0.0.1:8080"
    assert record.__dict__["received"] == "127.0.0.1:9123"
    assert "--port" in record.__dict__["hint"]
    token = event["authorizationEventObject"]["systemIdToken"]
    assert all(token not in str(r.__dict__) for r in caplog.records)


def test_without_a_running_server_dev_event_says_the_token_names_the_port(
    local: Bootstrap, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dev-event"]) == 0
    out = capsys.readouterr()
    assert _audience(json.loads(out.out)) == "http://127.0.0.1:8080/addon"
    assert "no running server found" in out.err and "--port" in out.err
    # And --port still wins over everything.
    write_served(local.settings.sqlite_path, OTHER)
    assert main(["dev-event", "--port", "9555"]) == 0
    assert _audience(json.loads(capsys.readouterr().out)) == "http://127.0.0.1:9555/addon"


def test_a_record_left_by_a_dead_server_is_ignored(tmp_path: Path) -> None:
    db = tmp_path / "prep.db"
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    server_file(db).write_text(json.dumps({"url": OTHER, "pid": int(gone.stdout)}))
    assert served_url(db) is None
    write_served(db, OTHER)
    assert served_url(db) == OTHER
    forget_served(db)
    assert not server_file(db).exists()
    for junk in ("not json", "[]", json.dumps({"url": "javascript:x", "pid": os.getpid()})):
        server_file(db).write_text(junk)
        assert served_url(db) is None


def test_a_token_for_the_recorded_port_opens_the_card(
    local: Bootstrap, capsys: pytest.CaptureFixture[str]
) -> None:
    write_served(local.settings.sqlite_path, "http://127.0.0.1:8080")
    assert main(["dev-event"]) == 0
    event = json.loads(capsys.readouterr().out)
    client = Client(Sidebar(services=local, task_queue=RecordingQueue()))
    assert "Weekly 1:1 with Sam" in texts(only_card(client.post(event, authorization=None)))


def test_other_token_failures_are_not_called_an_audience_mismatch(local: Bootstrap) -> None:
    signer = local.dev_signer
    settings = local.settings
    expired = signer.id_token(
        audience=settings.addon_audience,
        subject="sa",
        email=settings.addon_sa_email,
        lifetime_seconds=-3600,
    )
    from functions.auth.id_tokens import TokenRejected

    with pytest.raises(TokenRejected) as refused:
        local.id_tokens.verify(expired, audience=settings.addon_audience, emails=None)
    assert not isinstance(refused.value, WrongAudience)


@pytest.mark.parametrize(
    ("audience", "shown"),
    [
        ("http://127.0.0.1:8080/addon", "127.0.0.1:8080"),
        ("https://addon.example.test/addon?x=1", "addon.example.test:443"),
        ("https://user:pw@host.example/p", "host.example:443"),
        ("42-addon.apps.googleusercontent.com", "42-addon.apps.googleusercontent.com"),
    ],
)
def test_only_host_and_port_of_an_audience_reach_the_log(audience: str, shown: str) -> None:
    assert host_port(audience) == shown
