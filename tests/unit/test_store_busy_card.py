"""A write against a locked SQLite file (issue 13, item 9): a quick, clear card, not 30 s."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from addon.endpoint import BUSY_TEXT
from functions.bootstrap import set_services
from functions.store.sqlite import SqliteStore
from tests.support.app_harness import App
from tests.support.local_app_fixtures import app, flask_app

__all__ = ["app", "flask_app"]


def test_a_locked_database_answers_a_busy_card_quickly(app: App) -> None:
    db = Path(app.settings.sqlite_path)
    app.services.store.close()
    app.services = app.services.replaced(store=SqliteStore(db, busy_timeout=0.5))  # default 5 s
    set_services(app.services)
    holder = sqlite3.connect(db, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")  # e.g. `sqlite3 prep.db` left inside a transaction
        body = app.event_object(
            parameters={"op": "save_settings"},
            form={"channels": ["email"], "quiet_start": ["22:00"], "quiet_end": ["07:00"]},
            time_zone="Europe/Berlin",
        )
        started = time.monotonic()
        resp = app.post_json("/addon", body)
        elapsed = time.monotonic() - started
    finally:
        holder.close()
    assert resp.status_code == 200
    assert BUSY_TEXT in resp.get_data(as_text=True)
    assert elapsed < 5
