"""Feedback on the sidebar card: "useful / not useful" and "wrong type".

Both feed per-type counts (`python main.py report`) that show which
classification rules and which prep templates need work. The card has one way
to change a meeting's type, its "Change type" section (`handlers.set_type`);
a change there away from a type the rules chose is the wrong-type answer
(`record_type_correction`). The older "Wrong type" form (`wrong_type_form`,
`report_wrong_type`) still answers buttons on cards drawn before, and fixes
the meeting for its whole series (or the one meeting when it is not recurring).

Only the rules' mistakes are counted as wrong types: when the type shown was
the user's own earlier choice, the correction is applied but not counted,
since no rule was wrong. Each answer is stored once per user, meeting and
question, so a double click counts once.
"""

from __future__ import annotations

import logging

from addon import cards as c
from addon import handlers, views
from addon.event_object import MalformedEvent
from addon.feedback_record import record, record_type_correction
from addon.sidebar import Call
from functions.domain.feedback import FeedbackKind
from functions.domain.prep_state import PrepState
from functions.domain.users import OverrideScope

_log = logging.getLogger(__name__)

_RATED_STATES = frozenset({PrepState.READY, PrepState.DELIVERED})
_RATINGS = {FeedbackKind.USEFUL.value: FeedbackKind.USEFUL, "not_useful": FeedbackKind.NOT_USEFUL}


def rate_prep(call: Call) -> c.Json:
    kind = _RATINGS.get(call.event.parameters.get("kind") or "")
    if kind is None:
        raise MalformedEvent("kind is useful or not_useful")
    meeting = handlers.stored_meeting(call)
    if meeting is None:
        return c.notify(handlers.GONE)
    if meeting.prep_state not in _RATED_STATES:
        return c.notify("You can rate the prep once it is ready.")
    record(call, meeting, kind)
    if kind is FeedbackKind.USEFUL:
        return c.notify("Thanks! Noted as useful.")
    return c.notify("Thanks! Noted as not useful; it helps us improve this kind of prep.")


def wrong_type_form(call: Call) -> c.Json:
    meeting = handlers.stored_meeting(call)
    if meeting is None:
        return c.notify(handlers.GONE)
    if not views.needs_prep(meeting):
        return c.notify("This meeting needs no prep, so its type does not matter.")
    return c.render([{"pushCard": views.wrong_type_card(call.view, meeting)}])


def report_wrong_type(call: Call) -> c.Json:
    meeting = handlers.stored_meeting(call)
    if meeting is None:
        return c.notify(handlers.GONE)
    rules = call.app.classifier.rules
    chosen = call.event.form_value("meeting_type")
    if not chosen or rules.get(chosen) is None:
        return c.notify("Pick one of the listed meeting types.")
    if chosen == meeting.meeting_type:
        return c.notify(f"{rules.label_of(chosen)} is already its type; pick another.")
    record_type_correction(call, meeting, chosen)
    scope = OverrideScope.SERIES if meeting.series_id else OverrideScope.EVENT
    updated = handlers.apply_type_override(call, meeting, chosen, scope)
    where = "every meeting in this series" if meeting.series_id else "this meeting"
    return c.render(
        [{"pop": True}, {"updateCard": handlers.meeting_card(call, updated)}],
        note=f"Thanks! Type set to {rules.label_of(chosen)} for {where}.",
    )
