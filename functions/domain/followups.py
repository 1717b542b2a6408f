"""After the meeting: what was decided, who does what next, and what is still open.

A prepared meeting of a type the user follows up (1:1s and leadership
meetings unless they choose otherwise) ends with one question in Chat or
email: decisions, action items with owners, or "nothing to record". The
answer is kept with the meeting itself (`Meeting.followup`), so it lives and
dies with the meeting document and needs no store method of its own; the
open action items travel forward into the next occurrence's materials and
the next meeting with the same people, and the sidebar can tick them off.

Everything a person types is bounded here, once, before it is stored:
a Firestore meeting document stays far below its 1 MiB limit however the
form is filled (`MAX_*` below; 10 decisions + 15 items of at most 300
characters and owners of 100 is under 60 KB even in four-byte characters).
Text is kept as typed (one line each, control characters gone) and escaped
wherever it is shown.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class FollowupMode(StrEnum):
    """The one switch in settings: no follow-ups, or where the one message goes."""

    OFF = "off"
    CHAT = "chat"
    EMAIL = "email"


#: Meeting types asked about after they end unless the user picks others.
DEFAULT_FOLLOWUP_TYPES: frozenset[str] = frozenset({"one_on_one", "leadership"})

MAX_DECISIONS = 10
MAX_ACTION_ITEMS = 15
MAX_TEXT = 300
MAX_OWNER = 100


class BadAnswer(ValueError):
    """The answer cannot be stored as given; the message is safe to show the user."""


@dataclass(frozen=True, slots=True)
class ActionItem:
    #: Stable within its meeting ("a1", "a2", ...): the sidebar ticks items off by it.
    item_id: str
    text: str
    owner: str = ""
    done: bool = False
    done_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class FollowUp:
    """The follow-up of one meeting: asked (once, on one channel), then answered (once)."""

    asked_at: datetime | None = None
    #: The channel the one question went to ("chat" or "email"); retries reuse it.
    channel: str = ""
    answered_at: datetime | None = None
    nothing_to_record: bool = False
    decisions: tuple[str, ...] = ()
    items: tuple[ActionItem, ...] = ()

    @property
    def answered(self) -> bool:
        return self.answered_at is not None

    @property
    def open_items(self) -> tuple[ActionItem, ...]:
        return tuple(i for i in self.items if not i.done)

    def ticked(self, item_id: str, at: datetime) -> FollowUp:
        """This follow-up with one item done; ticking a done or unknown item changes nothing."""
        items = tuple(
            dataclasses.replace(i, done=True, done_at=at)
            if i.item_id == item_id and not i.done
            else i
            for i in self.items
        )
        return dataclasses.replace(self, items=items)


def clean_line(value: str, limit: int) -> str:
    """One line of typed text: control and format characters gone, spaces collapsed, bounded."""
    kept = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in value
    )
    line = " ".join(kept.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _lines(raw: str) -> list[str]:
    return [line for line in (clean_line(x, 10 * MAX_TEXT) for x in raw.splitlines()) if line]


def split_owner(line: str) -> tuple[str, str]:
    """ "Sam: send the deck" -> ("send the deck", "Sam"); a line without a short
    "name:" prefix has no owner."""
    owner, sep, text = line.partition(":")
    owner, text = owner.strip(), text.strip()
    if sep and text and 0 < len(owner) <= MAX_OWNER and len(owner.split()) <= 4:
        return text, owner
    return line, ""


def parse_answers(
    decisions: str, action_items: str, *, nothing_to_record: bool, at: datetime
) -> FollowUp:
    """The answer as typed into the form (one decision or item per line) -> what is stored.

    Too many lines is refused rather than silently cut: the person would lose
    what they typed last. An empty answer is "nothing to record".
    """
    decided = _lines(decisions)
    items = _lines(action_items)
    if nothing_to_record:
        decided, items = [], []
    if len(decided) > MAX_DECISIONS:
        raise BadAnswer(f"At most {MAX_DECISIONS} decisions, one per line.")
    if len(items) > MAX_ACTION_ITEMS:
        raise BadAnswer(f"At most {MAX_ACTION_ITEMS} action items, one per line.")
    parsed: list[ActionItem] = []
    for n, line in enumerate(items, start=1):
        text, owner = split_owner(line)
        parsed.append(
            ActionItem(
                item_id=f"a{n}",
                text=clean_line(text, MAX_TEXT),
                owner=clean_line(owner, MAX_OWNER),
            )
        )
    return FollowUp(
        answered_at=at,
        nothing_to_record=not decided and not parsed,
        decisions=tuple(clean_line(d, MAX_TEXT) for d in decided),
        items=tuple(parsed),
    )


def as_lines(items: Iterable[ActionItem]) -> str:
    """Items back into the form's one-per-line text ("owner: text")."""
    return "\n".join(f"{i.owner}: {i.text}" if i.owner else i.text for i in items)


def proposed_lines(proposed: Sequence[tuple[str, str]]) -> str:
    """(text, owner) pairs proposed from elsewhere (a notes document), bounded like answers."""
    items = [
        ActionItem(item_id="", text=clean_line(t, MAX_TEXT), owner=clean_line(o, MAX_OWNER))
        for t, o in proposed[:MAX_ACTION_ITEMS]
        if clean_line(t, MAX_TEXT)
    ]
    return as_lines(items)
