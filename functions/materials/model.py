"""The structured prep materials every generator produces, and what is kept about them.

`MaterialsContent` is also the response schema given to Gemini, so its bounds
(lengths, item counts, time boxes, the closed set of source ids) are enforced
twice: by the model's constrained decoding and by pydantic when the answer is
parsed. A field the model stretches past a bound makes the whole answer
invalid rather than silently truncated, which the Vertex adapter treats as a
failed attempt.

Facts apart from suggestions: every statement carries a `source`. A fact
names where it comes from, by an id the prompt gives it: `event` (the
invitation itself), `attendees` (the guest list), `M1`, `M2`, ... (an
earlier meeting of the context), `T1`, `T2`, ... (a recent mail thread) or
`D1`, `D2`, ... (a document the context read: an attachment, the last
meeting's notes, standing context). Anything else, the template's advice or
the model's own judgement, says `suggestion`. The schema can only check that
an id is well formed; whether the cited meeting, thread or document is really
in the context is checked afterwards
(`citations.check_against_context`), because the set of earlier meetings
differs per generation and a per-request schema would make the schema itself
part of the prompt budget.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from functions.materials.text import clean_text, drop_unknown_urls

#: Earlier meetings one context may hold (ids M1..M20); `ContextBudget` checks its caps.
MAX_EARLIER = 20
#: Carried-over items one context may hold (ids C1..C12).
MAX_CARRIED = 12
#: Mail threads one context may hold (ids T1..T10).
MAX_THREADS = 10
#: Documents one context may hold (ids D1..D10: attachments, last notes, standing context).
MAX_DOCUMENTS = 10

EVENT = "event"
ATTENDEES = "attendees"
SUGGESTION = "suggestion"

SourceId = Literal[
    "event", "attendees", "suggestion",
    "M1", "M2", "M3", "M4", "M5", "M6", "M7", "M8", "M9", "M10",
    "M11", "M12", "M13", "M14", "M15", "M16", "M17", "M18", "M19", "M20",
    "T1", "T2", "T3", "T4", "T5", "T6", "T7", "T8", "T9", "T10",
    "D1", "D2", "D3", "D4", "D5", "D6", "D7", "D8", "D9", "D10",
]  # fmt: skip
#: What evidence for a resolution may cite: a fact, never "suggestion".
FactId = Literal[
    "event", "attendees",
    "M1", "M2", "M3", "M4", "M5", "M6", "M7", "M8", "M9", "M10",
    "M11", "M12", "M13", "M14", "M15", "M16", "M17", "M18", "M19", "M20",
    "T1", "T2", "T3", "T4", "T5", "T6", "T7", "T8", "T9", "T10",
    "D1", "D2", "D3", "D4", "D5", "D6", "D7", "D8", "D9", "D10",
]  # fmt: skip
CarriedId = Literal["C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8", "C9", "C10", "C11", "C12"]

_SOURCE_HELP = (
    'Where this comes from: "event" (the invitation), "attendees" (the guest list), '
    'the id of an earlier meeting, a mail thread or a document in the data (such as "M1", '
    '"T1" or "D1"), or "suggestion" for advice '
    "and anything the data does not state"
)

_Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
_Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=400)]


def earlier_id(index: int) -> str:
    """The citation id of the context's `index`-th earlier meeting (0-based)."""
    return f"M{index + 1}"


def document_id(index: int) -> str:
    """The citation id of the context's `index`-th document (0-based)."""
    return f"D{index + 1}"


def carried_id(index: int) -> str:
    return f"C{index + 1}"


def thread_id(index: int) -> str:
    """The citation id of the context's `index`-th mail thread (0-based, newest first)."""
    return f"T{index + 1}"


class Statement(BaseModel):
    text: _Line = Field(description="One statement, question or action in plain words")
    source: SourceId = Field(description=_SOURCE_HELP)

    @property
    def is_suggestion(self) -> bool:
        return self.source == SUGGESTION


class AgendaItem(BaseModel):
    title: _Short = Field(description="What is discussed, in a few words")
    minutes: int = Field(ge=1, le=720, description="Time box in minutes")
    source: SourceId = Field(description=_SOURCE_HELP)


class AttendeeNote(BaseModel):
    attendee: _Short = Field(description="The attendee's name or email as given in the data")
    note: _Line = Field(description="What to know or do about this person in this meeting")
    source: SourceId = Field(description=_SOURCE_HELP)


class Resolution(BaseModel):
    item: CarriedId = Field(description="The id of a carried-over item, such as C1")
    evidence: _Line = Field(description="What in the data shows it is resolved")
    source: FactId = Field(
        description="Where the evidence is: event, attendees, an earlier meeting or a document id"
    )


