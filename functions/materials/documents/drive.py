"""The production document reader: Drive API v3 through google-api-python-client, as the user.

Per document: one `files.get` with a `fields` mask (name, type, link, size,
modified time), then the text: Google Docs and Slides are exported as
`text/plain` and Sheets as `text/csv` (`files.export`, which Drive refuses
above 10 MB with 403 `exportSizeLimitExceeded`); PDFs and plain-text files
are downloaded (`alt=media`) only when their `size` is within `max_bytes`, and
a PDF's text is pulled out by `pdf.pdf_text` (no heavy dependency; a scanned
or unusual PDF is listed as "text not extracted" instead). Other types are
`unsupported`. `supportsAllDrives=true` so attachments in shared drives read.

Errors are sorted the way the generation task needs them (see `port`): a
missing file (404: Drive answers 404 also when the user may not see it), no
access (other 403s, 401, and files whose owner turned off downloading for
viewers: `cannotDownloadFile`) and too large are permanent for that file; 429,
403 rate limits, 5xx, timeouts and a failing token endpoint are transient.
No retries here (`num_retries=0`): the task queue backs off instead.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from functions.materials.documents.pdf import pdf_text
from functions.materials.documents.port import (
    DOWNLOADABLE,
    EXPORT_AS,
    PDF,
    Document,
    DocumentError,
    DocumentRef,
    DocumentsUnavailable,
    DocumentUnreadable,
    text_hash,
)

if TYPE_CHECKING:
    from google.auth.credentials import Credentials

#: Seconds one HTTP call may take. A document is two calls (metadata, then the text), and
#: the generate task's time budget counts them (tests/materials/test_deadline.py).
DEFAULT_TIMEOUT_S = 5.0
CALLS_PER_READ = 2
READ_WORST_CASE_SECONDS = CALLS_PER_READ * DEFAULT_TIMEOUT_S
#: A stored file (PDF, text) is downloaded only up to this size.
DEFAULT_MAX_BYTES = 5 * 1024 * 1024
FIELDS = "id,name,mimeType,webViewLink,modifiedTime,size"
#: Drive's usage-limit reasons on a 403 (the handle-errors guide); they pass with time.
RATE_LIMIT_REASONS = frozenset(
    {"rateLimitExceeded", "userRateLimitExceeded", "dailyLimitExceeded", "quotaExceeded"}
)
#: The owner turned off downloading and copying for viewers: readable in Drive's UI only.
DOWNLOAD_RESTRICTED = frozenset({"cannotDownloadFile", "cannotExportFile"})


def _reasons(content: bytes) -> set[str]:
    try:
        body = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return set()
    error = body.get("error") if isinstance(body, dict) else None
    items = error.get("errors") if isinstance(error, dict) else None
    return {
        i["reason"]
        for i in (items if isinstance(items, list) else [])
        if isinstance(i, dict) and isinstance(i.get("reason"), str)
    }


def translate_http_error(status: int, content: bytes) -> DocumentError:
    """One Drive error response as the port's outcome (status and reason only: no content)."""
    reasons = _reasons(content)
    tag = f"{status} {','.join(sorted(reasons)) or 'no reason'}"
    if (
        status == 429
        or status >= 500
        or status == 408
        or (status == 403 and reasons & RATE_LIMIT_REASONS)
    ):
        return DocumentsUnavailable(tag)
    if status == 404:
        return DocumentUnreadable("not_found", tag)
    if status == 403 and "exportSizeLimitExceeded" in reasons:
        return DocumentUnreadable("too_large", tag)
    if status == 403 and "fileNotDownloadable" in reasons:
        return DocumentUnreadable("unsupported", tag)
    if status in (401, 403):
        return DocumentUnreadable("no_access", tag)
    return DocumentUnreadable("unsupported", tag)


def _modified(raw: Any) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None


class GoogleDriveReader:
    """Documents one user can open, read with that user's OAuth credentials."""

    def __init__(
        self,
        credentials: Credentials | Callable[[], Credentials],
        *,
        api_endpoint: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self._credentials = credentials
        self._api_endpoint = api_endpoint
        self._timeout_s = timeout_s
        self._max_bytes = max_bytes
        self._client: Any = None
        self._lock = threading.Lock()
        #: HTTP requests sent so far; for tests and reports.
        self.calls = 0

    def _service(self) -> Any:
        with self._lock:
            if self._client is None:
                from functions.google_clients import authorized_http, discovery_service

                # A factory is called only now, when there is a document to read: a user
                # whose meetings attach nothing costs no token refresh. It raises the
                # port's errors (a grant that is gone is `no_access` for every file).
                creds = self._credentials() if callable(self._credentials) else self._credentials
                self._client = discovery_service(
                    "drive",
                    "v3",
                    http=authorized_http(creds, timeout_s=self._timeout_s),
                    api_endpoint=self._api_endpoint,
                )
            return self._client

    def _execute(self, request: Any) -> Any:
        import httplib2  # type: ignore[import-untyped, unused-ignore]
        from google.auth import exceptions as auth_exceptions
        from googleapiclient.errors import HttpError

        self.calls += 1
        try:
            return request.execute(num_retries=0)
        except HttpError as exc:
            raise translate_http_error(exc.resp.status, exc.content) from None
        except auth_exceptions.RefreshError as exc:
            if getattr(exc, "retryable", False):
                raise DocumentsUnavailable("token endpoint unavailable") from None
            raise DocumentUnreadable("no_access", "refresh failed") from None
        except auth_exceptions.TransportError:
            raise DocumentsUnavailable("token endpoint unreachable") from None
        except (httplib2.HttpLib2Error, OSError):
            raise DocumentsUnavailable("drive unreachable") from None

    def read(self, ref: DocumentRef, *, max_chars: int) -> Document:
        files = self._service().files()
        meta = self._execute(files.get(fileId=ref.file_id, fields=FIELDS, supportsAllDrives=True))
        mime = str(meta.get("mimeType") or "")
        extracted = True
        if mime in EXPORT_AS:
            data = self._execute(files.export(fileId=ref.file_id, mimeType=EXPORT_AS[mime]))
        elif mime in DOWNLOADABLE:
            try:
                size = int(meta.get("size") or 0)
            except (TypeError, ValueError):
                size = 0
            if size > self._max_bytes:
                raise DocumentUnreadable("too_large", f"{size} bytes")
            data = self._execute(files.get_media(fileId=ref.file_id, supportsAllDrives=True))
        else:
            raise DocumentUnreadable("unsupported", mime[:80])
        raw = data if isinstance(data, bytes) else str(data).encode()
        if mime == PDF:
            # One character more than kept, so a longer text reads as clipped.
            found = pdf_text(raw[: self._max_bytes], max_chars + 1)
            extracted = found is not None
            text = found or ""
        else:
            text = raw[: max(self._max_bytes, 1)].decode("utf-8", "replace").lstrip("\ufeff")
        return Document(
            title=str(meta.get("name") or ref.title),
            url=str(meta.get("webViewLink") or ref.url),
            mime_type=mime,
            text=text[:max_chars],
            modified=_modified(meta.get("modifiedTime")),
            content_hash=text_hash(text),
            clipped=len(text) > max_chars,
            extracted=extracted,
        )
