"""The eventOpen card says what a recurring meeting's materials carried over, and from when.

Three weekly occurrences get materials through the real generation task
handler (offline generator, local file storage); opening the third in the
sidebar shows "Carried over from <date>", the date of the second occurrence
on the user's own calendar day and in their locale.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from functions.auth.dev_keys import DevSigner
from functions.bootstrap import Bootstrap
from functions.config import Settings
from functions.domain.clock import FixedClock
from functions.domain.meetings import Meeting
from functions.domain.users import User
from functions.materials.handler import handle_generate
from functions.materials.local_files import LocalMaterialsStorage, LocalSigningKey
from functions.materials.offline import OfflineGenerator
from functions.materials.storage import StorageError
from tests.support.addon_helpers import (
    Client,
    calendar_event,
    event_body,
    only_card,
    opened_event,
    seed_meeting,
    texts,
)

#: 23:30 UTC: the evening before in New York, already the next day in Berlin.
STARTS = [datetime(2026, 11, d, 23, 30, tzinfo=UTC) for d in (17, 24)] + [
    datetime(2026, 12, 1, 23, 30, tzinfo=UTC)
]
DESCRIPTIONS = ["- Who owns QA?", "- Can we hire a contractor?", "Weekly sync"]


@pytest.fixture
def services(settings: Settings, clock: FixedClock, tmp_path: Path) -> Iterator[Bootstrap]:
    """The add-on's services, generating offline into local files under tmp_path."""
    storage = LocalMaterialsStorage(
        tmp_path / "materials", LocalSigningKey.generate(), "http://127.0.0.1:8080", clock
    )
    s = Bootstrap(settings, clock=clock, generator=OfflineGenerator(), materials_storage=storage)
    yield s
    s.store.close()


@pytest.fixture
def weekly(services: Bootstrap, alice: User, monkeypatch: pytest.MonkeyPatch) -> list[Meeting]:
    """Three occurrences of one series for alice; nothing generated yet."""
    # The "ready" message belongs to functions/notify; here it is only recorded.
    sent: list[str] = []
    monkeypatch.setattr(
        "functions.notify.ready.send_ready", lambda svc, user, m: sent.append(m.event_id)
    )
    out = []
    for i, (start, text) in enumerate(zip(STARTS, DESCRIPTIONS, strict=True)):
        event = calendar_event(f"wk{i + 1}", start, title="Team sync", series_id="team")
        planned = seed_meeting(
            services.store, alice, event, now=services.clock.now(), classifier=services.classifier
        )
        meeting = dataclasses.replace(planned, description=text)
        services.store.upsert_meetings([meeting])
        out.append(meeting)
    return out


def prepare(services: Bootstrap, meeting: Meeting) -> None:
    outcome = handle_generate(services, {"user_id": meeting.user_id, "event_id": meeting.event_id})
    assert outcome["outcome"] == "ready", outcome


def open_card(client: Client, signer: DevSigner, event_id: str, **kwargs: str) -> str:
    body = event_body(signer, opened=opened_event(event_id, "team"), **kwargs)  # type: ignore[arg-type]
    return texts(only_card(client.post(body)))


def test_the_third_occurrence_shows_what_it_carried_over_from_the_second(
    client: Client, signer: DevSigner, services: Bootstrap, weekly: list[Meeting]
) -> None:
    first, second, third = weekly
    for m in weekly:
        prepare(services, m)

    shown = open_card(client, signer, third.event_id, time_zone="America/New_York")
    assert "Carried over from Tue, Nov 24" in shown
    assert "Open questions and follow-ups" in shown and "2 still open" in shown

    # The same materials for a user in Berlin: the 2nd occurrence was on their 25th.
    german = open_card(client, signer, third.event_id, time_zone="Europe/Berlin", locale="de-DE")
    assert "Carried over from Wed, 25 Nov" in german  # English words, German order

    # The 2nd carried one item from the 1st; the 1st carried nothing.
    assert "Carried over from Tue, Nov 17" in open_card(client, signer, second.event_id)
    assert "1 still open" in open_card(client, signer, second.event_id)
    assert "Carried over" not in open_card(client, signer, first.event_id)


def test_no_line_before_the_materials_are_ready(
    client: Client, signer: DevSigner, services: Bootstrap, weekly: list[Meeting]
) -> None:
    first, second, third = weekly
    prepare(services, first)
    prepare(services, second)
    shown = open_card(client, signer, third.event_id)
    assert "Carried over" not in shown and "Generate prep" in shown


def test_unreadable_materials_leave_the_line_out_but_the_card_works(
    client: Client,
    signer: DevSigner,
    services: Bootstrap,
    weekly: list[Meeting],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for m in weekly:
        prepare(services, m)

    def down(ref: str) -> None:
        raise StorageError("storage unavailable")

    monkeypatch.setattr(services.materials_storage, "read_summary", down)
    shown = open_card(client, signer, weekly[2].event_id)
    assert "Carried over" not in shown
    assert "Open materials" in shown and "Team sync" in shown