class MaterialsContent(BaseModel):
    """Prep materials for one meeting (the generators' output and Gemini's response schema)."""

    summary: list[Statement] = Field(
        max_length=4, description="Two to four sentences: what this meeting is, what matters most"
    )
    objectives: list[Statement] = Field(max_length=8, description="What the user should achieve")
    agenda: list[AgendaItem] = Field(
        max_length=12, description="Agenda items with time boxes that fit the meeting length"
    )
    questions: list[Statement] = Field(max_length=12, description="Questions worth asking")
    talking_points: list[Statement] = Field(max_length=12, description="Points the user may make")
    risks: list[Statement] = Field(max_length=8, description="Risks, sensitivities, open issues")
    attendee_notes: list[AttendeeNote] = Field(max_length=20, description="Per-attendee notes")
    follow_ups: list[Statement] = Field(
        max_length=12, description="Actions to check or agree on, from the data"
    )
    resolved: list[Resolution] = Field(
        default_factory=list,
        max_length=MAX_CARRIED,
        description="Carried-over items the data shows are resolved (empty when none is)",
    )

    def cleaned(self, allowed_urls: frozenset[str]) -> MaterialsContent:
        """A copy with control characters stripped and links not in the context removed.

        An item whose text is nothing but control characters is left out.
        """

        def fix(text: str) -> str:
            return drop_unknown_urls(clean_text(text), allowed_urls)

        def fix_all(items: list[Statement]) -> list[Statement]:
            fixed = ((fix(s.text), s.source) for s in items)
            return [Statement(text=text, source=src) for text, src in fixed if text]

        return MaterialsContent(
            summary=fix_all(self.summary),
            objectives=fix_all(self.objectives),
            agenda=[
                AgendaItem(title=fix(a.title), minutes=a.minutes, source=a.source)
                for a in self.agenda
                if fix(a.title)
            ],
            questions=fix_all(self.questions),
            talking_points=fix_all(self.talking_points),
            risks=fix_all(self.risks),
            attendee_notes=[
                AttendeeNote(attendee=fix(n.attendee), note=fix(n.note), source=n.source)
                for n in self.attendee_notes
                if fix(n.attendee) and fix(n.note)
            ],
            follow_ups=fix_all(self.follow_ups),
            resolved=[
                Resolution(item=r.item, evidence=fix(r.evidence), source=r.source)
                for r in self.resolved
                if fix(r.evidence)
            ],
        )

    def sources_cited(self) -> Iterator[str]:
        """The source of every statement (one entry per statement), resolutions included."""
        for group in (
            self.summary,
            self.objectives,
            self.questions,
            self.talking_points,
            self.risks,
            self.follow_ups,
        ):
            yield from (s.source for s in group)
        yield from (a.source for a in self.agenda)
        yield from (n.source for n in self.attendee_notes)
        yield from (r.source for r in self.resolved)

    def summary_text(self) -> str:
        return " ".join(s.text for s in self.summary)


class GenerationInfo(BaseModel):
    """How one set of materials was made: shown in the document, kept in object metadata."""

    model_config = ConfigDict(frozen=True)

    generator: str
    model: str
    offline: bool
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    template_version: str
    cache_key: str
    generated_at: datetime
    #: Statements dropped because they cited a source the context does not hold.
    rejected_statements: int = 0


class OpenItem(BaseModel):
    """A question or follow-up still open after a meeting, and when it was first raised."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["question", "follow_up"]
    text: str
    raised_at: datetime


class SharedAgendaItem(BaseModel):
    """One agenda line as guests may see it: the item and its time box, nothing private."""

    model_config = ConfigDict(frozen=True)

    title: str
    minutes: int


class SummaryRecord(BaseModel):
    """What the next generation for a related meeting reads back (stored beside the HTML).

    The summary and the items left open (carried-over ones that were not
    resolved plus the ones these materials raised from the data): enough for
    "what happened last time" and for carrying open items into the next
    occurrence, without re-reading whole documents. `carried_from` and
    `carried` say what these materials themselves carried over (the sidebar
    shows it). Version 1 records (plain `open_questions` / `follow_ups`
    lists) are read as open items raised at their meeting's start.
    """

    model_config = ConfigDict(frozen=True)

    schema_version: int = 2
    meeting_start: datetime
    summary: str = ""
    open_items: list[OpenItem] = Field(default_factory=list)
    #: Start of the earlier occurrence whose open items these materials carried over.
    carried_from: datetime | None = None
    #: How many items were carried over (still open), and how many were found resolved.
    carried: int = 0
    resolved: int = 0
    generator: str = ""
    generated_at: datetime | None = None
    #: The agenda alone (no sources, notes, questions or talking points): what
    #: "Share agenda with guests" renders. Empty in records written before sharing existed.
    agenda: list[SharedAgendaItem] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _from_version_1(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "open_items" in data:
            return data
        legacy = {k: data[k] for k in ("open_questions", "follow_ups") if k in data}
        if not legacy:
            return data
        rest = {k: v for k, v in data.items() if k not in legacy}
        raised = data.get("meeting_start")
        rest["open_items"] = [
            {"kind": kind, "text": text, "raised_at": raised}
            for key, kind in (("open_questions", "question"), ("follow_ups", "follow_up"))
            for text in legacy.get(key) or []
        ]
        return rest

    @property
    def open_questions(self) -> list[str]:
        return [i.text for i in self.open_items if i.kind == "question"]

    @property
    def follow_ups(self) -> list[str]:
        return [i.text for i in self.open_items if i.kind == "follow_up"]
