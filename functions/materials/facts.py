"""The shape of a meeting's context: its bounded facts, its budget, and its canonical form.

`functions.materials.context` gathers these facts and fits them to the
budget by rendering the prompt (`functions.materials.prompt`), and the
prompt reads them: kept in their own module so that neither of the two
imports the other (`tests/unit/test_import_graph.py`). The context module
re-exports every name, so `from functions.materials.context import
MeetingContext` keeps working.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict

from functions.materials.documents.gather import DocumentFact
from functions.materials.mail_context import MailThreadFact
from functions.materials.model import (
    ATTENDEES,
    EVENT,
    MAX_CARRIED,
    MAX_EARLIER,
    SUGGESTION,
    carried_id,
    document_id,
    earlier_id,
    thread_id,
)
from functions.materials.templates import PrepTemplate
from functions.materials.text import urls_in

CHARS_PER_TOKEN = 4


def estimate_tokens(text: str) -> int:
    """Rough token count for budgeting and benchmarks (ceil of characters / 4)."""
    return -(-len(text) // CHARS_PER_TOKEN)


@dataclass(frozen=True, slots=True)
class ContextBudget:
    #: The whole prompt (system + user text); 36,000 characters is about 9,000 tokens,
    #: of which documents take at most `DocumentBudget.total_chars` (12,000).
    max_prompt_chars: int = 36_000
    title_chars: int = 200
    description_chars: int = 4_000
    max_attendees: int = 40
    name_chars: int = 80
    max_attachments: int = 10
    #: Earlier occurrences of the same series, most recent first.
    max_series: int = 5
    #: Earlier meetings sharing people, most overlap first.
    max_same_people: int = 5
    prior_title_chars: int = 160
    prior_summary_chars: int = 600
    prior_items: int = 4
    prior_item_chars: int = 200
    lookback_days: int = 180
    #: Store pages are read newest first in windows of this many days, at most
    #: `page_limit` meetings per read (a full window is split in two).
    window_days: int = 14
    page_limit: int = 500
    #: Open items carried over from the last prepared occurrence of the series:
    #: at most this many (the most recently raised), none older than the age limit.
    carry_max_items: int = 8
    carry_max_age_days: int = 90
    #: Open action items from earlier related meetings' follow-ups, newest meeting first.
    max_action_items: int = 10

    def __post_init__(self) -> None:
        # Citation ids are a closed set in the response schema (M1..M20, C1..C12).
        if self.max_series + self.max_same_people > MAX_EARLIER:
            raise ValueError(f"at most {MAX_EARLIER} earlier meetings fit the citation ids")
        if self.carry_max_items > MAX_CARRIED:
            raise ValueError(f"at most {MAX_CARRIED} carried-over items fit the citation ids")


DEFAULT_BUDGET = ContextBudget()


class AttendeeFact(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    email: str
    internal: bool
    organizer: bool
    optional: bool
    is_self: bool
    response: str


class AttachmentFact(BaseModel):
    model_config = ConfigDict(frozen=True)

    title: str
    url: str


class InviteAgendaItem(BaseModel):
    """One agenda item the invitation states (see `invite.invite_agenda`)."""

    model_config = ConfigDict(frozen=True)

    title: str
    minutes: int | None = None


class PriorMeeting(BaseModel):
    model_config = ConfigDict(frozen=True)

    relation: Literal["series", "same_people"]
    start: str
    title: str
    shared_people: int
    #: Why it was chosen, for the reader ("an earlier occurrence of this series",
    #: "the same 2 people: Sam, Ana").
    reason: str = ""
    summary: str = ""
    open_questions: tuple[str, ...] = ()
    follow_ups: tuple[str, ...] = ()


class CarriedItem(BaseModel):
    """An item the last prepared occurrence left open (times in the user's zone)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["question", "follow_up"]
    text: str
    #: When it was first raised (the start of that meeting), local ISO.
    raised_at: str
    #: The id of the notes document it comes from (D1, ...), "" for open items of materials.
    document: str = ""


class ActionItemFact(BaseModel):
    """An action item recorded after an earlier related meeting and not yet ticked off."""

    model_config = ConfigDict(frozen=True)

    text: str
    owner: str
    #: The meeting it was recorded for: its title, its start (local ISO) and a link to it.
    from_title: str
    from_start: str
    from_link: str
    relation: Literal["series", "same_people"]


class MeetingContext(BaseModel):
    """The bounded, sanitised facts about one meeting (hashable via `canonical_json`)."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    meeting_type: str
    type_label: str
    title: str
    description: str
    description_clipped: bool
    start: str
    end: str
    duration_minutes: int
    time_zone: str
    locale: str
    recurring: bool
    organizer: str
    attendees: tuple[AttendeeFact, ...]
    attendees_omitted: int
    internal_count: int
    external_count: int
    conference_link: str
    attachments: tuple[AttachmentFact, ...]
    #: The invitation's own agenda, in its order: it leads, the template fills the rest.
    invite_agenda: tuple[InviteAgendaItem, ...] = ()
    #: Links written in the invitation, in order (listed as sources).
    invite_links: tuple[str, ...] = ()
    prior: tuple[PriorMeeting, ...]
    prior_found: int
    template: PrepTemplate
    template_version: str
    #: Open items of the last prepared occurrence of the series (ids C1, C2, ...).
    carried: tuple[CarriedItem, ...] = ()
    #: The start (local ISO) of the occurrence they come from; "" when nothing is carried.
    carried_from: str = ""
    #: Recent mail threads with these people, newest first (ids T1, T2, ...).
    mail_threads: tuple[MailThreadFact, ...] = ()
    #: Context sources that were not used, and why ("mail threads: not turned on").
    source_notes: tuple[str, ...] = ()
    #: Documents read for this meeting (ids D1, D2, ...), unreadable ones listed with why.
    documents: tuple[DocumentFact, ...] = ()
    #: Open action items from earlier related meetings' follow-ups (not in the prompt).
    action_items: tuple[ActionItemFact, ...] = ()

    def canonical_json(self) -> str:
        return json.dumps(
            self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )

    def digest(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    def allowed_urls(self) -> frozenset[str]:
        """Links the generator may repeat: those that appear in the context itself."""
        texts = [
            self.description,
            self.conference_link,
            *self.invite_links,
            *(a.url for a in self.attachments),
            *(d.url for d in self.documents),
        ]
        for p in self.prior:
            texts.extend([p.summary, *p.open_questions, *p.follow_ups])
        texts.extend(c.text for c in self.carried)
        # A thread's own Gmail link, never links in its snippet: anyone can send a mail.
        texts.extend(t.link for t in self.mail_threads)
        found: set[str] = set()
        for t in texts:
            found |= urls_in(t)
        return frozenset(found)

    def earlier(self) -> dict[str, PriorMeeting]:
        """Earlier meetings by citation id (M1 is the most relevant)."""
        return {earlier_id(i): p for i, p in enumerate(self.prior)}

    def documents_by_id(self) -> dict[str, DocumentFact]:
        """Every document by citation id (D1 is the first attachment, if any)."""
        return {document_id(i): d for i, d in enumerate(self.documents)}

    def threads(self) -> dict[str, MailThreadFact]:
        """Mail threads by citation id (T1 is the newest)."""
        return {thread_id(i): t for i, t in enumerate(self.mail_threads)}

    def carried_items(self) -> dict[str, CarriedItem]:
        return {carried_id(i): c for i, c in enumerate(self.carried)}

    def carried_from_id(self) -> str | None:
        """The citation id of the occurrence the carried items come from."""
        if not self.carried_from:
            return None
        for key, p in self.earlier().items():
            if p.relation == "series" and p.start == self.carried_from:
                return key
        return None

    def citable(self) -> frozenset[str]:
        """Every source id a statement about this meeting may cite."""
        ids = {EVENT, SUGGESTION, *self.earlier(), *self.threads()}
        ids.update(key for key, d in self.documents_by_id().items() if d.readable)
        if self.attendees or self.attendees_omitted:
            ids.add(ATTENDEES)
        return frozenset(ids)
