"""A local stand-in for the Drive v3 methods "Share agenda with guests" calls.

For the real google-api-python-client, with Drive's documented semantics
(drive.v3 discovery document shipped with the client):

- POST /upload/drive/v3/files?uploadType=multipart (files.create with media):
  the first part is the File metadata, the second the content. Metadata with
  the Google Docs MIME type and an HTML body is a converted Doc, kept as the
  HTML so tests can read what guests would see.
- PATCH /upload/drive/v3/files/{fileId}?uploadType=multipart (files.update with
  media): new content in place, same id and link.
- GET /drive/v3/files?q=appProperties has { key='K' and value='V' } and
  trashed = false (files.list): this app's untrashed files with that property;
  any other query is refused here (400), so a change of query shows up.
- GET /drive/v3/files/{fileId}/permissions (permissions.list): the owner and
  readers, `pageSize` (at most 100) per page with `nextPageToken`.
- POST /drive/v3/files/{fileId}/permissions (permissions.create): a reader.
  The same address twice keeps one permission. With sendNotificationEmail=false
  an address that has no Google account is refused with 400
  invalidSharingRequest, as Drive refuses it.

Scope: `drive.file` reaches only files this app created for the same user; any
other file id answers 404 notFound (Drive does not reveal files the app may not
see). A file in the owner's trash still updates and answers `trashed: true`.
Every request is checked against the discovery document: method, parameters
(upload paths against the method's mediaUpload path), and the metadata body;
every answer against the response schema, with `fields` honoured.
"""

from __future__ import annotations

import email
import email.policy
import itertools
import json
import re
import secrets
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.support.discovery import Conformance, check_parameters, check_value, methods
from tests.support.fake_calendar import error_body
from tests.support.loopback import serve_loopback

DOC_MIME = "application/vnd.google-apps.document"
_G = "https://www.googleapis.com/auth/"
_UPLOAD = "/upload/drive/v3/files"
_JSON = "application/json; charset=UTF-8"
#: Drive's query language, the one form the product uses (key and value in quotes).
_APP_PROPERTY_QUERY = re.compile(
    r"appProperties has \{ key='([^'\\]+)' and value='([^'\\]+)' \} and trashed = false"
)


@dataclass
class DriveFile:
    file_id: str
    owner: str
    name: str
    mime_type: str
    content: str
    trashed: bool = False
    #: email -> permission id
    readers: dict[str, str] = field(default_factory=dict)
    app_properties: dict[str, str] = field(default_factory=dict)
    versions: int = 1

    @property
    def web_view_link(self) -> str:
        return f"https://docs.google.com/document/d/{self.file_id}/edit?usp=drivesdk"


