"""Action items proposed in the follow-up question, from the meeting's own notes document.

When Google Meet (or a person) attached a notes document to the meeting that
just ended ("Notes by Gemini", "... - Notes"), its action items are what the
user would otherwise type: the Chat card and the emailed form open with them
filled in, to be corrected or confirmed, never stored until the user submits.

The notes are read exactly as the materials read documents (the same reader,
the same switch: `Preferences.documents_enabled`, and in production the same
`drive.readonly` grant), through `documents_for`, which the root binds. A
document that cannot be read proposes nothing: the question is still asked.
Notes text is other people's words: `notes_items` drops lines that address
the assistant, and the form escapes what it shows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from functions.domain.meetings import Meeting
from functions.domain.users import User
from functions.logs import log
from functions.materials.documents.gather import DocumentSources
from functions.materials.documents.notes import is_notes_title, notes_items
from functions.materials.documents.port import DocumentError, ref_for

_log = logging.getLogger(__name__)

#: (user, meeting type) -> where that user's documents are read (None: documents off).
SourcesFor = Callable[[User, str], DocumentSources | None]
#: (user, meeting) -> action items proposed for the question: (text, owner).
Proposals = Callable[[User, Meeting], Sequence[tuple[str, str]]]


def no_proposals(user: User, meeting: Meeting) -> Sequence[tuple[str, str]]:
    """Nothing proposed (the root hands in `from_notes`)."""
    return ()


def from_notes(sources_for: SourcesFor) -> Proposals:
    """Proposals (text, owner) from the notes attached to the meeting itself."""

    def propose(user: User, meeting: Meeting) -> Sequence[tuple[str, str]]:
        ref = next(
            (
                r
                for a in meeting.attachments
                if is_notes_title(a.title)
                and (r := ref_for(a.file_id, a.url, a.title, a.mime_type)) is not None
            ),
            None,
        )
        if ref is None:
            return ()
        sources = sources_for(user, meeting.meeting_type)
        if sources is None:
            return ()
        budget = sources.budget
        try:
            document = sources.reader.read(ref, max_chars=budget.document_chars)
        except DocumentError as exc:
            log(_log, logging.INFO, "notes not read for follow-up", error=type(exc).__name__)
            return ()
        _, actions = notes_items(
            document.text, max_items=budget.notes_items, width=budget.notes_item_chars
        )
        return [(text, "") for text in actions]

    return propose
