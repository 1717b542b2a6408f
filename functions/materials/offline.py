"""The embedded default's generator: no model, the same structured result, said plainly.

No generative model ships in a Python package here, and a 2-core CPU could
not run one usefully, so local mode fills `MaterialsContent` deterministically
from the context: the invitation's own agenda in its order (the template's
agenda only fills what the invitation leaves open), time boxes in multiples
of 5 minutes scaled to the meeting's length, the template's objectives,
questions and talking points, facts about the attendees, and what earlier
related meetings left open. Its summary starts with the words "Offline
prep" so nobody mistakes it for AI output. Its sentences go through
`wording` (counts, articles, durations) and dates through the user's locale.

Sources are filled honestly: what it reads from the invitation cites
`event`, what it derives from the guest list cites `attendees`, what earlier
meetings left open cites that meeting (`M1`, ...), recent mail threads with
the attendees are named as talking points citing the thread (`T1`, ...;
a thread whose subject or snippet reads as an instruction to an AI is left
out), and everything copied
from the type's template, and advice about people, is a `suggestion`. Lines
that read as instructions to an AI (in the invitation or in earlier notes)
are never repeated. Items carried over from the last occurrence are added by
the pipeline, not here (the action items of the last meeting's notes among
them).

Documents the context read are used too: what the last meeting's notes
decided, and the gist (first substantial line) of each attachment and
standing document, become talking points citing that document (`D1`, ...);
documents that could not be read are named as a risk. A document's lines
that address an AI are skipped like the invitation's.
"""

from __future__ import annotations

from datetime import datetime

from functions.materials.context import AttendeeFact, MeetingContext
from functions.materials.generator import Generation, Generator, Usage
from functions.materials.invite import addresses_the_assistant
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
from functions.materials.render import DateFormatter
from functions.materials.text import clip
from functions.materials.wording import (
    count,
    duration,
    has_have,
    in_sentence,
    is_are,
    names,
    was_were,
    with_article,
)

OFFLINE_MODEL = "offline-template-v1"
#: The schema's bound on one time box (a 12-hour item is already a workshop day).
MAX_ITEM_MINUTES = 720
#: What to do about a guest, by response (the guest list already shows the response).
_ATTENTION = {
    "declined": "Declined: check whether someone covers their part.",
    "tentative": "Tentative: confirm whether they will attend.",
    "needsAction": "No response yet: confirm they are coming.",
}


def _who(a: AttendeeFact) -> str:
    return a.name or a.email or "(no name)"


#: Time boxes are whole multiples of this many minutes where the meeting allows.
TIME_BOX_STEP = 5


