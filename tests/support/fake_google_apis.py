"""A local stand-in for the Gmail and Chat REST APIs, for the real google-api-python-client.

Implements the methods the product calls, with Google's documented
semantics (Gmail v1 and Chat v1 discovery, google-api-python-client 2.202):

- POST gmail/v1/users/{userId}/messages/send: `raw` is base64url RFC 2822;
  the decoded message is parsed and kept, so tests can inspect real MIME.
- GET gmail/v1/users/{userId}/threads: threads matching `q` (the operators
  from:, to:, cc:, newer_than:<n>d and {a b} for OR; other words match the
  subject or snippet), newest first, `maxResults` 1..500 (default 100). A
  token that carries gmail.metadata may not use `q` at all (403 "Metadata
  scope does not support 'q' parameter"), even with gmail.readonly beside it.
- GET gmail/v1/users/{userId}/threads/{id}: 404 for an unknown id; with
  format=metadata only headers (those in metadataHeaders if given), never a
  body; format=full with a gmail.metadata token is 403. Tokens' scopes are
  set per token (`token_scopes`); an unknown token has gmail.readonly.
- GET v1/spaces:findDirectMessage?name=users/{id}: the app's DM space with
  that user, 404 NOT_FOUND if there is none (app not installed or removed).
- POST v1/{space}/messages?requestId=...: creates a message; a requestId
  seen before in that space returns the first message instead (Chat's
  idempotent create). cardsV2 cards are validated with google-apps-card and
  refused with 400 INVALID_ARGUMENT when malformed, as Chat refuses them.
- PATCH v1/{message.name}?updateMask=...: updates a message in place
  (spaces.messages.patch). `updateMask` is required and takes only the
  documented paths (text, attachment, cards, cardsV2, accessoryWidgets,
  quotedMessageMetadata) or `*`; only the masked fields change. With app
  authentication only the app's own messages can be updated (403 for a
  message created under other credentials). A message that is not there
  (never was, or deleted with `delete_chat_message`) answers 404, unless
  `allowMissing=true`, which Chat allows only for a client-assigned id
  (`client-...`): anything else is 400.

Every call needs an `Authorization: Bearer` header (401 otherwise). Failures
can be queued per operation with Google's error body shape (code, status,
errors[].reason), e.g. a 500 then success, or 403 insufficientPermissions.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import itertools
import json
import re
import threading
import urllib.parse
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.discovery import Conformance, Method
from tests.support.loopback import serve_loopback

GMAIL_SEND = "gmail.send"
GMAIL_THREADS_LIST = "gmail.threads.list"
GMAIL_THREADS_GET = "gmail.threads.get"

_GMAIL = "https://www.googleapis.com/auth/"
GMAIL_READONLY_SCOPE = _GMAIL + "gmail.readonly"
GMAIL_METADATA_SCOPE = _GMAIL + "gmail.metadata"
#: Scopes threads.list accepts (Gmail v1 discovery); threads.get also takes add-on scopes.
_THREAD_SCOPES = frozenset(
    {
        "https://mail.google.com/",
        _GMAIL + "gmail.modify",
        GMAIL_READONLY_SCOPE,
        GMAIL_METADATA_SCOPE,
    }
)
CHAT_FIND_DM = "chat.findDirectMessage"
CHAT_CREATE = "chat.create"
CHAT_PATCH = "chat.patch"

#: spaces.messages.patch: the field paths `updateMask` may name (besides `*`).
PATCH_PATHS = frozenset(
    {"text", "attachment", "cards", "cardsV2", "accessoryWidgets", "quotedMessageMetadata"}
)

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


@dataclass(frozen=True)
class SentMail:
    user_id: str
    authorization: str
    raw: bytes
    message: EmailMessage


@dataclass(frozen=True)
class ChatPost:
    name: str
    space: str
    request_id: str | None
    authorization: str
    body: dict[str, Any]


@dataclass(frozen=True)
class ChatUpdate:
    name: str
    update_mask: str
    authorization: str
    body: dict[str, Any]


@dataclass
class FakeMessage:
    """One stored message, with a body the API must never hand out in metadata format."""

    id: str
    sender: str
    to: str
    sent_at: datetime
    snippet: str
    body: str = "the message body, which format=metadata never returns"
    cc: str = ""


@dataclass
class FakeThread:
    id: str
    subject: str
    messages: list[FakeMessage]


@dataclass
class _Failure:
    status: int
    reason: str


@dataclass
class FakeGoogle:
    url: str = ""
    sent_mail: list[SentMail] = field(default_factory=list)
    chat_posts: list[ChatPost] = field(default_factory=list)
    #: Every accepted spaces.messages.patch, in order (the post's body is updated too).
    chat_updates: list[ChatUpdate] = field(default_factory=list)
    #: Chat user id -> the app's DM space with them.
    dm_spaces: dict[str, str] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    #: The mailbox behind threads.list/get (one mailbox: the tests' user).
    threads: dict[str, FakeThread] = field(default_factory=dict)
    #: Bearer token -> granted scopes; a token not listed has gmail.readonly.
    token_scopes: dict[str, frozenset[str]] = field(default_factory=dict)
    #: The `q` and `format` values the adapter sent, in order (to check what was asked).
    thread_queries: list[str] = field(default_factory=list)
    thread_formats: list[str] = field(default_factory=list)
    #: The moment newer_than counts back from; None is the real clock.
    now: datetime | None = None
    _failures: dict[str, deque[_Failure]] = field(default_factory=dict)
    _by_request: dict[tuple[str, str], ChatPost] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    #: Every request and answer checked against the gmail.v1 and chat.v1 discovery documents.
    conformance: Conformance = field(
        default_factory=lambda: Conformance({"/gmail/v1/": "gmail.v1", "/v1/": "chat.v1"})
    )

    def add_dm(self, user_id: str) -> str:
        space = f"spaces/dm-{user_id}"
        with self._lock:
            self.dm_spaces[user_id] = space
        return space

    def remove_dm(self, user_id: str) -> None:
        """The user removed the Chat app: findDirectMessage now answers 404."""
        with self._lock:
            self.dm_spaces.pop(user_id, None)

    def fail(self, op: str, status: int, reason: str = "", times: int = 1) -> None:
        """Answer the next `times` calls of `op` with an error."""
        with self._lock:
            queue = self._failures.setdefault(op, deque())
            queue.extend(_Failure(status, reason or _default_reason(status)) for _ in range(times))

    def add_thread(
        self, subject: str, *messages: tuple[str, str, datetime, str], cc: str = ""
    ) -> FakeThread:
        """A thread of (from, to, sent_at, snippet) messages, oldest first."""
        n = self._next_id()
        thread = FakeThread(
            f"t{n:04x}",
            subject,
            [
                FakeMessage(f"m{n:04x}{i}", sender, to, at, snippet, cc=cc)
                for i, (sender, to, at, snippet) in enumerate(messages)
            ],
        )
        with self._lock:
            self.threads[thread.id] = thread
        return thread

    def delete_chat_message(self, name: str) -> None:
        """The message is gone (deleted in Chat): a patch on it now answers 404."""
        with self._lock:
            self.chat_posts[:] = [p for p in self.chat_posts if p.name != name]
            for key, post in list(self._by_request.items()):
                if post.name == name:
                    del self._by_request[key]

    def chat_post(self, name: str) -> ChatPost | None:
        return next((p for p in self.chat_posts if p.name == name), None)

    def chat_messages_for(self, user_id: str) -> list[ChatPost]:
        space = self.dm_spaces.get(user_id)
        return [p for p in self.chat_posts if p.space == space]

    def mail_for(self, user_id: str = "me") -> list[SentMail]:
        return [m for m in self.sent_mail if m.user_id == user_id]

    # ------------------------------------------------------------------ internals

    def _next_failure(self, op: str) -> _Failure | None:
        with self._lock:
            self.calls.append(op)
            queue = self._failures.get(op)
            return queue.popleft() if queue else None

    def _next_id(self) -> int:
        with self._lock:
            return next(self._ids)


def _default_reason(status: int) -> str:
    return {
        400: "badRequest",
        401: "authError",
        403: "forbidden",
        404: "notFound",
        429: "rateLimitExceeded",
    }.get(status, "backendError")


def error_body(status: int, reason: str, message: str = "") -> dict[str, Any]:
    text = message or f"fake error {status} ({reason})"
    return {
        "error": {
            "code": status,
            "message": text,
            "status": _STATUS_NAMES.get(status, "UNKNOWN"),
            "errors": [{"message": text, "domain": "global", "reason": reason}],
        }
    }


def card_problem(body: dict[str, Any]) -> str | None:
    """Why Chat would refuse this message's cards, or None."""
    from google.apps.card_v1 import Card

    cards = body.get("cardsV2") or []
    if not body.get("text") and not cards:
        return "message has neither text nor cards"
    for item in cards:
        if not isinstance(item, dict) or "card" not in item or not item.get("cardId"):
            return "cardsV2 items need cardId and card"
        try:
            Card.from_json(json.dumps(item["card"]), ignore_unknown_fields=False)
        except Exception as exc:  # protobuf's ParseError and friends
            return f"invalid card: {type(exc).__name__}"
    return None


