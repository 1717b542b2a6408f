"""Share a meeting's agenda with its guests: one Drive document, attached to the event.

Who may: the event's organizer (`organizer.self`), or a guest the organizer
lets modify the event (`guestsCanModify`). Both are read from the Calendar API
at the click, never from the add-on's event object, whose body the caller
chooses; anyone else gets a clear refusal and nothing is written.

What guests get: a Google Doc rendered from the agenda alone
(`render.render_shared_agenda` over `SummaryRecord.agenda`), so summary,
questions, talking points, risks, notes about people and follow-ups never
leave the user's private materials: not for internal guests, not for
external ones. Neither do agenda items drawn from the user's own sources
(mail threads, earlier meetings, documents): the stored agenda
leaves them out (`render.shared_agenda`).

Exactly one document and one attachment per event, however often it is
shared: the document's id is kept in a private extended property of the
event (visible only on the sharer's copy), so a second click, a retried
request or a share after "Regenerate" updates the same document in place
(files.update) and finds its attachment already there. A document the user
deleted is replaced, and its stale attachment with it. Two clicks at the
same moment are kept apart by a short store claim: the second is told the
share is under way instead of creating a second document. A share that
created the document but failed before the event recorded it (Calendar did
not answer the patch) leaves it findable: the document carries a Drive app
property naming its event (hashed), and the next share finds it
(files.list, `drive.file` sees only this app's files) instead of creating
another.

Calendar allows at most 25 attachments per event; an event that already has
25 others is refused rather than losing one of them.
"""

from __future__ import annotations

import hashlib
import logging
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from functions.calendar.port import EventNotFound, PermissionDenied, SyncTokenExpired
from functions.logs import log
from functions.share.port import (
    DOC_MIME,
    AgendaCalendar,
    AgendaDocs,
    DocGone,
    SharedDoc,
)
from functions.store.port import Store

_log = logging.getLogger(__name__)

#: Calendar: "There can be at most 25 attachments per event" (Event.attachments).
MAX_ATTACHMENTS = 25
#: Private extended property holding the shared document's Drive file id.
SHARED_DOC_KEY = "meetingPrepAgendaDoc"

#: Longest meeting title carried into the document's name.
MAX_TITLE = 100
#: How long a share in flight keeps a second one out; an abandoned claim is taken over.
SHARE_LEASE = timedelta(minutes=2)
#: Attachment fields passed back unchanged when the list is rewritten.
_ATTACHMENT_FIELDS = ("fileUrl", "fileId", "title", "mimeType", "iconLink")

NOT_ALLOWED = (
    "Only the organizer, or a guest the organizer lets modify the event, "
    "can share the agenda with the guests."
)
NOT_AVAILABLE = "This meeting is not on a calendar you own, or no longer exists."
TOO_MANY = (
    f"This event already has {MAX_ATTACHMENTS} attachments, Calendar's limit. "
    "Remove one to share the agenda."
)


@dataclass(frozen=True, slots=True)
class Shared:
    url: str
    #: False when the event's recorded document was updated in place.
    created: bool


@dataclass(frozen=True, slots=True)
class Refused:
    """Nothing was shared; `text` tells the user why."""

    text: str


@dataclass(frozen=True, slots=True)
class InFlight:
    """Another click is sharing this agenda right now."""


Outcome = Shared | Refused | InFlight


def may_modify(event: Mapping[str, Any]) -> bool:
    """Whether the user whose calendar answered may change this event (and so attach)."""
    organizer = event.get("organizer")
    if isinstance(organizer, Mapping) and organizer.get("self") is True:
        return True
    return event.get("guestsCanModify") is True


def doc_name(title: str) -> str:
    """ "Agenda: <title>", the title reduced to one bounded line of printable text."""
    kept = "".join(
        " " if ch.isspace() else "" if unicodedata.category(ch)[0] == "C" else ch for ch in title
    )
    line = " ".join(kept.split())
    if len(line) > MAX_TITLE:
        line = line[: MAX_TITLE - 1] + "…"
    return f"Agenda: {line or '(no title)'}"


def doc_marker(calendar_id: str, event_id: str) -> str:
    """The app property naming the event a document is for (hashed: no ids in Drive)."""
    return hashlib.sha256(f"agenda\n{calendar_id}\n{event_id}".encode()).hexdigest()[:40]


