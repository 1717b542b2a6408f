"""The structured prep materials every generator produces, and what is kept about them.

`MaterialsContent` is also the response schema given to Gemini, so its bounds
(lengths, item counts, time boxes) are enforced twice: by the model's
constrained decoding and by pydantic when the answer is parsed. A field the
model stretches past a bound makes the whole answer invalid rather than
silently truncated, which the Vertex adapter treats as a failed attempt.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from functions.materials.text import clean_text, drop_unknown_urls

_Short = Annotated[str, StringConstraints(max_length=200)]
_Line = Annotated[str, StringConstraints(max_length=400)]


class AgendaItem(BaseModel):
    title: _Short = Field(description="What is discussed, in a few words")
    minutes: int = Field(ge=1, le=720, description="Time box in minutes")


class AttendeeNote(BaseModel):
    attendee: _Short = Field(description="The attendee's name or email as given in the data")
    note: _Line = Field(description="What to know or do about this person in this meeting")


class MaterialsContent(BaseModel):
    """Prep materials for one meeting (the generators' output and Gemini's response schema)."""

    summary: Annotated[str, StringConstraints(max_length=1200)] = Field(
        description="Two to four sentences: what this meeting is and what matters most"
    )
    objectives: list[_Line] = Field(max_length=8, description="What the user should achieve")
    agenda: list[AgendaItem] = Field(
        max_length=12, description="Agenda items with time boxes that fit the meeting length"
    )
    questions: list[_Line] = Field(max_length=12, description="Questions worth asking")
    talking_points: list[_Line] = Field(max_length=12, description="Points the user may make")
    risks: list[_Line] = Field(max_length=8, description="Risks, sensitivities, open issues")
    attendee_notes: list[AttendeeNote] = Field(max_length=20, description="Per-attendee notes")
    follow_ups: list[_Line] = Field(
        max_length=12, description="Follow-ups carried over from earlier related meetings"
    )
    sources: list[_Line] = Field(
        max_length=12, description="What these materials are based on (events, notes, links)"
    )

    def cleaned(self, allowed_urls: frozenset[str]) -> MaterialsContent:
        """A copy with control characters stripped and links not in the context removed."""

        def fix(text: str) -> str:
            return drop_unknown_urls(clean_text(text), allowed_urls)

        return MaterialsContent(
            summary=fix(self.summary),
            objectives=[fix(t) for t in self.objectives],
            agenda=[AgendaItem(title=fix(a.title), minutes=a.minutes) for a in self.agenda],
            questions=[fix(t) for t in self.questions],
            talking_points=[fix(t) for t in self.talking_points],
            risks=[fix(t) for t in self.risks],
            attendee_notes=[
                AttendeeNote(attendee=fix(n.attendee), note=fix(n.note))
                for n in self.attendee_notes
            ],
            follow_ups=[fix(t) for t in self.follow_ups],
            sources=[fix(t) for t in self.sources],
        )


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


class SummaryRecord(BaseModel):
    """What the next generation for a related meeting reads back (stored beside the HTML).

    Only the summary, the questions that were open and the follow-ups: enough
    for "what happened last time" without re-reading whole documents.
    """

    model_config = ConfigDict(frozen=True)

    schema_version: int = 1
    meeting_start: datetime
    summary: str = ""
    open_questions: list[str] = Field(default_factory=list)
    follow_ups: list[str] = Field(default_factory=list)
    generator: str = ""
    generated_at: datetime | None = None
