"""Table tests for meeting classification against the shipped rules file."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest

from functions.config import DEFAULT_MEETING_TYPES
from functions.domain.classification import (
    Classifier,
    MeetingFacts,
    SkipReason,
    paired_names,
    prep_trigger_time,
)
from functions.domain.meeting_types import load_rules
from functions.domain.meetings import Attendee, EventStatus, Meeting, ResponseStatus
from functions.domain.users import Preferences

CLASSIFIER = Classifier(load_rules(DEFAULT_MEETING_TYPES))
START = datetime(2026, 12, 8, 15, 0, tzinfo=UTC)


def kind(title: str, people: int = 2, description: str = "", domains: tuple[str, ...] = ()) -> str:
    facts = MeetingFacts(title, description, people, frozenset(domains))
    return CLASSIFIER.classify_facts(facts, user_domain="example.com").meeting_type


@pytest.mark.parametrize(
    ("title", "people", "expected"),
    [
        # The seed's substring trap: "several" contains "sev", "ceo" hides in words.
        ("Several updates from the team", 6, "default"),
        ("Severance policy review", 6, "default"),
        ("Procedural check-in", 6, "default"),
        ("Leadershipping", 6, "default"),
        # Whole words and their punctuation variants still match.
        ("SEV-2 follow-up", 6, "incident_review"),
        ("sev1 retro", 6, "incident_review"),
        ("Post mortem: checkout outage", 6, "incident_review"),
        ("Postmortem", 6, "incident_review"),
        ("Weekly 1:1 with Sam", 2, "one_on_one"),
        ("Sam / Alex 1-on-1", 2, "one_on_one"),
        ("1 on 1", 2, "one_on_one"),
        ("1 : 1 catch-up", 2, "one_on_one"),
        ("１:１ (full-width)", 2, "one_on_one"),
        ("Skip-level 1:1s", 3, "one_on_one"),
        ("One-on-one", 2, "one_on_one"),
        ("Planning 1/1 kickoff", 4, "default"),  # a date, not a 1:1 (two people would be one)
        ("Q3 QBR", 12, "qbr"),
        ("Quarterly business review", 12, "qbr"),
        ("All-hands", 40, "staff"),
        ("All hands", 40, "staff"),
        ("Town hall", 40, "staff"),
        ("Meeting with the CEO", 4, "executive"),
        ("CEOs roundtable", 4, "executive"),
        ("Leadership team sync", 8, "leadership"),
    ],
)
def test_titles(title: str, people: int, expected: str) -> None:
    assert kind(title, people) == expected


@pytest.mark.parametrize(
    ("title", "people", "expected"),
    [
        ("Weekly 1:1 with Sam", 3, "one_on_one"),  # upper bound is inclusive
        ("Weekly 1:1 with Sam", 4, "default"),  # too many people for a 1:1
        ("Leadership team sync", 4, "leadership"),  # lower bound is inclusive
        ("Leadership team sync", 3, "default"),
        ("All hands", 4, "default"),
        ("Q3 QBR", 2, "qbr"),  # a business review at any size ("QBR prep" for two)
    ],
)
def test_attendee_bounds(title: str, people: int, expected: str) -> None:
    assert kind(title, people) == expected


def test_priority_decides_between_matching_types() -> None:
    # Incident review (100) beats 1:1 (40) when both keywords appear.
    assert kind("1:1 to prep the SEV2 postmortem", 2) == "incident_review"
    # QBR (90) beats external (60) for a customer QBR.
    assert kind("Acme QBR", 8, domains=("acme.com",)) == "qbr"


def test_unknown_user_domain_calls_nobody_external() -> None:
    facts = MeetingFacts("Intro call", attendee_count=2, attendee_domains=frozenset({"acme.com"}))
    # Nobody is external, so two people are two colleagues: a 1:1.
    assert CLASSIFIER.classify_facts(facts).meeting_type == "one_on_one"


def test_external_detected_from_attendee_domains() -> None:
    assert kind("Intro call", 2, domains=("acme.com",)) == "external"
    assert kind("Intro call", 2, domains=("example.com",)) == "one_on_one"
    assert kind("Intro call", 4, domains=("example.com",)) == "default"
    # Case and subdomain spelling are normalised by the caller's domain parsing.
    assert kind("Intro call", 3, domains=("EXAMPLE.com".lower(),)) == "default"
    # External wins over 1:1 by priority: a 1:1 with a customer is a customer meeting.
    assert kind("1:1 with buyer", 2, domains=("acme.com",)) == "external"


def test_description_keywords_count_but_on_word_boundaries() -> None:
    assert kind("Sync", 6, description="Agenda: SEV-1 timeline") == "incident_review"
    assert kind("Sync", 6, description="several severe issues") == "default"


def meeting(**kw: object) -> Meeting:
    base: dict[str, object] = {
        "user_id": "u1",
        "event_id": "e1",
        "calendar_id": "primary",
        "title": "Weekly 1:1 with Sam",
        "start": START,
        "end": START + timedelta(minutes=30),
        "attendees": (
            Attendee("me@example.com", response_status=ResponseStatus.ACCEPTED, is_self=True),
            Attendee("sam@example.com", response_status=ResponseStatus.ACCEPTED),
        ),
        "series_id": "series-1",
    }
    base.update(kw)
    return Meeting(**base)  # type: ignore[arg-type]


def test_overrides_event_beats_series_beats_rules() -> None:
    m = meeting()
    assert CLASSIFIER.classify(m, user_domain="example.com").meeting_type == "one_on_one"
    series = Preferences(type_overrides={"series:series-1": "executive"})
    got = CLASSIFIER.classify(m, user_domain="example.com", preferences=series)
    assert (got.meeting_type, got.decided_by) == ("executive", "override:series")
    # The series override reaches every other occurrence of the series.
    other = meeting(event_id="e1_20261215T150000Z")
    assert (
        CLASSIFIER.classify(other, user_domain="example.com", preferences=series).meeting_type
        == "executive"
    )
    both = Preferences(type_overrides={"series:series-1": "executive", "event:e1": "qbr"})
    got = CLASSIFIER.classify(m, user_domain="example.com", preferences=both)
    assert (got.meeting_type, got.decided_by) == ("qbr", "override:event")
    assert (
        CLASSIFIER.classify(other, user_domain="example.com", preferences=both).meeting_type
        == "executive"
    )


def test_override_to_unknown_type_falls_back_to_rules() -> None:
    prefs = Preferences(type_overrides={"series:series-1": "deleted_type"})
    assert (
        CLASSIFIER.classify(meeting(), user_domain="example.com", preferences=prefs).meeting_type
        == "one_on_one"
    )


def _by_keywords(
    title: str, keywords: Mapping[str, tuple[str, ...]], people: int = 6
) -> tuple[str, str]:
    facts = MeetingFacts(title, "", people, frozenset(), event_id="e1", series_id="series-1")
    got = CLASSIFIER.classify_facts(
        facts, user_domain="example.com", preferences=Preferences(type_keywords=keywords)
    )
    return got.meeting_type, got.decided_by


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Board prep with Dana", ("executive", "keyword")),
        ("BOARD-PREP", ("executive", "keyword")),  # case and separators, like config keywords
        ("Aufsichtsrat Q4", ("executive", "keyword")),
        ("Keyboard preparation", ("default", "default")),  # whole words only
        ("Cupboard prep", ("default", "default")),
        ("Weekly sync", ("default", "default")),
    ],
)
def test_user_keywords_match_whole_words_in_the_title(
    title: str, expected: tuple[str, str]
) -> None:
    keywords = {"executive": ("board prep", "Aufsichtsrat")}
    assert _by_keywords(title, keywords) == expected


def test_user_keywords_beat_config_rules_but_not_overrides() -> None:
    keywords = {"staff": ("sev",)}  # this user's team says "sev" for their staff meeting
    assert kind("SEV weekly", 6) == "incident_review"
    assert _by_keywords("SEV weekly", keywords) == ("staff", "keyword")
    prefs = Preferences(
        type_keywords={"staff": ("1:1",)}, type_overrides={"series:series-1": "qbr"}
    )
    got = CLASSIFIER.classify(meeting(), user_domain="example.com", preferences=prefs)
    assert (got.meeting_type, got.decided_by) == ("qbr", "override:series")


def test_two_types_keyworded_in_one_title_follow_the_rules_priority() -> None:
    keywords = {"staff": ("weekly",), "incident_review": ("retro",)}
    # incident_review ranks above staff in config/meeting_types.yaml.
    assert _by_keywords("Weekly retro", keywords) == ("incident_review", "keyword")


def test_user_keywords_only_read_the_title() -> None:
    facts = MeetingFacts("Sync", "steerco notes attached", 4, frozenset(), event_id="e1")
    prefs = Preferences(type_keywords={"executive": ("steerco",)})
    got = CLASSIFIER.classify_facts(facts, user_domain="example.com", preferences=prefs)
    assert got.meeting_type == "default"


def test_keywords_for_an_unknown_type_are_ignored() -> None:
    assert _by_keywords("Steerco", {"deleted_type": ("steerco",)}) == ("default", "default")


def test_user_keywords_take_the_types_lead_time() -> None:
    facts = MeetingFacts("Board prep", "", 4, frozenset(), event_id="e1")
    prefs = Preferences(type_keywords={"executive": ("board prep",)}, lead_hours={"executive": 50})
    got = CLASSIFIER.classify_facts(facts, user_domain="example.com", preferences=prefs)
    assert (got.meeting_type, got.prep_hours_before) == ("executive", 50)


@pytest.mark.parametrize(
    ("keywords", "problem"),
    [
        ({"qbr": tuple(f"w{i}" for i in range(11))}, "at most 10 keywords"),
        ({"qbr": ("x" * 41,)}, "at most 40 characters"),
    ],
)
def test_keyword_limits_are_enforced_by_the_preferences(
    keywords: dict[str, tuple[str, ...]], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        Preferences(type_keywords=keywords)


def test_keywords_are_trimmed_and_deduplicated() -> None:
    prefs = Preferences(type_keywords={"qbr": (" board ", "board", "", "  "), "staff": ()})
    assert prefs.type_keywords == {"qbr": ("board",)}


def test_user_lead_time_overrides_config() -> None:
    prefs = Preferences(lead_hours={"one_on_one": 6})
    assert (
        CLASSIFIER.classify(
            meeting(), user_domain="example.com", preferences=prefs
        ).prep_hours_before
        == 6
    )
    assert CLASSIFIER.classify(meeting(), user_domain="example.com").prep_hours_before == 24


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"status": EventStatus.CANCELLED}, SkipReason.CANCELLED),
        (
            {
                "attendees": (
                    Attendee(
                        "me@example.com", response_status=ResponseStatus.DECLINED, is_self=True
                    ),
                    Attendee("sam@example.com"),
                )
            },
            SkipReason.DECLINED,
        ),
        ({"all_day": True}, SkipReason.ALL_DAY),
        (
            {
                "attendees": (
                    Attendee("me@example.com", is_self=True),
                    Attendee("room-4@resource.calendar.google.com", resource=True),
                )
            },
            SkipReason.RESOURCES_ONLY,
        ),
    ],
)
def test_meetings_that_get_no_prep(changes: dict[str, object], reason: SkipReason) -> None:
    got = CLASSIFIER.classify(meeting(**changes), user_domain="example.com")
    assert got.skip_reason is reason
    assert not got.needs_prep


def test_tentative_and_unanswered_meetings_still_get_prep() -> None:
    tentative = meeting(
        attendees=(
            Attendee("me@example.com", response_status=ResponseStatus.TENTATIVE, is_self=True),
            Attendee("sam@example.com"),
        )
    )
    assert CLASSIFIER.classify(tentative, user_domain="example.com").needs_prep
    a_room_and_a_person = meeting(
        attendees=(
            Attendee("me@example.com", is_self=True),
            Attendee("room@resource.calendar.google.com", resource=True),
            Attendee("sam@example.com"),
        )
    )
    got = CLASSIFIER.classify(a_room_and_a_person, user_domain="example.com")
    assert got.needs_prep
    assert got.meeting_type == "one_on_one"  # the room does not count as a person


def test_prep_trigger_time() -> None:
    now = START - timedelta(days=3)
    assert prep_trigger_time(START, 24, now) == START - timedelta(hours=24)
    # Booked at short notice: prep starts now, not in the past.
    late = START - timedelta(hours=1)
    assert prep_trigger_time(START, 24, late) == late
    # A meeting already over keeps its nominal trigger (callers do not schedule it).
    after = START + timedelta(hours=1)
    assert prep_trigger_time(START, 24, after) == START - timedelta(hours=24)


# ---------------------------------------------------------------- structure and reasons


def explain(
    title: str, people: int = 2, domains: tuple[str, ...] = (), rooms: int = 0
) -> tuple[str, str]:
    facts = MeetingFacts(title, "", people, frozenset(("example.com", *domains)), rooms=rooms)
    got = CLASSIFIER.classify_facts(facts, user_domain="example.com")
    return got.meeting_type, got.reason


@pytest.mark.parametrize(
    ("title", "people", "domains", "rooms", "expected"),
    [
        # The issue's own misses: two people, no keyword the seed knew.
        ("Sam / Alex", 2, (), 0, ("one_on_one", "two names joined by '/', 2 people")),
        ("Skip-level with Dana", 2, (), 0, ("one_on_one", "keyword 'skip-level', 2 people")),
        ("Staff mtg", 8, (), 0, ("staff", "keyword 'staff', 8 people")),
        (
            "Q3 Business Review with Contoso",
            8,
            ("contoso.com",),
            0,
            ("qbr", "keyword 'business review'"),
        ),
        # Structure alone: two colleagues and no room.
        ("Roadmap chat", 2, (), 0, ("one_on_one", "2 internal people, no room")),
        ("Roadmap chat", 2, (), 1, ("default", "no rule matched")),
        ("Roadmap chat", 2, ("acme.io",), 0, ("external", "a guest from acme.io")),
        # Names joined by any of the usual symbols or words, with a third guest.
        ("Sam <> Alex", 3, (), 0, ("one_on_one", "two names joined by '<>', 3 people")),
        ("Priya x Ken", 3, (), 0, ("one_on_one", "two names joined by 'x', 3 people")),
        ("Rachel & Tom catch up", 3, (), 0, ("one_on_one", "two names joined by '&', 3 people")),
        ("Dana and Chen", 3, (), 0, ("one_on_one", "two names joined by 'and', 3 people")),
        ("Sam / Alex", 2, (), 1, ("one_on_one", "two names joined by '/', 2 people")),
        # A customer review: the external guest plus a review word.
        (
            "Contoso account review",
            6,
            ("contoso.com",),
            0,
            ("qbr", "keyword 'account review', a guest from contoso.com"),
        ),
        (
            "Design review with Contoso",
            6,
            ("contoso.com",),
            0,
            ("external", "a guest from contoso.com"),
        ),
    ],
)
def test_structure_counts_and_the_reason_says_why(
    title: str, people: int, domains: tuple[str, ...], rooms: int, expected: tuple[str, str]
) -> None:
    assert explain(title, people, domains, rooms) == expected


@pytest.mark.parametrize(
    ("title", "joined"),
    [
        ("Sam / Alex", "/"),
        ("sam<>alex", "<>"),
        ("Maria Garcia <-> John Smith", "<->"),
        ("José + Zoë (weekly)", "+"),
        ("O'Brien / Patel - sync", "/"),
        ("Ana x Bo: weekly", "x"),
        ("Q&A", None),  # single letters are not names
        ("R&D sync", None),
        ("Ana / Bo / Chen", None),  # three names: a group
        ("1:1 Sam / Alex", None),  # the keyword decides this one
        ("Weekly sync", None),
    ],
)
def test_paired_names(title: str, joined: str | None) -> None:
    assert paired_names(title) == joined


def test_rooms_of_a_meeting_count_as_rooms_not_people() -> None:
    room = Attendee("r1@resource.calendar.google.com", resource=True)
    plain = meeting(title="Design review")
    assert CLASSIFIER.classify(plain, user_domain="example.com").meeting_type == "one_on_one"
    booked = meeting(title="Design review", attendees=(*plain.attendees, room))
    got = CLASSIFIER.classify(booked, user_domain="example.com")
    assert (got.meeting_type, got.reason) == ("default", "no rule matched")


def test_overrides_and_user_keywords_explain_themselves() -> None:
    prefs = Preferences(type_overrides={"event:e1": "qbr"})
    got = CLASSIFIER.classify(meeting(), user_domain="example.com", preferences=prefs)
    assert got.reason == "chosen by you"
    facts = MeetingFacts("Steerco", "", 6, frozenset(), event_id="e2")
    got = CLASSIFIER.classify_facts(
        facts,
        user_domain="example.com",
        preferences=Preferences(type_keywords={"executive": ("steerco",)}),
    )
    assert got.reason == "your keyword 'steerco'"


def test_a_keyword_pattern_is_compiled_only_for_a_text_that_holds_its_words() -> None:
    """The shipped rules hold ~90 keywords; compiling them all cost ~20 ms of the first
    card of a fresh process, though a title holds the words of very few of them."""
    from functions.domain import classification

    classification._user_keyword.cache_clear()
    fresh = Classifier(load_rules(DEFAULT_MEETING_TYPES))
    assert classification._user_keyword.cache_info().currsize == 0
    plain = MeetingFacts("Lunch", "", 5, frozenset())
    assert fresh.classify_facts(plain, user_domain="example.com").meeting_type == "default"
    # Every rule was tested, and no pattern compiled: "lunch" holds no keyword's words.
    assert classification._user_keyword.cache_info().currsize == 0
    facts = MeetingFacts("Postmortem: checkout outage", "", 4, frozenset())
    found = fresh.classify_facts(facts, user_domain="example.com")
    assert (found.meeting_type, found.reason) == ("incident_review", "keyword 'postmortem'")
    # "post-mortem" (its words are there) and "postmortem"; none of the other ~88.
    assert classification._user_keyword.cache_info().currsize == 2


KEYWORD_TEXTS = [
    "weekly 1:1 with sam",
    "1 : 1s",
    "post–mortem of the sev-1",
    "post mortem",
    "smallhands and all-hands",
    "all_hands",
    "foo_all hands",
    "ceo's update",
    "qbr prep (acme)",
    "q3 review with contoso",
    "retrospective; retro",
    "sev12",
    "",
]


@pytest.mark.parametrize("text", KEYWORD_TEXTS)
def test_the_words_check_never_changes_what_a_keyword_matches(text: str) -> None:
    """`keyword_parts` only skips patterns that cannot match: the answer is the pattern's."""
    from functions.domain.classification import _keyword_in
    from functions.domain.meeting_types import keyword_pattern, normalize_text

    norm = normalize_text(text)
    keywords = {k for r in CLASSIFIER.rules.rules for m in r.matches for k in m.keywords}
    for keyword in [*sorted(keywords), "1:1", "post-mortem", "all hands", "Q&A", "+"]:
        assert _keyword_in(keyword, [norm]) is bool(keyword_pattern(keyword).search(norm)), keyword


def test_keywords_read_the_description_as_the_user_sees_it() -> None:
    """Calendar keeps its editor's HTML: keywords match its text, not its markup.

    Before: "post&nbsp;mortem" was no post-mortem, and a link's address
    (".../qbr-template") made a meeting a QBR though the user never sees it.
    """
    people = tuple(
        Attendee(f"p{i}@example.com", response_status=ResponseStatus.ACCEPTED, is_self=i == 0)
        for i in range(6)
    )

    def kind_of(description: str) -> str:
        m = meeting(title="Outage sync", description=description, attendees=people)
        return CLASSIFIER.classify(m, user_domain="example.com").meeting_type

    assert kind_of("Agenda: post mortem of the outage") == "incident_review"
    assert kind_of("Agenda:&nbsp;post&nbsp;mortem of the outage") == "incident_review"
    assert kind_of("<p>Agenda:<br>post mortem of the outage</p>") == "incident_review"
    assert kind_of("See notes") == "default"
    assert kind_of('See <a href="https://wiki.example.com/qbr-template">notes</a>') == "default"
