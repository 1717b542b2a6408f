"""Fixtures for the security sweep: the whole local app (see tests/support/app_harness.py)."""

from __future__ import annotations

import pytest

from functions.auth.dev_keys import DevSigner
from tests.support.local_app_fixtures import _module_app, app, flask_app, shared_app

__all__ = ["_module_app", "app", "flask_app", "shared_app"]


@pytest.fixture(scope="session")
def stranger() -> DevSigner:
    """A key nobody trusts (generating one costs ~0.1 s: once per session)."""
    return DevSigner.generate()
