"""Reading an invitation's description: HTML to text, its agenda, its links.

The invitation leads: what its author wrote as the agenda (an "Agenda:" line
or heading, bullets, numbered items, questions) becomes the agenda, in the
author's order, and the template only fills what the invitation leaves open.
Both generators work from the list computed here (the offline one uses it
directly, Gemini is told to), so "what the invite asked for" is decided once.

Descriptions are hostile text. Calendar keeps what its web editor writes as
HTML (`<br>`, `<ul><li>`, `<ol><li>`, `<a href>`, `<b>`), so a description that
looks like HTML is turned into plain text with the standard library's
tokenizer, never rendered: list items become "- " or "1. " lines, links
become "text (address)" with only http(s) and mailto addresses kept (a
javascript: or data: link is dropped with its text), script and style
bodies are dropped, entities are decoded. The result is ordinary
untrusted text and is escaped wherever it is written.

Lines that address an AI rather than the meeting ("ignore previous
instructions", "you are now ...", "system prompt") are not agenda items: the
offline generator would otherwise repeat an injected request as advice. This
is a filter on top of the real defence (the fenced prompt and the answer's
checks), not a substitute for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

from functions.materials.text import clip, urls_in

#: At most this many agenda items are taken from one invitation (the schema holds 12).
MAX_INVITE_ITEMS = 12
ITEM_CHARS = 200

_HTML_HINT = re.compile(
    r"(?i)<\s*/?\s*(?:br|p|div|ul|ol|li|a|b|i|u|span|strong|em|h[1-6]|html|body|font)\b[^>]*>"
)
_BLOCK = frozenset({"p", "div", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr"})
_DROP = frozenset({"script", "style", "head", "title", "template", "noscript"})
_SAFE_HREF = re.compile(r"(?i)^(?:https?://|mailto:)\S+$")

_BULLET = re.compile(r"^\s*(?:[-*•◦▪–]|\d{1,2}[.)]|[a-z][.)])\s+(.+)$")
_AGENDA_LABEL = re.compile(
    r"(?i)^\s*(?:[\w' ]{0,40}\b)?(?:agenda|topics|to discuss|tagesordnung)\s*[:：]\s*(.*)$"
)
_TIMED = re.compile(
    r"(?i)^\s*[(\[]?\d{1,3}\s*(?:min(?:ute)?s?|m|’|')[)\]]?\s*[:–-]|\(\d{1,3}\s*min"
)
# Short plain lines that are not agenda items: greetings, sign-offs, dial-in boilerplate.
_NOT_AN_ITEM = re.compile(
    r"(?i)^(?:hi|hello|hey|dear|hallo|thanks|thank you|best|cheers|regards|see you|fyi)\b"
    r"|\b(?:zoom|meeting id|passcode|dial[- ]in|google meet|microsoft teams|join)\b"
)
#: A plain line of at most this many words, without sentence punctuation, reads as an item.
_ITEM_WORDS = 8
_MINUTES = re.compile(
    r"(?i)\s*[(\[–-]?\s*(\d{1,3})\s*(?:min(?:ute)?s?|m|’|')\s*[)\]]?\s*$"
    r"|^\s*[(\[]?\s*(\d{1,3})\s*(?:min(?:ute)?s?|m|’|')\s*[)\]:–-]?\s*"
)
_INSTRUCTION = re.compile(
    r"(?i)(?:\b(?:ignore|disregard|forget|override)\b.{0,40}"
    r"\b(?:instructions?|prompts?|rules|above|previous|prior)\b"
    r"|\byou are now\b|\bact as\b|\bsystem prompt\b|\bdeveloper mode\b|\bjailbreak\b"
    r"|^\s*(?:system|assistant|ai|gemini|chatgpt)\s*:"
    r"|\b(?:as|to) (?:an? )?(?:ai|assistant|language model|llm)\b"
    r"|\b(?:reply|respond|answer|output|print|write|say)\b.{0,20}\bonly\b"
    r"|\bnew instructions?\b)"
)


def looks_like_html(text: str) -> bool:
    return bool(_HTML_HINT.search(text))


class _TextOf(HTMLParser):
    """HTML to lines of text: lists as "- " / "1. ", links as "text (address)"."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._lists: list[list[int]] = []  # per open list: [ordered?, counter]
        self._dropping = 0
        #: Per open link: its safe address, None without one, "" when unsafe (dropped).
        self._href: list[str | None] = []
        self._link_text: list[str] = []

    def _newline(self) -> None:
        if self.out and not self.out[-1].endswith("\n"):
            self.out.append("\n")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            # A line break, always: `<br><br>` is the blank line that ends a list
            # (Calendar's editor writes `<br>`, other clients `<br/>`: the same).
            self.out.append("\n")
        elif tag in _DROP:
            self._dropping += 1
        elif tag in ("ul", "ol"):
            self._newline()
            self._lists.append([tag == "ol", 0])
        elif tag == "li":
            self._newline()
            if self._lists and self._lists[-1][0]:
                self._lists[-1][1] += 1
                self.out.append(f"{self._lists[-1][1]}. ")
            else:
                self.out.append("- ")
        elif tag in _BLOCK:
            self._newline()
        elif tag == "a":
            href = (dict(attrs).get("href") or "").strip()
            if href and not _SAFE_HREF.match(href):
                # A javascript:/data: link's text is bait ("click me"), not content.
                self._href.append("")
                self._dropping += 1
            else:
                self._href.append(href or None)
            self._link_text.append("")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.out.append("\n")
        else:
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROP:
            self._dropping = max(0, self._dropping - 1)
        elif tag in ("ul", "ol"):
            if self._lists:
                self._lists.pop()
            self._newline()
        elif tag in ("li", "p", "div", "tr") or tag.startswith("h"):
            self._newline()
        elif tag == "a" and self._href:
            href = self._href.pop()
            text = self._link_text.pop().strip()
            if href == "":
                self._dropping = max(0, self._dropping - 1)
            elif href and href.removeprefix("mailto:") not in text:
                self.out.append(f" ({href})" if text else href)

    def handle_data(self, data: str) -> None:
        if self._dropping:
            return
        if self._link_text:
            self._link_text[-1] += data
        self.out.append(data)

    def text(self) -> str:
        return "".join(self.out)


