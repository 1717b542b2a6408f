"""Signed links to a meeting's materials: minted on demand, never stored.

The sidebar calls `signed_url_for` when the card opens, and a message's stable
link (`functions.materials.reader`) mints its own 15-minute one when it is
opened, so every signed URL in front of a user is fresh and expires on its
own (24 h by default for the sidebar, 7 days at most: Cloud Storage's V4
limit). Messages never carry one:
they may be read after any signed URL has expired. Nothing
long-lived is kept: the meeting stores only its `materials_ref`, and a link
that leaks stops working by itself. GET only; the ref must sit under the
meeting owner's own prefix, so a corrupted or forged ref cannot open another
user's document.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from functions.domain.meetings import Meeting
from functions.logs import log
from functions.materials.settings import MAX_LINK_HOURS
from functions.materials.storage import HTML, MARKDOWN, owns

if TYPE_CHECKING:
    from functions.materials.deps import MaterialsLinks

_log = logging.getLogger(__name__)


class NoMaterials(LookupError):
    """The meeting has no materials this user may open."""


def link_ttl(hours: int) -> timedelta:
    if not 1 <= hours <= MAX_LINK_HOURS:
        raise ValueError(f"signed links live between 1 and {MAX_LINK_HOURS} hours")
    return timedelta(hours=hours)


def signed_url_for(services: MaterialsLinks, meeting: Meeting, *, markdown: bool = False) -> str:
    """A fresh GET-only link to the meeting's materials (HTML, or the Markdown copy).

    Raises `NoMaterials` when there is nothing to open; storage errors
    (`StorageError`) propagate for the caller to show "try again".
    """
    ref = meeting.materials_ref
    if not ref:
        raise NoMaterials("the meeting has no materials yet")
    if not owns(meeting.user_id, ref):
        log(
            _log, logging.ERROR, "materials ref outside the owner's prefix", user_id=meeting.user_id
        )
        raise NoMaterials("the materials reference is not valid")
    ttl = link_ttl(services.settings.materials.link_hours)
    return services.materials_storage.signed_url(ref + (MARKDOWN if markdown else HTML), ttl)
