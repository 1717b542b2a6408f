"""The scopes background access asks for, and which grants satisfy them.

Consent is granular: the user may untick a box, and `include_granted_scopes`
may hand back more than was asked (scopes granted earlier, e.g. by the
add-on's own consent). So the callback checks coverage, not equality.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

_G = "https://www.googleapis.com/auth/"

#: "See the events on Google calendars you own": enough for events.list, events.get,
#: events.watch and channels.stop on the user's primary calendar (Calendar v3 discovery).
CALENDAR_EVENTS_OWNED_READONLY = _G + "calendar.events.owned.readonly"
CALENDAR_EVENTS_READONLY = _G + "calendar.events.readonly"
GMAIL_SEND = _G + "gmail.send"
#: The mail-threads context source: threads.list needs `q`, which Gmail refuses to any
#: token carrying gmail.metadata, so this is the narrowest scope that works (docs/materials.md).
GMAIL_READONLY = _G + "gmail.readonly"
#: The attached-documents context source: the narrowest scope that reads Drive files
#: other people attached to an event in the background (drive.file never sees them;
#: docs/materials.md). The document reader names the same scope (DRIVE_READONLY).
DOCUMENTS_SOURCE = _G + "drive.readonly"
#: Asked for on top of the configured scopes so the token response carries an ID
#: token naming the Google account that consented (checked against the state's user).
OPENID = "openid"

#: Calendar to sync; gmail.send (the narrowest Gmail scope) so reminders can be
#: sent as the user while they are away. Chat messages come from the Chat app's
#: own identity and need nothing here.
DEFAULT_SCOPES = (CALENDAR_EVENTS_OWNED_READONLY, GMAIL_SEND)

#: Broader scopes that also grant what a narrow one does.
_COVERED_BY: dict[str, frozenset[str]] = {
    CALENDAR_EVENTS_OWNED_READONLY: frozenset(
        {
            _G + "calendar.events.owned",
            CALENDAR_EVENTS_READONLY,
            _G + "calendar.events",
            _G + "calendar.readonly",
            _G + "calendar",
        }
    ),
    CALENDAR_EVENTS_READONLY: frozenset(
        {_G + "calendar.events", _G + "calendar.readonly", _G + "calendar"}
    ),
    GMAIL_SEND: frozenset({_G + "gmail.compose", _G + "gmail.modify", "https://mail.google.com/"}),
    GMAIL_READONLY: frozenset({_G + "gmail.modify", "https://mail.google.com/"}),
    DOCUMENTS_SOURCE: frozenset({_G + "drive"}),
}


def missing(needed: Iterable[str], granted: Collection[str]) -> list[str]:
    """The needed scopes that nothing granted covers."""
    have = set(granted)
    return [s for s in needed if s not in have and not (_COVERED_BY.get(s, frozenset()) & have)]


def is_valid_scope(scope: str) -> bool:
    return (
        scope.startswith(_G)
        or scope in {"openid", "email", "profile"}
        or (scope == "https://mail.google.com/")
    )
