"""Wiring: which adapter serves each port, decided once from `Settings`.

Handlers ask `get_services()` for what they need. Adapters that import heavy
Google clients are built on first use, so a cold start that only serves a
health check or a card never imports Firestore, Tasks, Storage or genai.
"""

from __future__ import annotations

import threading
from functools import cached_property

from functions.auth.dev_keys import DevSigner, dev_signer
from functions.auth.id_tokens import HttpCerts, IdTokenVerifier
from functions.config import Settings, load_settings
from functions.domain.classification import Classifier
from functions.domain.clock import Clock, SystemClock
from functions.domain.meeting_types import load_rules
from functions.store.port import Store


class Services:
    def __init__(self, settings: Settings, *, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self._lock = threading.Lock()

    @cached_property
    def classifier(self) -> Classifier:
        return Classifier(load_rules(self.settings.meeting_types_path))

    @cached_property
    def dev_signer(self) -> DevSigner:
        """Local mode's stand-in for Google's token signer; refused in production."""
        if not self.settings.is_local:
            raise RuntimeError("the development signer exists only in local mode")
        return dev_signer(self.settings.dev_key_path)

    @cached_property
    def id_tokens(self) -> IdTokenVerifier:
        """Verifies Google-signed ID tokens (add-on requests, task and scheduler OIDC).

        Local mode verifies against the local development key, in process, with
        the same verifier production uses against Google's published certificates.
        """
        if self.settings.is_local:
            return IdTokenVerifier(self.dev_signer.certs)
        return IdTokenVerifier(HttpCerts(self.settings.google_certs_url))

    @cached_property
    def store(self) -> Store:
        with self._lock:
            if self.settings.store == "firestore":
                from google.cloud import firestore

                from functions.store.firestore import FirestoreStore

                client = firestore.Client(
                    project=self.settings.project, database=self.settings.firestore_database
                )
                return FirestoreStore(client)
            from functions.store.sqlite import SqliteStore

            return SqliteStore(self.settings.sqlite_path)


class _Current:
    """Holder for the process-wide services (a module-level slot without `global`)."""

    services: Services | None = None
    lock = threading.Lock()


def get_services() -> Services:
    """The process-wide services, built from the environment on first use."""
    with _Current.lock:
        if _Current.services is None:
            _Current.services = Services(load_settings())
        return _Current.services


def set_services(services: Services | None) -> None:
    """Install services explicitly (tests, the local server, the CLI)."""
    with _Current.lock:
        _Current.services = services
