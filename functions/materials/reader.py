"""Stable links to a meeting's materials: `/m?k=<opaque id>`, opened after Google sign-in.

A signed Cloud Storage URL lives 7 days at most, so a "prep is ready"
message sent two weeks before a QBR would be dead on the day. Messages
therefore carry a link to our own service instead, which works for as long
as the materials exist and only for the people who may read them:

1. `k` is a sealed record (`functions.oauth.sealed`, purpose
   `materials-link/v1`) of the owner's user id and the meeting's key:
   opaque (neither id shows), unforgeable, and with nothing to store or
   clean up. It names the meeting, not one set of materials, so a link sent
   before a Regenerate opens the newest materials. A link whose user or
   meeting was deleted, or whose meeting has no materials, answers a 404
   page; one sealed under a key no longer configured is invalid (404).
2. The reader is known from a sealed session cookie, or else sent through
   Google sign-in (`functions.oauth.signin`: OpenID Connect code flow,
   `openid email`, state + PKCE + nonce, a binding cookie) and back to the
   same link. The return address comes from the sealed state, never from a
   request parameter, so the flow cannot be turned into an open redirect.
3. Allowed readers (`may_read`): the owner (Google `sub` = the user id);
   for an executive's meeting prepared by their assistant (assistant mode),
   the executive (verified address = the calendar's id); and the owner's
   delegates: users whose assistant mode lists the owner's calendar with no
   access problem recorded (the sync proves that access on every run).
   Anyone else gets a 403 page that says who is signed in and what to do.
4. An allowed reader is redirected (303) to a fresh signed URL that lives
   `REDIRECT_TTL`; nothing is cached (`Cache-Control: no-store`) and no
   Referer leaves the page.

Refusals are logged with a reason and never the link id; at most
`LOG_BURST` refusals a minute per instance are logged one by one, the rest
are counted into the next line, so hammering links cannot flood the logs.
The sidebar keeps minting its own signed URL per view (`links.signed_url_for`).
"""

from __future__ import annotations

import html
import logging
import threading
import time
import urllib.parse
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from flask import Request, Response

from functions.delegation.keys import owner_of
from functions.domain.meetings import Meeting
from functions.domain.users import User
from functions.logs import log
from functions.materials.storage import HTML, owns
from functions.oauth import pages
from functions.oauth.sealed import SealedCodec, Unsealed
from functions.oauth.sealing import Keyring
from functions.oauth.signin import (
    SESSION_TTL,
    SIGNIN_TTL,
    Reader,
    SignIn,
    SignInRefused,
    SignInUnavailable,
)
from functions.store.port import Store, StoreError

if TYPE_CHECKING:
    from functions.auth.id_tokens import IdTokenVerifier
    from functions.config import Settings
    from functions.materials.deps import ReaderDeps
    from functions.materials.storage import MaterialsStorage

_log = logging.getLogger(__name__)

READER_PATH = "/m"
SIGNIN_PATH = "/m/signin"
#: The browser's session (who signed in) and the sign-in attempt it started.
SESSION_COOKIE = "mp_reader"
BINDING_COOKIE = "mp_signin"
#: How long the signed URL behind a stable link lives: long enough to load the page.
REDIRECT_TTL = timedelta(minutes=15)
#: Refusals logged one by one per minute and instance; the rest are counted.
LOG_BURST = 20
_MAX_LINK = 1024


def service_base(settings: Settings) -> str:
    """Where the browser-facing `oauth` function answers (it serves `/oauth/callback`).

    Deployed, `PREP_PUBLIC_URL` is the tasks function; the OAuth redirect URI
    names the public, browser-facing one, so the reader's pages live there.
    """
    redirect = settings.oauth_redirect_uri
    suffix = "/oauth/callback"
    if redirect.endswith(suffix):
        return redirect[: -len(suffix)]
    return settings.public_url.rstrip("/")


def signin_redirect_uri(settings: Settings) -> str:
    """The sign-in callback: register it with the OAuth web client next to /oauth/callback."""
    return service_base(settings) + SIGNIN_PATH


class BadLink(Exception):
    """Not a link we made (or made under a key no longer configured)."""


class LinkCodec:
    def __init__(self, keyring: Keyring) -> None:
        self._sealed = SealedCodec(keyring, "materials-link/v1")

    def link_id(self, user_id: str, event_id: str) -> str:
        return self._sealed.seal({"u": user_id, "m": event_id})

    def open(self, link_id: str) -> tuple[str, str]:
        if not link_id or len(link_id) > _MAX_LINK:
            raise BadLink("missing or oversized")
        try:
            doc = self._sealed.open(link_id)
            user_id, event_id = str(doc["u"]), str(doc["m"])
        except (Unsealed, KeyError, TypeError):
            raise BadLink("does not authenticate") from None
        if not user_id or not event_id:
            raise BadLink("empty ids")
        return user_id, event_id


