"""Decide what kind of meeting an event is, whether it needs prep, and when.

Precedence, highest first: the user's own choice for this occurrence, the
user's choice for the series, the user's own keywords (whole words in the
title), then the configured rules by explicit priority, then `default`.

Rules read words and structure alike: who attends (how many people, from
which domains, whether a room is booked) counts as much as the title, so
"two colleagues and no room" is a 1:1 and "Sam / Alex" is two names joined.
Every decision carries a short reason ("keyword 'QBR'", "2 internal people,
no room") that the card shows, so a wrong type can be understood and fixed.

Whether an event gets prep at all is a separate question (`skip_reason`):
cancelled, declined, all-day, marked free, out-of-office, focus-time and
working-location events, and events without another person, get none, but
keep their type so the user can still ask for prep from the sidebar.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum

from functions.domain.meeting_types import (
    MatchRule,
    MeetingTypeRule,
    RuleSet,
    keyword_parts,
    keyword_pattern,
    normalize_text,
)
from functions.domain.meetings import DEFAULT_EVENT_TYPE, TRANSPARENT, EventStatus, Meeting
from functions.domain.prep_state import PrepState
from functions.domain.users import Preferences, QuietHours
from functions.domain.working_days import (
    ALL_DAYS,
    before_quiet_night,
    next_working_start,
    previous_working_time,
)


class SkipReason(StrEnum):
    CANCELLED = "cancelled"
    DECLINED = "declined"
    ALL_DAY = "all_day"
    RESOURCES_ONLY = "resources_only"
    NO_GUESTS = "no_guests"
    FREE = "free"
    OUT_OF_OFFICE = "out_of_office"
    FOCUS_TIME = "focus_time"
    WORKING_LOCATION = "working_location"
    #: Any other Calendar event type that is not a meeting (birthdays, from Gmail).
    NOT_A_MEETING = "not_a_meeting"


#: Skips the user may overrule from the sidebar ("Prepare anyway?"): the event
#: still happens, it just does not look like it needs prep. Cancelled and
#: declined meetings will not take place for the user; all-day events are
#: days, not meetings.
OPTIONAL_SKIPS: frozenset[SkipReason] = frozenset(
    {
        SkipReason.RESOURCES_ONLY,
        SkipReason.NO_GUESTS,
        SkipReason.FREE,
        SkipReason.OUT_OF_OFFICE,
        SkipReason.FOCUS_TIME,
        SkipReason.WORKING_LOCATION,
        SkipReason.NOT_A_MEETING,
    }
)


def prep_wanted(meeting: Meeting) -> bool:
    """Whether the meeting is one to prepare: it looks like it needs prep, or the
    user asked for it anyway (an optional skip past `not_started`, "Prepare anyway").

    The sidebar's feedback, "Wrong type", the prep-time block and the homepage
    list all ask this, so a meeting the user chose to prepare is treated as one.
    """
    if meeting.prep_state is PrepState.CANCELLED:
        return False
    if meeting.skip_reason is None:
        return True
    return meeting.skip_reason in OPTIONAL_SKIPS and meeting.prep_state is not PrepState.NOT_STARTED


_EVENT_TYPE_SKIPS: dict[str, SkipReason] = {
    "outOfOffice": SkipReason.OUT_OF_OFFICE,
    "focusTime": SkipReason.FOCUS_TIME,
    "workingLocation": SkipReason.WORKING_LOCATION,
}


@dataclass(frozen=True, slots=True)
class MeetingFacts:
    """What classification looks at; built from a Meeting or from CLI flags."""

    title: str
    description: str = ""
    attendee_count: int = 1
    attendee_domains: frozenset[str] = frozenset()
    event_id: str = ""
    series_id: str | None = None
    #: Rooms and equipment booked on the event.
    rooms: int = 0


@dataclass(frozen=True, slots=True)
class Classification:
    meeting_type: str
    label: str
    prep_hours_before: float
    #: Why this type won: "override:event", "override:series", "keyword", "rule", "default".
    decided_by: str
    skip_reason: SkipReason | None = None
    #: The conditions that decided it, for people: "keyword 'QBR'", "2 internal people, no room".
    reason: str = ""

    @property
    def needs_prep(self) -> bool:
        return self.skip_reason is None


def skip_reason(meeting: Meeting) -> SkipReason | None:
    if meeting.status is EventStatus.CANCELLED:
        return SkipReason.CANCELLED
    if meeting.declined:
        return SkipReason.DECLINED
    if meeting.all_day:
        return SkipReason.ALL_DAY
    if meeting.event_type != DEFAULT_EVENT_TYPE:
        return _EVENT_TYPE_SKIPS.get(meeting.event_type, SkipReason.NOT_A_MEETING)
    if meeting.transparency == TRANSPARENT:
        return SkipReason.FREE
    if not meeting.has_other_people:
        others = [a for a in meeting.attendees if not a.is_self]
        return SkipReason.RESOURCES_ONLY if others else SkipReason.NO_GUESTS
    return None


def _readable(description: str) -> str:
    """What the user sees of a description: Calendar's HTML as text, no link addresses
    (a link to ".../qbr-template" is no keyword), entities decoded."""
    if "<" not in description and "&" not in description:
        return description  # the common case pays no import
    import html

    from functions.domain.html_text import description_text

    # Entities without tags ("Agenda:&nbsp;post&nbsp;mortem") are decoded too, and a
    # no-break space separates words like any space.
    return html.unescape(description_text(description, links=False)).replace("\xa0", " ")


def facts_of(meeting: Meeting) -> MeetingFacts:
    return MeetingFacts(
        title=meeting.title,
        description=_readable(meeting.description),
        attendee_count=meeting.attendee_count,
        attendee_domains=frozenset(a.domain for a in meeting.human_attendees),
        event_id=meeting.event_id,
        series_id=meeting.series_id,
        rooms=sum(1 for a in meeting.attendees if not a.is_human),
    )


def _external_domains(facts: MeetingFacts, internal: frozenset[str]) -> list[str]:
    """Without any known internal domain nobody can be called external."""
    if not internal:
        return []
    return sorted(d for d in facts.attendee_domains if d and d not in internal)


# A name: a word starting with a letter ("Sam", "Anne-Marie", "O'Brien", "Zoë"),
# up to three of them ("Maria Garcia", "Alex catch up").
_NAME = r"[^\W\d_][\w'\u2019.\-]*(?:\s+[^\W\d_][\w'\u2019.\-]*){0,2}"
# Symbols may touch the names ("Sam/Alex"); words need spaces ("Sam x Alex").
_JOIN = r"\s*(?P<sep><->|<=>|<>|/|&|\+)\s*|\s+(?P<word>x|and)\s+"
_PAIRED = re.compile(
    rf"^\s*(?P<a>{_NAME})(?:{_JOIN})(?P<b>{_NAME})\s*(?:[-\u2013\u2014:|(\[].*)?$",
    re.IGNORECASE,
)


def paired_names(title: str) -> str | None:
    """The joining symbol when `title` is two names joined ("Sam / Alex" -> "/").

    Single letters are not names, so "Q&A" and "R&D" are not pairs.
    """
    found = _PAIRED.match(normalize_text(title))
    if found is None:
        return None
    if min(len(found["a"]), len(found["b"])) < 2:
        return None
    return found["sep"] or found["word"]


def _match_reason(m: MatchRule, facts: MeetingFacts, internal: frozenset[str]) -> str | None:
    """Why `m` holds for `facts`, in words; None when it does not hold."""
    parts: list[str] = []
    if m.keywords:
        texts = []
        if "title" in m.fields:
            texts.append(normalize_text(facts.title))
        if "description" in m.fields:
            texts.append(normalize_text(facts.description))
        keyword = next((k for k in m.keywords if _keyword_in(k, texts)), None)
        if keyword is None:
            return None
        parts.append(f"keyword '{keyword}'")
    if m.paired_names is not None:
        joined = paired_names(facts.title)
        if (joined is not None) != m.paired_names:
            return None
        if joined is not None:
            parts.append(f"two names joined by '{joined}'")
    if m.min_attendees is not None and facts.attendee_count < m.min_attendees:
        return None
    if m.max_attendees is not None and facts.attendee_count > m.max_attendees:
        return None
    outside = _external_domains(facts, internal)
    if m.external is not None and bool(outside) != m.external:
        return None
    if m.rooms is not None and (facts.rooms > 0) != m.rooms:
        return None
    if m.min_attendees is not None or m.max_attendees is not None or m.external is False:
        people = "person" if facts.attendee_count == 1 else "people"
        internal_word = "internal " if m.external is False else ""
        parts.append(f"{facts.attendee_count} {internal_word}{people}")
    if m.external:
        parts.append(f"a guest from {outside[0]}")
    if m.rooms is not None:
        parts.append("a room booked" if m.rooms else "no room")
    return ", ".join(parts)


def _rule_reason(
    rule: MeetingTypeRule, facts: MeetingFacts, internal: frozenset[str]
) -> str | None:
    """The reason of the first alternative of `rule` that holds, or None."""
    for m in rule.matches:
        reason = _match_reason(m, facts, internal)
        if reason is not None:
            return reason
    return None


@functools.lru_cache(maxsize=4096)
def _user_keyword(keyword: str) -> re.Pattern[str]:
    """Keywords (the rules' and users') recur on every sync; compile each once per process."""
    return keyword_pattern(keyword)


@functools.lru_cache(maxsize=4096)
def _keyword_parts(keyword: str) -> tuple[str, ...]:
    return keyword_parts(keyword)


def _keyword_in(keyword: str, texts: Iterable[str]) -> bool:
    """Whether `keyword` matches one of the (normalized) `texts`.

    Its pattern is compiled, and run, only for a text holding every word of it
    (`keyword_parts`): nothing is compiled for the keywords a title cannot match.
    """
    parts = _keyword_parts(keyword)
    candidates = [t for t in texts if all(part in t for part in parts)]
    if not candidates:
        return False
    pattern = _user_keyword(keyword)
    return any(pattern.search(t) for t in candidates)


def _keyword_rule(
    rules: RuleSet, keywords: Mapping[str, tuple[str, ...]], title: str
) -> tuple[MeetingTypeRule, str] | None:
    """The first type, in the rules' own priority order, with a keyword in `title`,
    and that keyword.

    Titles only: descriptions are long, pasted and often someone else's text,
    so a personal keyword there would fire on too much.
    """
    if not keywords:
        return None
    text = normalize_text(title)
    for rule in (*rules.rules, rules.default):
        for word in keywords.get(rule.name, ()):
            if _user_keyword(word).search(text):
                return rule, word
    return None


class Classifier:
    """Applies one `RuleSet`; cheap to build, safe to share between threads."""

    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules

    def internal_domains_for(self, user_domain: str | Collection[str]) -> frozenset[str]:
        """The rules' internal domains plus the user's own (`User.domains`, or one domain)."""
        own = [user_domain] if isinstance(user_domain, str) else list(user_domain)
        return self.rules.internal_domains | {d.lower() for d in own if d}

    def classify_facts(
        self,
        facts: MeetingFacts,
        *,
        user_domain: str | Collection[str] = "",
        preferences: Preferences | None = None,
    ) -> Classification:
        prefs = preferences or Preferences()
        chosen = prefs.override_for(facts.event_id, facts.series_id) if facts.event_id else None
        rule: MeetingTypeRule | None = None
        decided_by = "rule"
        reason = ""
        if chosen is not None:
            rule = self.rules.get(chosen)
            if rule is not None:
                event_key = f"event:{facts.event_id}"
                decided_by = (
                    "override:event" if event_key in prefs.type_overrides else "override:series"
                )
                reason = "chosen by you"
        if rule is None:
            found = _keyword_rule(self.rules, prefs.type_keywords, facts.title)
            if found is not None:
                rule, word = found
                decided_by = "keyword"
                reason = f"your keyword '{word}'"
        if rule is None:
            internal = self.internal_domains_for(user_domain)
            for candidate in self.rules.rules:
                why = _rule_reason(candidate, facts, internal)
                if why is not None:
                    rule, reason = candidate, why
                    break
        if rule is None:
            rule = self.rules.default
            decided_by = "default"
            reason = "no rule matched"
        hours = prefs.lead_hours.get(rule.name, rule.prep_hours_before)
        return Classification(rule.name, rule.label, hours, decided_by, reason=reason)

    def classify(
        self,
        meeting: Meeting,
        *,
        user_domain: str | Collection[str] = "",
        preferences: Preferences | None = None,
    ) -> Classification:
        result = self.classify_facts(
            facts_of(meeting), user_domain=user_domain, preferences=preferences
        )
        reason = skip_reason(meeting)
        if reason is None:
            return result
        return dataclasses.replace(result, skip_reason=reason)


def prep_trigger_time(
    start: datetime,
    hours_before: float,
    now: datetime,
    *,
    time_zone: str | tzinfo = "UTC",
    working_days: Iterable[int] = ALL_DAYS,
    quiet_hours: QuietHours | None = None,
) -> datetime:
    """When prep should start: `hours_before` the meeting, on a working day, never in the past.

    A trigger on a day off moves to the previous working day at the same local
    time (`working_days`), and away from a quiet night that would push it into
    a day off. A meeting booked at short notice still gets prep, straight
    away, as long as it has not started yet; on a day off "straight away"
    waits for the next working day if that still comes before the meeting.
    Callers check `start > now` before scheduling.
    """
    trigger = start - timedelta(hours=hours_before)
    trigger = previous_working_time(trigger, time_zone, working_days)
    trigger = before_quiet_night(trigger, time_zone, working_days, quiet_hours)
    if start <= now or trigger >= now:
        return trigger
    if before_quiet_night(now, time_zone, working_days, quiet_hours) < now:
        # Now is a quiet evening before a day off: "straight away" would be deferred
        # by quiet hours into that day off, so wait for the next working day instead.
        soonest = next_working_start(now + timedelta(days=1), time_zone, working_days)
    else:
        soonest = next_working_start(now, time_zone, working_days)
    return soonest if soonest < start else now
