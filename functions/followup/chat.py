"""The follow-up card's buttons in Chat: Save, or Nothing to record.

The click arrives at the Chat endpoint, verified as every Chat event is
(`functions.chat.auth`); the user is the one Chat names in the verified
event and the button only says which meeting, looked up under that user
alone. The text inputs arrive in `common.formInputs`. The answer is stored
once (`answers.record_answer`); the card is replaced by what was kept, so
nobody clicks twice, and a replayed click gets the first answer back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from functions.domain.followups import BadAnswer, parse_answers
from functions.followup.answers import AlreadyAnswered, record_answer
from functions.followup.messages import CARD_ID, DECISIONS_FIELD, ITEMS_FIELD, recorded_card
from functions.logs import log
from functions.notify.content import NoticeKind, build_notice
from functions.store.port import NotFound, Store

_log = logging.getLogger(__name__)

Json = dict[str, Any]
MAX_ID = 1024
#: A text input can hold far more than we keep; refuse absurd bodies before parsing.
MAX_INPUT = 20_000


def _new_text(text: str) -> Json:
    return {"actionResponse": {"type": "NEW_MESSAGE"}, "text": text}


def on_followup_click(
    *,
    store: Store,
    now: datetime,
    label_of: Callable[[str], str],
    user_id: str,
    parameters: Mapping[str, str],
    inputs: Mapping[str, str],
) -> Json:
    user = store.get_user(user_id)
    if user is None:
        return _new_text("Open Meeting prep in Google Calendar once first.")
    event_id = parameters.get("event_id", "")
    meeting = store.get_meeting(user_id, event_id) if 0 < len(event_id) <= MAX_ID else None
    if meeting is None:
        return _new_text("That meeting is no longer on your calendar.")
    decisions = inputs.get(DECISIONS_FIELD, "")
    items = inputs.get(ITEMS_FIELD, "")
    if len(decisions) > MAX_INPUT or len(items) > MAX_INPUT:
        return _new_text("That is more than a follow-up can hold; please shorten it.")
    try:
        answer = parse_answers(
            decisions, items, nothing_to_record=parameters.get("choice") == "nothing", at=now
        )
    except BadAnswer as exc:
        return _new_text(str(exc))
    note = "Saved."
    try:
        stored = record_answer(store, user_id, event_id, answer)
    except AlreadyAnswered:
        current = store.get_meeting(user_id, event_id)
        if current is None:
            return _new_text("That meeting is no longer on your calendar.")
        stored, note = current, "Already recorded."
    except NotFound:
        return _new_text("That meeting is no longer on your calendar.")
    assert stored.followup is not None
    log(_log, logging.INFO, "followup answered", user_id=user_id, via="chat", note=note)
    notice = build_notice(
        NoticeKind.PREP_DUE, user, stored, type_label=label_of(stored.meeting_type)
    )
    return {
        "actionResponse": {"type": "UPDATE_MESSAGE"},
        "text": note,
        "cardsV2": [{"cardId": CARD_ID, "card": recorded_card(notice, stored.followup)}],
    }
