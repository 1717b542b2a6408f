"""`make run`: a stable materials link signs in through the app's own Google stand-in.

A real HTTP server on a free port serves the app's routes (the `oauth` entry
point's table, which holds `/m`, and the local-only `/dev/oauth/*` and
`/materials`), so the reader's sign-in talks to `/dev/oauth/token` over HTTP
exactly as it would to Google, and the browser's cookies travel as headers.
"""

from __future__ import annotations

import html.parser
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

import flask
import pytest
from werkzeug.serving import make_server

from functions import bootstrap
from functions.bootstrap import Bootstrap, set_services
from functions.config import load_settings
from functions.domain.clock import FixedClock
from functions.domain.prep_state import PrepState
from functions.materials.handler import handle_generate
from functions.materials.reader import stable_url
from functions.sync.local import LOCAL_USER_ID
from functions.web import Handler, dispatch
from tests.materials.conftest import make_meeting, make_user


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


class Browser:
    """Follows nothing by itself; keeps the cookies the app sets (name -> value)."""

    def __init__(self) -> None:
        self.cookies: dict[str, str] = {}

    def fetch(self, url: str, data: bytes | None = None) -> tuple[int, str, str]:
        request = urllib.request.Request(url, data=data)  # noqa: S310 - loopback test server
        if self.cookies:
            request.add_header("Cookie", "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        try:
            with _opener.open(request, timeout=10) as resp:
                status, headers, body = resp.status, resp.headers, resp.read().decode()
        except urllib.error.HTTPError as exc:
            status, headers, body = exc.code, exc.headers, exc.read().decode()
        for line in headers.get_all("Set-Cookie") or []:
            name, _, rest = line.partition("=")
            value = rest.split(";", 1)[0]
            if value and "Max-Age=0" not in line:
                self.cookies[name] = value
            else:
                self.cookies.pop(name, None)
        return status, headers.get("Location", ""), body


class _Form(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "input" and a.get("name"):
            self.fields[str(a["name"])] = a.get("value") or ""


@pytest.fixture
def local(tmp_path: Path, dev_key_path: Path) -> Iterator[Bootstrap]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = flask.Flask("local-under-test")
    tables: list[Mapping[str, Handler]] = []
    app.add_url_rule(
        "/<path:_p>", "all", lambda _p: dispatch(tables[0], flask.request), methods=["GET", "POST"]
    )
    server = make_server("127.0.0.1", port, app, threaded=True)
    settings = load_settings(
        {
            "PREP_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "PREP_SQLITE_PATH": str(tmp_path / "prep.db"),
            "PREP_DEV_KEY_PATH": str(dev_key_path),
            "PREP_TOKEN_KEK_PATH": str(tmp_path / "token-kek"),
            "PREP_OUTBOX_PATH": str(tmp_path / "outbox.db"),
            "PREP_MATERIALS_DIR": str(tmp_path / "materials"),
            "PREP_MATERIALS_SIGNING_KEY": str(tmp_path / "materials-key.json"),
        }
    )
    services = Bootstrap(settings, clock=FixedClock(datetime.now(UTC).replace(microsecond=0)))
    set_services(services)
    tables.append({**bootstrap.oauth_routes(services), **bootstrap.dev_routes(services)})
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield services
    finally:
        server.shutdown()
        set_services(None)
        services.store.close()


def _sign_in_as(local: Bootstrap, browser: Browser, link: str, subject: str, email: str) -> str:
    """Open the link, fill the stand-in's account fields, allow; returns where it leads."""
    base = local.settings.public_url
    status, location, _ = browser.fetch(link)
    assert status == 303 and location.startswith(f"{base}/dev/oauth/authorize?")
    status, _, page = browser.fetch(location)
    assert status == 200
    form = _Form()
    form.feed(page)
    # The stand-in asks who signs in, the local user by default.
    assert form.fields["dev_subject"] == LOCAL_USER_ID
    form.fields.update(decision="allow", dev_subject=subject, login_hint=email)
    status, location, _ = browser.fetch(
        f"{base}/dev/oauth/authorize", urllib.parse.urlencode(form.fields).encode()
    )
    assert status == 303 and location.startswith(f"{base}/m/signin?")
    status, location, _ = browser.fetch(location)
    assert status == 303, location
    assert location == link
    status, location, _ = browser.fetch(location)
    return location if status == 303 else str(status)


def test_the_local_user_opens_a_stable_link_after_the_stand_in_sign_in(local: Bootstrap) -> None:
    user = make_user(LOCAL_USER_ID, local.settings.local_user_email)
    local.store.put_user(user)
    local.store.upsert_meetings([make_meeting(user, prep_state=PrepState.NOTIFIED)])
    handle_generate(local, {"user_id": user.user_id, "event_id": "evt-1", "version": ""})
    meeting = local.store.get_meeting(user.user_id, "evt-1")
    assert meeting is not None and meeting.materials_ref
    link = stable_url(local.settings, local.credentials.sealer.keyring, meeting)

    browser = Browser()
    materials = _sign_in_as(local, browser, link, LOCAL_USER_ID, user.email)
    assert materials.startswith(f"{local.settings.public_url}/materials?")
    status, _, page = browser.fetch(materials)
    assert status == 200 and "<html" in page.lower()

    stranger = Browser()
    assert _sign_in_as(local, stranger, link, "someone-else", "else@example.com") == "403"
