"""Decide what kind of meeting an event is, whether it needs prep, and when.

Precedence, highest first: the user's own choice for this occurrence, the
user's choice for the series, the user's own keywords (whole words in the
title), then the configured rules by explicit priority, then `default`.
Events that need no prep at all (cancelled, declined, all-day, rooms only)
are recognised before any rule runs.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from functions.domain.meeting_types import (
    MeetingTypeRule,
    RuleSet,
    keyword_pattern,
    normalize_text,
)
from functions.domain.meetings import EventStatus, Meeting
from functions.domain.users import Preferences


class SkipReason(StrEnum):
    CANCELLED = "cancelled"
    DECLINED = "declined"
    ALL_DAY = "all_day"
    RESOURCES_ONLY = "resources_only"


@dataclass(frozen=True, slots=True)
class MeetingFacts:
    """What classification looks at; built from a Meeting or from CLI flags."""

    title: str
    description: str = ""
    attendee_count: int = 1
    attendee_domains: frozenset[str] = frozenset()
    event_id: str = ""
    series_id: str | None = None


@dataclass(frozen=True, slots=True)
class Classification:
    meeting_type: str
    label: str
    prep_hours_before: float
    #: Why this type won: "override:event", "override:series", "keyword", "rule", "default".
    decided_by: str
    skip_reason: SkipReason | None = None

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
    others = [a for a in meeting.attendees if not a.is_self]
    if others and not any(a.is_human for a in others):
        return SkipReason.RESOURCES_ONLY
    return None


def facts_of(meeting: Meeting) -> MeetingFacts:
    return MeetingFacts(
        title=meeting.title,
        description=meeting.description,
        attendee_count=meeting.attendee_count,
        attendee_domains=frozenset(a.domain for a in meeting.human_attendees),
        event_id=meeting.event_id,
        series_id=meeting.series_id,
    )


def _has_external(facts: MeetingFacts, internal: frozenset[str]) -> bool:
    """Without any known internal domain nobody can be called external."""
    return bool(internal) and any(d and d not in internal for d in facts.attendee_domains)


def _matches(rule: MeetingTypeRule, facts: MeetingFacts, internal: frozenset[str]) -> bool:
    m = rule.match
    if m.min_attendees is not None and facts.attendee_count < m.min_attendees:
        return False
    if m.max_attendees is not None and facts.attendee_count > m.max_attendees:
        return False
    if m.external is not None and _has_external(facts, internal) != m.external:
        return False
    if m.patterns:
        texts = []
        if "title" in m.fields:
            texts.append(normalize_text(facts.title))
        if "description" in m.fields:
            texts.append(normalize_text(facts.description))
        if not any(p.search(t) for p in m.patterns for t in texts):
            return False
    return True


@functools.lru_cache(maxsize=4096)
def _user_keyword(keyword: str) -> re.Pattern[str]:
    """Users' keywords recur on every sync; compile each once per process."""
    return keyword_pattern(keyword)


def _keyword_rule(
    rules: RuleSet, keywords: Mapping[str, tuple[str, ...]], title: str
) -> MeetingTypeRule | None:
    """The first type, in the rules' own priority order, with a keyword in `title`.

    Titles only: descriptions are long, pasted and often someone else's text,
    so a personal keyword there would fire on too much.
    """
    if not keywords:
        return None
    text = normalize_text(title)
    for rule in (*rules.rules, rules.default):
        words = keywords.get(rule.name, ())
        if any(_user_keyword(w).search(text) for w in words):
            return rule
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
        if chosen is not None:
            rule = self.rules.get(chosen)
            if rule is not None:
                event_key = f"event:{facts.event_id}"
                decided_by = (
                    "override:event" if event_key in prefs.type_overrides else "override:series"
                )
        if rule is None:
            rule = _keyword_rule(self.rules, prefs.type_keywords, facts.title)
            if rule is not None:
                decided_by = "keyword"
        if rule is None:
            internal = self.internal_domains_for(user_domain)
            rule = next((r for r in self.rules.rules if _matches(r, facts, internal)), None)
        if rule is None:
            rule = self.rules.default
            decided_by = "default"
        hours = prefs.lead_hours.get(rule.name, rule.prep_hours_before)
        return Classification(rule.name, rule.label, hours, decided_by)

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
        return Classification(
            result.meeting_type, result.label, result.prep_hours_before, result.decided_by, reason
        )


def prep_trigger_time(start: datetime, hours_before: float, now: datetime) -> datetime:
    """When prep should start: `hours_before` the meeting, but never in the past.

    A meeting booked at short notice still gets prep, straight away, as long as
    it has not started yet; callers check `start > now` before scheduling.
    """
    trigger = start - timedelta(hours=hours_before)
    return max(trigger, now) if start > now else trigger
