"""Fixtures for the fuzz suite: the `local` entry point served by Flask's test client."""

from tests.support.local_app_fixtures import _module_app, app, flask_app, shared_app

__all__ = ["_module_app", "app", "flask_app", "shared_app"]
