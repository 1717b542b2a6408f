"""The embedded default's generator: no model, the same structured result, said plainly.

No generative model ships in a Python package here, and a 2-core CPU could
not run one usefully, so local mode fills `MaterialsContent` deterministically
from the context: the meeting type's template (with its time boxes scaled to
the meeting's length), facts about the attendees, what earlier related
meetings left open, and links the invitation carries. Its summary starts
with the words "Offline prep" so nobody mistakes it for AI output.

Sources are filled honestly: what it reads from the invitation cites
`event`, what it derives from the guest list cites `attendees`, what earlier
meetings left open cites that meeting (`M1`, ...), and everything copied
from the type's template is a `suggestion`. Items carried over from the
last occurrence are added by the pipeline, not here.
"""

from __future__ import annotations

import re

from functions.materials.context import MeetingContext
from functions.materials.generator import Generation, Generator, Usage
from functions.materials.model import (
    ATTENDEES,
    EVENT,
    SUGGESTION,
    AgendaItem,
    AttendeeNote,
    MaterialsContent,
    Statement,
)
from functions.materials.prompt import Prompt
from functions.materials.text import clip

OFFLINE_MODEL = "offline-template-v1"
#: The schema's bound on one time box (a 12-hour item is already a workshop day).
MAX_ITEM_MINUTES = 720
_BULLET_RE = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+(.+)$")
_RESPONSES = {
    "declined": "declined",
    "tentative": "tentative",
    "needsAction": "has not responded",
    "accepted": "accepted",
}


def scale_agenda(
    steps: list[tuple[str, int]], total: int, source: str = SUGGESTION
) -> list[AgendaItem]:
    """Scale template time boxes to the meeting length; the boxes add up to `total`.

    Items that would get less than a minute are dropped from the end, because
    a 15-minute meeting cannot hold a 6-item agenda. No box grows past the
    schema's `MAX_ITEM_MINUTES`: a meeting of days spreads over the other
    boxes first, and past every box's bound the agenda covers what it can.
    """
    if not steps:
        return []
    total = min(max(total, 1), MAX_ITEM_MINUTES * len(steps))
    steps = steps[: max(1, min(len(steps), total))]
    minutes = _shares([m for _, m in steps], total)
    return [
        AgendaItem.model_validate({"title": clip(title, 200), "minutes": m, "source": source})
        for (title, _), m in zip(steps, minutes, strict=True)
    ]


def _shares(weights: list[int], total: int) -> list[int]:
    """`total` split by weight into whole minutes, each in [1, MAX_ITEM_MINUTES].

    Needs len(weights) <= total <= MAX_ITEM_MINUTES * len(weights). Boxes whose
    share passes the bound are capped and the rest re-split among the others.
    """
    capped: set[int] = set()
    while True:
        free = [i for i in range(len(weights)) if i not in capped]
        if not free:
            break
        left = total - MAX_ITEM_MINUTES * len(capped)
        weight = sum(weights[i] for i in free)
        share = {i: weights[i] * left / weight for i in free}
        over = {i for i, s in share.items() if s > MAX_ITEM_MINUTES}
        if not over:
            break
        capped |= over
    minutes = [
        MAX_ITEM_MINUTES if i in capped else min(MAX_ITEM_MINUTES, max(1, round(share[i])))
        for i in range(len(weights))
    ]
    # Absorb rounding in the longest items that still have room, so the total is exact.
    while (gap := total - sum(minutes)) != 0:
        room = [
            i
            for i in range(len(minutes))
            if (minutes[i] < MAX_ITEM_MINUTES if gap > 0 else minutes[i] > 1)
        ]
        longest = max(room, key=lambda i: minutes[i])
        minutes[longest] += 1 if gap > 0 else -1
    return minutes


def invitation_points(description: str, limit: int = 5) -> list[str]:
    """Bulleted or numbered lines of the invitation: usually its agenda."""
    points = []
    for line in description.splitlines():
        match = _BULLET_RE.match(line)
        if match:
            points.append(clip(match.group(1).strip(), 300))
        if len(points) >= limit:
            break
    return points


def invitation_questions(description: str, limit: int = 4) -> list[str]:
    """Lines of the invitation that ask something (bulleted or not)."""
    found = []
    for line in description.splitlines():
        match = _BULLET_RE.match(line)
        text = (match.group(1) if match else line).strip()
        if text.endswith("?") and len(text) > 1:
            found.append(clip(text, 300))
        if len(found) >= limit:
            break
    return found


