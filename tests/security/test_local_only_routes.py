"""The local server's own pages answer this machine only (issue 13, item 5).

`/preview` used to trust the Host header alone, so with `serve --host 0.0.0.0`
anyone on the network could mint signed tokens; `/dev/outbox` and
`/dev/tasks` answered any Host, so DNS rebinding let a web page read titles,
attendees and signed links. Each local-only route is called from another
machine (peer address) and through a rebinding name (Host header).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from werkzeug.test import TestResponse

from functions.materials.links import signed_url_for
from tests.support.app_harness import App, ready_meeting

#: (method, path) of every route that exists for the local user's own browser or process.
LOCAL_ONLY = [
    ("GET", "/"),
    ("GET", "/preview"),
    ("GET", "/preview/app.js"),
    ("GET", "/preview/app.css"),
    ("GET", "/preview/meetings"),
    ("POST", "/preview/event-object"),
    ("POST", "/preview/samples"),
    ("GET", "/dev/outbox"),
    ("POST", "/dev/outbox/click"),
    ("GET", "/dev/tasks"),
    ("GET", "/dev/oauth/authorize"),
    ("POST", "/dev/oauth/token"),
    ("POST", "/dev/oauth/revoke"),
]


def _call(app: App, method: str, path: str, *, peer: str, host: str) -> TestResponse:
    return app.client.open(
        path,
        method=method,
        json={"trigger": "homepage"} if method == "POST" and path.startswith("/preview") else None,
        base_url=f"http://{host}",
        environ_overrides={"REMOTE_ADDR": peer},
    )


@pytest.mark.parametrize(("method", "path"), LOCAL_ONLY)
@pytest.mark.parametrize("peer", ["192.168.1.20", "10.0.0.7", "2001:db8::5"])
def test_a_caller_on_the_network_is_refused(
    shared_app: App, method: str, path: str, peer: str
) -> None:
    before = shared_app.fingerprint()
    resp = _call(shared_app, method, path, peer=peer, host="127.0.0.1:8080")
    assert resp.status_code == 403
    assert resp.get_json()["error"] == "forbidden"
    assert shared_app.fingerprint() == before


@pytest.mark.parametrize(("method", "path"), LOCAL_ONLY)
@pytest.mark.parametrize("host", ["evil.example", "evil.example:8080", "192.168.1.5:8080"])
def test_a_rebinding_host_is_refused_even_from_loopback(
    shared_app: App, method: str, path: str, host: str
) -> None:
    resp = _call(shared_app, method, path, peer="127.0.0.1", host=host)
    assert resp.status_code == 403
    assert resp.get_json()["error"] == "forbidden"


@pytest.mark.parametrize(
    ("peer", "host"),
    [
        ("127.0.0.1", "127.0.0.1:8080"),
        ("127.0.0.1", "localhost:9999"),
        ("::1", "[::1]:8080"),
        ("::ffff:127.0.0.1", "localhost"),
    ],
)
def test_this_machine_is_served(shared_app: App, peer: str, host: str) -> None:
    for method, path in [
        ("GET", "/"),
        ("GET", "/preview"),
        ("GET", "/dev/outbox"),
        ("GET", "/dev/tasks"),
    ]:
        resp = _call(shared_app, method, path, peer=peer, host=host)
        assert resp.status_code == 200, (path, resp.status_code)


def test_a_materials_link_is_bound_to_the_host_it_was_signed_for(app: App) -> None:
    """`/materials` is not behind `local_only`: its V4 signature covers the Host already,
    so a rebinding name fails verification, while a PREP_PUBLIC_URL on the network works."""
    meeting = ready_meeting(app)
    parts = urlsplit(signed_url_for(app.services, meeting))
    path = f"{parts.path}?{parts.query}"
    genuine = app.client.get(path, base_url=f"{parts.scheme}://{parts.netloc}")
    assert genuine.status_code == 200
    for host in ("evil.example", "evil.example:8080", "localhost:8080"):
        rebound = app.client.get(path, base_url=f"http://{host}")
        assert rebound.status_code == 403, host