_TERM = re.compile(r"\{[^{}]*\}|\S+")


def _matches(thread: FakeThread, query: str, now: datetime) -> bool:
    """Gmail's search on the operators the fake knows; every term must hold."""

    def term_holds(term: str) -> bool:
        op, _, value = term.partition(":")
        value = value.lower()
        if op == "newer_than" and value.endswith("d") and value[:-1].isdigit():
            cutoff = now - timedelta(days=int(value[:-1]))
            return any(m.sent_at >= cutoff for m in thread.messages)
        if op in ("from", "to", "cc") and value:
            fields = {"from": "sender", "to": "to", "cc": "cc"}
            return any(value in getattr(m, fields[op]).lower() for m in thread.messages)
        words = term.lower()
        return words in thread.subject.lower() or any(
            words in m.snippet.lower() for m in thread.messages
        )

    for term in _TERM.findall(query):
        if term.startswith("{"):
            if not any(term_holds(t) for t in term[1:-1].split()):
                return False
        elif term.upper() != "OR" and not term_holds(term):
            return False
    return True


def _decode_raw(value: str) -> bytes:
    padded = value + "=" * (-len(value) % 4)
    return base64.urlsafe_b64decode(padded.encode("ascii"))


def _make_handler(fake: FakeGoogle) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out as separate writes; without this, Nagle plus delayed
        # ACKs cost ~40 ms per keep-alive request.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:
            return

        _api_method: Method | None = None
        _raw_body = b""

        def _nonconforming(self) -> bool:
            """Read the request and answer 400 if the discovery document does not allow it."""
            length = int(self.headers.get("Content-Length") or 0)
            self._raw_body = self.rfile.read(length) if length else b""
            url = urllib.parse.urlsplit(self.path)
            self._api_method, problem = fake.conformance.request(
                self.command, url.path, url.query, self._raw_body
            )
            if problem is not None:
                self._error(400, "badRequest", problem)
                return True
            return False

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            fake.conformance.response(self._api_method, status, data)
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, reason: str, message: str = "") -> None:
            self._send(status, error_body(status, reason, message))

        def _json_body(self) -> Any:
            try:
                return json.loads(self._raw_body or b"{}")
            except ValueError:
                return None

        def _authorization(self) -> str | None:
            value = self.headers.get("Authorization", "")
            return value if value.startswith("Bearer ") and len(value) > 7 else None

        def do_GET(self) -> None:
            if self._nonconforming():
                return
            url = urllib.parse.urlsplit(self.path)
            auth = self._authorization()
            if url.path == "/v1/spaces:findDirectMessage":
                failure = fake._next_failure(CHAT_FIND_DM)
                if auth is None:
                    self._error(401, "authError", "missing credentials")
                elif failure is not None:
                    self._error(failure.status, failure.reason)
                else:
                    name = urllib.parse.parse_qs(url.query).get("name", [""])[0]
                    space = fake.dm_spaces.get(name.removeprefix("users/"))
                    if not name.startswith("users/") or space is None:
                        self._error(404, "notFound", "direct message space not found")
                    else:
                        self._send(
                            200,
                            {"name": space, "spaceType": "DIRECT_MESSAGE", "singleUserBotDm": True},
                        )
                return
            parts = url.path.strip("/").split("/")
            if parts[:3] == ["gmail", "v1", "users"] and parts[4:5] == ["threads"]:
                query = urllib.parse.parse_qs(url.query)
                if len(parts) == 5:
                    self._threads_list(auth, query)
                    return
                if len(parts) == 6:
                    self._threads_get(auth, urllib.parse.unquote(parts[5]), query)
                    return
            self._error(404, "notFound", "no such method")

        def _scopes(self, auth: str) -> frozenset[str]:
            token = auth.removeprefix("Bearer ")
            return fake.token_scopes.get(token, frozenset({GMAIL_READONLY_SCOPE}))

        def _thread_refused(self, op: str, auth: str | None) -> bool:
            failure = fake._next_failure(op)
            if auth is None:
                self._error(401, "authError", "missing credentials")
                return True
            if failure is not None:
                self._error(failure.status, failure.reason)
                return True
            if not self._scopes(auth) & _THREAD_SCOPES:
                self._error(403, "insufficientPermissions", "Request had insufficient scopes.")
                return True
            return False

        def _threads_list(self, auth: str | None, query: dict[str, list[str]]) -> None:
            if self._thread_refused(GMAIL_THREADS_LIST, auth):
                return
            assert auth is not None
            q = query.get("q", [None])[0]
            if q is not None and GMAIL_METADATA_SCOPE in self._scopes(auth):
                self._error(403, "forbidden", "Metadata scope does not support 'q' parameter")
                return
            limit = int(query.get("maxResults", ["100"])[0])
            if not 1 <= limit <= 500:
                self._error(400, "invalidArgument", "maxResults must be between 1 and 500")
                return
            now = fake.now or datetime.now(UTC)
            with fake._lock:
                fake.thread_queries.append(q or "")
                stored = list(fake.threads.values())
            matching = [t for t in stored if q is None or _matches(t, q, now)]
            matching.sort(key=lambda t: max(m.sent_at for m in t.messages), reverse=True)
            body: dict[str, Any] = {
                "threads": [
                    {"id": t.id, "snippet": t.messages[-1].snippet, "historyId": "1"}
                    for t in matching[:limit]
                ],
                "resultSizeEstimate": len(matching),
            }
            if not body["threads"]:
                del body["threads"]
            self._send(200, body)

        def _threads_get(
            self, auth: str | None, thread_id: str, query: dict[str, list[str]]
        ) -> None:
            if self._thread_refused(GMAIL_THREADS_GET, auth):
                return
            assert auth is not None
            fmt = query.get("format", ["full"])[0]
            if fmt == "full" and GMAIL_METADATA_SCOPE in self._scopes(auth):
                self._error(403, "forbidden", "Metadata scope doesn't allow format FULL")
                return
            with fake._lock:
                fake.thread_formats.append(fmt)
                thread = fake.threads.get(thread_id)
            if thread is None:
                self._error(404, "notFound", "Requested entity was not found.")
                return
            wanted = {h.lower() for h in query.get("metadataHeaders", [])}
            messages = []
            for m in thread.messages:
                headers = [
                    {"name": name, "value": value}
                    for name, value in (
                        ("Subject", thread.subject),
                        ("From", m.sender),
                        ("To", m.to),
                        ("Cc", m.cc),
                        ("Date", format_datetime(m.sent_at)),
                    )
                    if value and (not wanted or name.lower() in wanted)
                ]
                message: dict[str, Any] = {
                    "id": m.id,
                    "threadId": thread.id,
                    "labelIds": ["INBOX"],
                    "snippet": m.snippet,
                    "internalDate": str(int(m.sent_at.timestamp() * 1000)),
                    "historyId": "1",
                }
                if fmt != "minimal":
                    payload: dict[str, Any] = {"mimeType": "text/plain", "headers": headers}
                    if fmt == "full":
                        data = base64.urlsafe_b64encode(m.body.encode()).decode()
                        payload["body"] = {"size": len(m.body), "data": data}
                    message["payload"] = payload
                messages.append(message)
            self._send(200, {"id": thread.id, "historyId": "1", "messages": messages})

        def do_POST(self) -> None:
            if self._nonconforming():
                return
            url = urllib.parse.urlsplit(self.path)
            parts = url.path.strip("/").split("/")
            auth = self._authorization()
            body = self._json_body()
            if parts[:3] == ["gmail", "v1", "users"] and parts[4:] == ["messages", "send"]:
                self._gmail_send(urllib.parse.unquote(parts[3]), auth, body)
                return
            if parts[:2] == ["v1", "spaces"] and len(parts) == 4 and parts[3] == "messages":
                query = urllib.parse.parse_qs(url.query)
                request_id = query.get("requestId", [None])[0]
                self._chat_create(f"spaces/{parts[2]}", request_id, auth, body)
                return
            self._error(404, "notFound", "no such method")

        def do_PATCH(self) -> None:
            if self._nonconforming():
                return
            url = urllib.parse.urlsplit(self.path)
            parts = url.path.strip("/").split("/")
            if not (parts[:2] == ["v1", "spaces"] and len(parts) == 5 and parts[3] == "messages"):
                self._error(404, "notFound", "no such method")
                return
            query = urllib.parse.parse_qs(url.query)
            self._chat_patch(
                f"spaces/{parts[2]}/messages/{urllib.parse.unquote(parts[4])}",
                query.get("updateMask", [""])[0],
                query.get("allowMissing", ["false"])[0] == "true",
                self._authorization(),
                self._json_body(),
            )

        def _chat_patch(
            self, name: str, mask: str, allow_missing: bool, auth: str | None, body: Any
        ) -> None:
            failure = fake._next_failure(CHAT_PATCH)
            if auth is None:
                self._error(401, "authError", "missing credentials")
                return
            if failure is not None:
                self._error(failure.status, failure.reason)
                return
            paths = [p.strip() for p in mask.split(",") if p.strip()]
            if not paths or not (paths == ["*"] or set(paths) <= PATCH_PATHS):
                self._error(400, "badRequest", f"invalid updateMask {mask!r}")
                return
            if not isinstance(body, dict):
                self._error(400, "badRequest", "message body required")
                return
            with fake._lock:
                post = next((p for p in fake.chat_posts if p.name == name), None)
            if post is None:
                message_id = name.rpartition("/")[2]
                if allow_missing and not message_id.startswith("client-"):
                    self._error(400, "badRequest", "allowMissing needs a client-assigned id")
                else:
                    # allowMissing with a client id would create it; the product never asks.
                    self._error(404, "notFound", "message not found")
                return
            if post.authorization != auth:
                self._error(403, "forbidden", "an app can only update its own messages")
                return
            fields = PATCH_PATHS if paths == ["*"] else set(paths)
            updated = dict(post.body)
            for path in fields:
                if path in body:
                    updated[path] = body[path]
                else:
                    updated.pop(path, None)
            problem = card_problem(updated)
            if problem is not None:
                self._error(400, "badRequest", problem)
                return
            with fake._lock:
                post.body.clear()
                post.body.update(updated)
                fake.chat_updates.append(ChatUpdate(name, mask, auth, dict(body)))
            self._send(200, {"name": name, **updated})

        def _gmail_send(self, user_id: str, auth: str | None, body: Any) -> None:
            failure = fake._next_failure(GMAIL_SEND)
            if auth is None:
                self._error(401, "authError", "missing credentials")
                return
            if failure is not None:
                self._error(failure.status, failure.reason)
                return
            if not isinstance(body, dict) or not isinstance(body.get("raw"), str):
                self._error(400, "invalidArgument", "'raw' RFC822 payload message string required")
                return
            try:
                raw = _decode_raw(body["raw"])
            except (binascii.Error, ValueError):
                self._error(400, "invalidArgument", "invalid raw")
                return
            parsed = email.message_from_bytes(raw, policy=email.policy.default)
            if not isinstance(parsed, EmailMessage) or not parsed.get("To"):
                self._error(400, "invalidArgument", "Recipient address required")
                return
            n = fake._next_id()
            with fake._lock:
                fake.sent_mail.append(SentMail(user_id, auth, raw, parsed))
            self._send(200, {"id": f"msg-{n}", "threadId": f"thread-{n}", "labelIds": ["SENT"]})

        def _chat_create(
            self, space: str, request_id: str | None, auth: str | None, body: Any
        ) -> None:
            failure = fake._next_failure(CHAT_CREATE)
            if auth is None:
                self._error(401, "authError", "missing credentials")
                return
            if failure is not None:
                self._error(failure.status, failure.reason)
                return
            if space not in fake.dm_spaces.values():
                self._error(404, "notFound", "space not found")
                return
            if not isinstance(body, dict):
                self._error(400, "badRequest", "message body required")
                return
            problem = card_problem(body)
            if problem is not None:
                self._error(400, "badRequest", problem)
                return
            with fake._lock:
                existing = fake._by_request.get((space, request_id)) if request_id else None
            if existing is not None:
                self._send(200, {"name": existing.name, **existing.body})
                return
            post = ChatPost(f"{space}/messages/m{fake._next_id()}", space, request_id, auth, body)
            with fake._lock:
                fake.chat_posts.append(post)
                if request_id:
                    fake._by_request[(space, request_id)] = post
            self._send(200, {"name": post.name, **body})

    return Handler


@contextmanager
def fake_google_apis() -> Iterator[FakeGoogle]:
    """Serve Gmail and Chat on a free loopback port; `fake.url` is the api_endpoint."""
    fake = FakeGoogle()
    with serve_loopback(_make_handler(fake), "fake-google-apis") as url:
        fake.url = f"{url}/"
        yield fake
    # Only on a clean exit: a failing test keeps its own error.
    fake.conformance.assert_clean()
