"""Settings fail fast, naming the variable that is wrong."""

from __future__ import annotations

import pytest

from functions.config import DEFAULT_SQLITE_PATH, REPO_ROOT, Mode, SettingsError, load_settings
from tests.support.environments import PRODUCTION


def test_defaults_are_the_embedded_local_mode() -> None:
    s = load_settings({})
    assert s.mode is Mode.LOCAL
    assert s.store == "sqlite"
    assert s.sqlite_path == DEFAULT_SQLITE_PATH


def test_relative_paths_are_from_the_repo_root() -> None:
    s = load_settings({"PREP_SQLITE_PATH": "tmp/x.db"})
    assert s.sqlite_path == REPO_ROOT / "tmp" / "x.db"


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"PREP_MODE": "staging"}, "PREP_MODE"),
        ({"PREP_STORE": "dynamodb"}, "PREP_STORE"),
        ({"PREP_STORE": "firestore"}, "GOOGLE_CLOUD_PROJECT"),
        ({"PREP_MODE": "production", "PREP_STORE": "sqlite"}, "PREP_STORE=sqlite"),
        ({"PREP_LOG_LEVEL": "loud"}, "PREP_LOG_LEVEL"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], names: str) -> None:
    with pytest.raises(SettingsError, match=names):
        load_settings(env)


def test_production_defaults_to_firestore() -> None:
    s = load_settings(PRODUCTION)
    assert (s.store, s.project) == ("firestore", "p")
    assert s.addon_audience == "https://prep.example.com/addon"


@pytest.mark.parametrize("missing", sorted(set(PRODUCTION) - {"PREP_MODE"}))
def test_production_requires_each_value(missing: str) -> None:
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    with pytest.raises(SettingsError, match=missing):
        load_settings(env)


def test_urls_must_be_https_outside_loopback() -> None:
    with pytest.raises(SettingsError, match="PREP_PUBLIC_URL"):
        load_settings({**PRODUCTION, "PREP_PUBLIC_URL": "http://prep.example.com"})
