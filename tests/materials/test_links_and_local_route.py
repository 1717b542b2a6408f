"""`signed_url_for` policy, and local mode serving materials behind signed, expiring links."""

from __future__ import annotations

import dataclasses
import urllib.parse
from datetime import timedelta

import flask
import pytest

from functions.bootstrap import Bootstrap, get_services, local_routes, set_services
from functions.config import Mode
from functions.domain.clock import FixedClock
from functions.domain.prep_state import PrepState
from functions.materials.links import NoMaterials, link_ttl, signed_url_for
from functions.materials.local_files import LocalMaterialsStorage
from functions.materials.model import SummaryRecord
from functions.materials.storage import MaterialsObjects, materials_ref
from functions.materials.v4 import verify_url
from functions.web import dispatch
from tests.materials.conftest import NOW, make_meeting, make_user, with_materials


def _stored(services: Bootstrap, user_id: str = "user-1") -> str:
    ref = materials_ref(user_id, "evt-1", "a" * 40)
    services.materials_storage.put(
        ref,
        MaterialsObjects(
            html="<!DOCTYPE html><p>prep</p>",
            markdown="# prep\n",
            summary=SummaryRecord(meeting_start=NOW),
        ),
    )
    return ref


def _get(url: str) -> flask.Response:
    parts = urllib.parse.urlsplit(url)
    app = flask.Flask(__name__)
    base = f"{parts.scheme}://{parts.netloc}"
    with app.test_request_context(parts.path, base_url=base, query_string=parts.query):
        return dispatch(local_routes(get_services()), flask.request)


def test_link_lifetime_is_validated() -> None:
    assert link_ttl(24) == timedelta(hours=24)
    assert link_ttl(168) == timedelta(days=7)
    for hours in (0, 169):
        with pytest.raises(ValueError, match="between 1 and 168"):
            link_ttl(hours)


def test_a_fresh_link_each_time_from_the_configured_lifetime(
    services: Bootstrap, clock: FixedClock
) -> None:
    user = make_user()
    meeting = make_meeting(user, materials_ref=_stored(services), prep_state=PrepState.READY)
    storage = services.materials_storage
    assert isinstance(storage, LocalMaterialsStorage)
    first = signed_url_for(services, meeting)
    clock.advance(timedelta(minutes=5))
    second = signed_url_for(services, meeting)
    assert first != second  # minted on demand, never stored
    verified = storage.verify(second)
    assert verified.expires_at == NOW + timedelta(minutes=5, hours=24)
    assert verified.params["object"].endswith(".html")
    services = with_materials(services, link_hours=2)
    short = services.materials_storage
    assert isinstance(short, LocalMaterialsStorage)
    assert short.verify(signed_url_for(services, meeting)).expires_at == clock.now() + timedelta(
        hours=2
    )
    md = signed_url_for(services, meeting, markdown=True)
    assert short.verify(md).params["object"].endswith(".md")


def test_no_link_without_materials_or_for_another_users_ref(services: Bootstrap) -> None:
    user = make_user()
    with pytest.raises(NoMaterials):
        signed_url_for(services, make_meeting(user))
    foreign = _stored(services, user_id="user-2")
    with pytest.raises(NoMaterials, match="not valid"):
        signed_url_for(services, make_meeting(user, materials_ref=foreign))


def test_local_route_serves_a_valid_link_with_protective_headers(services: Bootstrap) -> None:
    meeting = make_meeting(make_user(), materials_ref=_stored(services))
    resp = _get(signed_url_for(services, meeting))
    assert resp.status_code == 200
    assert resp.get_data() == b"<!DOCTYPE html><p>prep</p>"
    assert resp.mimetype == "text/html"
    assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert resp.headers["Cache-Control"] == "private, no-store"


def test_local_route_refuses_expired_tampered_and_unsigned_links(
    services: Bootstrap, clock: FixedClock
) -> None:
    meeting = make_meeting(make_user(), materials_ref=_stored(services))
    url = signed_url_for(services, meeting)
    other = materials_ref("user-2", "evt-1", "a" * 40)
    tampered = url.replace(
        urllib.parse.quote(meeting.materials_ref or "", safe=""), other.replace("/", "%2F")
    )
    assert tampered != url
    unsigned = url.split("&X-Goog-Signature=")[0]
    for bad in (tampered, unsigned, url.replace("/materials?", "/materials?x=1&")):
        resp = _get(bad)
        assert resp.status_code == 403
        assert resp.mimetype == "text/html"
        assert "This prep link is not valid" in resp.get_data(as_text=True)
    clock.advance(timedelta(hours=24, seconds=1))
    assert _get(url).status_code == 403


def test_a_refused_link_explains_itself_on_a_page(services: Bootstrap, clock: FixedClock) -> None:
    """Issue 17: a person opened the link, so the refusal is a page that says what to do."""
    meeting = make_meeting(make_user(), materials_ref=_stored(services))
    url = signed_url_for(services, meeting)
    hostile = url + "&x=%3Cscript%3Ealert(1)%3C/script%3E"
    invalid = _get(hostile)
    assert invalid.status_code == 403
    assert invalid.mimetype == "text/html"
    page = invalid.get_data(as_text=True)
    assert "This prep link is not valid" in page
    assert "changed" in page and "another server" in page
    assert "<script" not in page  # nothing from the request is echoed
    assert "default-src 'none'" in invalid.headers["Content-Security-Policy"]
    assert invalid.headers["X-Content-Type-Options"] == "nosniff"

    clock.advance(timedelta(hours=24, seconds=1))
    expired = _get(url)
    assert expired.status_code == 403
    assert expired.mimetype == "text/html"
    page = expired.get_data(as_text=True)
    assert "This prep link has expired" in page
    assert "fresh link" in page and "sidebar" in page
    assert "not valid" not in page


def test_a_link_to_removed_materials_explains_itself(services: Bootstrap) -> None:
    meeting = make_meeting(make_user(), materials_ref=_stored(services))
    url = signed_url_for(services, meeting)
    storage = services.materials_storage
    assert isinstance(storage, LocalMaterialsStorage)
    (storage.root / f"{meeting.materials_ref}.html").unlink()
    resp = _get(url)
    assert resp.status_code == 404
    assert resp.mimetype == "text/html"
    assert "no longer exist" in resp.get_data(as_text=True)


def test_local_route_is_closed_outside_local_mode(services: Bootstrap) -> None:
    meeting = make_meeting(make_user(), materials_ref=_stored(services))
    url = signed_url_for(services, meeting)
    set_services(
        services.replaced(settings=dataclasses.replace(services.settings, mode=Mode.PRODUCTION))
    )
    assert _get(url).status_code == 404


def test_verify_helper_accepts_what_local_mode_signs(services: Bootstrap) -> None:
    meeting = make_meeting(make_user(), materials_ref=_stored(services))
    storage = services.materials_storage
    assert isinstance(storage, LocalMaterialsStorage)
    url = signed_url_for(services, meeting)
    assert url.startswith("http://127.0.0.1:8080/materials?")
    verified = verify_url(url, public_key=storage.key.public_key, now=NOW)
    assert verified.path == "/materials"
