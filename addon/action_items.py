"""The event card's "Action items" section, and ticking an item off.

The section lists what `functions.followup.answers.open_items_for` finds for
the opened meeting: its own open items once it has happened, then those
recorded after earlier related meetings, each with who owns it and where it
came from. Each has a Done button carrying the id of the meeting the item
belongs to and the item's id; the click looks that meeting up under the
verified user only, so a forged id reaches nothing of anybody else's, and
ticking twice changes nothing. The item then leaves the card and the next
materials. The click itself is `addon.handlers.tick_item`, which redraws the
whole event card (this module only draws the section, so the card can use it).
"""

from __future__ import annotations

from collections.abc import Sequence

from addon import cards as c
from addon.sidebar import Call
from addon.views import View
from functions.domain.meetings import Meeting
from functions.followup.answers import OpenItem, open_items_for

TITLE = "Action items"
DONE = "Done"
#: Longest meeting id a Done button may carry (Calendar ids are far shorter).
MAX_ID = 1024


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
