"""Building a Google API client from its discovery document, one way for every adapter.

Every production adapter on google-api-python-client (Calendar, Gmail, Chat,
Drive) builds its service the same way: from the discovery document shipped
with the library (`static_discovery=True`: no network fetch at start, and the
document the tests check the fakes against), no discovery cache on disk, and
the adapter's own `api_endpoint` when one is configured (the fake servers in
tests, a regional endpoint in production). Requests go through an httplib2
client that sends the caller's credentials and refreshes them on a 401.

Imports stay inside the functions: the discovery client is heavy, and a cold
start that never calls Google must not pay for it
(tests/faults/test_lazy_imports.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from google.auth.credentials import Credentials


def plain_http(timeout_s: float | None = None) -> Any:
    """The library's own transport (`build_http`: 308 is not a redirect, as resumable
    uploads need), with `timeout_s` in place of its 60 s default when given."""
    from googleapiclient.http import build_http

    http = build_http()
    if timeout_s is not None:
        http.timeout = timeout_s
    return http


def authorized_http(
    credentials: Credentials, *, timeout_s: float | None = None, base: Any = None
) -> Any:
    """An httplib2 client that sends `credentials`; `base` replaces the plain transport."""
    import google_auth_httplib2  # type: ignore[import-untyped, unused-ignore]

    return google_auth_httplib2.AuthorizedHttp(credentials, http=base or plain_http(timeout_s))


def discovery_service(api: str, version: str, *, http: Any, api_endpoint: str | None) -> Any:
    """The `api` `version` service from the shipped discovery document, sending via `http`."""
    from googleapiclient.discovery import build

    options = {"api_endpoint": api_endpoint} if api_endpoint else None
    return build(
        api,
        version,
        http=http,
        static_discovery=True,
        cache_discovery=False,
        client_options=options,
    )
