"""Materials as a self-contained, printable HTML page and as Markdown.

Everything that came from a meeting or a model is text, never markup: each
value is escaped at the one place it is written, the page carries a Content
Security Policy that allows no scripts, no loads and no forms (inline styles
only), and links are shown as text rather than made clickable. The HTML is
served from a storage domain, so this is what stands between a hostile
invitation and the user's browser.

Dates and times are in the user's time zone (zoneinfo) and formatted for the
user's locale with Babel; an unknown locale falls back to en-US. Headings are
English for now (the model writes the body in the user's language).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from functions.materials.context import MeetingContext
from functions.materials.model import GenerationInfo, MaterialsContent
from functions.materials.prompt import safe_locale

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
    from babel import Locale, UnknownLocaleError

    tag = safe_locale(locale).replace("-", "_")
    try:
        return str(Locale.parse(tag))
    except (UnknownLocaleError, ValueError):
        return "en_US"


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

    def moment(self, at: datetime) -> str:
        from babel.dates import format_datetime

        return str(format_datetime(at, "medium", tzinfo=self.zone, locale=self.locale))

    def span(self, start: datetime, end: datetime) -> str:
        return f"{self.date(start)} · {self.time(start)} – {self.time(end)} ({self.zone.key})"


# --------------------------------------------------------------------------- HTML


def _h(text: str) -> str:
    """Escape for element content and quoted attributes; keep line breaks visible."""
    return html.escape(text, quote=True).replace("\n", "<br>")


def _list(items: Iterable[str]) -> str:
    rows = "".join(f"<li>{_h(i)}</li>" for i in items)
    return f"<ul>{rows}</ul>" if rows else "<p>None.</p>"


def _section(title: str, body: str) -> str:
    return f"<section><h2>{_h(title)}</h2>{body}</section>\n"


def _banner(info: GenerationInfo) -> str:
    if info.offline:
        return (
            '<p class="banner offline">Offline prep: made from your calendar and the '
            "meeting-type template, without an AI model.</p>"
        )
    return (
        f'<p class="banner">Written by Gemini ({_h(info.model)}) from your calendar. '
        "Check anything important before relying on it.</p>"
    )


def render_html(ctx: MeetingContext, content: MaterialsContent, info: GenerationInfo) -> str:
    fmt = DateFormatter(ctx.locale, ctx.time_zone)
    start, end = datetime.fromisoformat(ctx.start), datetime.fromisoformat(ctx.end)
    title = ctx.title or "(no title)"
    agenda_rows = "".join(
        f'<tr><td>{_h(a.title)}</td><td class="min">{a.minutes} min</td></tr>'
        for a in content.agenda
    )
    total = sum(a.minutes for a in content.agenda)
    agenda = (
        f"<table><thead><tr><th>Item</th><th>Time box</th></tr></thead><tbody>{agenda_rows}"
        f'<tr><th>Total</th><th class="min">{total} min</th></tr></tbody></table>'
        if content.agenda
        else "<p>None.</p>"
    )
    notes = {n.attendee.casefold(): n.note for n in content.attendee_notes}
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
        note = notes.pop(a.name.casefold(), None) or notes.pop(a.email.casefold(), "")
        people_rows.append(
            f"<tr><td>{_h(a.name or a.email)}<br><small>{_h(a.email)}</small></td>"
            f"<td>{_h(role)}</td><td>{_h(_RESPONSES.get(a.response, a.response))}</td>"
            f"<td>{_h(note)}</td></tr>"
        )
    people = (
        "<table><thead><tr><th>Person</th><th>Role</th><th>Response</th><th>Notes</th></tr>"
        f"</thead><tbody>{''.join(people_rows)}</tbody></table>"
    )
    if ctx.attendees_omitted:
        people += f"<p>And {ctx.attendees_omitted} more.</p>"
    if notes:  # notes about people not in the list (e.g. mentioned in earlier meetings)
        people += _list(f"{name}: {note}" for name, note in notes.items())
    tokens = (
        "" if info.offline else f" · {info.input_tokens} input + {info.output_tokens} output tokens"
    )
    body = "".join(
        [
            _section("Summary", f"<p>{_h(content.summary)}</p>"),
            _section("Objectives", _list(content.objectives)),
            _section("Agenda", agenda),
            _section("Questions to ask", _list(content.questions)),
            _section("Talking points", _list(content.talking_points)),
            _section("Risks and sensitivities", _list(content.risks)),
            _section("People", people),
            _section("Follow-ups from last time", _list(content.follow_ups)),
            _section("Sources", _list(content.sources)),
        ]
    )
    if ctx.description:  # quoted as written by the organizer, as text
        body += _section("From the invitation", f"<blockquote>{_h(ctx.description)}</blockquote>")
    lang = safe_locale(ctx.locale)
    return f"""<!DOCTYPE html>