def scale_agenda(
    steps: list[tuple[str, int]],
    total: int,
    source: str = SUGGESTION,
    *,
    keep_all: bool = False,
) -> list[AgendaItem]:
    """Scale time boxes by weight to the meeting length; the boxes add up to `total`.

    Boxes are multiples of 5 minutes (a reader plans in fives: "17 min" reads
    as machine output); a length that is not a multiple of 5 gives its few
    extra minutes to the longest box. Template items that would get less than
    5 minutes are dropped from the end, because a 15-minute meeting cannot
    hold a 6-item agenda; the invitation's own items (`keep_all`) are all
    kept, in whole minutes when fives do not fit. No box grows past the
    schema's `MAX_ITEM_MINUTES`: a meeting of days spreads over the other
    boxes first, and past every box's bound the agenda covers what it can.
    """
    if not steps:
        return []
    total = min(max(total, 1), MAX_ITEM_MINUTES * len(steps))
    step = TIME_BOX_STEP
    units = total // step
    if units < (len(steps) if keep_all else 1):
        step, units = 1, total
    steps = steps[: max(1, min(len(steps), units))]
    minutes = [u * step for u in _shares([m for _, m in steps], units, MAX_ITEM_MINUTES // step)]
    extra = total - sum(minutes)
    if extra:
        room = [i for i in range(len(minutes)) if minutes[i] + extra <= MAX_ITEM_MINUTES]
        minutes[max(room, key=lambda i: minutes[i])] += extra
    return [
        AgendaItem.model_validate({"title": clip(title, 200), "minutes": m, "source": source})
        for (title, _), m in zip(steps, minutes, strict=True)
    ]


def round_time_boxes(agenda: list[AgendaItem]) -> list[AgendaItem]:
    """Any generator's agenda with its boxes in fives, same order, sources and total.

    Gemini is asked for multiples of 5 but may answer "17 min"; the boxes are
    re-split by their own weights so the reader still sees the model's plan.
    """
    if all(a.minutes % TIME_BOX_STEP == 0 for a in agenda):
        return agenda
    total = sum(a.minutes for a in agenda)
    scaled = scale_agenda([(a.title, a.minutes) for a in agenda], total, keep_all=True)
    return [
        a.model_copy(update={"minutes": s.minutes}) for a, s in zip(agenda, scaled, strict=True)
    ]


def _shares(weights: list[int], total: int, cap: int = MAX_ITEM_MINUTES) -> list[int]:
    """`total` split by weight into whole units, each in [1, cap].

    Needs len(weights) <= total <= cap * len(weights). Boxes whose share
    passes the cap are capped and the rest re-split among the others.
    """
    capped: set[int] = set()
    while True:
        free = [i for i in range(len(weights)) if i not in capped]
        if not free:
            break
        left = total - cap * len(capped)
        weight = sum(weights[i] for i in free)
        share = {i: weights[i] * left / weight for i in free}
        over = {i for i, s in share.items() if s > cap}
        if not over:
            break
        capped |= over
    units = [cap if i in capped else min(cap, max(1, round(share[i]))) for i in range(len(weights))]
    # Absorb rounding in the longest items that still have room, so the total is exact.
    while (gap := total - sum(units)) != 0:
        room = [i for i in range(len(units)) if (units[i] < cap if gap > 0 else units[i] > 1)]
        longest = max(room, key=lambda i: units[i])
        units[longest] += 1 if gap > 0 else -1
    return units


def _covers(title: str, taken: list[str]) -> bool:
    key = title.casefold()
    return any(key in t or t in key for t in taken)


def invite_led_agenda(ctx: MeetingContext) -> list[AgendaItem]:
    """The invitation's agenda in its order; the template fills only what it leaves open.

    When the invitation gives a time box for every item and they leave time
    over, the template's steps (those the invitation does not already cover)
    share the rest as suggestions; otherwise the invitation's items share the
    whole meeting, weighted by the boxes they give (10 minutes when unsaid).
    """
    template = [(s.item, s.minutes) for s in ctx.template.agenda]
    total = max(ctx.duration_minutes, 1)
    items = ctx.invite_agenda
    if not items:
        return scale_agenda(template, total)
    given = [i.minutes for i in items]
    if all(given) and sum(m or 0 for m in given) < total and len(items) < 12:
        own = [
            AgendaItem.model_validate(
                {"title": clip(i.title, 200), "minutes": i.minutes, "source": EVENT}
            )
            for i in items
        ]
        taken = [i.title.casefold() for i in items]
        rest = [(t, m) for t, m in template if not _covers(t, taken)]
        fill = scale_agenda(rest, total - sum(a.minutes for a in own))[: 12 - len(own)]
        return own + fill
    known = sorted(m for m in given if m)
    default = known[len(known) // 2] if known else 10
    return scale_agenda(
        [(i.title, i.minutes or default) for i in items], total, EVENT, keep_all=True
    )


#: A document's gist is its first line at least this long (headings and dates are shorter).
_GIST_CHARS = 25


def _prose(line: str) -> bool:
    """Mostly letters, digits and spaces: a sentence rather than markup or a marker."""
    plain = sum(1 for ch in line if ch.isalnum() or ch.isspace())
    # A CSV row (a Sheet's export) is data, not a sentence: "Area,FY26 actual,FY27 plan".
    csv_row = line.count(",") >= 2 and ", " not in line
    return "<<<" not in line and ">>>" not in line and not csv_row and plain >= 0.8 * len(line)


def _gist(text: str) -> str:
    for raw in text.splitlines():
        line = raw.strip().lstrip("#*-• ").strip()
        # A line of markup or markers ("<<<END ...>>>") is not a gist, whoever wrote it.
        if len(line) >= _GIST_CHARS and not addresses_the_assistant(line) and _prose(line):
            return line
    return ""


def _document_points(ctx: MeetingContext) -> list[Statement]:
    """Decisions of the last meeting's notes, then each other document's gist, citing it."""
    points: list[Statement] = []
    for key, d in ctx.documents_by_id().items():
        if d.readable and d.kind == "notes":
            points += [_says(f"Decided last time: {x}", key) for x in d.decisions[:4]]
    for key, d in ctx.documents_by_id().items():
        gist = _gist(d.text) if d.readable and d.kind != "notes" else ""
        if gist:
            title = "A document" if addresses_the_assistant(d.title) else d.title
            points.append(_says(f"{title}: {gist}", key))
    return points[:6]


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


def _mail_points(ctx: MeetingContext) -> list[Statement]:
    """What recent mail with these people is about: one point per thread, newest first."""
    fmt = DateFormatter(ctx.locale, ctx.time_zone)
    points = []
    for key, thread in ctx.threads().items():
        if addresses_the_assistant(thread.subject) or addresses_the_assistant(thread.snippet):
            continue
        when = fmt.date(datetime.fromisoformat(thread.last_message))
        said = f" Last message: “{thread.snippet}”" if thread.snippet else ""
        points.append(
            _says(
                f"Recent mail “{thread.subject}” "
                f"({count(thread.messages, 'message', 'messages')}, the last on {when}).{said}",
                key,
            )
        )
    return points[:4]


def offline_materials(ctx: MeetingContext) -> MaterialsContent:
    t = ctx.template
    people = len(ctx.attendees) + ctx.attendees_omitted
    earlier = ctx.earlier()
    carried_source = ctx.carried_from_id()
    label = in_sentence(ctx.type_label)
    summary = [
        _says(
            f"Offline prep (no AI model was used): {with_article(label)} of "
            f"{duration(ctx.duration_minutes)}.",
            EVENT,
        )
    ]
    if people:
        outside = ctx.external_count
        if outside == 0:
            where = "all from inside the company"
        elif outside == people:
            where = "all from outside the company"
        else:
            where = f"{outside} of them from outside the company"
        summary.append(
            _says(
                f"{count(people, 'person', 'people')} {is_are(people)} invited, {where}.", ATTENDEES
            )
        )
    summary.append(_says(t.focus, SUGGESTION))
    if earlier:
        n = len(earlier)
        first = ctx.prior[0]
        when = DateFormatter(ctx.locale, ctx.time_zone).date(datetime.fromisoformat(first.start))
        why = f", {first.reason}" if first.reason else ""
        most = "the most relevant was" if n > 1 else "it was"
        last = ""
        if first.summary and not addresses_the_assistant(first.summary):
            last = f" Last time: {first.summary}"
        summary.append(
            _says(
                f"{count(n, 'earlier related meeting', 'earlier related meetings')} "
                f"{was_were(n)} found; {most} on {when}{why}.{last}",
                "M1",
            )
        )

    # What earlier meetings (other than the carried-over occurrence) left open.
    leftover = [(key, p) for key, p in earlier.items() if key != carried_source]
    # An earlier note that reads as an instruction to an AI is not repeated as advice.
    still_open = [
        _says(q, k) for k, p in leftover for q in p.open_questions if not addresses_the_assistant(q)
    ]
    asked = [i.title for i in ctx.invite_agenda if i.title.endswith("?")]
    questions = _dedupe(
        [
            *(_says(q, EVENT) for q in asked),
            *still_open[:4],
            *(_says(q, SUGGESTION) for q in t.questions),
        ],
        12,
    )
    talking_points = _dedupe(
        [
            *_document_points(ctx),
            *_mail_points(ctx),
            *(_says(p, SUGGESTION) for p in t.talking_points),
        ],
        12,
    )

    risks = []
    silent = [a for a in ctx.attendees if a.response == "needsAction" and not a.is_self]
    if silent:
        n = len(silent)
        risks.append(
            _says(
                f"{n} of the invited people {has_have(n)} not responded yet "
                f"({names([_who(a) for a in silent])}).",
                ATTENDEES,
            )
        )
    declined = [a for a in ctx.attendees if a.response == "declined" and not a.is_self]
    if declined:
        n = len(declined)
        risks.append(
            _says(
                f"{count(n, 'invited person', 'invited people')} declined "
                f"({names([_who(a) for a in declined])}).",
                ATTENDEES,
            )
        )
    if ctx.external_count:
        risks.append(
            _says(
                "People from outside the company attend: share only what may leave it.", ATTENDEES
            )
        )
    if not ctx.description:
        risks.append(_says("The invitation has no description or agenda.", EVENT))
    unread = [d.title for d in ctx.documents if not d.readable]
    if unread:
        n = len(unread)
        risks.append(
            _says(
                f"{count(n, 'document', 'documents')} could not be read ({names(unread)}).", EVENT
            )
        )
    if any(a.organizer and not a.internal for a in ctx.attendees):
        risks.append(
            _says(
                "The organizer is external: confirm the goal of the meeting with them.", ATTENDEES
            )
        )

    notes = []
    for a in ctx.attendees:
        advice = _ATTENTION.get(a.response)
        if a.is_self or advice is None:
            continue
        notes.append(
            AttendeeNote.model_validate(
                {"attendee": clip(_who(a), 200), "note": advice, "source": SUGGESTION}
            )
        )
        if len(notes) >= 20:
            break

    follow_ups = _dedupe(
        [_says(f, k) for k, p in leftover for f in p.follow_ups if not addresses_the_assistant(f)],
        12,
    )
    return MaterialsContent(
        summary=summary[:4],
        objectives=[_says(o, SUGGESTION) for o in t.objectives][:8],
        agenda=invite_led_agenda(ctx),
        questions=questions,
        talking_points=talking_points,
        risks=risks[:8],
        attendee_notes=notes,
        follow_ups=follow_ups,
    )
