"""Documents for one meeting's context: what is read, in what order, within which bounds.

Three sources, read the same way through one `DocumentReader` (as the user):

1. the event's attachments (`attachments[]`: fileId, fileUrl, title, mimeType);
2. the notes document attached to the previous occurrence of the series
   (`notes.is_notes_title`), whose decisions and action items are picked out;
3. the standing documents an admin configured for the meeting type
   (`standing.StandingContext`).

Bounds (docs/limits.md): at most `max_documents` documents, each at most
`document_chars` characters of text, and `total_chars` in all; a document
past the total is listed as not read rather than silently dropped. Time is
bounded too: no read starts after `read_seconds`, so the generate task's
worst case (tests/materials/test_deadline.py) holds with documents. The same
file named twice (attached and standing) is read once.

Failures: a file that cannot be read (missing, no access, too large, no text)
is listed with the reason, in words a reader understands, and generation
goes on without it; `DocumentsUnavailable` (Drive failing for now) is raised
to the caller so the task is retried. Document text is untrusted data: it is
cleaned of control characters here and fenced in the prompt like the rest.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from functions.domain.meetings import Meeting
from functions.logs import log
from functions.materials.documents.notes import is_notes_title, notes_items
from functions.materials.documents.port import (
    DocumentReader,
    DocumentRef,
    DocumentUnreadable,
    ref_for,
)
from functions.materials.model import MAX_DOCUMENTS
from functions.materials.text import clean_text

_log = logging.getLogger(__name__)

DocumentKind = Literal["attachment", "notes", "standing"]

#: What the reader is told about a document that could not be read.
PROBLEMS: dict[str, str] = {
    "not_found": "could not be read: it does not exist or is not shared with you",
    "no_access": "could not be read: you do not have access to it",
    "too_large": "could not be read: it is too large",
    "unsupported": "could not be read: its type has no text to read",
    "no_id": "could not be read: the link is not a Drive file",
    "no_text": "could not be read: no text could be extracted from it (PDF text not extracted)",
    "over_budget": "not read: the size limit for documents in one prep was reached",
    "over_time": "not read: reading the documents took too long",
}


class DocumentFact(BaseModel):
    """One document of the context (ids D1, D2, ... in order; only readable ones are cited)."""

    model_config = ConfigDict(frozen=True)

    kind: DocumentKind
    title: str
    url: str
    readable: bool
    #: Why it could not be read (a `PROBLEMS` text), "" when it was read.
    problem: str = ""
    text: str = ""
    clipped: bool = False
    #: Last modified, local ISO ("" when unknown).
    modified: str = ""
    content_hash: str = ""
    #: For the last meeting's notes: when that meeting started (local ISO), and what it
    #: decided and assigned, in the notes' own words.
    meeting_start: str = ""
    decisions: tuple[str, ...] = ()
    action_items: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DocumentBudget:
    max_documents: int = 8
    #: Characters of text kept per document (about 1,000 tokens).
    document_chars: int = 4_000
    #: Characters of document text in one context (about 3,000 tokens).
    total_chars: int = 12_000
    title_chars: int = 160
    notes_items: int = 8
    notes_item_chars: int = 200
    #: No new read starts after this many seconds of reading; with one read in flight
    #: (`drive.READ_WORST_CASE_SECONDS`) documents cost at most `worst_case_seconds`.
    read_seconds: float = 10.0

    def __post_init__(self) -> None:
        # Citation ids are a closed set in the response schema (D1..D10).
        if self.max_documents > MAX_DOCUMENTS:
            raise ValueError(f"at most {MAX_DOCUMENTS} documents fit the citation ids")


DEFAULT_DOCUMENT_BUDGET = DocumentBudget()


@dataclass(frozen=True, slots=True)
class DocumentSources:
    """What `context.build_context` needs to read documents: the reader and the standing refs."""

    reader: DocumentReader
    standing: tuple[DocumentRef, ...] = ()
    budget: DocumentBudget = DEFAULT_DOCUMENT_BUDGET
    #: Seconds, monotonic (a test hands in its own).
    clock: Callable[[], float] = time.monotonic
    #: Whether reading needs the user's `drive.readonly` grant (False for the local folder):
    #: the generation reads nothing while the grant lacks it (`pipeline.document_sources_for`).
    needs_grant: bool = True


def _local(at: datetime | None, zone: ZoneInfo) -> str:
    return at.astimezone(zone).isoformat(timespec="minutes") if at else ""


def notes_ref(previous: Meeting | None) -> DocumentRef | None:
    """The notes document attached to the previous occurrence, if it has one."""
    if previous is None:
        return None
    for a in previous.attachments:
        if is_notes_title(a.title):
            ref = ref_for(a.file_id, a.url, a.title, a.mime_type)
            if ref is not None:
                return ref
    return None


def _unread(
    kind: DocumentKind, ref: DocumentRef, reason: str, budget: DocumentBudget
) -> DocumentFact:
    return DocumentFact(
        kind=kind,
        title=clean_text(ref.title or "(untitled)", budget.title_chars, multiline=False),
        url=clean_text(ref.url, 500, multiline=False),
        readable=False,
        problem=PROBLEMS[reason],
    )


def gather_documents(
    sources: DocumentSources,
    *,
    meeting: Meeting,
    previous: Meeting | None,
    zone: ZoneInfo,
) -> tuple[DocumentFact, ...]:
    """Read the meeting's documents within the budget (raises `DocumentsUnavailable`)."""
    budget = sources.budget
    wanted: list[tuple[DocumentKind, DocumentRef | None, str, str]] = []
    for a in meeting.attachments:
        wanted.append(
            ("attachment", ref_for(a.file_id, a.url, a.title, a.mime_type), a.title, a.url)
        )
    notes = notes_ref(previous)
    if notes is not None:
        wanted.append(("notes", notes, notes.title, notes.url))
    wanted.extend(("standing", ref, ref.title, ref.url) for ref in sources.standing)

    facts: list[DocumentFact] = []
    seen: set[str] = set()
    left = budget.total_chars
    started = sources.clock()
    for kind, ref, title, url in wanted:
        if len(facts) >= budget.max_documents:
            break
        if ref is None:
            facts.append(_unread(kind, DocumentRef("", url, title), "no_id", budget))
            continue
        if ref.file_id in seen:
            continue
        seen.add(ref.file_id)
        if left <= 0:
            facts.append(_unread(kind, ref, "over_budget", budget))
            continue
        if sources.clock() - started >= budget.read_seconds:
            facts.append(_unread(kind, ref, "over_time", budget))
            continue
        try:
            doc = sources.reader.read(ref, max_chars=min(budget.document_chars, left))
        except DocumentUnreadable as exc:
            log(_log, logging.INFO, "document not readable", kind=kind, reason=exc.reason)
            facts.append(_unread(kind, ref, exc.reason, budget))
            continue
        text = clean_text(doc.text)
        if not doc.extracted or not text:
            facts.append(
                _unread(kind, ref, "no_text" if not doc.extracted else "unsupported", budget)
            )
            continue
        left -= len(text)
        decisions: tuple[str, ...] = ()
        actions: tuple[str, ...] = ()
        if kind == "notes":
            decisions, actions = notes_items(
                text, max_items=budget.notes_items, width=budget.notes_item_chars
            )
        facts.append(
            DocumentFact(
                kind=kind,
                title=clean_text(
                    doc.title or ref.title or "(untitled)", budget.title_chars, multiline=False
                ),
                # The link the event or the config gave (what the reader saw), else Drive's.
                url=clean_text(ref.url or doc.url, 500, multiline=False),
                readable=True,
                text=text,
                clipped=doc.clipped,
                modified=_local(doc.modified, zone),
                content_hash=doc.content_hash,
                meeting_start=_local(previous.start, zone) if kind == "notes" and previous else "",
                decisions=decisions,
                action_items=actions,
            )
        )
    return tuple(facts)
