"""Recurring meetings that get better: what one occurrence leaves open, the next one shows.

The chain runs through the summary records stored beside each set of
materials (no new store method):

1. Generating materials for occurrence N writes its record's `open_items`:
   the carried-over items that are still open (with the date each was first
   raised) plus the questions and follow-ups these materials raised *from the
   data* (a cited fact: the event, the guest list or an earlier meeting).
   Suggestions (template questions, the model's own advice) are not carried:
   they are suggested afresh every time and would otherwise pile up.
2. The context for occurrence N+1 reads the record of the newest earlier
   occurrence of the series that has materials (`context.build_context`) and
   holds its open items as `carried` (ids C1, C2, ...).
3. The pipeline, not the model, puts every carried item into the new
   materials ("Still open from earlier meetings"), so carrying over never
   depends on a model repeating them. The model may mark an item resolved,
   but only with evidence that cites a real source; an offline generation
   never resolves anything (it cannot read meaning), so there items leave only
   by age (`carry_max_age_days`) or when newer ones push them out
   (`carry_max_items`).
4. The sidebar reads the current materials' record and shows "Carried over
   from <date>" (`carry_over_note`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from functions.domain.meetings import Meeting
from functions.domain.prep_state import PrepState
from functions.logs import log
from functions.materials.context import CarriedItem, MeetingContext
from functions.materials.model import (
    SUGGESTION,
    MaterialsContent,
    OpenItem,
    Resolution,
    Statement,
    SummaryRecord,
)

if TYPE_CHECKING:
    from functions.materials.deps import MaterialsLinks

_log = logging.getLogger(__name__)

_READY = (PrepState.READY, PrepState.DELIVERED)


def still_open(ctx: MeetingContext, content: MaterialsContent) -> list[tuple[str, CarriedItem]]:
    """Carried items (id, item) that `content` does not resolve, in their order."""
    done = {r.item for r in content.resolved}
    return [(key, item) for key, item in ctx.carried_items().items() if key not in done]


def resolutions(
    ctx: MeetingContext, content: MaterialsContent
) -> list[tuple[CarriedItem, Resolution]]:
    carried = ctx.carried_items()
    return [(carried[r.item], r) for r in content.resolved if r.item in carried]


def _raised_at(ctx: MeetingContext, statement: Statement, meeting_start: datetime) -> datetime:
    """When a new open item was first raised: the cited earlier meeting, else this one."""
    earlier = ctx.earlier().get(statement.source)
    return datetime.fromisoformat(earlier.start) if earlier else meeting_start


def open_items(
    ctx: MeetingContext, content: MaterialsContent, meeting_start: datetime
) -> list[OpenItem]:
    """What the next occurrence carries over: still-open items, then new ones from the data.

    `content` must already be checked against the context (citations valid).
    """
    out = [
        OpenItem(kind=item.kind, text=item.text, raised_at=datetime.fromisoformat(item.raised_at))
        for _, item in still_open(ctx, content)
    ]
    seen = {i.text.casefold() for i in out}
    groups: tuple[tuple[Literal["question", "follow_up"], list[Statement]], ...] = (
        ("question", content.questions),
        ("follow_up", content.follow_ups),
    )
    for kind, group in groups:
        for s in group:
            if s.source == SUGGESTION or s.text.casefold() in seen:
                continue
            seen.add(s.text.casefold())
            out.append(
                OpenItem(kind=kind, text=s.text, raised_at=_raised_at(ctx, s, meeting_start))
            )
    return out


def summary_record(
    ctx: MeetingContext,
    content: MaterialsContent,
    *,
    meeting_start: datetime,
    generator: str,
    generated_at: datetime,
) -> SummaryRecord:
    carried = still_open(ctx, content)
    resolved = resolutions(ctx, content)
    return SummaryRecord(
        meeting_start=meeting_start,
        summary=content.summary_text(),
        open_items=open_items(ctx, content, meeting_start),
        carried_from=datetime.fromisoformat(ctx.carried_from) if ctx.carried_from else None,
        carried=len(carried),
        resolved=len(resolved),
        generator=generator,
        generated_at=generated_at,
    )


@dataclass(frozen=True, slots=True)
class CarryOverNote:
    """What the sidebar says about carried-over items of a meeting's current materials."""

    from_start: datetime
    still_open: int
    resolved: int


def carry_over_note(
    services: MaterialsLinks, user_id: str, meeting: Meeting
) -> CarryOverNote | None:
    """Read the current materials' record; None when nothing was carried (or it is unreadable).

    One small object read, only for a meeting whose materials are ready. A
    missing line is better than a broken sidebar, so any storage error
    (including storage that is not configured) is logged and answered with None.
    """
    from functions.materials.storage import owns

    ref = meeting.materials_ref
    if meeting.prep_state not in _READY or not ref or not owns(user_id, ref):
        return None
    try:
        record = services.materials_storage.read_summary(ref)
    except Exception as exc:
        log(_log, logging.WARNING, "summary record unreadable", error=type(exc).__name__)
        return None
    if record is None or record.carried_from is None or not (record.carried or record.resolved):
        return None
    return CarryOverNote(
        from_start=record.carried_from, still_open=record.carried, resolved=record.resolved
    )
