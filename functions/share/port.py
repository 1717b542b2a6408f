"""The two things sharing an agenda needs from Google: the event, and a document.

Both act as the user who clicked, with the add-on's `userOAuthToken`, and only
with the narrowest write scopes (`calendar.events.owned` to attach,
`drive.file` to create and update the one document this app made). Separate
from `CalendarWriter` so the prep-block feature's fakes stay as they are.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from functions.calendar.port import CalendarError, Event

#: Google Docs' MIME type: the uploaded HTML is converted, so guests read a Doc.
DOC_MIME = "application/vnd.google-apps.document"
#: Drive app property on a shared document: the (hashed) event it is for.
DOC_MARKER_KEY = "meetingPrepAgendaFor"


class DocsError(Exception):
    """Drive did not do what was asked (refused, or did not answer)."""


class DocGone(DocsError):
    """The document is no longer there (deleted or trashed by its owner): make a new one.

    A `DocsError` too: gone between two calls of one share, it fails that share
    (the user tries again), and the next share replaces it.
    """


@dataclass(frozen=True, slots=True)
class SharedDoc:
    file_id: str
    #: The `webViewLink`: the form Calendar documents for a Drive attachment's `fileUrl`.
    url: str


class AgendaCalendar(ABC):
    """The event the agenda is attached to, on one of the user's own calendars."""

    @abstractmethod
    def get_event(self, calendar_id: str, event_id: str) -> Event:
        """events.get; raises `EventNotFound`, `PermissionDenied` or another `CalendarError`."""

    @abstractmethod
    def attach(
        self,
        calendar_id: str,
        event_id: str,
        *,
        attachments: Sequence[Mapping[str, Any]],
        private: Mapping[str, str],
    ) -> Event:
        """events.patch with supportsAttachments=true: the whole attachment list (Calendar
        replaces arrays on patch) and private extended properties (merged by key)."""


class AgendaDocs(ABC):
    """Documents this app created in the user's Drive (`drive.file` reaches no other)."""

    @abstractmethod
    def find(self, marker: str) -> SharedDoc | None:
        """files.list of this app's untrashed document carrying `marker` (an app property)."""

    @abstractmethod
    def create(self, name: str, html: str, marker: str) -> SharedDoc:
        """files.create with the HTML converted to a Google Doc the user owns, marked."""

    @abstractmethod
    def update(self, file_id: str, name: str, html: str) -> SharedDoc:
        """files.update of the same document's content; raises `DocGone`."""

    @abstractmethod
    def grant_readers(self, file_id: str, emails: Sequence[str]) -> None:
        """permissions.create (reader, no notification mail) for each address."""


__all__ = [
    "DOC_MARKER_KEY",
    "DOC_MIME",
    "AgendaCalendar",
    "AgendaDocs",
    "CalendarError",
    "DocGone",
    "DocsError",
    "SharedDoc",
]
