"""One user's verdict on one meeting's prep, and how verdicts are keyed.

A verdict answers one question about one meeting, and a later answer to the
same question replaces the earlier one, so a double click counts once and a
change of mind moves the count instead of adding a second. The questions:

* "was this prep useful?": `useful` or `not_useful`, one answer per meeting;
* "is this the wrong type?": one answer per meeting *and* per type judged, so
  a meeting whose type was corrected twice (1:1 -> QBR -> leadership) counts
  against both wrong types.

Counts are kept per meeting type (the type the meeting had when judged):
that is what tells which classification rules or templates need work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class FeedbackKind(StrEnum):
    USEFUL = "useful"
    NOT_USEFUL = "not_useful"
    WRONG_TYPE = "wrong_type"


@dataclass(frozen=True, slots=True)
class Feedback:
    user_id: str
    event_id: str
    kind: FeedbackKind
    #: The meeting's type when the user judged it (for WRONG_TYPE: the wrong one).
    meeting_type: str
    at: datetime | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not (self.user_id and self.event_id and self.meeting_type):
            raise ValueError("feedback needs a user, an event and a meeting type")

    @property
    def question(self) -> str:
        """Which question this answers: one stored answer per user, event and question."""
        if self.kind is FeedbackKind.WRONG_TYPE:
            return f"type:{self.meeting_type}"
        return "usefulness"


#: (meeting type, kind) -> how many answers say so.
FeedbackCounts = dict[tuple[str, FeedbackKind], int]
