"""The mail-thread source: what a prep document may know about recent mail with the attendees.

Opt-in per user (the `mail` context source, see `functions.materials.sources`).
What is read is deliberately small: per thread its subject, the people on it,
the time of its last message and Gmail's own short snippet, for threads with
any of the meeting's people in the last `MailLimits.days` days, at most
`MailLimits.max_threads` threads. A message body is never requested: the
production adapter asks threads.get for `format=metadata` with the headers it
needs, and the snippet comes from Gmail itself (a few hundred characters at
most), clipped again here.

Everything in a thread was written by other people, so it is untrusted data:
the materials fence it in the prompt like the invitation's own text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class MailLimits:
    #: How far back a thread's last message may be (Gmail's `newer_than:14d`).
    days: int = 14
    #: Threads per meeting (threads.list `maxResults`; Google allows up to 500).
    max_threads: int = 5
    #: People named in one query; the organizer and the first guests win.
    max_people: int = 20
    subject_chars: int = 160
    snippet_chars: int = 240
    #: People listed per thread (From/To/Cc of its messages, first seen first).
    max_participants: int = 8
    participant_chars: int = 80
    #: Messages of one thread whose headers are read (the newest win).
    max_messages: int = 25

    def __post_init__(self) -> None:
        if not 1 <= self.max_threads <= 500:
            raise ValueError("threads.list takes maxResults from 1 to 500")
        if self.days < 1:
            raise ValueError("the lookback is at least one day")


DEFAULT_MAIL_LIMITS = MailLimits()


@dataclass(frozen=True, slots=True)
class MailThread:
    """One thread as the materials see it (already bounded and cleaned by the adapter)."""

    thread_id: str
    subject: str
    #: "Name <address>" or the address, first seen first.
    participants: tuple[str, ...]
    #: Timezone-aware.
    last_message_at: datetime
    snippet: str
    messages: int
    #: Where the user opens it ("" when the source has no web view, like the local mailbox).
    link: str = ""


class MailError(Exception):
    """The mailbox could not be read for this generation."""


class MailUnavailable(MailError):
    """Transient: Gmail throttled or failed (429, 5xx, rate-limit 403) or could not be reached."""


class MailNotAllowed(MailError):
    """The grant does not allow the read (401/403): the user must allow mail access again."""


class MailSource(Protocol):
    #: Whether reading needs the user's `gmail.readonly` grant (False for the local mailbox).
    needs_grant: bool

    def recent_threads(
        self, user_id: str, people: Sequence[str], now: datetime, limits: MailLimits
    ) -> list[MailThread]:
        """Threads with any of `people` whose last message is within `limits.days` of `now`.

        Newest first, at most `limits.max_threads`. Raises `MailError`.
        """
        ...
