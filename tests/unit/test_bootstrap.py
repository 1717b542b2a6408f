"""The composition root: overrides are constructor arguments, and a swap shares what was built."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

from functions import bootstrap
from functions.bootstrap import Bootstrap
from functions.config import Mode, Settings
from functions.domain.clock import FixedClock
from functions.tasks.port import Task, TaskQueue
from tests.support.factories import NOW


class _Queue(TaskQueue):
    def __init__(self) -> None:
        self.tasks: list[Task] = []

    def enqueue(self, task: Task) -> bool:
        self.tasks.append(task)
        return True


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        mode=Mode.LOCAL,
        sqlite_path=tmp_path / "prep.db",
        dev_key_path=tmp_path / "dev-key.pem",
    )


def test_a_port_given_to_the_constructor_is_the_one_served(tmp_path: Path) -> None:
    queue = _Queue()
    root = Bootstrap(_settings(tmp_path), clock=FixedClock(NOW), tasks=queue)
    assert root.tasks is queue
    # What is built from the root on first use sees the override too.
    assert root.sidebar.tasks is queue
    root.store.close()


def test_a_replaced_root_shares_what_was_built_and_swaps_what_it_is_given(
    tmp_path: Path,
) -> None:
    root = Bootstrap(_settings(tmp_path), clock=FixedClock(NOW))
    store = root.store
    first = root.tasks
    queue = _Queue()
    swapped = root.replaced(tasks=queue)
    assert swapped.store is store and swapped.clock is root.clock
    assert swapped.tasks is queue and root.tasks is first
    # The sidebar is a view of its own root, never the old root's.
    assert root.sidebar.services is root and swapped.sidebar.services is swapped
    store.close()


def test_a_replaced_root_takes_new_settings_and_clock_and_keeps_what_was_built(
    tmp_path: Path,
) -> None:
    root = Bootstrap(_settings(tmp_path), clock=FixedClock(NOW))
    store, queue = root.store, root.tasks
    settings = dataclasses.replace(root.settings, webhook_url="https://prep.example.com/hook")
    instance = FixedClock(NOW + timedelta(seconds=90))
    swapped = root.replaced(settings=settings, clock=instance)
    assert swapped.settings is settings and swapped.clock is instance
    assert swapped.store is store and swapped.tasks is queue  # data and queue carry over
    # The original root is left as it was: nothing is patched.
    assert root.settings is not settings and root.clock is not instance
    store.close()


def test_every_adapter_of_the_root_is_either_shared_on_replace_or_a_view_of_it() -> None:
    built = {name for name, value in vars(Bootstrap).items() if isinstance(value, cached_property)}
    assert built - {"sidebar", "send_ready"} == bootstrap._SHARED_ADAPTERS


def test_a_route_table_serves_the_root_it_is_given_not_the_process_wide_one(
    tmp_path: Path,
) -> None:
    """The tables bind their root into each handler; nothing below looks one up."""
    import flask

    from tests.support.roots import make_services

    (tmp_path / "mine").mkdir()
    (tmp_path / "other").mkdir()
    mine = make_services(tmp_path / "mine")
    other = make_services(tmp_path / "other")
    mine.tasks.enqueue(Task(queue="prep", name="only-mine", path="/tasks/prep"))
    bootstrap.set_services(other)  # what a handler reaching for the process's root would find
    try:
        app = flask.Flask(__name__)
        with app.test_request_context(
            "/dev/tasks?format=json",
            base_url="http://127.0.0.1:8080",
            environ_base={"REMOTE_ADDR": "127.0.0.1"},
        ):
            answer = bootstrap.local_routes(mine)["/dev/tasks"](flask.request)
    finally:
        bootstrap.set_services(None)
        mine.store.close()
        other.store.close()
    assert answer.status_code == 200
    assert [t["name"] for t in answer.get_json()["pending"]] == ["only-mine"]


def test_the_root_chooses_where_the_prep_time_block_is_written(tmp_path: Path) -> None:
    """The sidebar's Calendar writer is the root's choice like every adapter: the .ics's
    block file locally, Google Calendar as the user in production, and nothing for a local
    root reading a Calendar API fake (no calendar of its own to write to)."""
    local = Bootstrap(_settings(tmp_path), clock=FixedClock(NOW))
    assert local.sidebar.block_writer is bootstrap.local_block_writer
    on_a_fake = Bootstrap(
        dataclasses.replace(local.settings, calendar_api_endpoint="http://127.0.0.1:9/"),
        clock=FixedClock(NOW),
    )
    assert on_a_fake.sidebar.block_writer is None
    production = Bootstrap(
        dataclasses.replace(local.settings, mode=Mode.PRODUCTION), clock=FixedClock(NOW)
    )
    assert production.sidebar.block_writer is bootstrap.google_block_writer
    assert production.sidebar.calendar_for is not None


def test_the_shared_agendas_drive_is_the_one_the_settings_name(tmp_path: Path) -> None:
    """PREP_DRIVE_API_ENDPOINT names the Drive API for every Drive call, the agenda's
    included: a deployment pointed elsewhere never sends the user's token to Google's."""
    from types import SimpleNamespace

    from tests.support.fake_drive import fake_drive

    with fake_drive() as drive:
        base = dataclasses.replace(_settings(tmp_path), mode=Mode.PRODUCTION)
        settings = dataclasses.replace(
            base,
            materials=dataclasses.replace(base.materials, drive_api_endpoint=drive.api_endpoint),
        )
        call: Any = SimpleNamespace(app=SimpleNamespace(settings=settings))
        _, docs = bootstrap.google_share_ports(call, drive.token_for("alice@example.com"))
        assert docs.find("nosuchmarker") is None
        assert drive.calls == ["drive.files.list"]


def test_the_prep_tasks_are_mounted_from_the_prep_feature(tmp_path: Path) -> None:
    """One vocabulary (issue 14): each feature's `routes.py` lists its own paths, so the
    prep and digest tasks come from `functions/prep/routes.py`, and the `tasks` entry
    point serves exactly those handlers there."""
    from functions.prep import routes as prep_routes
    from functions.prep.digest_task import DIGEST_PATH
    from functions.prep.queueing import PREP_PATH

    root = Bootstrap(_settings(tmp_path), clock=FixedClock(NOW))
    mine = prep_routes.task_routes(root)
    assert {PREP_PATH, DIGEST_PATH} <= set(mine)
    served = bootstrap.task_routes(root)
    assert {path: served[path].__name__ for path in mine} == {
        path: handler.__name__ for path, handler in mine.items()
    }
