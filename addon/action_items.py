"""The event card's "Action items" section, and ticking an item off.

The section lists what `functions.followup.answers.open_items_for` finds for
the opened meeting: its own open items once it has happened, then those
recorded after earlier related meetings, each with who owns it and where it
came from. Each has a Done button carrying the id of the meeting the item
belongs to and the item's id; the click looks that meeting up under the
verified user only, so a forged id reaches nothing of anybody else's, and
ticking twice changes nothing. The item then leaves the card and the next
materials.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from addon import cards as c
from addon import handlers
from addon.event_object import MalformedEvent
from addon.sidebar import Call
from addon.views import View
from functions.domain.meetings import Meeting
from functions.followup.answers import OpenItem, open_items_for, tick_item
from functions.logs import log
from functions.store.port import NotFound

_log = logging.getLogger(__name__)

TITLE = "Action items"
DONE = "Done"
_MAX_ID = 1024


def items_for(call: Call, meeting: Meeting) -> list[OpenItem]:
    return open_items_for(call.app.store, call.user, meeting, call.now)


def section(view: View, meeting: Meeting, items: Sequence[OpenItem]) -> c.Json:
    """One line per open item with its owner and source, and its own Done button."""
    widgets: list[c.Json] = []
    for open_item in items:
        item, source = open_item.item, open_item.source
        origin = (
            "From this meeting"
            if source.event_id == meeting.event_id
            else f"From {' '.join(source.title.split()) or '(no title)'}, "
            f"{view.fmt.day(source.start)}"
        )
        widgets.append(
            c.decorated(
                item.text,
                top=item.owner or None,
                bottom=origin,
                icon="BOOKMARK",
                side_button=c.button(
                    DONE,
                    view.act(
                        "tick_item",
                        eventId=meeting.event_id,
                        source=source.event_id,
                        item=item.item_id,
                    ),
                ),
            )
        )
    return c.section(widgets, title=TITLE)


def with_section(card: c.Json, view: View, meeting: Meeting, items: Sequence[OpenItem]) -> c.Json:
    """The event card with the section after its first one (the meeting itself)."""
    if not items:
        return card
    sections = list(card["sections"])
    sections.insert(min(2, len(sections)), section(view, meeting, items))
    return {**card, "sections": sections}


def tick(call: Call) -> c.Json:
    """The Done button: tick the item off under the verified user, redraw the card."""
    params = call.event.parameters
    source, item = params.get("source") or "", params.get("item") or ""
    if not (0 < len(source) <= _MAX_ID and 0 < len(item) <= 16):
        raise MalformedEvent("tick_item needs source and item")
    meeting = handlers.stored_meeting(call)
    if meeting is None:
        return c.notify(handlers.GONE)
    try:
        tick_item(call.app.store, call.user_id, source, item, call.now)
    except NotFound:
        return c.notify("That action item's meeting is gone.")
    log(_log, logging.INFO, "action item ticked", user_id=call.user_id)
    fresh = call.app.store.get_meeting(call.user_id, meeting.event_id) or meeting
    return c.update_card(handlers.meeting_card(call, fresh), note="Done.")
