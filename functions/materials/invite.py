"""Reading an invitation's description: HTML to text, its agenda, its links.

The invitation leads: what its author wrote as the agenda (an "Agenda:" line
or heading, bullets, numbered items, questions) becomes the agenda, in the
author's order, and the template only fills what the invitation leaves open.
Both generators work from the list computed here (the offline one uses it
directly, Gemini is told to), so "what the invite asked for" is decided once.

Descriptions are hostile text. The caller reads them as plain text first
(`functions.domain.html_text.description_text`: Calendar's HTML read with the
standard library, never rendered); what is read here is ordinary untrusted
text and is escaped wherever it is written. Reading it takes time linear in
its length whatever it holds: the patterns cannot backtrack over a long run
of spaces (an 8,000-character line of no-break spaces took the generate task
hours before), tests/materials/test_history_and_invite.py holds it.

Lines that address an AI rather than the meeting ("ignore previous
instructions", "you are now ...", "system prompt") are not agenda items: the
offline generator would otherwise repeat an injected request as advice. This
is a filter on top of the real defence (the fenced prompt and the answer's
checks), not a substitute for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from functions.materials.text import clip, urls_in

#: At most this many agenda items are taken from one invitation (the schema holds 12).
MAX_INVITE_ITEMS = 12
ITEM_CHARS = 200

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
# Every pattern here runs on invitation text anyone can send (up to 8,000 characters on one
# line): none may backtrack more than linearly, so no two "\s*" meet around an optional
# character and an unanchored search never starts with "\s*".
_MINUTES = re.compile(
    r"(?i)(?:[(\[–-]\s*)?(\d{1,3})\s*(?:min(?:ute)?s?|m|’|')\s*(?:[)\]]\s*)?$"
    r"|^\s*(?:[(\[]\s*)?(\d{1,3})\s*(?:min(?:ute)?s?|m|’|')\s*(?:[)\]:–-]\s*)?"
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
        stripped = (text[: match.start()] + text[match.end() :]).strip().strip(" :–-")
        if stripped and 1 <= value <= 720:
            minutes, text = value, stripped
    if len(text) < 2 or addresses_the_assistant(text):
        return None
    if text[0].islower():  # "Agenda: usage, renewal" reads as items "Usage", "Renewal"
        text = text[0].upper() + text[1:]
    return InviteItem(clip(text, ITEM_CHARS), minutes)


def _split_inline(rest: str) -> list[str]:
    """ "usage, renewal, roadmap asks" -> three items (semicolons or commas)."""
    parts = rest.split(";") if ";" in rest else rest.split(",")
    return [p.strip() for p in parts if p.strip()]


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
