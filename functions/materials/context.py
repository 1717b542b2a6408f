"""Everything the generator may know about one meeting, gathered once and bounded in size.

The context is the single input of generation: the prompt is a pure function
of it, and its canonical JSON is hashed into the cache key, so "same context"
means "same materials" without another model call. It holds the event's own
fields (an HTML description read as text, its own agenda and links picked
out, see `invite`), its attendees (internal or external by the user's domains), earlier
occurrences of the same series and earlier meetings with the same people (with
the summaries and open questions their materials left behind), and the
meeting type's template, and the documents it names (`documents.gather`:
the event's attachments, the notes attached to the previous occurrence of the
series, the meeting type's standing context), each with the id a statement
cites (D1, D2, ...). The action items of the last meeting's notes are carried
over like the open items of its materials, with a link back to the notes.
When the user turned the mail source on (see
`mail_context` and `sources`), it also holds recent mail threads with the
meeting's people (ids T1, T2, ...); a source that was not used leaves a note
(`source_notes`) instead.

History is only what has happened: an earlier meeting is one that ended
before the moment the context is built (`now`) and started before this
meeting. Preparing on Dec 3 for a Dec 8 meeting must not cite a Dec 7 meeting
as history, so the lookback starts from the earlier of `now` and the
meeting's start. An earlier meeting is related when it is an occurrence of
the same series, or when the people overlap for real: the very same people
(a 1:1 with the same person counts), or at least two shared people who make
up at least a third of both meetings' people together (one shared colleague,
or two people out of a 40-person all-hands, is a coincidence, not a
relation). Each earlier meeting carries the reason it was chosen, in words
the materials show. Open items (questions and follow-ups) that the last
prepared occurrence of the same series left open are carried over as items of
their own, so the next materials show them whatever the generator writes.
Action items the user recorded after an earlier related meeting and has not
ticked off (`Meeting.followup`, functions/followup) come along as
`action_items`, each with a link back to that meeting; the renderer shows
them, the model never sees them, so it cannot drop or reword them.

Size is bounded twice: every field has its own cap (description, titles,
attendee count, number of earlier meetings, summary lengths, mail threads and
their snippets), and the rendered prompt must fit
`ContextBudget.max_prompt_chars`; if it does not, the least relevant earlier
meetings go first, then the oldest mail threads, then document text (the
longest halved first, never a whole document, so document ids stay stable),
then attendees, then description text.
Tokens are estimated at 4 characters per token (Google's rule of thumb for
Gemini on English text; other scripts use fewer characters per token, so the
character budget is the bound that is actually enforced).

The facts' types and the budget live in `functions.materials.facts` (the
prompt reads them, and fitting here renders the prompt); they are re-exported.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from functions.domain.html_text import description_text
from functions.domain.meetings import EventStatus, Meeting
from functions.domain.users import User
from functions.logs import log
from functions.materials.documents.gather import DocumentFact, DocumentSources, gather_documents
from functions.materials.facts import (
    CHARS_PER_TOKEN,
    DEFAULT_BUDGET,
    ActionItemFact,
    AttachmentFact,
    AttendeeFact,
    CarriedItem,
    ContextBudget,
    InviteAgendaItem,
    MeetingContext,
    PriorMeeting,
    estimate_tokens,
)
from functions.materials.invite import invite_agenda, invite_links
from functions.materials.mail_context import MailFacts
from functions.materials.model import (
    MAX_THREADS,
    OpenItem,
    SummaryRecord,
    document_id,
)
from functions.materials.templates import PrepTemplate
from functions.materials.text import clean_text
from functions.materials.wording import names
from functions.store.port import Store

_log = logging.getLogger(__name__)

#: What this module gathers, and (from `facts`, where they live) what it gathers into.
__all__ = [
    "CHARS_PER_TOKEN",
    "DEFAULT_BUDGET",
    "MIN_DOCUMENT_CHARS",
    "MIN_OVERLAP",
    "MIN_SHARED_PEOPLE",
    "ActionItemFact",
    "AttachmentFact",
    "AttendeeFact",
    "CarriedItem",
    "ContextBudget",
    "InviteAgendaItem",
    "MeetingContext",
    "PriorMeeting",
    "SummaryReader",
    "build_context",
    "estimate_tokens",
    "fit_to_budget",
    "related_by_people",
]

SummaryReader = Callable[[str], SummaryRecord | None]
"""Reads the summary record of a materials ref (None when missing or unreadable)."""


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _local_iso(at: datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).isoformat(timespec="minutes")


def _people(meeting: Meeting, own_email: str) -> frozenset[str]:
    """The other humans in a meeting, by lower-cased email."""
    own = own_email.lower()
    return frozenset(
        a.email.lower()
        for a in meeting.human_attendees
        if not a.is_self and a.email and a.email.lower() != own
    )


def _newest_first(
    store: Store, user_id: str, before: datetime, budget: ContextBudget
) -> Iterator[Meeting]:
    """The user's meetings before `before`, newest first, read in windows.

    The store lists a window earliest first with a limit; reading windows from
    the newest backwards means a busy calendar cannot crowd out the most recent
    meetings, and a window that hits the limit is split until it does not.
    """
    oldest = before - timedelta(days=budget.lookback_days)
    limit = budget.page_limit
    end = before
    while end > oldest:
        start = max(oldest, end - timedelta(days=budget.window_days))
        windows = [(start, end)]
        batch: list[Meeting] = []
        while windows:
            lo, hi = windows.pop()
            found = store.list_meetings(user_id, start_from=lo, start_before=hi, limit=limit)
            if len(found) >= limit and hi - lo > timedelta(minutes=2):
                mid = lo + (hi - lo) / 2
                windows.extend([(lo, mid), (mid, hi)])
                continue
            batch.extend(found)
        yield from sorted(batch, key=lambda m: m.start, reverse=True)
        end = start


#: A shared-people meeting is related only with this many shared people ...
MIN_SHARED_PEOPLE = 2
#: ... who are at least this share of everybody in the two meetings together.
MIN_OVERLAP = 1 / 3


def related_by_people(mine: frozenset[str], theirs: frozenset[str]) -> bool:
    """A real overlap of people: the same people, or several who are a fair share of both."""
    if not mine or not theirs:
        return False
    if mine == theirs:
        return True
    shared = len(mine & theirs)
    return shared >= MIN_SHARED_PEOPLE and shared / len(mine | theirs) >= MIN_OVERLAP


def _happened(other: Meeting, meeting: Meeting, now: datetime) -> bool:
    """Whether `other` is history for `meeting`: it ended by `now` and began before it."""
    return other.end <= now and other.start < meeting.start


def _related(
    store: Store, user: User, meeting: Meeting, budget: ContextBudget, now: datetime
) -> tuple[list[tuple[Literal["series", "same_people"], Meeting, int]], int]:
    """Pick earlier meetings that have happened: same series (most recent), then most overlap."""
    mine = _people(meeting, user.email)
    series: list[Meeting] = []
    overlapping: list[tuple[int, Meeting]] = []
    found = 0
    # Enough candidates to rank overlap well without walking a huge calendar.
    enough_overlap = budget.max_same_people * 4
    for other in _newest_first(store, user.user_id, min(now, meeting.start), budget):
        if other.event_id == meeting.event_id or other.all_day:
            continue
        if other.status is EventStatus.CANCELLED or not _happened(other, meeting, now):
            continue
        if meeting.series_id and other.series_id == meeting.series_id:
            found += 1
            if len(series) < budget.max_series:
                series.append(other)
            continue
        theirs = _people(other, user.email)
        if related_by_people(mine, theirs):
            found += 1
            overlapping.append((len(mine & theirs), other))
        series_done = not meeting.series_id or len(series) >= budget.max_series
        if series_done and len(overlapping) >= enough_overlap:
            break
    # Most shared people first; among equals the most recent (the list is newest first).
    overlapping.sort(key=lambda pair: -pair[0])
    picked: list[tuple[Literal["series", "same_people"], Meeting, int]] = [
        ("series", m, len(mine & _people(m, user.email))) for m in series
    ]
    picked.extend(("same_people", m, n) for n, m in overlapping[: budget.max_same_people])
    return picked, found


def _names(meeting: Meeting, emails: frozenset[str], budget: ContextBudget) -> str:
    """The shared people by name (email when nameless): "Sam, Ana and 2 more"."""
    return names(
        [
            clean_text(a.display_name or a.email, budget.name_chars, multiline=False)
            for a in meeting.human_attendees
            if a.email.lower() in emails
        ]
    )


def _reason(
    relation: Literal["series", "same_people"],
    other: Meeting,
    meeting: Meeting,
    user: User,
    budget: ContextBudget,
) -> str:
    """Why an earlier meeting was chosen, as the reader should see it."""
    if relation == "series":
        return "an earlier occurrence of this series"
    mine = _people(meeting, user.email)
    theirs = _people(other, user.email)
    shared = mine & theirs
    names = _names(meeting, shared, budget)
    if mine == theirs:
        if len(shared) == 1:
            return f"a meeting with the same person ({names})"
        return f"a meeting with the same {len(shared)} people ({names})"
    return f"{len(shared)} of the same people ({names})"


def _read_record(other: Meeting, read_summary: SummaryReader) -> SummaryRecord | None:
    if not other.materials_ref:
        return None
    try:
        return read_summary(other.materials_ref)
    except Exception as exc:  # an unreadable old summary must not block new materials
        log(_log, logging.WARNING, "prior summary unreadable", error=type(exc).__name__)
        return None


def _items(texts: list[str], width: int) -> tuple[str, ...]:
    cleaned = (clean_text(t, width) for t in texts)
    return tuple(t for t in cleaned if t)


def _prior_fact(
    *,
    relation: Literal["series", "same_people"],
    other: Meeting,
    shared: int,
    reason: str,
    zone: ZoneInfo,
    record: SummaryRecord | None,
    carried: bool,
    budget: ContextBudget,
) -> PriorMeeting:
    """One earlier meeting; its open items are left out when they are carried over."""
    items = 0 if carried else budget.prior_items
    width = budget.prior_item_chars
    return PriorMeeting(
        relation=relation,
        start=_local_iso(other.start, zone),
        title=clean_text(other.title, budget.prior_title_chars, multiline=False),
        shared_people=shared,
        reason=reason,
        summary=clean_text(record.summary, budget.prior_summary_chars) if record else "",
        open_questions=_items(record.open_questions[:items], width) if record else (),
        follow_ups=_items(record.follow_ups[:items], width) if record else (),
    )


def _carried(
    record: SummaryRecord, meeting: Meeting, zone: ZoneInfo, budget: ContextBudget
) -> tuple[CarriedItem, ...]:
    """The open items of the last prepared occurrence: recent enough, the newest kept."""
    oldest = meeting.start - timedelta(days=budget.carry_max_age_days)
    fresh: list[OpenItem] = [i for i in record.open_items if i.raised_at >= oldest]
    seen: set[str] = set()
    kept: list[CarriedItem] = []
    for item in fresh:
        text = clean_text(item.text, budget.prior_item_chars)
        if text and text.casefold() not in seen:
            seen.add(text.casefold())
            kept.append(
                CarriedItem(kind=item.kind, text=text, raised_at=_local_iso(item.raised_at, zone))
            )
    return tuple(kept[-budget.carry_max_items :]) if budget.carry_max_items else ()


def _action_items(
    picked: list[tuple[Literal["series", "same_people"], Meeting, int]],
    zone: ZoneInfo,
    budget: ContextBudget,
) -> tuple[ActionItemFact, ...]:
    """Open items of the earlier related meetings' follow-ups: series first, newest first."""
    from functions.notify.content import calendar_event_url

    out: list[ActionItemFact] = []
    seen: set[str] = set()
    for relation, other, _ in picked:
        followup = other.followup
        if followup is None:
            continue
        link = calendar_event_url(other)
        for item in followup.open_items:
            text = clean_text(item.text, budget.prior_item_chars, multiline=False)
            if not text or text.casefold() in seen or len(out) >= budget.max_action_items:
                continue
            seen.add(text.casefold())
            out.append(
                ActionItemFact(
                    text=text,
                    owner=clean_text(item.owner, budget.name_chars, multiline=False),
                    from_title=clean_text(other.title, budget.prior_title_chars, multiline=False),
                    from_start=_local_iso(other.start, zone),
                    from_link=link if link.startswith("https://") else "",
                    relation=relation,
                )
            )
    return tuple(out)


