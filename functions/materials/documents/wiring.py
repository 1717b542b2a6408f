"""Which document reader a generation uses, for which user: plain values in, no root.

Production reads Drive as the user, and only for a user who turned documents
on (`Preferences.documents_enabled`, asked with the `drive.readonly` scope);
everybody else gets no documents at all, not a failing read per file. The
embedded default reads the local folder for everyone (no consent to ask).

`credentials_for` is the root's (`Bootstrap.document_credentials`): it
raises the port's errors, a grant that is gone as `DocumentUnreadable`
(materials are made, every file listed as not readable) and a token
endpoint that fails as `DocumentsUnavailable` (the task retries). It is
called only when a document is actually read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from functions.domain.users import User
from functions.materials.documents.gather import DocumentSources
from functions.materials.documents.standing import StandingContext
from functions.materials.settings import MaterialsSettings

if TYPE_CHECKING:
    from google.auth.credentials import Credentials


def document_sources(
    settings: MaterialsSettings,
    standing: StandingContext,
    user: User,
    meeting_type: str,
    credentials_for: Callable[[str], Credentials],
) -> DocumentSources | None:
    """The reader and standing refs for this user's meeting; None when documents are off."""
    refs = standing.for_type(meeting_type)
    if settings.documents == "local":
        from functions.materials.documents.local import LocalDocumentReader

        return DocumentSources(LocalDocumentReader(settings.documents_dir), refs)
    if settings.documents != "drive" or not user.preferences.documents_enabled:
        return None
    from functions.materials.documents.drive import GoogleDriveReader

    reader = GoogleDriveReader(
        lambda: credentials_for(user.user_id), api_endpoint=settings.drive_api_endpoint
    )
    return DocumentSources(reader, refs)
