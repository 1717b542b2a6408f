"""The embedded default's mailbox file: the same bounds and matching as Gmail."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from functions.mail.local import DEFAULT_MAILBOX, LocalMailbox
from functions.mail.port import MailLimits, MailUnavailable
from functions.mail.query import safe_address, search_query

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def test_sample_mailbox_matches_the_sample_calendars_people_within_14_days() -> None:
    box = LocalMailbox(DEFAULT_MAILBOX)

    qbr = box.recent_threads("u", ["tom.becker@acme.com", "alice.wong@acme.com"], NOW, MailLimits())
    staff = box.recent_threads("u", ["dana@example.com"], NOW, MailLimits())

    assert [t.subject for t in qbr] == ["Acme renewal: pricing questions before the QBR"]
    assert qbr[0].messages == 2
    assert staff == []  # Dana's only thread is 30 days old


def test_sample_threads_keep_their_times_all_day_so_the_cache_holds() -> None:
    """Counted back from the current minute, every generation would see new times, a new
    context hash and new materials for an unchanged meeting (`make run`)."""
    box = LocalMailbox(DEFAULT_MAILBOX)
    people = ["tom.becker@acme.com"]
    morning = box.recent_threads("u", people, NOW.replace(hour=9, minute=30), MailLimits())
    evening = box.recent_threads("u", people, NOW.replace(hour=21, minute=47), MailLimits())
    assert morning and morning == evening
    assert all(t.last_message_at < NOW.replace(hour=9, minute=30) for t in morning)


def test_a_missing_file_is_an_empty_mailbox_and_a_broken_one_is_unavailable(
    tmp_path: Path,
) -> None:
    assert (
        LocalMailbox(tmp_path / "none.json").recent_threads("u", ["a@b.com"], NOW, MailLimits())
        == []
    )
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(MailUnavailable):
        LocalMailbox(broken).recent_threads("u", ["a@b.com"], NOW, MailLimits())


def test_thread_cap_applies_locally(tmp_path: Path) -> None:
    threads = [
        {
            "id": f"t{i}",
            "subject": f"S{i}",
            "messages": [{"from": "a@b.com", "to": ["you@x.com"], "days_ago": i}],
        }
        for i in range(9)
    ]
    path = tmp_path / "box.json"
    path.write_text(json.dumps({"threads": threads}))

    found = LocalMailbox(path).recent_threads("u", ["a@b.com"], NOW, MailLimits(max_threads=4))

    assert [t.subject for t in found] == ["S0", "S1", "S2", "S3"]


@pytest.mark.parametrize(
    "hostile",
    [
        "x@y.com} OR {in:anywhere",
        "a b@c.com",
        "a@b.com(label:x)",
        'a"@b.com',
        "a@b",
        "@b.com",
        "a@-b.com",
    ],
)
def test_addresses_with_search_syntax_are_refused(hostile: str) -> None:
    assert safe_address(hostile) is None
    assert search_query([hostile], MailLimits()) is None


def test_query_is_bounded_to_max_people() -> None:
    people = [f"p{i}@example.com" for i in range(50)]

    query = search_query(people, MailLimits(max_people=3))

    assert query == (
        "newer_than:14d {from:p0@example.com to:p0@example.com cc:p0@example.com "
        "from:p1@example.com to:p1@example.com cc:p1@example.com "
        "from:p2@example.com to:p2@example.com cc:p2@example.com}"
    )
