"""The Gmail threads adapter, through the real client library, against the fake Gmail server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from google.oauth2.credentials import Credentials

from functions.mail.gmail import GmailThreads
from functions.mail.port import MailLimits, MailNotAllowed, MailUnavailable
from tests.support.fake_google_apis import (
    GMAIL_METADATA_SCOPE,
    GMAIL_READONLY_SCOPE,
    GMAIL_THREADS_GET,
    GMAIL_THREADS_LIST,
    FakeGoogle,
    fake_google_apis,
)

NOW = datetime.now(UTC).replace(microsecond=0)
LIMITS = MailLimits()
PEOPLE = ["tom@acme.com", "ana@example.com"]


@pytest.fixture
def fake() -> Iterator[FakeGoogle]:
    with fake_google_apis() as server:
        server.now = NOW
        yield server


def adapter(fake: FakeGoogle, bearer: str | None = None) -> GmailThreads:
    """The adapter acting with access token `bearer` (an unlisted token has gmail.readonly)."""
    return GmailThreads(lambda uid: Credentials(token=bearer or "user"), api_endpoint=fake.url)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def test_reads_recent_threads_with_the_attendees_newest_first(fake: FakeGoogle) -> None:
    fake.add_thread(
        "Renewal &amp; pricing",
        ("Tom Becker <tom@acme.com>", "you@example.com", ago(5), "Can you bring usage?"),
        ("you@example.com", "tom@acme.com", ago(4), "Yes, usage by region &#39;25"),
    )
    fake.add_thread("Lunch", ("ana@example.com", "you@example.com", ago(1), "Tacos?"))
    fake.add_thread("Unrelated", ("zed@other.com", "you@example.com", ago(1), "nope"))
    fake.add_thread("Too old", ("tom@acme.com", "you@example.com", ago(20), "old"))

    threads = adapter(fake).recent_threads("u1", PEOPLE, NOW, LIMITS)

    assert [t.subject for t in threads] == ["Lunch", "Renewal &amp; pricing"]
    renewal = threads[1]
    assert renewal.participants == ("Tom Becker <tom@acme.com>", "you@example.com")
    assert renewal.snippet == "Yes, usage by region '25"  # Gmail's snippets are HTML-escaped
    assert renewal.messages == 2
    assert renewal.last_message_at == ago(4)
    # One search, then the threads' metadata: never a body.
    assert fake.thread_queries == [
        "newer_than:14d {from:tom@acme.com to:tom@acme.com cc:tom@acme.com "
        "from:ana@example.com to:ana@example.com cc:ana@example.com}"
    ]
    assert set(fake.thread_formats) == {"metadata"}


def test_thread_count_and_sizes_are_bounded(fake: FakeGoogle) -> None:
    for i in range(8):
        fake.add_thread("S" * 500, ("tom@acme.com", "you@example.com", ago(1 + i / 10), "x" * 1000))
    limits = MailLimits(max_threads=3)

    threads = adapter(fake).recent_threads("u1", PEOPLE, NOW, limits)

    assert len(threads) == 3
    assert all(len(t.subject) <= limits.subject_chars for t in threads)
    assert all(len(t.snippet) <= limits.snippet_chars for t in threads)
    assert fake.calls.count(GMAIL_THREADS_GET) == 3


def test_hostile_attendee_addresses_never_reach_the_query(fake: FakeGoogle) -> None:
    fake.add_thread("Secret", ("bank@bank.com", "you@example.com", ago(1), "your code is 1234"))

    hostile = ["x@y.com} OR {in:anywhere", "a@b.com from:bank@bank.com", '"q"@evil.com']
    threads = adapter(fake).recent_threads("u1", hostile, NOW, LIMITS)

    assert threads == []
    assert fake.thread_queries == []  # nothing usable: no search at all


def test_a_thread_deleted_between_list_and_get_is_skipped(fake: FakeGoogle) -> None:
    gone = fake.add_thread("Gone", ("tom@acme.com", "you@example.com", ago(1), "bye"))
    fake.add_thread("Kept", ("tom@acme.com", "you@example.com", ago(2), "hi"))
    fake.fail(GMAIL_THREADS_GET, 404)

    threads = adapter(fake).recent_threads("u1", PEOPLE, NOW, LIMITS)

    assert [t.subject for t in threads] == ["Kept"]
    assert gone.id in fake.threads


@pytest.mark.parametrize(("status", "reason"), [(429, ""), (500, ""), (403, "rateLimitExceeded")])
def test_throttling_and_server_errors_are_transient(
    fake: FakeGoogle, status: int, reason: str
) -> None:
    fake.add_thread("T", ("tom@acme.com", "you@example.com", ago(1), "hi"))
    fake.fail(GMAIL_THREADS_LIST, status, reason)

    with pytest.raises(MailUnavailable):
        adapter(fake).recent_threads("u1", PEOPLE, NOW, LIMITS)


def test_a_grant_without_a_gmail_read_scope_is_not_allowed(fake: FakeGoogle) -> None:
    fake.token_scopes["send-only"] = frozenset({"https://www.googleapis.com/auth/gmail.send"})

    with pytest.raises(MailNotAllowed):
        adapter(fake, "send-only").recent_threads("u1", PEOPLE, NOW, LIMITS)


def test_gmail_metadata_scope_cannot_search_even_beside_readonly(fake: FakeGoogle) -> None:
    """Why the source asks for gmail.readonly and never gmail.metadata (docs/materials.md)."""
    fake.token_scopes["both"] = frozenset({GMAIL_METADATA_SCOPE, GMAIL_READONLY_SCOPE})
    fake.add_thread("T", ("tom@acme.com", "you@example.com", ago(1), "hi"))

    with pytest.raises(MailNotAllowed):
        adapter(fake, "both").recent_threads("u1", PEOPLE, NOW, LIMITS)
    assert adapter(fake, "readonly").recent_threads("u1", PEOPLE, NOW, LIMITS)


def test_unreachable_gmail_is_transient() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/"
    source = GmailThreads(lambda uid: Credentials(token="t"), api_endpoint=url)

    with pytest.raises(MailUnavailable):
        source.recent_threads("u1", PEOPLE, NOW, LIMITS)


def test_a_gmail_that_does_not_answer_is_given_up_within_the_timeout() -> None:
    """The client library waits 60 s per call by default; the generate task cannot."""
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)  # accepts connections, never answers
        url = f"http://127.0.0.1:{s.getsockname()[1]}/"
        source = GmailThreads(lambda uid: Credentials(token="t"), api_endpoint=url, timeout_s=0.5)
        began = time.monotonic()
        with pytest.raises(MailUnavailable):
            source.recent_threads("u1", PEOPLE, NOW, LIMITS)
        assert time.monotonic() - began < 5


def test_the_default_timeout_is_the_one_the_deadline_counts(fake: FakeGoogle) -> None:
    from functions.mail import gmail

    assert adapter(fake)._http("u1").http.timeout == gmail.DEFAULT_TIMEOUT_S


def test_no_thread_is_read_after_the_time_budget(fake: FakeGoogle) -> None:
    """Each look at this clock is 4 s later: threads.get starts at 4 and 8 s, not at 12."""
    for n in range(4):
        fake.add_thread(f"T{n}", ("tom@acme.com", "you@example.com", ago(n + 1), "hi"))
    ticks = iter(range(0, 400, 4))
    source = GmailThreads(
        lambda uid: Credentials(token="user"),
        api_endpoint=fake.url,
        read_seconds=9,
        clock=lambda: float(next(ticks)),
    )

    threads = source.recent_threads("u1", PEOPLE, NOW, LIMITS)

    assert fake.calls.count(GMAIL_THREADS_GET) == 2 and len(threads) == 2
