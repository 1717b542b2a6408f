"""The last meeting's notes: which attachment is a notes document, and what it decided and assigned.

Google Meet's note-taking attaches a document to the event titled "Notes by
Gemini" (older ones "<meeting> - Notes by Gemini"), and people attach their
own "... - Notes" / "Meeting notes". Such a document attached to the
previous occurrence of a series is read, and two things are picked out of
its text: decisions and action items (the sections headed "Decisions",
"Action items", "Next steps" or "Suggested next steps", their bullet and
checkbox lines, and lines that start "Decision:" / "Action item:" / "TODO:").
They are the notes' own words, clipped and bounded; everything else in the
document is only context. A line that reads as an instruction to an AI is
never picked (`invite.addresses_the_assistant`).
"""

from __future__ import annotations

import re

from functions.materials.invite import addresses_the_assistant
from functions.materials.text import clean_text

_NOTES_TITLE = re.compile(r"(?i)(\bnotes by gemini\b|\bmeeting notes\b|(?:^|[-–—:|]\s*)notes\s*$)")
_HEADING = re.compile(r"^\s*(?:#{1,6}\s*)?([A-Za-z][A-Za-z ]{2,40}?)\s*:?\s*$")
_DECISION_HEADS = frozenset({"decisions", "decisions made", "key decisions", "decided"})
_ACTION_HEADS = frozenset(
    {
        "action items",
        "actions",
        "next steps",
        "suggested next steps",
        "follow ups",
        "follow-ups",
        "todo",
        "to do",
    }
)
_BULLET = re.compile(r"^\s*(?:[-*•·]|\d{1,2}[.)]|\[[ xX]?\])\s*(?:\[[ xX]?\]\s*)?(.+)$")
_INLINE = re.compile(r"(?i)^\s*(decision|action item|action|todo|to do)\s*[:\-–]\s*(.+)$")


def is_notes_title(title: str) -> bool:
    return bool(_NOTES_TITLE.search(title.strip()))


def _heading(line: str) -> str | None:
    if _BULLET.match(line):
        return None
    m = _HEADING.match(line)
    return m.group(1).strip().casefold() if m else None


def notes_items(
    text: str, *, max_items: int = 8, width: int = 200
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(decisions, action items) in the notes' order, deduplicated and bounded."""
    decisions: list[str] = []
    actions: list[str] = []
    section: list[str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        inline = _INLINE.match(line)
        if inline:
            target = decisions if inline.group(1).lower() == "decision" else actions
            target.append(inline.group(2))
            continue
        head = _heading(line)
        if head is not None:
            section = (
                decisions if head in _DECISION_HEADS else actions if head in _ACTION_HEADS else None
            )
            continue
        bullet = _BULLET.match(line)
        if section is not None and bullet:
            section.append(bullet.group(1))

    def tidy(items: list[str]) -> tuple[str, ...]:
        seen: set[str] = set()
        out: list[str] = []
        for item in items:
            text = clean_text(item, width, multiline=False)
            if text and text.casefold() not in seen and not addresses_the_assistant(text):
                seen.add(text.casefold())
                out.append(text)
        return tuple(out[:max_items])

    return tidy(decisions), tidy(actions)