def build_context(
    *,
    store: Store,
    read_summary: SummaryReader,
    user: User,
    meeting: Meeting,
    template: PrepTemplate,
    template_version: str,
    type_label: str,
    internal_domains: frozenset[str],
    now: datetime,
    budget: ContextBudget = DEFAULT_BUDGET,
    mail: MailFacts | None = None,
    documents: DocumentSources | None = None,
    documents_note: str = "",
) -> MeetingContext:
    """Gather and bound the context for `meeting` as of `now` (reads the store and summaries).

    `now` decides what counts as history: only meetings that ended by then.
    `mail` is what `mail_context.gather_mail` found (None: the source was not asked).
    With `documents` the attachments, the last occurrence's notes and the
    standing context are read too (`DocumentsUnavailable` when Drive fails);
    `documents_note` says why documents were not read when the switch is on.
    """
    zone = _zone(user.time_zone)
    own = user.email.lower()
    humans = list(meeting.human_attendees)
    # Organizer first, then the user, then everybody else in calendar order.
    humans.sort(key=lambda a: (not a.organizer, not (a.is_self or a.email.lower() == own)))
    facts = tuple(
        AttendeeFact(
            name=clean_text(a.display_name, budget.name_chars, multiline=False),
            email=clean_text(a.email, budget.name_chars, multiline=False),
            internal=a.domain in internal_domains,
            organizer=a.organizer or a.email.lower() == meeting.organizer_email.lower(),
            optional=a.optional,
            is_self=a.is_self or a.email.lower() == own,
            response=a.response_status.value,
        )
        for a in humans
    )
    internal = sum(1 for f in facts if f.internal)
    picked, found = _related(store, user, meeting, budget, now)
    records = [_read_record(m, read_summary) for _, m, _ in picked]
    # The last prepared occurrence of the series: the newest series pick with a record.
    source = next(
        (i for i, (rel, _, _) in enumerate(picked) if rel == "series" and records[i]), None
    )
    carried: tuple[CarriedItem, ...] = ()
    carried_from = ""
    if source is not None:
        record = records[source]
        assert record is not None
        carried = _carried(record, meeting, zone, budget)
        carried_from = _local_iso(picked[source][1].start, zone) if carried else ""
    previous = next((m for rel, m, _ in picked if rel == "series"), None)
    docs: tuple[DocumentFact, ...] = ()
    if documents is not None:
        docs = gather_documents(documents, meeting=meeting, previous=previous, zone=zone)
        carried, carried_from = _with_notes(carried, carried_from, docs, budget)
    prior = tuple(
        _prior_fact(
            relation=rel,
            other=m,
            shared=shared,
            reason=_reason(rel, m, meeting, user, budget),
            zone=zone,
            record=records[i],
            # The series' open items travel along the carry-over chain instead.
            carried=source is not None and rel == "series",
            budget=budget,
        )
        for i, (rel, m, shared) in enumerate(picked)
    )
    # Calendar keeps its editor's HTML: read it as text (never rendered).
    description = clean_text(description_text(meeting.description))
    ctx = MeetingContext(
        event_id=meeting.event_id,
        meeting_type=meeting.meeting_type,
        type_label=type_label,
        title=clean_text(meeting.title, budget.title_chars, multiline=False),
        description=clean_text(description, budget.description_chars),
        description_clipped=len(description) > budget.description_chars,
        invite_agenda=tuple(
            InviteAgendaItem(title=i.title, minutes=i.minutes) for i in invite_agenda(description)
        ),
        invite_links=tuple(clean_text(u, 500, multiline=False) for u in invite_links(description)),
        start=_local_iso(meeting.start, zone),
        end=_local_iso(meeting.end, zone),
        duration_minutes=max(0, int((meeting.end - meeting.start).total_seconds() // 60)),
        time_zone=str(zone.key),
        locale=user.locale,
        recurring=bool(meeting.series_id),
        organizer=clean_text(meeting.organizer_email, budget.name_chars, multiline=False),
        attendees=facts[: budget.max_attendees],
        attendees_omitted=max(0, len(facts) - budget.max_attendees),
        internal_count=internal,
        external_count=len(facts) - internal,
        conference_link=clean_text(meeting.conference_link or "", 500, multiline=False),
        attachments=tuple(
            AttachmentFact(
                title=clean_text(a.title, budget.prior_title_chars, multiline=False),
                url=clean_text(a.url, 500, multiline=False),
            )
            for a in meeting.attachments[: budget.max_attachments]
        ),
        prior=prior,
        prior_found=found,
        template=template,
        template_version=template_version,
        carried=carried,
        carried_from=carried_from,
        mail_threads=mail.threads[:MAX_THREADS] if mail else (),
        source_notes=_source_notes(user, meeting, mail, documents, documents_note),
        action_items=_action_items(picked, zone, budget),
        documents=docs,
    )
    return fit_to_budget(ctx, budget)


def _source_notes(
    user: User,
    meeting: Meeting,
    mail: MailFacts | None,
    documents: DocumentSources | None,
    documents_note: str = "",
) -> tuple[str, ...]:
    """Why a source the meeting could have used was not: mail's own note, the documents'
    (switched on, access not allowed yet), and documents the event attaches while the
    user has not turned documents on."""
    from functions.domain.users import ContextSource
    from functions.materials.sources import STATE_NOTES, SourceState, source_note

    notes = [mail.note] if mail and mail.note else []
    if documents is None and documents_note:
        notes.append(documents_note)
    elif documents is None and meeting.attachments and not user.preferences.documents_enabled:
        notes.append(source_note(ContextSource.DOCUMENTS, STATE_NOTES[SourceState.OFF]))
    return tuple(notes)


def _with_notes(
    carried: tuple[CarriedItem, ...],
    carried_from: str,
    docs: tuple[DocumentFact, ...],
    budget: ContextBudget,
) -> tuple[tuple[CarriedItem, ...], str]:
    """The last meeting's action items join the carried-over items, linked to their notes.

    They are the newest open items, so when the cap is reached the oldest
    carried items go first; an item already carried (same words) is kept once.
    """
    notes = next(
        ((document_id(i), d) for i, d in enumerate(docs) if d.kind == "notes" and d.readable),
        None,
    )
    if notes is None or not notes[1].action_items or not budget.carry_max_items:
        return carried, carried_from
    key, fact = notes
    seen = {c.text.casefold() for c in carried}
    added = [
        CarriedItem(kind="follow_up", text=t, raised_at=fact.meeting_start, document=key)
        for t in fact.action_items
        if t.casefold() not in seen
    ]
    merged = (*carried, *added)[-budget.carry_max_items :]
    return merged, carried_from or fact.meeting_start


def fit_to_budget(ctx: MeetingContext, budget: ContextBudget) -> MeetingContext:
    """Shrink the context until its prompt fits: least relevant history first."""
    from functions.materials.prompt import build_prompt

    while build_prompt(ctx).chars > budget.max_prompt_chars:
        if ctx.prior:
            update: dict[str, object] = {"prior": ctx.prior[:-1]}
            dropped = ctx.prior[-1]
            if dropped.relation == "series" and dropped.start == ctx.carried_from:
                # Carried items cite the occurrence they come from: they go with it.
                update.update(carried=(), carried_from="")
            ctx = ctx.model_copy(update=update)
        elif ctx.mail_threads:
            ctx = ctx.model_copy(update={"mail_threads": ctx.mail_threads[:-1]})
        elif _longest_document(ctx) is not None:
            ctx = _shorter_document(ctx)
        elif len(ctx.attendees) > 5:
            keep = len(ctx.attendees) // 2
            omitted = ctx.attendees_omitted + len(ctx.attendees) - keep
            ctx = ctx.model_copy(
                update={"attendees": ctx.attendees[:keep], "attendees_omitted": omitted}
            )
        elif len(ctx.description) > 200:
            shorter = clean_text(ctx.description, len(ctx.description) // 2)
            ctx = ctx.model_copy(update={"description": shorter, "description_clipped": True})
        else:
            break  # what is left is fixed text and configuration
    return ctx


#: Document text is never shortened below this many characters (a title and a gist).
MIN_DOCUMENT_CHARS = 400


def _longest_document(ctx: MeetingContext) -> int | None:
    sizes = [(len(d.text), i) for i, d in enumerate(ctx.documents) if d.readable]
    longest = max(sizes, default=None)
    return longest[1] if longest and longest[0] > MIN_DOCUMENT_CHARS else None


def _shorter_document(ctx: MeetingContext) -> MeetingContext:
    """Halve the longest document's text (it stays listed and citable)."""
    index = _longest_document(ctx)
    assert index is not None
    doc = ctx.documents[index]
    shorter = doc.model_copy(
        update={
            "text": clean_text(doc.text, max(MIN_DOCUMENT_CHARS, len(doc.text) // 2)),
            "clipped": True,
        }
    )
    docs = (*ctx.documents[:index], shorter, *ctx.documents[index + 1 :])
    return ctx.model_copy(update={"documents": docs})