<html lang="{_h(lang)}">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex, nofollow">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Prep: {_h(title)}</title>
<style>{_STYLE}</style>
</head>
<body>
<header>
<p class="kind">{_h(ctx.type_label)}</p>
<h1>{_h(title)}</h1>
<p class="when">{_h(fmt.span(start, end))}</p>
{_banner(info)}
</header>
<main>
{body}</main>
<footer>Prepared {_h(fmt.moment(info.generated_at))} · template {_h(info.template_version)}\
{_h(tokens)}</footer>
</body>
</html>
"""


# --------------------------------------------------------------------------- Markdown

_NONE = "None\\."
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


def _md_list(items: Iterable[str]) -> str:
    lines = [f"- {_md_line(i)}" for i in items]
    return "\n".join(lines) if lines else _NONE


def render_markdown(ctx: MeetingContext, content: MaterialsContent, info: GenerationInfo) -> str:
    fmt = DateFormatter(ctx.locale, ctx.time_zone)
    start, end = datetime.fromisoformat(ctx.start), datetime.fromisoformat(ctx.end)
    banner = (
        "Offline prep: made from your calendar and the meeting\\-type template, "
        "without an AI model\\."
        if info.offline
        else f"Written by Gemini \\({md_escape(info.model)}\\) from your calendar\\. "
        "Check anything important before relying on it\\."
    )
    agenda = "\n".join(f"- {_md_line(a.title)} — {a.minutes} min" for a in content.agenda)
    people = "\n".join(
        f"- {_md_line(a.name or a.email)} \\({md_escape(a.email)}\\): "
        f"{'organizer, ' if a.organizer else ''}{'internal' if a.internal else 'external'}, "
        f"{_RESPONSES.get(a.response, a.response)}"
        for a in ctx.attendees
    )
    notes = _md_list(f"{n.attendee}: {n.note}" for n in content.attendee_notes)
    parts = [
        f"# {_md_line(ctx.title or '(no title)')}",
        f"*{md_escape(ctx.type_label)}* · {md_escape(fmt.span(start, end))}",
        f"> {banner}",
        f"## Summary\n\n{md_escape(content.summary)}",
        f"## Objectives\n\n{_md_list(content.objectives)}",
        f"## Agenda\n\n{agenda or _NONE}",
        f"## Questions to ask\n\n{_md_list(content.questions)}",
        f"## Talking points\n\n{_md_list(content.talking_points)}",
        f"## Risks and sensitivities\n\n{_md_list(content.risks)}",
        f"## People\n\n{people or _NONE}\n\n{notes}",
        f"## Follow\\-ups from last time\n\n{_md_list(content.follow_ups)}",
        f"## Sources\n\n{_md_list(content.sources)}",
        *([f"## From the invitation\n\n{_md_quote(ctx.description)}"] if ctx.description else []),
        f"---\n\nPrepared {md_escape(fmt.moment(info.generated_at))} · "
        f"template {md_escape(info.template_version)}",
    ]
    return "\n\n".join(parts) + "\n"
