"""The embedded default's generator: no model, the same structured result, said plainly.

No generative model ships in a Python package here, and a 2-core CPU could
not run one usefully, so local mode fills `MaterialsContent` deterministically
from the context: the meeting type's template (with its time boxes scaled to
the meeting's length), facts about the attendees, what earlier related
meetings left open, and links the invitation carries. Everything it writes
starts from the words "Offline prep" so nobody mistakes it for AI output.
"""

from __future__ import annotations

import re

from functions.materials.context import MeetingContext
from functions.materials.generator import Generation, Generator, Usage
from functions.materials.model import AgendaItem, AttendeeNote, MaterialsContent
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


def scale_agenda(steps: list[tuple[str, int]], total: int) -> list[AgendaItem]:
    """Scale template time boxes to the meeting length; the boxes add up to `total`.

    Items that would get less than a minute are dropped from the end, because
    a 15-minute meeting cannot hold a 6-item agenda.
    """
    if not steps:
        return []
    total = min(max(total, 1), MAX_ITEM_MINUTES * len(steps))
    steps = steps[: max(1, min(len(steps), total))]
    planned = sum(m for _, m in steps)
    minutes = [max(1, round(m * total / planned)) for _, m in steps]
    # Absorb rounding in the longest items so the total is exact.
    while sum(minutes) != total:
        longest = max(range(len(minutes)), key=lambda i: minutes[i])
        minutes[longest] += 1 if sum(minutes) < total else -1
    return [
        AgendaItem(title=clip(title, 200), minutes=m)
        for (title, _), m in zip(steps, minutes, strict=True)
    ]


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


def _dedupe(items: list[str], limit: int) -> list[str]:
    seen: set[str] = set()
    out = []
    for item in items:
        key = item.casefold()
        if item and key not in seen:
            seen.add(key)
            out.append(item)
    return out[:limit]


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
    summary = (
        f"Offline prep (no AI model was used): a {ctx.type_label} of "
        f"{ctx.duration_minutes} minutes with {people} people "
        f"({ctx.external_count} external). {t.focus}"
    )
    if ctx.prior:
        summary += f" {len(ctx.prior)} earlier related meetings were found."

    open_questions = [q for p in ctx.prior for q in p.open_questions]
    questions = _dedupe(
        [*(f"Still open from last time: {q}" for q in open_questions[:4]), *t.questions], 12
    )
    invitation = invitation_points(ctx.description)
    talking_points = _dedupe(
        [*(f"From the invitation: {p}" for p in invitation), *t.talking_points], 12
    )

    risks = []
    silent = [a for a in ctx.attendees if a.response == "needsAction" and not a.is_self]
    if silent:
        risks.append(f"{len(silent)} of the invited people have not responded yet.")
    declined = [a for a in ctx.attendees if a.response == "declined" and not a.is_self]
    if declined:
        risks.append(f"{len(declined)} invited people declined.")
    if ctx.external_count:
        risks.append("People from outside the company attend: share only what may leave it.")
    if not ctx.description:
        risks.append("The invitation has no description or agenda.")
    if any(a.organizer and not a.internal for a in ctx.attendees):
        risks.append("The organizer is external: confirm the goal of the meeting with them.")

    notes = []
    for a in ctx.attendees:
        if a.is_self:
            continue
        traits = ["organizer"] if a.organizer else []
        traits.append("internal" if a.internal else "external")
        if a.optional:
            traits.append("optional")
        traits.append(_RESPONSES.get(a.response, a.response))
        notes.append(AttendeeNote(attendee=clip(a.name or a.email, 200), note=", ".join(traits)))
        if len(notes) >= 20:
            break

    follow_ups = _dedupe([f for p in ctx.prior for f in p.follow_ups], 12)
    sources = ["This calendar event", f"Template: {ctx.type_label}"]
    sources += [f"Earlier meeting on {p.start[:10]}" for p in ctx.prior[:6]]
    sources += [a.url for a in ctx.attachments[:4] if a.url]
    return MaterialsContent(
        summary=clip(summary, 1200),
        objectives=list(t.objectives)[:8],
        agenda=scale_agenda([(s.item, s.minutes) for s in t.agenda], ctx.duration_minutes),
        questions=questions,
        talking_points=talking_points,
        risks=risks[:8],
        attendee_notes=notes,
        follow_ups=follow_ups,
        sources=[clip(s, 400) for s in sources][:12],
    )
