"""Events that need no prep say why on the card, and can be prepared anyway."""

from __future__ import annotations

from datetime import timedelta

import pytest

from functions.auth.dev_keys import DevSigner
from functions.bootstrap import Bootstrap
from functions.domain.prep_state import PrepState
from functions.domain.users import User
from functions.prep.queueing import GENERATE_QUEUE, PREP_QUEUE
from functions.store.port import Store
from tests.addon.conftest import NOW
from tests.support.addon_helpers import (
    Client,
    button_ops,
    calendar_event,
    event_body,
    only_card,
    seed_meeting,
    texts,
)
from tests.support.recording_queue import RecordingQueue

START = NOW + timedelta(days=2)


def _act(client: Client, signer: DevSigner, op: str, **kwargs: object) -> dict[str, object]:
    return client.post(event_body(signer, "alice", op=op, **kwargs))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "shown"),
    [
        ({"guests": ()}, "No guests \u2014 no prep planned. Prepare anyway?"),
        ({"guests": ("room-1@resource.calendar.google.com",)}, "Only rooms are invited"),
        ({"transparency": "transparent"}, "Marked as free \u2014 no prep planned"),
        ({"eventType": "focusTime"}, "Focus time \u2014 no prep planned"),
        ({"eventType": "outOfOffice"}, "Out of office \u2014 no prep planned"),
    ],
)
def test_skipped_events_say_why_and_offer_prep_anyway(
    *,
    client: Client,
    signer: DevSigner,
    db: Store,
    queue: RecordingQueue,
    alice: User,
    services: Bootstrap,
    changes: dict[str, object],
    shown: str,
) -> None:
    guests = changes.pop("guests", ("bob@example.com",))
    raw = calendar_event("ev1", START, title="Lunch", guests=guests)  # type: ignore[arg-type]
    if guests and "resource" in str(guests[0]):  # type: ignore[index]
        raw["attendees"][1]["resource"] = True
    raw.update(changes)
    planned = seed_meeting(db, alice, raw, now=NOW, classifier=services.classifier)
    assert planned.prep_trigger_at is None and planned.prep_state is PrepState.NOT_STARTED
    assert queue.of_queue(PREP_QUEUE) == []  # no reminder will come

    card = only_card(_act(client, signer, "event", params={"eventId": "ev1"}))
    assert shown in texts(card)
    assert "Scheduled" not in texts(card)
    assert button_ops(card)["Prepare anyway"]["op"] == "generate"

    # The user knows better: one click prepares it like any meeting.
    answer = _act(client, signer, "generate", params={"eventId": "ev1"})
    assert "Preparing…" in texts(only_card(answer))
    assert len(queue.of_queue(GENERATE_QUEUE)) == 1
    stored = db.get_meeting("alice", "ev1")
    assert stored is not None and stored.prep_state is PrepState.GENERATING


def test_a_cancelled_event_offers_nothing(
    client: Client, signer: DevSigner, db: Store, alice: User, services: Bootstrap
) -> None:
    raw = calendar_event("ev1", START, title="Sync", status="cancelled")
    seed_meeting(db, alice, raw, now=NOW, classifier=services.classifier)
    card = only_card(_act(client, signer, "event", params={"eventId": "ev1"}))
    assert "Because the event was cancelled." in texts(card)
    assert "Prepare anyway" not in button_ops(card)


def test_a_meeting_prepared_anyway_is_treated_as_one_to_prepare(
    client: Client, signer: DevSigner, db: Store, alice: User, services: Bootstrap
) -> None:
    """After "Prepare anyway", the card offers feedback and a type change like any prep.

    Before: the optional skip reason stayed set and every check that read it
    still said "needs no prep" (no feedback, "its type does not matter").
    """
    import dataclasses

    raw = calendar_event("ev1", START, title="Lunch", guests=())
    planned = seed_meeting(db, alice, raw, now=NOW, classifier=services.classifier)
    assert planned.skip_reason == "no_guests"
    db.upsert_meetings(
        [dataclasses.replace(planned, prep_state=PrepState.READY, materials_ref="m/ev1")]
    )
    card = only_card(_act(client, signer, "event", params={"eventId": "ev1"}))
    assert {"Useful", "Save type"} <= set(button_ops(card))
    answer = _act(client, signer, "wrong_type_form", params={"eventId": "ev1"})
    assert "needs no prep" not in str(answer)
    assert "pushCard" in str(answer)
