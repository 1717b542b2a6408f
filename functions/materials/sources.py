"""Context sources beyond the calendar: the user's switch, the scope behind it, the note when off.

Each source (`ContextSource`) is off until the user turns it on in Settings,
and each needs one Google scope of its own (`SOURCE_SCOPES`), asked for with
incremental consent at that moment and never before. A source is used only
when both hold: the switch is on *and* the background grant covers its scope
(a source that needs no grant, like the local sample mailbox, needs only the
switch). Turning the switch off stops its use at the next generation; the
scope itself stays granted (revoking it would need a new consent for every
other scope of the grant, see docs/oauth.md).

A source that cannot be used is skipped, never fatal: the materials carry a
note ("mail threads: not turned on") in the Sources list, and the note is part
of the context, so turning a source on changes the content hash and the next
generation uses it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from enum import StrEnum

from functions.domain.users import ContextSource, Preferences
from functions.oauth import scopes as oauth_scopes

#: The one scope each source needs (gmail.readonly: see functions/mail/gmail.py).
SOURCE_SCOPES: Mapping[ContextSource, tuple[str, ...]] = {
    ContextSource.MAIL: (oauth_scopes.GMAIL_READONLY,),
    ContextSource.DOCUMENTS: (oauth_scopes.DOCUMENTS_SOURCE,),
}

#: How the materials and the settings card name each source.
SOURCE_NAMES: Mapping[ContextSource, str] = {
    ContextSource.MAIL: "mail threads",
    ContextSource.DOCUMENTS: "attached documents",
}

#: The settings card's one line per source: what is read, and its bound.
SOURCE_EXPLAINED: Mapping[ContextSource, str] = {
    ContextSource.MAIL: (
        "Subjects, people and short snippets of your mail with the guests from the last "
        "14 days; never whole messages."
    ),
    ContextSource.DOCUMENTS: (
        "The text of the invitation's Drive attachments, the last meeting's notes and your "
        "admin's documents for the meeting type, shortened, with a link back."
    ),
}


class SourceState(StrEnum):
    ON = "on"
    #: The user has not turned it on.
    OFF = "off"
    #: Turned on, but the background grant lacks the scope (consent not finished or revoked).
    NEEDS_CONSENT = "needs_consent"


def missing_scopes(source: ContextSource, granted: Collection[str] | None) -> list[str]:
    """The scopes `source` needs that the grant does not cover (all of them without a grant)."""
    needed = SOURCE_SCOPES[source]
    if granted is None:
        return list(needed)
    return oauth_scopes.missing(needed, granted)


def source_state(
    prefs: Preferences,
    source: ContextSource,
    granted: Collection[str] | None,
    *,
    needs_grant: bool = True,
) -> SourceState:
    if source not in prefs.context_sources:
        return SourceState.OFF
    if needs_grant and missing_scopes(source, granted):
        return SourceState.NEEDS_CONSENT
    return SourceState.ON


def source_note(source: ContextSource, why: str) -> str:
    """The materials' line about a source that was not used: "mail threads: not turned on"."""
    return f"{SOURCE_NAMES[source]}: {why}"


STATE_NOTES: Mapping[SourceState, str] = {
    SourceState.OFF: "not turned on",
    SourceState.NEEDS_CONSENT: "turned on, but access is not allowed yet (Settings)",
}
