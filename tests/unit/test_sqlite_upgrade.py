"""A local database made by an earlier release keeps working after an upgrade.

`make run` keeps its SQLite file between runs, so a column added later must be
added to an existing file on open, not only to new ones.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

from functions.store.sqlite import SqliteStore

#: The claims table as the first release created it, before `confirmed_at`.
_FIRST_RELEASE_CLAIMS = """
CREATE TABLE claims (
    user_id TEXT NOT NULL,
    key TEXT NOT NULL,
    claimed_at TEXT NOT NULL,
    PRIMARY KEY (user_id, key)
);
INSERT INTO claims VALUES ('alice', 'notify:e1:v1:chat', '2026-01-01T00:00:00.000000Z');
"""


def test_an_old_claims_table_gains_confirmation_and_keeps_its_claims(tmp_path: Path) -> None:
    path = tmp_path / "prep.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript(_FIRST_RELEASE_CLAIMS)
    store = SqliteStore(path)
    try:
        key = "notify:e1:v1:chat"
        assert store.claim("alice", key) is False  # the old claim still holds
        assert store.claim_confirmed("alice", key) is False
        store.confirm_claim("alice", key)
        assert store.claim_confirmed("alice", key) is True
        assert store.claim("alice", key, lease=timedelta(0)) is False
    finally:
        store.close()
    # Opening again finds the column there and leaves the file alone.
    again = SqliteStore(path)
    try:
        assert again.claim_confirmed("alice", "notify:e1:v1:chat") is True
    finally:
        again.close()
