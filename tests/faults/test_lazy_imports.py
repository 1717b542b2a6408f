"""Cold start stays cheap: the sidebar's first requests import no heavy Google client.

Each check runs in a fresh interpreter (this one has imported everything
already): it imports `main`, answers a homepage and an eventOpen request
through the deployed `addon` entry point, and reports `sys.modules`. The
store is seeded from this process beforehand, so seeding cannot hide an import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from functions.bootstrap import Bootstrap
from functions.config import load_settings
from functions.domain.users import ConnectionState, User
from tests.faults.first_request_probe import HEAVY_MODULES
from tests.support.addon_helpers import calendar_event, seed_meeting
from tests.support.factories import NOW
from tests.support.roots import shared_dev_key

ROOT = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREP_")}
    env.update(
        PREP_MODE="local",
        PREP_SQLITE_PATH=str(tmp_path / "prep.db"),
        PREP_DEV_KEY_PATH=str(shared_dev_key()),
        PREP_TOKEN_KEK_PATH=str(tmp_path / "kek"),
        PREP_OUTBOX_PATH=str(tmp_path / "outbox.db"),
        PREP_MATERIALS_DIR=str(tmp_path / "materials"),
        PREP_LOG_LEVEL="WARNING",
    )
    return env


def _probe(env: dict[str, str], *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "tests.faults.first_request_probe", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


@pytest.fixture
def seeded(tmp_path: Path) -> dict[str, str]:
    env = _env(tmp_path)
    services = Bootstrap(load_settings(env))
    user = User(
        "local-user", "you@example.com", time_zone="UTC", connection=ConnectionState.CONNECTED
    )
    services.store.put_user(user)
    start = services.clock.now().replace(microsecond=0)
    seed_meeting(
        services.store,
        user,
        calendar_event("probe-1", start.replace(year=start.year + 1), title="Acme QBR probe"),
        now=NOW,
        classifier=services.classifier,
    )
    services.store.close()
    return env


def test_homepage_and_event_open_import_no_heavy_client(seeded: dict[str, str]) -> None:
    report = _probe(seeded, "--event-id", "probe-1")
    assert report["statuses"] == [200, 200]
    assert report["title_shown"] is True  # the real meeting card, not an error card
    assert report["heavy"] == [], report["heavy"]
    # Nor anything else of Google's client libraries (gRPC, discovery, Firestore, ...).
    assert not [m for m in report["google_modules"] if not m.startswith("google.cloud.functions")]


def test_the_first_event_card_compiles_only_the_keywords_its_title_holds(
    seeded: dict[str, str],
) -> None:
    """No keyword pattern is compiled at load, and classification compiles one only
    for a text holding its words: "Acme QBR probe" costs the one for "QBR", not ~90."""
    report = _probe(seeded, "--event-id", "probe-1")
    assert report["statuses"] == [200, 200]
    compiled, total = report["keyword_patterns"]
    assert total > 60
    assert 0 < compiled <= 2, report["keyword_patterns"]


def test_the_first_event_card_reads_the_compiled_rules_not_pyyaml(
    seeded: dict[str, str],
) -> None:
    """The shipped rules come with a current cache (config/meeting_types.compiled.json),
    so the first card of a fresh process never imports PyYAML (~20 ms)."""
    report = _probe(seeded, "--event-id", "probe-1")
    assert report["statuses"] == [200, 200]
    assert report["title_shown"] is True
    assert report["yaml_imported"] is False


def test_the_probe_would_see_a_heavy_import(seeded: dict[str, str]) -> None:
    """The check is not vacuous: a process that does import a heavy client is reported."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import runpy, sys; import google.cloud.storage; "
            "sys.argv = ['probe']; runpy.run_module('tests.faults.first_request_probe', "
            "run_name='__main__')",
        ],
        cwd=ROOT,
        env=seeded,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["heavy"] == ["google.cloud.storage"]
    assert set(HEAVY_MODULES) >= set(report["heavy"])


def test_the_first_event_card_imports_neither_google_auths_jwt_module_nor_the_sync_engine(
    seeded: dict[str, str],
) -> None:
    """Both ID tokens are verified with cryptography directly: google.auth.jwt
    would pull in google.auth.credentials and asyncio (~35 ms of the cold start)
    for code a verifier never runs. The probe signs its requests in process too,
    so the dev signer must not import it either. Settings and the sidebar read
    the horizons from `functions.sync.horizons`, not the engine (~10 ms)."""
    report = _probe(seeded, "--event-id", "probe-1")
    assert report["statuses"] == [200, 200]
    assert report["title_shown"] is True  # verified and answered, not refused
    assert report["deferred_imported"] == [], report["deferred_imported"]