def stable_url(settings: Settings, keyring: Keyring, meeting: Meeting) -> str:
    """The link a message carries: it outlives any signed URL and checks who opens it."""
    return _reader_url(settings, LinkCodec(keyring).link_id(meeting.user_id, meeting.event_id))


def may_read(store: Store, reader: Reader, owner: User, meeting: Meeting) -> bool:
    """Whether `reader` may open `owner`'s materials for `meeting` (see the module doc)."""
    if reader.subject == owner.user_id:
        return True
    executive = owner_of(meeting)
    if executive is not None and reader.email == executive.address:
        return True
    owner_address = owner.email.lower()
    if not owner_address:
        return False
    assistant = store.get_user(reader.subject)
    if assistant is None or assistant.email.lower() != reader.email:
        return False
    return (
        owner_address in assistant.preferences.delegated_calendars
        and owner_address not in assistant.calendar_problems
    )


# ---------------------------------------------------------------------------- the pages

_NOT_FOUND = (
    "These prep materials are not available",
    "The link is not valid, or the meeting or its materials were removed. Open the meeting "
    "in Calendar and use the Meeting prep sidebar.",
)
_FORBIDDEN = (
    "These prep materials belong to someone else",
    "Only the person they were prepared for, and the assistants who manage their "
    "calendar, can open them.",
)
_SIGNIN_FAILED = (
    "Sign-in did not finish",
    "The sign-in link is invalid, expired or was already used. Open the prep link from "
    "your message again.",
)
_UNAVAILABLE = (
    "Please try again",
    "Google could not be reached to finish signing in. Open the prep link again in a moment.",
)


def _page(status: int, text: tuple[str, str], body_html: str = "") -> Response:
    return pages.page(status, text[0], text[1], body_html=body_html)


def _forbidden(settings: Settings, reader: Reader, link_id: str) -> Response:
    """Who is signed in, and a way to sign in with another account (the session would
    otherwise answer the same 403 for the next hour)."""
    switch = _reader_url(settings, link_id, switch=True)
    body = (
        f"<p>You are signed in as <b>{html.escape(reader.email)}</b>. If the materials are "
        f'yours, <a href="{html.escape(switch)}">sign in with that Google account</a>; '
        "otherwise ask the meeting's owner to share what you need.</p>"
    )
    return _page(403, _FORBIDDEN, body)


def _reader_url(settings: Settings, link_id: str, *, switch: bool = False) -> str:
    """Our own link for `link_id` (a validated id, never a URL from the request)."""
    query = {"k": link_id, **({"switch": "1"} if switch else {})}
    return f"{service_base(settings)}{READER_PATH}?{urllib.parse.urlencode(query)}"


class _RefusalLog:
    """At most `LOG_BURST` refusal lines a minute; the rest are counted into the next."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._window = 0
        self._logged = 0
        self._suppressed = 0

    def refused(self, reason: str) -> None:
        window = int(time.monotonic() // 60)
        with self._lock:
            if window != self._window:
                self._window, self._logged = window, 0
            if self._logged >= LOG_BURST:
                self._suppressed += 1
                return
            self._logged += 1
            suppressed, self._suppressed = self._suppressed, 0
        log(_log, logging.WARNING, "materials link refused", reason=reason, suppressed=suppressed)


REFUSALS = _RefusalLog()


def _cookie_path(settings: Settings) -> str:
    return (urllib.parse.urlsplit(service_base(settings)).path.rstrip("/") or "") + READER_PATH


def _set_cookie(
    response: Response, settings: Settings, name: str, value: str, max_age: timedelta
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=int(max_age.total_seconds()),
        path=_cookie_path(settings),
        secure=service_base(settings).startswith("https://"),
        httponly=True,
        samesite="Lax",
    )


def _redirect(location: str) -> Response:
    return Response(
        status=303,
        headers={
            "Location": location,
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
        },
    )


@dataclass(frozen=True, slots=True)
class ReaderPorts:
    """What the reader's pages use (the lead can hand these in without the root)."""

    settings: Settings
    store: Store
    storage: MaterialsStorage
    keyring: Keyring
    signin: SignIn
    id_tokens: IdTokenVerifier
    now: datetime


