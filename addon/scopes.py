"""The OAuth scopes the sidebar asks for, and which of them each request needs.

Workspace's consent is granular: a user may grant some scopes and not others,
and the event object says which (`authorizedScopes`). Each request checks
only what it is about to use, so a user who declined Calendar read access can
still open the homepage, and is asked again exactly when an unseen event must
be fetched. The request names exactly the scopes that are missing
(`requesting_google_scopes.scopes`), so opening an event never asks for the
prep-block or agenda-sharing write access up front.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

_G = "https://www.googleapis.com/auth/"

EXECUTE = _G + "calendar.addons.execute"
CURRENT_EVENT_READ = _G + "calendar.addons.current.event.read"
#: Narrowest scope that lets events.get read an event on the user's own calendars.
EVENTS_READ = _G + "calendar.events.owned.readonly"
USER_EMAIL = _G + "userinfo.email"
LOCALE = _G + "script.locale"
#: Narrowest scope events.insert accepts for the user's own calendars (prep blocks only).
EVENTS_WRITE = _G + "calendar.events.owned"
#: Narrowest scope freeBusy.query accepts ("your availability"): where a prep block fits.
FREEBUSY = _G + "calendar.freebusy"
#: Narrowest Drive scope files.create/update and permissions.create accept: only files
#: this app created or the user opened with it ("Share agenda with guests" only).
DRIVE_FILE = _G + "drive.file"

#: Declared in manifest/deployment.json, in this order. EVENTS_WRITE and FREEBUSY are
#: asked for only when a user clicks "Block 30 min to prepare", EVENTS_WRITE and
#: DRIVE_FILE only at "Share agenda with guests" (granular consent lets a user leave
#: them out at install; nothing else needs them).
MANIFEST_SCOPES = (
    EXECUTE,
    CURRENT_EVENT_READ,
    EVENTS_READ,
    USER_EMAIL,
    LOCALE,
    EVENTS_WRITE,
    FREEBUSY,
    DRIVE_FILE,
)

#: Broader grants that also satisfy a need (a user may have granted these earlier).
_SATISFIED_BY: dict[str, frozenset[str]] = {
    EVENTS_READ: frozenset(
        {
            EVENTS_READ,
            _G + "calendar.events.readonly",
            _G + "calendar.events",
            _G + "calendar.events.owned",
            _G + "calendar.readonly",
            _G + "calendar",
        }
    ),
    USER_EMAIL: frozenset({USER_EMAIL, "email"}),
    DRIVE_FILE: frozenset({DRIVE_FILE, _G + "drive"}),
    EVENTS_WRITE: frozenset({EVENTS_WRITE, _G + "calendar.events", _G + "calendar"}),
    FREEBUSY: frozenset(
        {
            FREEBUSY,
            _G + "calendar.events.freebusy",
            _G + "calendar.readonly",
            _G + "calendar",
        }
    ),
}

#: Every request: run the add-on, and know who the user is.
BASE = (EXECUTE, USER_EMAIL)
#: Reading the opened event's id and attendees.
EVENT_OPEN = (*BASE, CURRENT_EVENT_READ)
#: Fetching an event the sync has not stored yet.
EVENT_FETCH = (*BASE, EVENTS_READ)
#: Booking a prep block: read the meeting, find free time, insert the block.
PREP_BLOCK = (*BASE, EVENTS_WRITE, FREEBUSY)
#: Sharing the agenda: read and patch the event (attachments), create and share the doc.
SHARE_AGENDA = (*BASE, EVENTS_WRITE, DRIVE_FILE)


def missing(needed: Iterable[str], granted: Collection[str] | None) -> list[str]:
    """The needed scopes that no granted scope covers, in `needed` order, each once.

    `granted` None means the event object had no `authorizedScopes`: consent is
    unknown, not refused. Asking then would be answered by Workspace re-running
    the same request without the list, and so on (a consent loop), so nothing
    is reported missing and the Google API refuses whatever the token cannot do.
    """
    if granted is None:
        return []
    have = set(granted)
    lacking = [s for s in needed if not (_SATISFIED_BY.get(s, frozenset({s})) & have)]
    return list(dict.fromkeys(lacking))
