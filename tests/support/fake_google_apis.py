"""A local stand-in for the Gmail and Chat REST APIs, for the real google-api-python-client.

Implements the four methods the product calls, with Google's documented
semantics (Gmail v1 and Chat v1 discovery, google-api-python-client 2.202):

- POST gmail/v1/users/{userId}/messages/send: `raw` is base64url RFC 2822;
  the decoded message is parsed and kept, so tests can inspect real MIME.
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
import threading
import urllib.parse
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.discovery import Conformance, Method
from tests.support.loopback import serve_loopback

GMAIL_SEND = "gmail.send"
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
            self._error(404, "notFound", "no such method")

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