def open_link(
    ports: ReaderPorts, link_id: str, session: str | None, *, switch: bool = False
) -> Response:
    """`GET /m?k=...`: sign in if needed, check the reader, redirect to a fresh signed URL.

    `switch` (`&switch=1`, offered on the 403 page) ignores the session and asks
    Google again, so a reader signed in with the wrong account can pick another.
    """
    try:
        user_id, event_id = LinkCodec(ports.keyring).open(link_id)
    except BadLink as exc:
        REFUSALS.refused(f"link: {exc}")
        return _page(404, _NOT_FOUND)
    reader = None if switch else ports.signin.reader(session, ports.now)
    if reader is None:
        started = ports.signin.start(link_id, ports.now)
        response = _redirect(started.url)
        _set_cookie(response, ports.settings, BINDING_COOKIE, started.binding, SIGNIN_TTL)
        return response
    try:
        owner = ports.store.get_user(user_id)
        meeting = ports.store.get_meeting(user_id, event_id) if owner is not None else None
    except StoreError:
        return _page(503, _UNAVAILABLE)
    if owner is None or meeting is None or not meeting.materials_ref:
        REFUSALS.refused("gone")
        return _page(404, _NOT_FOUND)
    if not may_read(ports.store, reader, owner, meeting):
        REFUSALS.refused("not an allowed reader")
        return _forbidden(ports.settings, reader, link_id)
    ref = meeting.materials_ref
    if not owns(user_id, ref):
        REFUSALS.refused("ref outside the owner's prefix")
        return _page(404, _NOT_FOUND)
    url = ports.storage.signed_url(ref + HTML, REDIRECT_TTL)
    log(_log, logging.INFO, "materials link opened", user_id=user_id, own=reader.subject == user_id)
    return _redirect(url)


def finish_signin(
    ports: ReaderPorts,
    args: dict[str, str],
    binding: str | None,
) -> Response:
    """`GET /m/signin`: Google's redirect back; sets the session and returns to the link."""
    try:
        attempt = ports.signin.open_state(args.get("state", ""), binding, ports.now)
        user_id, _ = LinkCodec(ports.keyring).open(attempt.target)
        ports.signin.consume(ports.store, user_id, attempt)
    except (SignInRefused, BadLink) as exc:
        REFUSALS.refused(f"sign-in: {getattr(exc, 'reason', 'bad target')}")
        return _page(400, _SIGNIN_FAILED)
    if args.get("error"):
        REFUSALS.refused("sign-in: declined at Google")
        return _page(400, _SIGNIN_FAILED)
    try:
        reader = ports.signin.finish(attempt, args.get("code", ""), ports.id_tokens)
    except SignInUnavailable:
        return _page(503, _UNAVAILABLE)
    except SignInRefused as exc:
        REFUSALS.refused(f"sign-in: {exc.reason}")
        return _page(400, _SIGNIN_FAILED)
    response = _redirect(_reader_url(ports.settings, attempt.target))
    _set_cookie(
        response,
        ports.settings,
        SESSION_COOKIE,
        ports.signin.session(reader, ports.now),
        SESSION_TTL,
    )
    response.delete_cookie(BINDING_COOKIE, path=_cookie_path(ports.settings))
    return response


# ---------------------------------------------------------------------------- HTTP handlers


def _ports(services: ReaderDeps) -> ReaderPorts:
    settings = services.settings
    # The root's web client, not the credentials provider's: with domain-wide delegation
    # the provider has no OAuth client, yet readers still sign in with the web client.
    keyring = services.keyring
    client = services.signin_client
    return ReaderPorts(
        settings=settings,
        store=services.store,
        storage=services.materials_storage,
        keyring=keyring,
        signin=SignIn(keyring, client, signin_redirect_uri(settings)),
        id_tokens=services.id_tokens,
        now=services.clock.now(),
    )


def reader_page(services: ReaderDeps, request: Request) -> Response:
    if request.method != "GET":
        return pages.page(405, "Not allowed", "Open this link in a browser.")
    return open_link(
        _ports(services),
        request.args.get("k", ""),
        request.cookies.get(SESSION_COOKIE),
        switch=request.args.get("switch") == "1",
    )


def signin_callback(services: ReaderDeps, request: Request) -> Response:
    if request.method != "GET":
        return pages.page(405, "Not allowed", "This address only accepts links from Google.")
    args = {k: v for k, v in request.args.items() if k in ("state", "code", "error")}
    return finish_signin(_ports(services), args, request.cookies.get(BINDING_COOKIE))