def guest_emails(event: Mapping[str, Any]) -> list[str]:
    """Every human guest but the user themself (rooms and the sharer need no access)."""
    out: dict[str, str] = {}
    for a in event.get("attendees") or ():
        if not isinstance(a, Mapping) or a.get("self") is True or a.get("resource") is True:
            continue
        email = a.get("email")
        if isinstance(email, str) and "@" in email:
            out.setdefault(email.strip().lower(), email.strip())
    return list(out.values())


def _stored_doc_id(event: Mapping[str, Any]) -> str | None:
    props = event.get("extendedProperties")
    private = props.get("private") if isinstance(props, Mapping) else None
    value = private.get(SHARED_DOC_KEY) if isinstance(private, Mapping) else None
    return value if isinstance(value, str) and value else None


def _is_ours(attachment: Mapping[str, Any], file_ids: set[str], urls: set[str]) -> bool:
    return attachment.get("fileId") in file_ids or attachment.get("fileUrl") in urls


def share_agenda(
    calendar: AgendaCalendar,
    docs: AgendaDocs,
    store: Store,
    *,
    user_id: str,
    calendar_id: str,
    event_id: str,
    title: str,
    html: str,
) -> Outcome:
    """Create or update the agenda document and attach it. Raises `CalendarError`/`DocsError`."""
    try:
        event = calendar.get_event(calendar_id, event_id)
    except (EventNotFound, PermissionDenied, SyncTokenExpired):
        return Refused(NOT_AVAILABLE)
    if event.get("status") == "cancelled":
        return Refused("This meeting was cancelled.")
    if not may_modify(event):
        return Refused(NOT_ALLOWED)
    existing = [a for a in event.get("attachments") or () if isinstance(a, Mapping)]
    claim = f"share-agenda:{calendar_id}:{event_id}"
    if not store.claim(user_id, claim, lease=SHARE_LEASE):
        return InFlight()
    try:
        return _share(
            calendar,
            docs,
            event=event,
            existing=existing,
            calendar_id=calendar_id,
            event_id=event_id,
            title=title,
            html=html,
        )
    finally:
        store.release_claim(user_id, claim)


def _share(
    calendar: AgendaCalendar,
    docs: AgendaDocs,
    *,
    event: Mapping[str, Any],
    existing: list[Mapping[str, Any]],
    calendar_id: str,
    event_id: str,
    title: str,
    html: str,
) -> Outcome:
    name = doc_name(title)
    previous = _stored_doc_id(event)
    doc: SharedDoc | None = None
    if previous is not None:
        try:
            doc = docs.update(previous, name, html)
        except DocGone:
            doc = None
    gone = {previous} if previous else set()
    if doc is None:
        if sum(not _is_ours(a, gone, set()) for a in existing) >= MAX_ATTACHMENTS:
            return Refused(TOO_MANY)
        marker = doc_marker(calendar_id, event_id)
        # A share that created the document but failed before the event recorded it.
        found = docs.find(marker)
        doc = docs.update(found.file_id, name, html) if found else docs.create(name, html, marker)
    # Every share: guests added since the last one can open the document too.
    docs.grant_readers(doc.file_id, guest_emails(event))
    mine = [a for a in existing if _is_ours(a, {doc.file_id}, {doc.url})]
    others = [a for a in existing if not _is_ours(a, gone | {doc.file_id}, {doc.url})]
    # New to this event (first share, or the recorded document was replaced).
    created = previous != doc.file_id
    if len(mine) == 1 and len(others) == len(existing) - 1 and not created:
        log(_log, logging.INFO, "shared agenda updated", created=False)
        return Shared(doc.url, created=False)
    if len(others) >= MAX_ATTACHMENTS:
        return Refused(TOO_MANY)
    keep = [{k: a[k] for k in _ATTACHMENT_FIELDS if k in a} for a in others]
    keep.append({"fileUrl": doc.url, "title": name, "mimeType": DOC_MIME})
    calendar.attach(calendar_id, event_id, attachments=keep, private={SHARED_DOC_KEY: doc.file_id})
    log(_log, logging.INFO, "shared agenda attached", created=created)
    return Shared(doc.url, created=created)
