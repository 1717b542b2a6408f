"""Transaction isolation of the Firestore adapter, against a real Firestore project.

The npm emulator loses concurrent transactional updates (10 concurrent
increments leave 1), so the one property the emulator cannot decide, that
`update_meeting` is a serialisable read-modify-write under contention, is
checked here against real Firestore, as is the takeover of an abandoned
claim (one transaction, so exactly one of many takers wins). Opt in with:

    REAL_FIRESTORE_PROJECT=my-test-project [REAL_FIRESTORE_DATABASE=(default)] \
        pytest -m real_firestore tests/contract/test_firestore_real.py

with Application Default Credentials that may read and write that database.
The test writes under one throw-away user id and deletes it afterwards.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest

from functions.domain.meetings import Meeting
from functions.store.firestore import FirestoreStore
from tests.contract.test_store_contract import meeting
from tests.support.threads import run_together

PROJECT_VAR = "REAL_FIRESTORE_PROJECT"
DATABASE_VAR = "REAL_FIRESTORE_DATABASE"

pytestmark = [
    pytest.mark.real_firestore,
    pytest.mark.skipif(
        not os.environ.get(PROJECT_VAR),
        reason=(
            f"needs a real Firestore project: set {PROJECT_VAR} (and ADC credentials). "
            "The npm emulator loses concurrent transactional updates, so transaction "
            "isolation under contention can only be proven on real Firestore."
        ),
    ),
]

WRITERS = 10


@pytest.fixture
def real_store() -> Iterator[FirestoreStore]:
    from google.cloud import firestore

    # A stray FIRESTORE_EMULATOR_HOST would silently point the client at an emulator.
    saved = os.environ.pop("FIRESTORE_EMULATOR_HOST", None)
    try:
        client = firestore.Client(
            project=os.environ[PROJECT_VAR],
            database=os.environ.get(DATABASE_VAR) or None,
        )
    finally:
        if saved is not None:
            os.environ["FIRESTORE_EMULATOR_HOST"] = saved
    # Ten writers on one document: give the library room to retry ABORTED commits.
    store = FirestoreStore(client, max_transaction_attempts=25)
    try:
        yield store
    finally:
        store.close()


def test_concurrent_update_meeting_loses_no_increment(real_store: FirestoreStore) -> None:
    uid = f"contract-test-{uuid.uuid4().hex[:12]}"
    m = meeting(uid, 1, description="")
    real_store.upsert_meetings([m])
    start = threading.Barrier(WRITERS)
    errors: list[BaseException] = []

    def bump(cur: Meeting) -> Meeting:
        return dataclasses.replace(cur, description=cur.description + "x")

    def writer() -> None:
        try:
            start.wait()
            real_store.update_meeting(uid, m.event_id, bump)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    try:
        run_together([writer] * WRITERS)
        assert errors == []
        got = real_store.get_meeting(uid, m.event_id)
        assert got is not None and got.description == "x" * WRITERS
    finally:
        real_store.delete_user_data(uid)


def test_concurrent_takers_of_an_abandoned_claim_have_one_winner(
    real_store: FirestoreStore,
) -> None:
    uid = f"contract-test-{uuid.uuid4().hex[:12]}"
    key = "notify:evt1:v1:chat"
    assert real_store.claim(uid, key) is True
    time.sleep(1.5)  # abandoned for longer than the lease below
    start = threading.Barrier(WRITERS)
    wins: list[bool] = []

    def taker() -> None:
        start.wait()
        wins.append(real_store.claim(uid, key, lease=timedelta(seconds=1)))

    try:
        run_together([taker] * WRITERS)
        assert sorted(wins) == [False] * (WRITERS - 1) + [True]
    finally:
        real_store.delete_user_data(uid)
