"""How long a generation may stay `generating` before a new one may take over.

A worker that dies mid-generation (a killed instance, a local server stopped
with SIGKILL) leaves the meeting `generating` and its lock claim behind. Both
are leased: once the lease is over, the card offers "Try again", a Generate
click (or the queue's own retry) starts afresh, and the dead worker's lock is
taken over. The lease must outlast any live attempt, or a slow generation
would run twice; it is therefore derived from the settings that bound an
attempt (the model's timeout, its HTTP attempts and the schema retry), never
hard-coded, so a change to those moves the lease with it.

Kept apart from `vertex.py` so the sidebar, which shows the lease, does not
import google-genai's models on its way to the first card.
"""

from __future__ import annotations

from datetime import timedelta

from functions.materials.settings import MaterialsSettings

#: Headroom over one attempt's worst case, for reading the context and uploading
#: the materials (the model calls and the client's backoff are in the worst case).
HEADROOM = 2


def attempt_budget(settings: MaterialsSettings) -> timedelta:
    """The longest the model calls of one generation attempt can take.

    The same arithmetic the dispatch-deadline check uses
    (`MaterialsSettings.generation_worst_case_seconds`), so the two never drift.
    """
    return timedelta(seconds=settings.generation_worst_case_seconds())


def generation_lease(settings: MaterialsSettings) -> timedelta:
    """How long a generation counts as alive: `HEADROOM` times one attempt's budget."""
    return HEADROOM * attempt_budget(settings)
