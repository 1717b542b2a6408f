"""Materials as a self-contained, printable HTML page and as Markdown.

Everything that came from a meeting or a model is text, never markup: each
value is escaped at the one place it is written, the page carries a Content
Security Policy that allows no scripts, no loads and no forms (inline styles
only), and links are shown as text rather than made clickable. The HTML is
served from a storage domain, so this is what stands between a hostile
invitation and the user's browser.

Facts apart from suggestions: every fact shows where it comes from
("Source: the invitation", "Source: Weekly sync, Nov 24, 2026"); suggestions
are marked once and subtly: they are in italics, and the banner at the top
says so once, instead of a tag on every line (a page where every other line
shouts "Suggestion" reads as noise). A section with nothing in it says
so instead of looking forgotten, and the Sources section lists every source
the generator was given, how often it is cited, how many statements are
suggestions, and how many were removed for citing a meeting the calendar
does not hold. Items carried over from the last occurrence of a series have
their own section with the date they come from; those taken from the last
meeting's notes name the notes document and its link. Documents the context
read (attachments, the last meeting's notes, standing context) are listed
under Sources with their links (as text), how often they are cited, and,
for those that could not be read, why.

Dates and times are in the user's time zone (zoneinfo) and formatted with
Babel in English with the conventions of the user's locale
(`timefmt.english_locale`: "Tuesday, 1 December 2026 · 15:30" for de-DE);
an unknown locale falls back to en-US. The document is English throughout,
headings, fixed sentences and the model's text alike (the prompt asks for
English), so no foreign word lands in an English sentence; `<html lang>`
says so. The
footer says when the page was prepared and nothing else: template versions,
cache keys and token counts are kept in the object metadata, not shown.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from functions.materials.carry_over import resolutions, still_open
from functions.materials.context import CarriedItem, MeetingContext
from functions.materials.model import (
    ATTENDEES,
    EVENT,
    SUGGESTION,
    AgendaItem,
    GenerationInfo,
    MaterialsContent,
    SharedAgendaItem,
    Statement,
)
from functions.materials.prompt import safe_locale
from functions.materials.wording import count, in_sentence

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; "
    "base-uri 'none'; form-action 'none'"
)

_STYLE = """
:root { color-scheme: light; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: #202124; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin: .2rem 0; }
h2 { font-size: 1.1rem; margin: 1.6rem 0 .4rem; border-bottom: 1px solid #dadce0; }
.kind { text-transform: uppercase; letter-spacing: .05em; font-size: .8rem; color: #5f6368;
  margin: 0; }
.when { color: #3c4043; margin: .2rem 0 1rem; }
.banner { background: #e8f0fe; border-left: 4px solid #1a73e8; padding: .5rem .8rem; }
.banner.offline { background: #fef7e0; border-left-color: #f9ab00; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #eee;
  vertical-align: top; }
td.min { white-space: nowrap; text-align: right; width: 6rem; }
blockquote { margin: 0; padding: .2rem .8rem; border-left: 3px solid #dadce0; color: #3c4043; }
.src { color: #137333; white-space: nowrap; }
.tag { font-size: .7rem; text-transform: uppercase; letter-spacing: .04em; color: #5f6368;
  border: 1px solid #dadce0; border-radius: 3px; padding: 0 .25rem; font-style: normal; }
.suggestion, .suggestion td { font-style: italic; color: #3c4043; }
li.resolved { text-decoration: line-through; color: #5f6368; }
li.resolved small { text-decoration: none; display: inline-block; }
.empty { color: #5f6368; font-style: italic; }
footer { margin-top: 2rem; font-size: .8rem; color: #5f6368; }
@page { margin: 16mm; }
@media print {
  body { margin: 0; max-width: none; font-size: 11pt; }
  .banner { border: 1px solid #999; background: none; }
  h2 { break-after: avoid; }
  tr, li { break-inside: avoid; }
}
"""

_RESPONSES = {
    "accepted": "accepted",
    "declined": "declined",
    "tentative": "tentative",
    "needsAction": "no response",
}


# --------------------------------------------------------------------------- dates


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _babel_locale(locale: str) -> str:
    """English words, the user's conventions: the document is English throughout."""
    from functions.timefmt import english_locale

    return english_locale(safe_locale(locale))


class DateFormatter:
    """Dates and times in one user's zone and locale."""

    def __init__(self, locale: str, time_zone: str) -> None:
        self.locale = _babel_locale(locale)
        self.zone = _zone(time_zone)

    def date(self, at: datetime) -> str:
        from babel.dates import format_date

        return str(format_date(at.astimezone(self.zone).date(), "full", locale=self.locale))

    def time(self, at: datetime) -> str:
        from babel.dates import format_time

        return str(format_time(at, "short", tzinfo=self.zone, locale=self.locale))

    def short_date(self, at: datetime) -> str:
        from babel.dates import format_date

        return str(format_date(at.astimezone(self.zone).date(), "medium", locale=self.locale))

    def moment(self, at: datetime) -> str:
        """Date and time to the minute ("Nov 30, 2026, 10:00 AM"; seconds are noise)."""
        from babel.dates import get_datetime_format

        glue = str(get_datetime_format("medium", locale=self.locale))
        return glue.replace("{1}", self.short_date(at)).replace("{0}", self.time(at))

    def span(self, start: datetime, end: datetime) -> str:
        return f"{self.date(start)} · {self.time(start)} – {self.time(end)} ({self.zone.key})"


# --------------------------------------------------------------------------- sources

#: What an empty section says: nothing was left out by accident, nothing was invented.
EMPTY = "Nothing from the calendar supports this section, so it is left empty."
NOTHING_CARRIED = (
    "Nothing is carried over: no earlier occurrence of this series left open questions "
    "or follow-ups."
)


def source_label(ctx: MeetingContext, source: str, fmt: DateFormatter) -> str:
    """A reader's name for a source id ("the invitation", "Weekly sync, Nov 24, 2026")."""
    if source == EVENT:
        return "the invitation"
    if source == ATTENDEES:
        return "the guest list"
    earlier = ctx.earlier().get(source)
    if earlier is not None:
        return f"{earlier.title or '(no title)'}, {fmt.short_date(_at(earlier.start))}"
    thread = ctx.threads().get(source)
    if thread is not None:
        return f"mail “{thread.subject}”, {fmt.short_date(_at(thread.last_message))}"
    document = ctx.documents_by_id().get(source)
    if document is not None:
        return document.title or "(untitled document)"
    return "an unknown source"  # not reachable after check_against_context


def _at(local_iso: str) -> datetime:
    return datetime.fromisoformat(local_iso)


def _kind(kind: str) -> str:
    return "Question" if kind == "question" else "Follow-up"


def _source_lines(
    ctx: MeetingContext, content: MaterialsContent, info: GenerationInfo, fmt: DateFormatter
) -> list[str]:
    """Every source the generator was given, how often it is cited; suggestions counted."""
    cited = Counter(content.sources_cited())
    carried_from = ctx.carried_from_id()

    def times(source: str) -> str:
        n = cited[source]
        return {0: "not cited", 1: "cited once"}.get(n, f"cited {n} times")

    start, end = _at(ctx.start), _at(ctx.end)
    lines = [f"The invitation: {ctx.title or '(no title)'}, {fmt.span(start, end)}; {times(EVENT)}"]
    read = {d.url for d in ctx.documents if d.kind == "attachment"}
    lines += [
        f"Attachment: {a.title or a.url} {a.url}".rstrip()
        for a in ctx.attachments
        if a.url not in read
    ]
    lines += _document_lines(ctx, fmt, times)
    lines += [f"Link in the invitation: {url}" for url in ctx.invite_links]
    people = len(ctx.attendees) + ctx.attendees_omitted
    if people:
        lines.append(f"The guest list: {count(people, 'person', 'people')}; {times(ATTENDEES)}")
    for key, p in ctx.earlier().items():
        relation = p.reason or (
            "an earlier occurrence of this series"
            if p.relation == "series"
            else f"{p.shared_people} of the same people"
        )
        extra = "; its open items are carried over" if key == carried_from else ""
        lines.append(
            f"{p.title or '(no title)'}, {fmt.date(_at(p.start))}: {relation}; {times(key)}{extra}"
        )
    if not ctx.prior:
        lines.append("No earlier related meetings were found.")
    lines += _mail_source_lines(ctx, fmt, times)
    suggestions = cited[SUGGESTION]
    lines.append(
        f"Suggestions (in italics): {count(suggestions, 'item', 'items')} from the "
        f"{in_sentence(ctx.type_label)} template or the generator's judgement, not facts "
        "from your calendar."
    )
    if info.rejected_statements:
        n = info.rejected_statements
        lines.append(
            f"{n} statement{'s were' if n != 1 else ' was'} removed because "
            f"{'they' if n != 1 else 'it'} cited a meeting that is not in your calendar data."
        )
    return lines


def _mail_source_lines(
    ctx: MeetingContext, fmt: DateFormatter, times: Callable[[str], str]
) -> list[str]:
    """One line per mail thread (subject, size, last message, link), then unused sources."""
    lines = []
    for key, t in ctx.threads().items():
        size = count(t.messages, "message", "messages")
        link = f" {t.link}" if t.link else ""
        lines.append(
            f"Mail thread “{t.subject}”: {size}, the last on "
            f"{fmt.moment(_at(t.last_message))}; {times(key)}{link}"
        )
    lines += [f"Not used: {note}." for note in ctx.source_notes]
    return lines


_DOCUMENT_KIND = {
    "attachment": "Attachment",
    "notes": "Notes of the last meeting",
    "standing": "Standing context",
}


def _document_lines(
    ctx: MeetingContext, fmt: DateFormatter, times: Callable[[str], str]
) -> list[str]:
    """One line per document: kind, title, link, and how often it is cited (or why unread)."""
    lines = []
    for key, d in ctx.documents_by_id().items():
        kind = _DOCUMENT_KIND[d.kind]
        if d.kind == "notes" and d.meeting_start:
            kind += f" ({fmt.date(_at(d.meeting_start))})"
        head = f"{kind}: {d.title or '(untitled)'} {d.url}".rstrip()
        if not d.readable:
            lines.append(f"{head}; {d.problem}")
            continue
        shortened = "; shortened to fit" if d.clipped else ""
        lines.append(f"{head}; {times(key)}{shortened}")
    return lines


def _from_notes(ctx: MeetingContext, item: CarriedItem) -> str:
    """Where a carried item taken from meeting notes comes from: the notes and their link."""
    document = ctx.documents_by_id().get(item.document) if item.document else None
    if document is None:
        return ""
    return f" · from {document.title or 'the notes'} {document.url}".rstrip()


# --------------------------------------------------------------------------- HTML


def _h(text: str) -> str:
    """Escape for element content and quoted attributes; keep line breaks visible."""
    return html.escape(text, quote=True).replace("\n", "<br>")


_SUGGESTION_CLASS = ' class="suggestion"'
_EMPTY_HTML = f'<p class="empty">{html.escape(EMPTY)}</p>'


def _marked(text: str, source: str, label: str) -> str:
    """One statement: a suggestion in italics (the banner says so once), a fact with its source."""
    if source == SUGGESTION:
        return f'<span class="suggestion">{_h(text)}</span>'
    return f'{_h(text)} <small class="src">Source: {_h(label)}</small>'


def _list(items: Iterable[str]) -> str:
    rows = "".join(f"<li>{_h(i)}</li>" for i in items)
    return f"<ul>{rows}</ul>" if rows else _EMPTY_HTML


def _statements(statements: Sequence[Statement], label: Callable[[str], str]) -> str:
    rows = "".join(
        f"<li{_SUGGESTION_CLASS}>{_h(s.text)}</li>"
        if s.is_suggestion
        else f"<li>{_marked(s.text, s.source, label(s.source))}</li>"
        for s in statements
    )
    return f"<ul>{rows}</ul>" if rows else _EMPTY_HTML


def _section(title: str, body: str) -> str:
    return f"<section><h2>{_h(title)}</h2>{body}</section>\n"


#: Said once, at the top: how suggestions look (they carry no per-line tag).
LEGEND = "Facts name their source; suggestions are in italics and are advice, not facts."


def _banner(info: GenerationInfo) -> str:
    if info.offline:
        return (
            '<p class="banner offline">Offline prep: made from your calendar and the '
            f"meeting-type template, without an AI model. {_h(LEGEND)}</p>"
        )
    return (
        f'<p class="banner">Written by Gemini ({_h(info.model)}) from your calendar. '
        f"{_h(LEGEND)} "
        "Check anything important before relying on it.</p>"
    )


def _agenda_html(agenda: Sequence[AgendaItem], label: Callable[[str], str]) -> str:
    if not agenda:
        return _EMPTY_HTML
    rows = "".join(
        (
            f"<tr{_SUGGESTION_CLASS}><td>{_h(a.title)}</td><td></td>"
            if a.source == SUGGESTION
            else f"<tr><td>{_h(a.title)}</td><td>{_h(label(a.source))}</td>"
        )
        + f'<td class="min">{a.minutes} min</td></tr>'
        for a in agenda
    )
    total = sum(a.minutes for a in agenda)
    return (
        "<table><thead><tr><th>Item</th><th>Source</th><th>Time box</th></tr></thead>"
        f"<tbody>{rows}<tr><th>Total</th><th></th>"
        f'<th class="min">{total} min</th></tr></tbody></table>'
    )


def _carried_html(ctx: MeetingContext, content: MaterialsContent, fmt: DateFormatter) -> str:
    open_items = still_open(ctx, content)
    done = resolutions(ctx, content)
    if not open_items and not done:
        return f'<p class="empty">{_h(NOTHING_CARRIED)}</p>'
    origin = fmt.date(_at(ctx.carried_from))
    parts = []
    if open_items:
        rows = []
        for _, item in open_items:
            when = f"{_kind(item.kind)} · carried over from {origin}"
            if item.raised_at[:10] != ctx.carried_from[:10]:
                when += f" · first raised {fmt.short_date(_at(item.raised_at))}"
            when += _from_notes(ctx, item)
            rows.append(f'<li>{_h(item.text)} <small class="src">{_h(when)}</small></li>')
        parts.append(f"<ul>{''.join(rows)}</ul>")
    else:
        parts.append(f'<p class="empty">Everything carried over from {_h(origin)} is resolved.</p>')
    if done:
        rows = [
            f'<li class="resolved">{_h(item.text)} <small class="src">Resolved: {_h(r.evidence)} '
            f"(Source: {_h(source_label(ctx, r.source, fmt))})</small></li>"
            for item, r in done
        ]
        parts.append(f"<p>Resolved since {_h(origin)}:</p><ul>{''.join(rows)}</ul>")
    return "".join(parts)


def _action_items_html(ctx: MeetingContext, fmt: DateFormatter) -> str:
    """Recorded after earlier meetings, not yet ticked off; each links back to its meeting."""
    rows = []
    for item in ctx.action_items:
        owner = f"{_h(item.owner)}: " if item.owner else ""
        origin = f"{item.from_title} · {fmt.date(_at(item.from_start))}"
        back = (
            f'<a href="{_h(item.from_link)}" rel="noopener noreferrer">{_h(origin)}</a>'
            if item.from_link.startswith("https://")
            else _h(origin)
        )
        rows.append(f'<li>{owner}{_h(item.text)} <small class="src">From: {back}</small></li>')
    return f"<ul>{''.join(rows)}</ul>"


def render_html(ctx: MeetingContext, content: MaterialsContent, info: GenerationInfo) -> str:
    """The document; `content` must already be checked against `ctx` (see citations)."""
    fmt = DateFormatter(ctx.locale, ctx.time_zone)
    start, end = _at(ctx.start), _at(ctx.end)
    title = ctx.title or "(no title)"

    def label(source: str) -> str:
        return source_label(ctx, source, fmt)

    notes: dict[str, list[str]] = {}
    for n in content.attendee_notes:
        notes.setdefault(n.attendee.casefold(), []).append(
            _marked(n.note, n.source, label(n.source))
        )
    people_rows = []
    for a in ctx.attendees:
        role = ", ".join(
            r
            for r, on in (
                ("organizer", a.organizer),
                ("you", a.is_self),
                ("internal" if a.internal else "external", True),
                ("optional", a.optional),
            )
            if on
        )
        mine = notes.pop(a.name.casefold(), None) if a.name else None
        mine = (mine or []) + notes.pop(a.email.casefold(), [])
        people_rows.append(
            f"<tr><td>{_h(a.name or a.email)}<br><small>{_h(a.email)}</small></td>"
            f"<td>{_h(role)}</td><td>{_h(_RESPONSES.get(a.response, a.response))}</td>"
            f"<td>{'<br>'.join(mine)}</td></tr>"
        )
    people = (
        "<table><thead><tr><th>Person</th><th>Role</th><th>Response</th><th>Notes</th></tr>"
        f"</thead><tbody>{''.join(people_rows)}</tbody></table>"
        if people_rows
        else _EMPTY_HTML
    )
    if ctx.attendees_omitted:
        people += f"<p>And {ctx.attendees_omitted} more.</p>"
    others = [
        f"<li>{_h(n.attendee)}: {_marked(n.note, n.source, label(n.source))}</li>"
        for n in content.attendee_notes
        if n.attendee.casefold() in notes
    ]
    if others:  # notes about people not in the list (e.g. mentioned in earlier meetings)
        people += f"<ul>{''.join(others)}</ul>"
    summary = (
        "<p>"
        + " ".join(_marked(s.text, s.source, label(s.source)) for s in content.summary)
        + "</p>"
        if content.summary
        else _EMPTY_HTML
    )
    sections = [_section("Summary", summary)]
    if ctx.recurring or ctx.carried:
        sections.append(
            _section("Still open from earlier meetings", _carried_html(ctx, content, fmt))
        )
    if ctx.action_items:
        sections.append(_section("Open action items", _action_items_html(ctx, fmt)))
    sections += [
        _section("Objectives", _statements(content.objectives, label)),
        _section("Agenda", _agenda_html(content.agenda, label)),
        _section("Questions to ask", _statements(content.questions, label)),
        _section("Talking points", _statements(content.talking_points, label)),
        _section("Risks and sensitivities", _statements(content.risks, label)),
        _section("People", people),
        _section("Follow-ups", _statements(content.follow_ups, label)),
        _section("Sources", _list(_source_lines(ctx, content, info, fmt))),
    ]
    body = "".join(sections)
    if ctx.description:  # quoted as written by the organizer, as text
        body += _section("From the invitation", f"<blockquote>{_h(ctx.description)}</blockquote>")
    header = f"""<p class="kind">{_h(ctx.type_label)}</p>
<h1>{_h(title)}</h1>
<p class="when">{_h(fmt.span(start, end))}</p>
{_banner(info)}"""
    footer = f"<footer>Prepared {_h(fmt.moment(info.generated_at))}</footer>\n"
    return _page(fmt, f"Prep: {title}", header, body, footer)


def _page(fmt: DateFormatter, title: str, header: str, main: str, footer: str = "") -> str:
    """The one HTML shell of every document we write: inert (CSP, no referrer, not
    indexed), its language English with the user's conventions, like its dates."""
    lang = fmt.locale.replace("_", "-")
    return f"""<!DOCTYPE html>
<html lang="{_h(lang)}">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex, nofollow">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_h(title)}</title>
<style>{_STYLE}</style>
</head>
<body>
<header>
{header}
</header>
<main>
{main}</main>
{footer}</body>
</html>
"""


# --------------------------------------------------------------------------- shared agenda


def shared_agenda(
    content: MaterialsContent, ctx: MeetingContext | None = None
) -> list[SharedAgendaItem]:
    """The part of the materials guests may see: agenda titles and time boxes only.

    Sources are left out too: a source label names an earlier meeting, which
    is the organizer's history, not the guests'. With `ctx`, so are the items
    drawn from what the user read as themselves: an earlier meeting, a mail
    thread (it may be an internal one with one of the guests), a document
    (the standing context holds budgets and account plans, and an attachment
    is not necessarily shared with every guest, whoever attached it). What
    the guests already have stays: the invitation and the guest list, and
    suggestions from the template.
    """
    private: frozenset[str] = frozenset()
    if ctx is not None:
        private = ctx.citable() - {EVENT, ATTENDEES, SUGGESTION}
    return [
        SharedAgendaItem(title=a.title, minutes=a.minutes)
        for a in content.agenda
        if a.source not in private
    ]


def render_shared_agenda(
    *,
    title: str,
    start: datetime,
    end: datetime,
    time_zone: str,
    locale: str,
    agenda: Sequence[SharedAgendaItem],
) -> str:
    """The agenda document guests get: the meeting's title, time and agenda, escaped.

    Built from `shared_agenda`, never from the full materials, so the private
    sections (summary, questions, talking points, risks, people, follow-ups,
    the quoted invitation) cannot reach it by construction. Times are in the
    event's own zone: guests live in many.
    """
    fmt = DateFormatter(locale, time_zone)
    name = title or "(no title)"
    if agenda:
        rows = "".join(
            f'<tr><td>{_h(a.title)}</td><td class="min">{int(a.minutes)} min</td></tr>'
            for a in agenda
        )
        total = sum(int(a.minutes) for a in agenda)
        body = (
            "<table><thead><tr><th>Item</th><th>Time box</th></tr></thead>"
            f'<tbody>{rows}<tr><th>Total</th><th class="min">{total} min</th></tr></tbody></table>'
        )
    else:
        body = '<p class="empty">No agenda items yet.</p>'
    header = f"""<h1>{_h(name)}</h1>
<p class="when">{_h(fmt.span(start, end))}</p>"""
    return _page(fmt, f"Agenda: {name}", header, _section("Agenda", body))


# --------------------------------------------------------------------------- Markdown

_EMPTY_MD = "_Nothing from the calendar supports this section, so it is left empty\\._"
_MD_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def md_escape(text: str) -> str:
    """Literal text in CommonMark: HTML specials as entities, punctuation backslashed."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    # '>' is already an entity; escape the rest of the markdown punctuation.
    return _MD_SPECIALS.sub(r"\\\1", text).replace("\n", "  \n")


def _md_quote(text: str) -> str:
    return "\n".join(f"> {line}" for line in md_escape(text).split("\n"))


def _md_line(text: str) -> str:
    return md_escape(" ".join(text.split()))


def _md_marked(text: str, source: str, label: str) -> str:
    """A suggestion in italics (the banner says so once); a fact with its source."""
    if source == SUGGESTION:
        return f"_{_md_line(text)}_"
    return f"{_md_line(text)} — source: {_md_line(label)}"


def _md_list(items: Iterable[str]) -> str:
    lines = [f"- {_md_line(i)}" for i in items]
    return "\n".join(lines) if lines else _EMPTY_MD


def _md_statements(statements: Sequence[Statement], label: Callable[[str], str]) -> str:
    lines = [f"- {_md_marked(s.text, s.source, label(s.source))}" for s in statements]
    return "\n".join(lines) if lines else _EMPTY_MD


def _md_carried(ctx: MeetingContext, content: MaterialsContent, fmt: DateFormatter) -> str:
    open_items = still_open(ctx, content)
    done = resolutions(ctx, content)
    if not open_items and not done:
        return f"_{md_escape(NOTHING_CARRIED)}_"
    origin = fmt.date(_at(ctx.carried_from))
    lines = []
    for _, item in open_items:
        when = f"{_kind(item.kind)} · carried over from {origin}"
        if item.raised_at[:10] != ctx.carried_from[:10]:
            when += f" · first raised {fmt.short_date(_at(item.raised_at))}"
        when += _from_notes(ctx, item)
        lines.append(f"- {_md_line(item.text)} — _{_md_line(when)}_")
    if not open_items:
        lines.append(f"_Everything carried over from {md_escape(origin)} is resolved\\._")
    for item, r in done:
        lines.append(
            f"- ~~{_md_line(item.text)}~~ — _resolved: {_md_line(r.evidence)} "
            f"\\(source: {_md_line(source_label(ctx, r.source, fmt))}\\)_"
        )
    return "\n".join(lines)


def render_markdown(ctx: MeetingContext, content: MaterialsContent, info: GenerationInfo) -> str:
    fmt = DateFormatter(ctx.locale, ctx.time_zone)
    start, end = _at(ctx.start), _at(ctx.end)

    def label(source: str) -> str:
        return source_label(ctx, source, fmt)

    banner = (
        "Offline prep: made from your calendar and the meeting\\-type template, "
        f"without an AI model\\. {md_escape(LEGEND)}"
        if info.offline
        else f"Written by Gemini \\({md_escape(info.model)}\\) from your calendar\\. "
        f"{md_escape(LEGEND)} "
        "Check anything important before relying on it\\."
    )
    agenda = "\n".join(
        (
            f"- _{_md_line(a.title)}_ — {a.minutes} min"
            if a.source == SUGGESTION
            else f"- {_md_line(a.title)} — {a.minutes} min — source: {_md_line(label(a.source))}"
        )
        for a in content.agenda
    )
    notes: dict[str, list[str]] = {}
    for n in content.attendee_notes:
        notes.setdefault(n.attendee.casefold(), []).append(
            _md_marked(n.note, n.source, label(n.source))
        )
    people_lines = []
    for a in ctx.attendees:
        mine = notes.pop(a.name.casefold(), []) if a.name else []
        mine += notes.pop(a.email.casefold(), [])
        people_lines.append(
            f"- {_md_line(a.name or a.email)} \\({md_escape(a.email)}\\): "
            f"{'organizer, ' if a.organizer else ''}{'you, ' if a.is_self else ''}"
            f"{'internal' if a.internal else 'external'}, "
            f"{_RESPONSES.get(a.response, a.response)}" + "".join(f" — {m}" for m in mine)
        )
    people = "\n".join(people_lines)
    others = "\n".join(  # notes about people not in the list
        f"- {_md_line(n.attendee)}: {_md_marked(n.note, n.source, label(n.source))}"
        for n in content.attendee_notes
        if n.attendee.casefold() in notes
    )
    summary = _md_statements(content.summary, label)
    carried = (
        [f"## Still open from earlier meetings\n\n{_md_carried(ctx, content, fmt)}"]
        if ctx.recurring or ctx.carried
        else []
    )
    actions = (
        [
            "## Open action items\n\n"
            + "\n".join(
                f"- {_md_line(i.owner) + ': ' if i.owner else ''}{_md_line(i.text)} — from "
                + (
                    f"[{_md_line(i.from_title)} · {md_escape(fmt.date(_at(i.from_start)))}]"
                    f"(<{i.from_link}>)"
                    if i.from_link.startswith("https://") and not set("<>\n ") & set(i.from_link)
                    else f"{_md_line(i.from_title)} · {md_escape(fmt.date(_at(i.from_start)))}"
                )
                for i in ctx.action_items
            )
        ]
        if ctx.action_items
        else []
    )
    parts = [
        f"# {_md_line(ctx.title or '(no title)')}",
        f"*{md_escape(ctx.type_label)}* · {md_escape(fmt.span(start, end))}",
        f"> {banner}",
        f"## Summary\n\n{summary}",
        *carried,
        *actions,
        f"## Objectives\n\n{_md_statements(content.objectives, label)}",
        f"## Agenda\n\n{agenda or _EMPTY_MD}",
        f"## Questions to ask\n\n{_md_statements(content.questions, label)}",
        f"## Talking points\n\n{_md_statements(content.talking_points, label)}",
        f"## Risks and sensitivities\n\n{_md_statements(content.risks, label)}",
        f"## People\n\n{people or _EMPTY_MD}" + (f"\n\n{others}" if others else ""),
        f"## Follow\\-ups\n\n{_md_statements(content.follow_ups, label)}",
        f"## Sources\n\n{_md_list(_source_lines(ctx, content, info, fmt))}",
        *([f"## From the invitation\n\n{_md_quote(ctx.description)}"] if ctx.description else []),
        f"---\n\nPrepared {md_escape(fmt.moment(info.generated_at))}",
    ]
    return "\n\n".join(parts) + "\n"