class _Error(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(status)
        self.status = status
        self.body = error_body(status, reason, message)


def _method(method_id: str) -> Any:
    return next(m for m in methods("drive.v3") if m.id == method_id)


@dataclass
class FakeDrive:
    files: dict[str, DriveFile] = field(default_factory=dict)
    #: access token -> (user email, granted scopes)
    tokens: dict[str, tuple[str, frozenset[str]]] = field(default_factory=dict)
    #: Addresses with a Google account (others cannot be shared with silently).
    google_accounts: set[str] = field(default_factory=set)
    #: The server's own page size for permissions.list (tests lower it to force paging).
    page_cap: int = 100
    #: Method ids of requests served, in order.
    calls: list[str] = field(default_factory=list)
    conformance: Conformance = field(
        default_factory=lambda: Conformance({"/drive/v3/": "drive.v3"})
    )
    base_url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def api_endpoint(self) -> str:
        """What the client gets as `api_endpoint` (Google's is .../drive/v3/)."""
        return self.base_url + "/drive/v3/"

    def token_for(self, email_address: str, scopes: tuple[str, ...] = (_G + "drive.file",)) -> str:
        token = "ya29.drive-" + secrets.token_urlsafe(12)
        self.tokens[token] = (email_address, frozenset(scopes))
        return token

    def owned_by(self, owner: str) -> list[DriveFile]:
        return [f for f in self.files.values() if f.owner == owner]

    # ------------------------------------------------------------ requests
    def handle(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, bytes]:
        try:
            with self._lock:
                return 200, json.dumps(self._serve(method, path, query, headers, body)).encode()
        except _Error as exc:
            return exc.status, exc.body

    def _serve(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> dict[str, Any]:
        params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        if path == _UPLOAD and method == "POST":
            method_id, file_id = "drive.files.create", ""
        elif path.startswith(_UPLOAD + "/") and method == "PATCH":
            method_id, file_id = "drive.files.update", unquote(path[len(_UPLOAD) + 1 :])
        elif path == "/drive/v3/files" and method == "GET":
            self.calls.append("drive.files.list")
            return self._list(self._owner(headers, "drive.files.list"), params)
        elif path.startswith("/drive/v3/files/") and path.endswith("/permissions"):
            method_id = "drive.permissions.list" if method == "GET" else "drive.permissions.create"
            file_id = unquote(path[len("/drive/v3/files/") : -len("/permissions")])
        else:
            raise _Error(404, "notFound", "Not Found")
        self.calls.append(method_id)
        owner = self._owner(headers, method_id)
        m = _method(method_id)
        if method_id == "drive.permissions.create":
            return self._grant(owner, file_id, params, body)
        if method_id == "drive.permissions.list":
            return self._permissions(owner, file_id, params)
        metadata, content = self._multipart(headers, body, params)
        problems = check_parameters(m, {"fileId": file_id} if file_id else {}, query)
        problems += check_value("drive.v3", metadata, {"$ref": m.request}, m.request)
        if problems:
            self.conformance.violations.extend(problems)
            raise _Error(400, "badRequest", "; ".join(problems))
        if method_id == "drive.files.create":
            return self._create(owner, metadata, content, params)
        return self._update(owner, file_id, metadata, content, params)

    def _owner(self, headers: Mapping[str, str], method_id: str) -> str:
        auth = headers.get("authorization", "")
        got = self.tokens.get(auth[7:].strip()) if auth.lower().startswith("bearer ") else None
        if got is None:
            raise _Error(401, "authError", "Invalid Credentials")
        owner, granted = got
        from googleapiclient.discovery_cache import get_static_doc

        doc = json.loads(get_static_doc("drive", "v3") or "{}")
        resource, name = method_id.split(".")[1:]
        allowed = set(doc["resources"][resource]["methods"][name]["scopes"])
        if not granted & allowed:
            raise _Error(
                403, "insufficientPermissions", "Request had insufficient authentication scopes."
            )
        return owner

    def _multipart(
        self, headers: Mapping[str, str], body: bytes, params: Mapping[str, str]
    ) -> tuple[dict[str, Any], str]:
        if params.get("uploadType") != "multipart":
            raise _Error(400, "badRequest", "This fake takes multipart uploads only.")
        ctype = headers.get("content-type", "")
        message = email.message_from_bytes(
            f"Content-Type: {ctype}\r\n\r\n".encode() + body, policy=email.policy.HTTP
        )
        parts = list(message.iter_parts()) if message.is_multipart() else []
        if len(parts) != 2:
            raise _Error(400, "badMultipart", "A multipart upload has metadata and media.")
        raw_meta, media = (p.get_payload(decode=True) for p in parts)
        if not isinstance(raw_meta, bytes) or not isinstance(media, bytes):
            raise _Error(400, "badMultipart", "A multipart upload has metadata and media.")
        meta = json.loads(raw_meta or b"{}")
        if not isinstance(meta, dict):
            raise _Error(400, "parseError", "Parse Error")
        if parts[1].get_content_type() != "text/html":
            raise _Error(400, "badContent", "This fake converts HTML only.")
        return meta, media.decode("utf-8")

    def _list(self, owner: str, params: Mapping[str, str]) -> dict[str, Any]:
        """files.list: only the one query form the product sends is understood (else 400)."""
        found = _APP_PROPERTY_QUERY.fullmatch(params.get("q", ""))
        if found is None:
            raise _Error(400, "invalid", "This fake understands one appProperties query.")
        key, value = found.groups()
        hits = [
            f
            for f in self.files.values()
            if f.owner == owner and not f.trashed and f.app_properties.get(key) == value
        ]
        inner = re.fullmatch(r"files\(([a-zA-Z,]+)\)", params.get("fields", ""))
        if inner is None:
            return {"files": [self._answer(f, {}) for f in hits]}
        return {"files": [self._answer(f, {"fields": inner.group(1)}) for f in hits]}

    def _visible(self, owner: str, file_id: str) -> DriveFile:
        found = self.files.get(file_id)
        if found is None or found.owner != owner:
            raise _Error(404, "notFound", f"File not found: {file_id}.")
        return found

    def _answer(self, f: DriveFile, params: Mapping[str, str]) -> dict[str, Any]:
        full = {
            "kind": "drive#file",
            "id": f.file_id,
            "name": f.name,
            "mimeType": f.mime_type,
            "webViewLink": f.web_view_link,
            "trashed": f.trashed,
        }
        wanted = params.get("fields")
        if not wanted:
            return {k: full[k] for k in ("kind", "id", "name", "mimeType")}
        return {k: full[k] for k in wanted.split(",") if k in full}

    def _create(
        self, owner: str, meta: dict[str, Any], content: str, params: Mapping[str, str]
    ) -> dict[str, Any]:
        file_id = f"1Doc{next(self._ids):04d}" + secrets.token_hex(8)
        created = DriveFile(
            file_id, owner, str(meta.get("name", "Untitled")), str(meta.get("mimeType")), content
        )
        created.app_properties = dict(meta.get("appProperties") or {})
        self.files[file_id] = created
        return self._answer(created, params)

    def _update(
        self,
        owner: str,
        file_id: str,
        meta: dict[str, Any],
        content: str,
        params: Mapping[str, str],
    ) -> dict[str, Any]:
        found = self._visible(owner, file_id)
        if "name" in meta:
            found.name = str(meta["name"])
        found.content = content
        found.versions += 1
        return self._answer(found, params)

    def _grant(
        self, owner: str, file_id: str, params: Mapping[str, str], body: bytes
    ) -> dict[str, Any]:
        found = self._visible(owner, file_id)
        perm = json.loads(body or b"{}")
        if perm.get("role") != "reader" or perm.get("type") != "user":
            raise _Error(400, "invalid", "This fake grants user readers only.")
        address = str(perm.get("emailAddress", "")).lower()
        if not address:
            raise _Error(400, "required", "emailAddress is required for type user.")
        if params.get("sendNotificationEmail") == "false" and address not in self.google_accounts:
            raise _Error(
                400,
                "invalidSharingRequest",
                'Bad Request. User message: "You are trying to invite '
                f"{address}. Since there is no Google account associated with this email "
                'address, you must check the \\"Notify people\\" box to invite this recipient."',
            )
        perm_id = found.readers.setdefault(address, secrets.token_hex(6))
        answer = {"kind": "drive#permission", "id": perm_id}
        wanted = params.get("fields")
        return {k: answer[k] for k in wanted.split(",")} if wanted else answer

    def _permissions(self, owner: str, file_id: str, params: Mapping[str, str]) -> dict[str, Any]:
        """permissions.list: the owner and the readers, `pageSize` (at most 100) per page."""
        found = self._visible(owner, file_id)
        size = min(int(params.get("pageSize", "100")), 100, self.page_cap)
        start = int(params.get("pageToken", "0") or "0")
        everyone = [("owner", owner), *(("reader", e) for e in sorted(found.readers))]
        page = everyone[start : start + size]
        answer: dict[str, Any] = {
            "permissions": [
                {"kind": "drive#permission", "role": role, "type": "user", "emailAddress": e}
                for role, e in page
            ]
        }
        if start + size < len(everyone):
            answer["nextPageToken"] = str(start + size)
        wanted = params.get("fields", "")
        if "permissions(emailAddress)" in wanted:
            answer["permissions"] = [
                {"emailAddress": p["emailAddress"]} for p in answer["permissions"]
            ]
        return answer

    def trash(self, file_id: str) -> None:
        self.files[file_id].trashed = True

    def delete(self, file_id: str) -> None:
        del self.files[file_id]


def loopback_http(base_url: str) -> Any:
    """An httplib2.Http that sends the client's https upload URLs for this fake over http.

    google-api-python-client builds media upload URLs from the discovery
    document's https root and swaps in only the host of `api_endpoint`, so a
    plain-HTTP loopback fake is reached only through this rewrite.
    """
    import httplib2  # type: ignore[import-untyped]

    host = urlsplit(base_url).netloc

    class LoopbackHttp(httplib2.Http):  # type: ignore[misc]
        def request(self, uri: str, *args: Any, **kwargs: Any) -> Any:
            if uri.startswith(f"https://{host}/"):
                uri = "http://" + uri[len("https://") :]
            return super().request(uri, *args, **kwargs)

    return LoopbackHttp(timeout=10)


@contextmanager
def fake_drive(state: FakeDrive | None = None) -> Iterator[FakeDrive]:
    drive = state or FakeDrive()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            m, problem = drive.conformance.request(self.command, split.path, split.query, body)
            if problem is not None:
                status, payload = 400, error_body(400, "badRequest", problem)
            else:
                status, payload = drive.handle(self.command, split.path, split.query, headers, body)
                drive.conformance.response(m, status, payload)
            self.send_response(status)
            self.send_header("Content-Type", _JSON)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = _serve
        do_POST = _serve
        do_PATCH = _serve

        def log_message(self, format: str, *args: object) -> None:
            return

    with serve_loopback(Handler, "fake-drive") as url:
        drive.base_url = url
        yield drive
    drive.conformance.assert_clean()