def _dedupe(items: list[Statement], limit: int) -> list[Statement]:
    seen: set[str] = set()
    out = []
    for item in items:
        key = item.text.casefold()
        if item.text and key not in seen:
            seen.add(key)
            out.append(item)
    return out[:limit]


def _says(text: str, source: str) -> Statement:
    return Statement.model_validate({"text": clip(text, 400), "source": source})


class OfflineGenerator(Generator):
    generator_id = f"offline:{OFFLINE_MODEL}"
    metered = False

    def generate(self, context: MeetingContext, prompt: Prompt) -> Generation:
        return Generation(
            content=offline_materials(context), model=OFFLINE_MODEL, usage=Usage(), offline=True
        )


def offline_materials(ctx: MeetingContext) -> MaterialsContent:
    t = ctx.template
    people = len(ctx.attendees) + ctx.attendees_omitted
    earlier = ctx.earlier()
    carried_source = ctx.carried_from_id()
    summary = [
        _says(
            f"Offline prep (no AI model was used): a {ctx.type_label} of "
            f"{ctx.duration_minutes} minutes.",
            EVENT,
        )
    ]
    if people:
        summary.append(
            _says(
                f"{people} people are invited, {ctx.external_count} of them from outside "
                "the company.",
                ATTENDEES,
            )
        )
    summary.append(_says(t.focus, SUGGESTION))
    if earlier:
        summary.append(
            _says(
                f"{len(earlier)} earlier related meetings were found; the most relevant was "
                f"on {ctx.prior[0].start[:10]}.",
                "M1",
            )
        )

    # What earlier meetings (other than the carried-over occurrence) left open.
    leftover = [(key, p) for key, p in earlier.items() if key != carried_source]
    still_open = [_says(q, k) for k, p in leftover for q in p.open_questions]
    asked = invitation_questions(ctx.description)
    questions = _dedupe(
        [
            *(_says(q, EVENT) for q in asked),
            *still_open[:4],
            *(_says(q, SUGGESTION) for q in t.questions),
        ],
        12,
    )
    invitation = [p for p in invitation_points(ctx.description) if p not in asked]
    talking_points = _dedupe(
        [*(_says(p, EVENT) for p in invitation), *(_says(p, SUGGESTION) for p in t.talking_points)],
        12,
    )

    risks = []
    silent = [a for a in ctx.attendees if a.response == "needsAction" and not a.is_self]
    if silent:
        risks.append(
            _says(f"{len(silent)} of the invited people have not responded yet.", ATTENDEES)
        )
    declined = [a for a in ctx.attendees if a.response == "declined" and not a.is_self]
    if declined:
        risks.append(_says(f"{len(declined)} invited people declined.", ATTENDEES))
    if ctx.external_count:
        risks.append(
            _says(
                "People from outside the company attend: share only what may leave it.", ATTENDEES
            )
        )
    if not ctx.description:
        risks.append(_says("The invitation has no description or agenda.", EVENT))
    if any(a.organizer and not a.internal for a in ctx.attendees):
        risks.append(
            _says(
                "The organizer is external: confirm the goal of the meeting with them.", ATTENDEES
            )
        )

    notes = []
    for a in ctx.attendees:
        if a.is_self:
            continue
        traits = ["organizer"] if a.organizer else []
        traits.append("internal" if a.internal else "external")
        if a.optional:
            traits.append("optional")
        traits.append(_RESPONSES.get(a.response, a.response))
        notes.append(
            AttendeeNote.model_validate(
                {
                    "attendee": clip(a.name or a.email or "(no name)", 200),
                    "note": ", ".join(traits),
                    "source": ATTENDEES,
                }
            )
        )
        if len(notes) >= 20:
            break

    follow_ups = _dedupe([_says(f, k) for k, p in leftover for f in p.follow_ups], 12)
    return MaterialsContent(
        summary=summary[:4],
        objectives=[_says(o, SUGGESTION) for o in t.objectives][:8],
        agenda=scale_agenda([(s.item, s.minutes) for s in t.agenda], ctx.duration_minutes),
        questions=questions,
        talking_points=talking_points,
        risks=risks[:8],
        attendee_notes=notes,
        follow_ups=follow_ups,
    )
