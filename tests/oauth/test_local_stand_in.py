"""`make run` without Google: the connect flow clicks through the app's own stand-in.

A real HTTP server on a free port serves the app's routes, so the production
flow code talks to /dev/oauth/token over HTTP exactly as it would to Google.
"""

from __future__ import annotations

import dataclasses
import html.parser
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import flask
import pytest
from werkzeug.serving import make_server

from functions import bootstrap
from functions.bootstrap import Bootstrap, set_services
from functions.config import Mode, load_settings
from functions.domain.clock import FixedClock
from functions.domain.users import ConnectionState
from functions.oauth.credentials import ReconnectNeeded
from functions.oauth.flow import disconnect, start_authorization
from functions.web import Handler, dispatch

USER = ("333333333333333333333", "carol@example.com")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def _fetch(url: str, data: bytes | None = None) -> tuple[int, dict[str, str], str]:
    try:
        with _opener.open(url, data=data, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


class _Form(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "input" and a.get("name"):
            self.fields[str(a["name"])] = a.get("value") or ""


def _app() -> flask.Flask:
    app = flask.Flask("local-under-test")

    def table() -> dict[str, Handler]:  # the root the fixture installs, as each request finds it
        root = bootstrap.get_services()
        return {**bootstrap.oauth_routes(root), **bootstrap.dev_routes(root)}

    app.add_url_rule(
        "/<path:_p>", "all", lambda _p: dispatch(table(), flask.request), methods=["GET", "POST"]
    )
    return app


@pytest.fixture
def local(tmp_path: Path, dev_key_path: Path) -> Iterator[Bootstrap]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = make_server("127.0.0.1", port, _app(), threaded=True)
    settings = load_settings(
        {
            "PREP_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "PREP_SQLITE_PATH": str(tmp_path / "prep.db"),
            "PREP_DEV_KEY_PATH": str(dev_key_path),
            "PREP_TOKEN_KEK_PATH": str(tmp_path / "token-kek"),
        }
    )
    services = Bootstrap(settings, clock=FixedClock(datetime.now(UTC)))
    set_services(services)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield services
    finally:
        server.shutdown()
        set_services(None)
        services.store.close()


def _click_through(services: Bootstrap, decision: str) -> tuple[int, str]:
    url = start_authorization(services, *USER)
    assert url.startswith(f"{services.settings.public_url}/dev/oauth/authorize?")
    status, headers, page = _fetch(url)
    assert status == 200
    assert "form-action 'self'" in headers["Content-Security-Policy"]
    form = _Form()
    form.feed(page)
    form.fields["decision"] = decision
    status, headers, _ = _fetch(
        f"{services.settings.public_url}/dev/oauth/authorize",
        urllib.parse.urlencode(form.fields).encode(),
    )
    assert status == 303
    assert headers["Location"].startswith(services.settings.oauth_redirect_uri + "?")
    status, _, page = _fetch(headers["Location"])
    return status, page


def test_connect_refresh_and_disconnect_locally(local: Bootstrap) -> None:
    status, page = _click_through(local, "allow")
    assert status == 200
    assert "Connected" in page
    user = local.store.get_user(USER[0])
    assert user is not None and user.connection is ConnectionState.CONNECTED

    clock = local.clock
    assert isinstance(clock, FixedClock)
    clock.advance(timedelta(hours=2))
    creds = local.credentials.credentials_for(USER[0])
    assert creds.token is not None and creds.token.startswith("ya29.dev-")

    disconnect(local, USER[0])
    user = local.store.get_user(USER[0])
    assert user is not None and user.connection is ConnectionState.NOT_CONNECTED
    with pytest.raises(ReconnectNeeded):
        local.credentials.credentials_for(USER[0])


def test_cancel_on_the_local_consent_page(local: Bootstrap) -> None:
    status, page = _click_through(local, "deny")
    assert status == 200
    assert "Not connected" in page
    assert local.store.get_user(USER[0]) is None


def test_a_code_cannot_be_redeemed_without_the_verifier(local: Bootstrap) -> None:
    url = start_authorization(local, *USER)
    _, _, page = _fetch(url)
    form = _Form()
    form.feed(page)
    form.fields["decision"] = "allow"
    base = local.settings.public_url
    _, headers, _ = _fetch(
        f"{base}/dev/oauth/authorize", urllib.parse.urlencode(form.fields).encode()
    )
    code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(headers["Location"]).query))["code"]
    settings = local.settings
    status, _, body = _fetch(
        f"{base}/dev/oauth/token",
        urllib.parse.urlencode(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": settings.oauth_redirect_uri,
                "client_id": settings.oauth_web_client_id,
                "client_secret": settings.oauth_web_client_secret,
                "code_verifier": "not-the-verifier-" + "x" * 30,
            }
        ).encode(),
    )
    assert status == 400
    assert "invalid_grant" in body


def test_the_stand_in_does_not_exist_in_production(local: Bootstrap) -> None:
    production = Bootstrap(dataclasses.replace(local.settings, mode=Mode.PRODUCTION))
    set_services(production)
    client = _app().test_client()
    for path in ("/dev/oauth/authorize", "/dev/oauth/token", "/dev/oauth/revoke", "/dev/tasks"):
        assert client.get(path).status_code == 404
        assert client.post(path).status_code == 404
