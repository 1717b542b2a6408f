"""The mail-thread part of a meeting's context: gathered once, bounded, or a note saying why not.

`gather_mail` asks the mail source (functions/mail) for recent threads with
the meeting's other people, but only when the user's `mail` switch is on and
the grant covers its scope (`sources`). Whatever goes wrong is a note, never a
failed generation: "mail threads: not turned on", "... could not be read just
now". A transient Gmail failure therefore gives materials without mail (with
the note) instead of holding the meeting's prep back; the note is in the
context hash, so a later generation that can read the mail is a new one.

Threads are other people's words: they enter the prompt inside the fenced
data document, each with its citation id (T1, T2, ...), and their snippets'
links are never allowed in the output (only the thread's own Gmail link is),
so a mail cannot plant a phishing link in materials that carry our name.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict

from functions.domain.meetings import Meeting
from functions.domain.users import ContextSource, User
from functions.logs import log
from functions.mail.port import (
    DEFAULT_MAIL_LIMITS,
    MailLimits,
    MailNotAllowed,
    MailSource,
    MailThread,
    MailUnavailable,
)
from functions.materials.sources import STATE_NOTES, SourceState, source_note, source_state
from functions.materials.text import clean_text

_log = logging.getLogger(__name__)


class MailThreadFact(BaseModel):
    """One recent thread as the generator sees it (times in the user's zone)."""

    model_config = ConfigDict(frozen=True)

    subject: str
    participants: tuple[str, ...]
    #: The last message's time, local ISO.
    last_message: str
    snippet: str
    messages: int
    link: str = ""


@dataclass(frozen=True, slots=True)
class MailFacts:
    threads: tuple[MailThreadFact, ...] = ()
    #: Why there are no threads ("" when there are some).
    note: str = ""


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def mail_people(meeting: Meeting, user: User) -> list[str]:
    """The meeting's other people to look for: the organizer first, rooms and the user left out."""
    own = user.email.lower()
    people: list[str] = []
    humans = sorted(meeting.human_attendees, key=lambda a: not a.organizer)
    for email in (meeting.organizer_email, *(a.email for a in humans if not a.is_self)):
        address = email.strip().lower()
        if address and address != own and address not in people:
            people.append(address)
    return people


def _fact(thread: MailThread, zone: ZoneInfo, limits: MailLimits) -> MailThreadFact:
    return MailThreadFact(
        subject=clean_text(thread.subject, limits.subject_chars, multiline=False),
        participants=tuple(
            clean_text(p, limits.participant_chars, multiline=False)
            for p in thread.participants[: limits.max_participants]
        ),
        last_message=thread.last_message_at.astimezone(zone).isoformat(timespec="minutes"),
        snippet=clean_text(thread.snippet, limits.snippet_chars, multiline=False),
        messages=thread.messages,
        link=clean_text(thread.link, 500, multiline=False),
    )


def gather_mail(
    *,
    source: MailSource | None,
    user: User,
    meeting: Meeting,
    granted: Collection[str] | None,
    now: datetime,
    limits: MailLimits = DEFAULT_MAIL_LIMITS,
) -> MailFacts:
    """Recent threads with the meeting's people, or the note that says why there are none."""
    needs_grant = source.needs_grant if source is not None else True
    state = source_state(user.preferences, ContextSource.MAIL, granted, needs_grant=needs_grant)
    if state is not SourceState.ON:
        return MailFacts(note=source_note(ContextSource.MAIL, STATE_NOTES[state]))
    if source is None:
        return MailFacts(note=source_note(ContextSource.MAIL, "not available in this deployment"))
    people = mail_people(meeting, user)
    if not people:
        return MailFacts(note=source_note(ContextSource.MAIL, "nobody else is invited"))
    try:
        threads = source.recent_threads(user.user_id, people, now, limits)
    except (MailNotAllowed, MailUnavailable) as exc:
        # Counts and kinds only: never an address, a subject or a snippet.
        log(
            _log,
            logging.WARNING,
            "mail threads not read",
            user_id=user.user_id,
            error=type(exc).__name__,
        )
        if isinstance(exc, MailUnavailable):
            return MailFacts(note=source_note(ContextSource.MAIL, "could not be read just now"))
        return MailFacts(
            note=source_note(
                ContextSource.MAIL, "Gmail refused access (allow it again in Settings)"
            )
        )
    if not threads:
        return MailFacts(
            note=source_note(
                ContextSource.MAIL, f"none with these people in the last {limits.days} days"
            )
        )
    zone = _zone(user.time_zone)
    return MailFacts(threads=tuple(_fact(t, zone, limits) for t in threads[: limits.max_threads]))
