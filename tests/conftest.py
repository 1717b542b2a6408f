"""Shared fixtures: the store under contract, a fixed clock, sample meetings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from functions.store.port import Store
from functions.store.sqlite import SqliteStore


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--store",
        action="append",
        default=None,
        help="store adapters to run the contract suite against (sqlite, firestore); default both",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "store" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("--store") or ["sqlite", "firestore"]
        metafunc.parametrize("store", chosen, indirect=True)


@pytest.fixture
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    """A fresh, empty store of the requested adapter."""
    if request.param == "sqlite":
        s: Store = SqliteStore(tmp_path_factory.mktemp("store") / "prep.db")
        yield s
        s.close()
    elif request.param == "firestore":
        from tests.support.firestore_emulator import fresh_firestore_store

        with fresh_firestore_store(request) as s:
            yield s
    else:  # pragma: no cover - guarded by pytest_generate_tests
        raise ValueError(request.param)
