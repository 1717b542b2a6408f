"""Reading one document as plain text, bounded, as the user: the port and its outcomes.

A document is read for a meeting's prep materials: an event's attachment,
the notes attached to the previous occurrence of a series, or a standing
document an admin configured for a meeting type. Whatever reads it (Drive v3
in production, a local folder in the embedded default) answers the same
`Document`, with at most `max_chars` characters of text, and one of three
outcomes the caller must tell apart:

- a `Document`: the text (clipped, with `clipped` saying so) and its hash;
- `DocumentUnreadable`: this file cannot be read for this user, now or on a
  retry (missing, no access, too large to export, a type with no text).
  The materials list it as "could not be read" and are made without it;
- `DocumentsUnavailable`: the service failed (5xx, 429, a timeout, the
  token endpoint): the generation task hands itself back to Cloud Tasks.

`DRIVE_READONLY` is the one scope this source needs (see docs/materials.md
for why not `drive.file`): it is asked incrementally, only when a user turns
documents on (`documents_enabled`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol
from urllib.parse import parse_qs, urlsplit

#: Read-only access to the files the user can open. `drive.file` covers only the files
#: this app created or the user opened with it, which an attachment never is.
DRIVE_READONLY = "https://www.googleapis.com/auth/drive.readonly"

GOOGLE_DOC = "application/vnd.google-apps.document"
GOOGLE_SHEET = "application/vnd.google-apps.spreadsheet"
GOOGLE_SLIDES = "application/vnd.google-apps.presentation"
PDF = "application/pdf"

#: What each Google Workspace type is exported as (Drive's export formats): text.
EXPORT_AS: dict[str, str] = {
    GOOGLE_DOC: "text/plain",
    GOOGLE_SHEET: "text/csv",
    GOOGLE_SLIDES: "text/plain",
}
#: Stored files whose bytes are read (alt=media), bounded by `max_bytes`.
DOWNLOADABLE = frozenset({PDF, "text/plain", "text/csv", "text/markdown"})

#: Drive's file ids: letters, digits, "-" and "_" (never a path, never a query).
_FILE_ID = re.compile(r"^[A-Za-z0-9_-]{1,200}$")
_PATH_ID = re.compile(r"/(?:document|spreadsheets|presentation|file)/d/([A-Za-z0-9_-]+)")
_DRIVE_HOSTS = frozenset({"drive.google.com", "docs.google.com"})

Reason = Literal["not_found", "no_access", "too_large", "unsupported", "no_id"]


@dataclass(frozen=True, slots=True)
class DocumentRef:
    """Which document to read, as an event's attachment (or the config) names it."""

    file_id: str
    url: str
    title: str = ""
    mime_type: str = ""


@dataclass(frozen=True, slots=True)
class Document:
    title: str
    url: str
    mime_type: str
    #: Plain text, at most the reader's `max_chars` characters.
    text: str
    modified: datetime | None
    #: sha256 of the whole text read (before clipping): changes when the document does.
    content_hash: str
    clipped: bool = False
    #: False when the file has no text this reader can extract (e.g. a scanned PDF).
    extracted: bool = True


class DocumentError(Exception):
    """A document could not be read (the message carries no document content)."""


class DocumentUnreadable(DocumentError):
    """This file, for this user, will not become readable by retrying."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(f"{reason} {detail}".strip())
        self.reason: Reason = reason


class DocumentsUnavailable(DocumentError):
    """The document service failed for now: retry the whole task later."""


class DocumentReader(Protocol):
    def read(self, ref: DocumentRef, *, max_chars: int) -> Document: ...


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def valid_file_id(value: str) -> bool:
    return bool(_FILE_ID.match(value))


def file_id_from_url(url: str) -> str | None:
    """The Drive file id in a Docs/Drive link ("/document/d/ID/edit", "open?id=ID"), else None."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme != "https" or parts.hostname not in _DRIVE_HOSTS:
        return None
    match = _PATH_ID.search(parts.path)
    if match:
        return match.group(1) if valid_file_id(match.group(1)) else None
    ids = parse_qs(parts.query).get("id", [])
    return ids[0] if ids and valid_file_id(ids[0]) else None


def ref_for(file_id: str, url: str, title: str = "", mime_type: str = "") -> DocumentRef | None:
    """A reference when a file id is known (given, or read from the link); None otherwise."""
    found = file_id if valid_file_id(file_id) else file_id_from_url(url)
    return DocumentRef(found, url, title, mime_type) if found else None
