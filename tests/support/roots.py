"""Composition roots for tests: the real `Bootstrap`, on local files, with fakes handed in.

Every feature's tests build their root here, so a fake reaches the code
under test the one way production's adapters do: as a constructor argument.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from functions.bootstrap import Bootstrap
from functions.config import Settings, load_settings
from functions.domain.clock import FixedClock
from functions.notify.port import Notifiers
from functions.store.port import Store
from functions.tasks.port import TaskQueue
from tests.support.factories import NOW

if TYPE_CHECKING:
    from functions.oauth.credentials import CredentialsProvider


@functools.cache
def shared_dev_key() -> Path:
    """One development signing key for the whole run: generating RSA keys is slow."""
    folder = Path(tempfile.mkdtemp(prefix="prep-dev-key-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder / "dev-key.pem"


def make_services(
    tmp_path: Path,
    *,
    clock: FixedClock | None = None,
    notifiers: Notifiers | None = None,
    tasks: TaskQueue | None = None,
    credentials: CredentialsProvider | None = None,
    env: Mapping[str, str] | None = None,
) -> Bootstrap:
    """A local-mode root from the environment `env` adds to, its files under `tmp_path`."""
    settings = load_settings(
        {
            "PREP_SQLITE_PATH": str(tmp_path / "prep.db"),
            "PREP_DEV_KEY_PATH": str(shared_dev_key()),
            "PREP_OUTBOX_PATH": str(tmp_path / "outbox.db"),
            "PREP_TOKEN_KEK_PATH": str(tmp_path / "kek"),
            **(env or {}),
        }
    )
    return Bootstrap(
        settings,
        clock=clock or FixedClock(NOW),
        notifiers=notifiers,
        tasks=tasks,
        credentials=credentials,
    )


def listing_root() -> Bootstrap:
    """A root on default settings, for reading which paths a route table has.

    Binding builds nothing (adapters are built on first use), so this never
    opens a store or reads a key; a test that calls a handler uses its own root.
    """
    return Bootstrap(load_settings({}))


def root_on(
    settings: Settings,
    clock: FixedClock,
    store: Store,
    *,
    tasks: TaskQueue | None = None,
    credentials: CredentialsProvider | None = None,
) -> Bootstrap:
    """A root for `settings` over a store the test already holds (e.g. one that counts writes)."""
    return Bootstrap(settings, clock=clock, store=store, tasks=tasks, credentials=credentials)
