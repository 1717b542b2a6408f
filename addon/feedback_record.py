"""Storing a feedback answer, and counting a type change as the rules' mistake.

Kept apart from `addon.feedback` (the card's feedback handlers) because the
"Change type" handler in `addon.handlers` records through it too, and
`addon.feedback` builds on `addon.handlers`: importing it back would close a
cycle (tests/unit/test_import_graph.py).
"""

from __future__ import annotations

import logging

from addon.sidebar import Call
from functions.domain.feedback import Feedback, FeedbackKind
from functions.domain.meetings import Meeting
from functions.logs import log

_log = logging.getLogger(__name__)

#: Classifications made by the rules, the ones whose mistakes are worth counting.
RULE_DECISIONS = frozenset({"rule", "default"})


def record(call: Call, meeting: Meeting, kind: FeedbackKind) -> None:
    feedback = Feedback(call.user_id, meeting.event_id, kind, meeting.meeting_type, at=call.now)
    changed = call.app.store.record_feedback(feedback)
    log(
        _log,
        logging.INFO,
        "feedback recorded",
        user_id=call.user_id,
        kind=kind.value,
        meeting_type=meeting.meeting_type,
        changed=changed,
    )


def record_type_correction(call: Call, meeting: Meeting, chosen: str) -> None:
    """Count a type change as the rules' mistake when the rules chose the type shown."""
    if chosen == meeting.meeting_type:
        return
    shown = call.app.classifier.classify(
        meeting, user_domain=call.user.domains, preferences=call.user.preferences
    )
    if shown.decided_by in RULE_DECISIONS:
        record(call, meeting, FeedbackKind.WRONG_TYPE)
