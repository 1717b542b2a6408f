"""Local stand-ins for sharing an agenda (`make run`): a Drive folder and a calendar record.

`LocalAgendaDocs` keeps each document as an HTML file under the local data
folder and serves it at `/dev/shared-agenda?doc=<id>`, an unguessable id
standing for Drive's link (the route answers 404 outside local mode).
`LocalAgendaCalendar` answers events.get from the meeting the local sync
stored (organizer and attendees as the .ics says; the .ics format has no
`guestsCanModify`, so only the organizer may share) and records what
events.patch would write (attachments, private properties) in a JSON file
per event, which later reads return as Calendar would.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import Request, Response

from functions.calendar.port import EventNotFound
from functions.config import Settings
from functions.domain.meetings import EventStatus
from functions.share.port import AgendaCalendar, AgendaDocs, DocGone, SharedDoc
from functions.store.port import Store
from functions.web import json_error, local_only

SHARED_PATH = "/dev/shared-agenda"
_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")


def local_folder(settings: Settings) -> Path:
    """Beside the local materials folder (`.local/` by default)."""
    return settings.materials.local_dir.parent / "shared-agendas"


def doc_id_of(url: str) -> str | None:
    """The document id in a local shared-agenda URL (what Calendar's `fileId` would be)."""
    parts = urlsplit(url)
    if parts.path != SHARED_PATH:
        return None
    found = parse_qs(parts.query).get("doc", [""])[0]
    return found if _ID.fullmatch(found) else None


class LocalAgendaDocs(AgendaDocs):
    def __init__(self, folder: Path, public_url: str) -> None:
        self._folder = folder
        self._base = public_url.rstrip("/")

    def _path(self, file_id: str, suffix: str) -> Path:
        if not _ID.fullmatch(file_id):
            raise DocGone("no such document")
        return self._folder / f"{file_id}{suffix}"

    def url(self, file_id: str) -> str:
        return f"{self._base}{SHARED_PATH}?doc={file_id}"

    def _write(self, file_id: str, name: str, html: str, marker: str = "") -> SharedDoc:
        self._folder.mkdir(parents=True, exist_ok=True)
        meta = self.meta(file_id) or {"readers": []}
        meta["name"] = name
        if marker:
            meta["marker"] = marker
        self._path(file_id, ".json").write_text(json.dumps(meta), encoding="utf-8")
        self._path(file_id, ".html").write_text(html, encoding="utf-8")
        return SharedDoc(file_id, self.url(file_id))

    def find(self, marker: str) -> SharedDoc | None:
        for meta_path in sorted(self._folder.glob("*.json")):
            file_id = meta_path.stem
            meta = self.meta(file_id)
            if meta is not None and meta.get("marker") == marker:
                return SharedDoc(file_id, self.url(file_id))
        return None

    def create(self, name: str, html: str, marker: str) -> SharedDoc:
        return self._write(secrets.token_urlsafe(18), name, html, marker)

    def update(self, file_id: str, name: str, html: str) -> SharedDoc:
        if not self._path(file_id, ".html").exists():
            raise DocGone("no such document")
        return self._write(file_id, name, html)

    def grant_readers(self, file_id: str, emails: Sequence[str]) -> None:
        meta = self.meta(file_id)
        if meta is None:
            raise DocGone("no such document")
        readers = list(meta.get("readers", []))
        readers += [e for e in emails if e not in readers]
        meta["readers"] = readers
        self._path(file_id, ".json").write_text(json.dumps(meta), encoding="utf-8")

    def meta(self, file_id: str) -> dict[str, Any] | None:
        try:
            loaded = json.loads(self._path(file_id, ".json").read_text(encoding="utf-8"))
        except (OSError, ValueError, DocGone):
            return None
        return loaded if isinstance(loaded, dict) else None

    def read(self, file_id: str) -> str | None:
        try:
            return self._path(file_id, ".html").read_text(encoding="utf-8")
        except (OSError, DocGone):
            return None


class LocalAgendaCalendar(AgendaCalendar):
    """One user's stored meetings seen as Calendar events, with what sharing wrote to them."""

    def __init__(self, folder: Path, store: Store, user_id: str, user_email: str) -> None:
        self._folder = folder
        self._store = store
        self._user_id = user_id
        self._email = user_email.strip().lower()

    def _record_path(self, calendar_id: str, event_id: str) -> Path:
        key = hashlib.sha256(f"{self._user_id}\n{calendar_id}\n{event_id}".encode()).hexdigest()
        return self._folder / "events" / f"{key}.json"

    def _record(self, calendar_id: str, event_id: str) -> dict[str, Any]:
        try:
            loaded = json.loads(
                self._record_path(calendar_id, event_id).read_text(encoding="utf-8")
            )
        except (OSError, ValueError):
            return {}
        return loaded if isinstance(loaded, dict) else {}

    def get_event(self, calendar_id: str, event_id: str) -> dict[str, Any]:
        meeting = self._store.get_meeting(self._user_id, event_id)
        if meeting is None or meeting.calendar_id != calendar_id:
            raise EventNotFound("no such event")
        organizer = meeting.organizer_email.strip().lower()
        is_organizer = bool(self._email) and organizer == self._email
        event: dict[str, Any] = {
            "id": meeting.event_id,
            "status": meeting.status.value
            if meeting.status is EventStatus.CANCELLED
            else "confirmed",
            "organizer": {"email": meeting.organizer_email, "self": is_organizer},
            "attendees": [
                {
                    "email": a.email,
                    "self": a.is_self or a.email.strip().lower() == self._email,
                    "resource": a.resource,
                    "organizer": a.organizer,
                }
                for a in meeting.attendees
            ],
        }
        record = self._record(calendar_id, event_id)
        if record.get("attachments"):
            event["attachments"] = record["attachments"]
        if record.get("private"):
            event["extendedProperties"] = {"private": record["private"]}
        return event

    def attach(
        self,
        calendar_id: str,
        event_id: str,
        *,
        attachments: Sequence[Mapping[str, Any]],
        private: Mapping[str, str],
    ) -> dict[str, Any]:
        if self._store.get_meeting(self._user_id, event_id) is None:
            raise EventNotFound("no such event")
        record = self._record(calendar_id, event_id)
        stored = []
        for a in attachments:
            entry = {k: v for k, v in a.items() if k != "fileId"}  # fileId is read-only
            file_id = doc_id_of(str(a.get("fileUrl", "")))
            if file_id is not None:
                entry["fileId"] = file_id  # as Calendar fills it for a Drive URL
            elif "fileId" in a:
                entry["fileId"] = a["fileId"]
            stored.append(entry)
        record["attachments"] = stored
        record["private"] = {**record.get("private", {}), **private}
        path = self._record_path(calendar_id, event_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record), encoding="utf-8")
        return self.get_event(calendar_id, event_id)


#: The shared document's answer headers: it is rendered text (no scripts, no loads).
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "private, no-store",
}


def serve_shared_agenda(request: Request, settings: Settings) -> Response:
    """GET /dev/shared-agenda?doc=<id>: what a guest would open (local mode, this machine)."""
    if not settings.is_local:
        return json_error(404, "not_found", "no such endpoint")
    refused = local_only(request)
    if refused is not None:
        return refused
    if request.method != "GET":
        return json_error(405, "method_not_allowed", "the shared agenda is read with GET")
    file_id = request.args.get("doc", "")
    docs = LocalAgendaDocs(local_folder(settings), settings.public_url)
    body = docs.read(file_id) if _ID.fullmatch(file_id) else None
    if body is None:
        return json_error(404, "not_found", "no such shared agenda")
    return Response(body, status=200, mimetype="text/html", headers=_HEADERS)