def description_text(raw: str) -> str:
    """The description as plain text; HTML (as Calendar's editor writes it) is converted."""
    if not looks_like_html(raw):
        return raw
    parser = _TextOf()
    parser.feed(raw)
    parser.close()
    return parser.text()


def addresses_the_assistant(line: str) -> bool:
    """Whether a line reads as an instruction to an AI (a likely prompt injection)."""
    return bool(_INSTRUCTION.search(line))


@dataclass(frozen=True, slots=True)
class InviteItem:
    title: str
    #: The time box the invitation gives ("Renewal (15 min)"), if any.
    minutes: int | None = None


def _item(text: str) -> InviteItem | None:
    text = text.strip().rstrip(";,").strip()
    minutes = None
    match = _MINUTES.search(text)
    if match:
        value = int(match.group(1) or match.group(2))
        stripped = (text[: match.start()] + text[match.end() :]).strip(" :–-")
        if stripped and 1 <= value <= 720:
            minutes, text = value, stripped
    if len(text) < 2 or addresses_the_assistant(text):
        return None
    if text[0].islower():  # "Agenda: usage, renewal" reads as items "Usage", "Renewal"
        text = text[0].upper() + text[1:]
    return InviteItem(clip(text, ITEM_CHARS), minutes)


def _split_inline(rest: str) -> list[str]:
    """ "usage, renewal, roadmap asks" -> three items (semicolons or commas)."""
    parts = re.split(r"\s*;\s*", rest) if ";" in rest else re.split(r"\s*,\s*", rest)
    return [p for p in parts if p.strip()]


def invite_agenda(description: str, limit: int = MAX_INVITE_ITEMS) -> list[InviteItem]:
    """The agenda the invitation states, in its order (empty when it states none).

    Taken: items of an "Agenda:" line, plain lines right under an "Agenda"
    label (until a blank line), bullets, numbered items, lines with a time box
    ("10 min: Welcome", "Wrap-up (15 min)"), questions, and short plain lines
    that read as a topic rather than a sentence ("Career goals for 2027": at
    most 8 words, no closing punctuation, no link, not a greeting or dial-in
    text).
    """
    items: list[InviteItem] = []
    seen: set[str] = set()
    under_label = False

    def add(text: str) -> None:
        item = _item(text)
        if item and item.title.casefold() not in seen:
            seen.add(item.title.casefold())
            items.append(item)

    for line in description.splitlines():
        stripped = line.strip()
        if not stripped:
            under_label = False
            continue
        label = _AGENDA_LABEL.match(stripped)
        bullet = _BULLET.match(stripped)
        if label:
            # "Agenda:" alone heads the lines below it; "Agenda: a, b, c" is the whole list.
            under_label = not label.group(1).strip()
            for part in _split_inline(label.group(1)):
                add(part)
        elif bullet:
            add(bullet.group(1))
        elif (
            stripped.endswith("?")
            or under_label
            or _TIMED.search(stripped)
            or _topic_line(stripped)
        ):
            add(stripped)
        if len(items) >= limit:
            break
    return items[:limit]


def _topic_line(line: str) -> bool:
    words = line.split()
    return (
        0 < len(words) <= _ITEM_WORDS
        and line[-1] not in ".!:,;…"
        and line[0].isalnum()
        and not urls_in(line)
        and ": " not in line
        and not _NOT_AN_ITEM.search(line)
    )


def invite_links(description: str, limit: int = 10) -> list[str]:
    """Links in the invitation, in order of first appearance (listed as sources)."""
    found: list[str] = []
    for line in description.splitlines():
        for url in sorted(urls_in(line), key=line.find):
            if url not in found and re.match(r"(?i)^(?:https?://|www\.)", url):
                found.append(url)
    return found[:limit]
