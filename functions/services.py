"""Wiring: which adapter serves each port, decided once from `Settings`.

Handlers ask `get_services()` for what they need. Adapters that import heavy
Google clients are built on first use, so a cold start that only serves a
health check or a card never imports Firestore, Tasks, Storage or genai.
"""

from __future__ import annotations

import logging
import threading
from functools import cached_property
from typing import TYPE_CHECKING

from functions.auth.dev_keys import DevSigner, dev_signer
from functions.auth.id_tokens import HttpCerts, IdTokenVerifier
from functions.config import Settings, SettingsError, load_settings
from functions.domain.classification import Classifier
from functions.domain.clock import Clock, SystemClock
from functions.domain.meeting_types import load_rules
from functions.logs import log
from functions.store.port import Store

if TYPE_CHECKING:
    from functions.calendar.port import CalendarSource
    from functions.chat.auth import ChatVerifier
    from functions.domain.users import User
    from functions.materials.generator import Generator
    from functions.materials.storage import MaterialsStorage
    from functions.materials.templates import TemplateSet
    from functions.notify.port import Notifiers
    from functions.oauth.credentials import CredentialsProvider
    from functions.tasks.port import TaskQueue

_log = logging.getLogger(__name__)


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

    @cached_property
    def credentials(self) -> CredentialsProvider:
        """Users' sealed OAuth credentials (or domain-wide delegation), refreshed on use."""
        from functions.oauth.credentials import CredentialsProvider

        return CredentialsProvider.for_services(self)

    @cached_property
    def tasks(self) -> TaskQueue:
        """Cloud Tasks in production; locally an in-process queue with the same semantics.

        The local queue delivers only when driven: the local server calls its
        `start()`, tests call `run_due()` / `drain()`.
        """
        if self.settings.is_local:
            from functions.tasks.local_queue import LocalTaskQueue

            return LocalTaskQueue.for_app(self)
        from functions.tasks.cloud_tasks import CloudTasksQueue

        return CloudTasksQueue.from_settings(self.settings)

    @cached_property
    def notifiers(self) -> Notifiers:
        """Gmail and Chat delivery in production; the local outbox (/dev/outbox) locally."""
        from functions.notify.wiring import build_notifiers

        return build_notifiers(self)

    @cached_property
    def chat_verifier(self) -> ChatVerifier:
        """Checks that a request to /chat comes from Google Chat (the configured audience)."""
        from functions.chat.auth import ChatVerifier

        return ChatVerifier.for_services(self)

    @cached_property
    def generator(self) -> Generator:
        """Gemini on Vertex AI in production; the offline template generator locally."""
        from functions.materials.wiring import build_generator

        return build_generator(self.settings)

    @cached_property
    def materials_storage(self) -> MaterialsStorage:
        """Cloud Storage in production; files under .local served by the app locally."""
        from functions.materials.wiring import build_materials_storage

        return build_materials_storage(self.settings, self.clock)

    @cached_property
    def prep_templates(self) -> TemplateSet:
        from functions.materials.templates import load_templates

        return load_templates(self.settings.materials.templates_path)

    def calendar_for(self, user: User) -> CalendarSource:
        """The calendar `user`'s background sync reads: the .ics locally, else the Calendar API."""
        from functions.sync.sources import calendar_source

        return calendar_source(self, user)


class _Current:
    """Holder for the process-wide services (a module-level slot without `global`)."""

    services: Services | None = None
    lock = threading.Lock()


def get_services() -> Services:
    """The process-wide services, built from the environment on first use.

    A bad configuration is logged at CRITICAL with the message naming the
    variable (the request itself only answers a generic 500), and raised again
    on every request until the function is redeployed with a fixed value.
    """
    with _Current.lock:
        if _Current.services is None:
            try:
                settings = load_settings()
            except SettingsError as exc:
                log(_log, logging.CRITICAL, "invalid configuration", reason=str(exc))
                raise
            _Current.services = Services(settings)
        return _Current.services


def set_services(services: Services | None) -> None:
    """Install services explicitly (tests, the local server, the CLI)."""
    with _Current.lock:
        _Current.services = services
