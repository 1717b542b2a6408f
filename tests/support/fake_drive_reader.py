"""A local stand-in for the Drive API v3 (files.get, files.get alt=media, files.export).

For the real google-api-python-client (drive v3 discovery shipped in the
library), with Drive's documented semantics as the document reader meets them:

- Every call needs `Authorization: Bearer <token>`; a token names a user and
  the scopes it was granted. Without a Drive read scope (drive.readonly,
  drive, or drive.file for files the app opened) the answer is 403
  `insufficientPermissions` ("Request had insufficient authentication scopes").
- A file the user may not open is indistinguishable from a missing one:
  404 `notFound` ("File not found: <id>."), as Drive answers.
- `fields` selects the metadata returned (a field the File schema does not
  have is 400 `invalidParameter`); without it Drive returns only kind, id,
  name and mimeType.
- Google Docs/Sheets/Slides have no bytes: `alt=media` is 403
  `fileNotDownloadable`; they are exported, only to the formats Drive lists
  for their type (else 400 `badRequest`), and an export above 10 MB is 403
  `exportSizeLimitExceeded`. Other files are not exportable (403
  `fileNotExportable`).
- A file whose owner turned off download and copy for viewers answers 403
  `cannotDownloadFile` to an export or a download (its metadata still reads).
- Failures (429, 500, 503, ...) can be queued with Google's error body.

Every request is checked against the discovery document (`discovery.Conformance`),
and every JSON answer against the method's response schema.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.discovery import Conformance, Method, document
from tests.support.fake_google_apis import error_body
from tests.support.loopback import serve_loopback

EXPORT_LIMIT_BYTES = 10 * 1024 * 1024
DRIVE_READONLY = "https://www.googleapis.com/auth/drive.readonly"
_READ_SCOPES = frozenset({DRIVE_READONLY, "https://www.googleapis.com/auth/drive"})
#: Export formats Drive offers per Workspace type (the subset a reader would ask for).
EXPORT_FORMATS = {
    "application/vnd.google-apps.document": {"text/plain", "text/html", "application/pdf"},
    "application/vnd.google-apps.spreadsheet": {"text/csv", "application/pdf"},
    "application/vnd.google-apps.presentation": {"text/plain", "application/pdf"},
}


@dataclass
class FakeFile:
    file_id: str
    name: str
    mime_type: str
    content: bytes
    readers: set[str]
    modified: datetime = field(default_factory=lambda: datetime(2026, 11, 20, 8, 0, tzinfo=UTC))
    #: What an export would weigh (Drive refuses above 10 MB); defaults to the content's size.
    export_size: int | None = None
    #: The owner disabled download, print and copy for viewers (`copyRequiresWriterPermission`).
    download_restricted: bool = False


@dataclass
class FakeDrive:
    url: str = ""
    files: dict[str, FakeFile] = field(default_factory=dict)
    #: token -> (user, granted scopes)
    tokens: dict[str, tuple[str, frozenset[str]]] = field(default_factory=dict)
    conformance: Conformance = field(
        default_factory=lambda: Conformance({"/drive/v3/": "drive.v3"})
    )
    failures: deque[tuple[int, str]] = field(default_factory=deque)
    requests: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(
        self,
        file_id: str,
        name: str,
        mime_type: str,
        content: bytes | str,
        *,
        readers: set[str],
        export_size: int | None = None,
    ) -> FakeFile:
        data = content.encode() if isinstance(content, str) else content
        f = FakeFile(file_id, name, mime_type, data, set(readers), export_size=export_size)
        self.files[file_id] = f
        return f

    def grant(self, token: str, user: str, *scopes: str) -> None:
        self.tokens[token] = (user, frozenset(scopes or (DRIVE_READONLY,)))

    def fail(self, status: int, reason: str = "", times: int = 1) -> None:
        for _ in range(times):
            self.failures.append(
                (status, reason or {429: "rateLimitExceeded"}.get(status, "backendError"))
            )


def _file_fields() -> frozenset[str]:
    return frozenset(document("drive.v3")["schemas"]["File"]["properties"])


def _metadata(f: FakeFile, fields: str | None) -> dict[str, Any]:
    full: dict[str, Any] = {
        "kind": "drive#file",
        "id": f.file_id,
        "name": f.name,
        "mimeType": f.mime_type,
        "webViewLink": f"https://docs.google.com/document/d/{f.file_id}/edit",
        "modifiedTime": f.modified.astimezone(UTC).isoformat().replace("+00:00", "Z"),
    }
    if not f.mime_type.startswith("application/vnd.google-apps."):
        full["size"] = str(len(f.content))  # int64 as a string; Workspace files have no size
    if not fields:
        return {k: full[k] for k in ("kind", "id", "name", "mimeType")}
    wanted = {x.strip() for x in fields.split(",") if x.strip()}
    return {k: v for k, v in full.items() if k in wanted}


def _make_handler(fake: FakeDrive) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True
        _api_method: Method | None = None

        def log_message(self, format: str, *args: object) -> None:
            return

        def _json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            fake.conformance.response(self._api_method, status, data)
            self._raw(status, data, "application/json; charset=UTF-8")

        def _raw(self, status: int, data: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, reason: str, message: str = "") -> None:
            self._json(status, error_body(status, reason, message))

        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            fake.requests.append(f"GET {url.path}?{url.query}")
            self._api_method, problem = fake.conformance.request("GET", url.path, url.query, b"")
            if problem is not None:
                self._error(400, "badRequest", problem)
                return
            query = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
            auth = self.headers.get("Authorization", "")
            grant = (
                fake.tokens.get(auth.removeprefix("Bearer "))
                if auth.startswith("Bearer ")
                else None
            )
            if grant is None:
                self._error(401, "authError", "Invalid Credentials")
                return
            user, scopes = grant
            with fake._lock:
                failure = fake.failures.popleft() if fake.failures else None
            if failure is not None:
                self._error(*failure)
                return
            if not scopes & _READ_SCOPES:
                self._error(
                    403,
                    "insufficientPermissions",
                    "Request had insufficient authentication scopes.",
                )
                return
            parts = url.path.removeprefix("/drive/v3/").split("/")
            if parts[0] != "files" or len(parts) not in (2, 3):
                self._error(404, "notFound", "no such method")
                return
            file_id = urllib.parse.unquote(parts[1])
            f = fake.files.get(file_id)
            if f is None or user not in f.readers:
                self._error(404, "notFound", f"File not found: {file_id}.")
                return
            workspace = f.mime_type in EXPORT_FORMATS
            wants_content = len(parts) == 3 or query.get("alt") == "media"
            if wants_content and f.download_restricted:
                self._error(
                    403, "cannotDownloadFile", "The user does not have permission to download."
                )
                return
            if len(parts) == 3:
                if parts[2] != "export":
                    self._error(404, "notFound", "no such method")
                elif not workspace:
                    self._error(
                        403, "fileNotExportable", "Export only supports Docs Editors files."
                    )
                elif query.get("mimeType") not in EXPORT_FORMATS[f.mime_type]:
                    self._error(400, "badRequest", "The requested conversion is not supported.")
                elif (f.export_size or len(f.content)) > EXPORT_LIMIT_BYTES:
                    self._error(
                        403, "exportSizeLimitExceeded", "This file is too large to be exported."
                    )
                else:
                    self._raw(200, f.content, f"{query['mimeType']}; charset=utf-8")
                return
            if query.get("alt") == "media":
                if workspace:
                    self._error(
                        403,
                        "fileNotDownloadable",
                        "Only files with binary content can be downloaded.",
                    )
                else:
                    self._raw(200, f.content, f.mime_type)
                return
            fields = query.get("fields")
            if fields:
                unknown = {x.strip() for x in fields.split(",")} - _file_fields()
                if unknown:
                    self._error(
                        400, "invalidParameter", f"Invalid field selection {sorted(unknown)[0]}"
                    )
                    return
            self._json(200, _metadata(f, fields))

    return Handler


@contextmanager
def fake_drive() -> Iterator[FakeDrive]:
    """Serve Drive v3 on a free loopback port; `fake.url` is the api_endpoint.

    The client replaces the document's rootUrl and servicePath with the endpoint,
    so it names the service path too, as Google's would (`.../drive/v3/`).
    """
    fake = FakeDrive()
    with serve_loopback(_make_handler(fake), "fake-drive") as url:
        fake.url = f"{url}/drive/v3/"
        yield fake
    fake.conformance.assert_clean()
