"""Fixtures for suites that drive the whole local app (fuzz, security).

Imported by those suites' conftest.py files, so both run against the same
`make run` app built the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import flask
import functions_framework
import pytest

from functions.bootstrap import set_services
from tests.support.app_harness import ROOT, App, running_app


@pytest.fixture(scope="session")
def flask_app() -> flask.Flask:
    """`make run`'s app: functions-framework's factory on main.py's `local` target."""
    app: flask.Flask = functions_framework.create_app(target="local", source=str(ROOT / "main.py"))
    return app


@pytest.fixture
def app(tmp_path: Path, flask_app: flask.Flask) -> Iterator[App]:
    with running_app(tmp_path, flask_app) as target:
        yield target


@pytest.fixture(scope="module")
def _module_app(tmp_path_factory: pytest.TempPathFactory, flask_app: flask.Flask) -> Iterator[App]:
    with running_app(tmp_path_factory.mktemp("shared"), flask_app) as target:
        yield target


@pytest.fixture
def shared_app(_module_app: App) -> Iterator[App]:
    """One app for a module of tests that each prove they changed nothing (cheaper),
    installed again for each test (another fixture may have installed its own)."""
    set_services(_module_app.services)
    try:
        yield _module_app
    finally:
        set_services(None)
