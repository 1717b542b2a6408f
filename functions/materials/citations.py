"""Check a generator's answer against the context it was given: facts must cite real sources.

The response schema already limits a statement's source to well-formed ids
(`event`, `attendees`, `suggestion`, `M1`..`M20`), and pydantic rejects
anything else when the answer is parsed. What the schema cannot know is which
earlier meetings this particular context holds, so a model can still cite
`M7` when only three earlier meetings were given: a fact attributed to a
meeting that does not exist, which is exactly the invented history the
materials must never show.

Policy (the statement is the unit of trust):

- A statement, agenda item or attendee note that cites a source the context
  does not hold is **dropped**: it is neither shown as a fact nor relabelled
  as a suggestion (its wording presents it as something that happened, so a
  "suggestion" label would still mislead). The rest of the answer stands;
  the count is kept in the generation info, shown in the document, and
  logged. A whole generation is not failed for it: the other statements were
  validated one by one, and another billed call gives no guarantee.
- A resolution of a carried-over item counts only when the item exists and
  the evidence cites a real fact (not `suggestion`); otherwise it is ignored
  and the item stays open.
- Statements that merely repeat a carried-over item are left out (the item is
  shown in its own section already).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from functions.materials.context import MeetingContext
from functions.materials.model import (
    SUGGESTION,
    AgendaItem,
    AttendeeNote,
    MaterialsContent,
    Resolution,
    Statement,
)

_Item = TypeVar("_Item", Statement, AgendaItem, AttendeeNote)


@dataclass(frozen=True, slots=True)
class Checked:
    content: MaterialsContent
    #: Statements dropped because they cite a source the context does not hold.
    rejected: int
    #: Resolutions ignored (unknown item, or no factual evidence): the items stay open.
    ignored_resolutions: int


def check_against_context(content: MaterialsContent, ctx: MeetingContext) -> Checked:
    citable = ctx.citable()
    carried = ctx.carried_items()
    repeated = {c.text.casefold() for c in carried.values()}
    rejected = 0

    def keep(items: Sequence[_Item], *, dedupe: bool = False) -> list[_Item]:
        nonlocal rejected
        out: list[_Item] = []
        for item in items:
            if item.source not in citable:
                rejected += 1
            elif not (dedupe and isinstance(item, Statement) and item.text.casefold() in repeated):
                out.append(item)
        return out

    resolved: list[Resolution] = []
    seen: set[str] = set()
    for r in content.resolved:
        if r.item in carried and r.item not in seen and r.source in citable - {SUGGESTION}:
            seen.add(r.item)
            resolved.append(r)
    checked = MaterialsContent(
        summary=keep(content.summary),
        objectives=keep(content.objectives),
        agenda=keep(content.agenda),
        questions=keep(content.questions, dedupe=True),
        talking_points=keep(content.talking_points),
        risks=keep(content.risks),
        attendee_notes=keep(content.attendee_notes),
        follow_ups=keep(content.follow_ups, dedupe=True),
        resolved=resolved,
    )
    return Checked(
        content=checked,
        rejected=rejected,
        ignored_resolutions=len(content.resolved) - len(resolved),
    )
