"""The composition root: the one place that chooses and builds adapters and binds handlers.

`Bootstrap(settings)` decides once, from `Settings`, which adapter serves each
port (Google's client in production, the local stand-in for `make run`), and
the route tables below bind every path of every entry point to its handler.
No other module builds an adapter or lists routes: features receive what they
use, so "what depends on Vertex?" is answered by reading this file.

Adapters that import heavy Google clients are built on first use (each
builder imports inside its body), so a cold start that only serves a health
check or a card never imports Firestore, Tasks, Storage or genai
(tests/faults/test_lazy_imports.py).

Overrides are constructor arguments (`Bootstrap(settings, clock=..., store=...,
tasks=...)`): a test hands in a fake port, and everything built from it on
first use (the sidebar, the credentials provider, the notifiers...) sees the
fake; nothing is patched after the fact.

Binding: the route tables at the end take the root and bind it into every
handler. A handler takes what it needs as its first parameter, typed with its
feature's Protocol (`functions/<feature>/deps.py`: `SyncDeps`, `ChatDeps`...,
which this class satisfies structurally), so mypy holds it to the ports it
names, adapters stay lazy (a Protocol reads the root's cached properties on
use, where a dataclass of built adapters would build them all), and no
module below this one imports it (the layers contract in pyproject.toml).
Calls from one feature into another that would turn the import graph round
come in as the root's methods: `send_ready` (materials -> notify),
`first_sync` and `stop_channels` (oauth -> sync), `calendar_for`.

The process-wide root (`get_services()`, `set_services()`) is for the entry
layer only: `main.py` answers each request with `serve(table, request)`, the
CLI and the local server build or install one. The deployed entry points
install nothing, so the first request builds it from the environment.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

from functions.auth.dev_keys import DevSigner, dev_signer
from functions.auth.id_tokens import HttpCerts, IdTokenVerifier
from functions.config import Settings, SettingsError, load_settings
from functions.domain.classification import Classifier
from functions.domain.clock import Clock, SystemClock
from functions.domain.meeting_types import load_rules
from functions.logs import log
from functions.store.port import Store

if TYPE_CHECKING:
    from flask import Request, Response
    from google.auth.credentials import Credentials

    from addon.sidebar import CalendarFactory, Call, Sidebar
    from functions.calendar.port import CalendarSource
    from functions.calendar.writer import CalendarWriter
    from functions.chat.auth import ChatVerifier
    from functions.domain.meetings import Meeting
    from functions.domain.users import User
    from functions.mail.port import MailSource
    from functions.materials.documents.gather import DocumentSources
    from functions.materials.documents.standing import StandingContext
    from functions.materials.generator import Generator
    from functions.materials.settings import MaterialsSettings
    from functions.materials.storage import MaterialsStorage
    from functions.materials.templates import TemplateSet
    from functions.notify.port import Notifiers
    from functions.oauth.client import OAuthClient
    from functions.oauth.credentials import CredentialsProvider
    from functions.oauth.sealing import Keyring
    from functions.share.port import AgendaCalendar, AgendaDocs
    from functions.tasks.local_queue import LocalTaskQueue
    from functions.tasks.port import TaskQueue
    from functions.web import Handler

_log = logging.getLogger(__name__)


#: The lazily built adapters a `replaced` root takes over from the one it replaces.
_SHARED_ADAPTERS = frozenset(
    {
        "classifier",
        "dev_signer",
        "id_tokens",
        "store",
        "credentials",
        "tasks",
        "notifiers",
        "chat_verifier",
        "generator",
        "materials_storage",
        "prep_templates",
        "mail_threads",
        "standing_context",
        "keyring",
        "signin_client",
    }
)


class Bootstrap:
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        store: Store | None = None,
        tasks: TaskQueue | None = None,
        notifiers: Notifiers | None = None,
        credentials: CredentialsProvider | None = None,
        generator: Generator | None = None,
        materials_storage: MaterialsStorage | None = None,
        dev_signer: DevSigner | None = None,
        mail_threads: MailSource | None = None,
    ) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self._lock = threading.Lock()
        # An override shadows the lazily built adapter of the same name (a cached_property
        # reads the instance dictionary first), so nothing else needs to know it is a fake.
        overrides: dict[str, object] = {
            "store": store,
            "tasks": tasks,
            "notifiers": notifiers,
            "credentials": credentials,
            "generator": generator,
            "materials_storage": materials_storage,
            "dev_signer": dev_signer,
            "mail_threads": mail_threads,
        }
        for name, value in overrides.items():
            if value is not None:
                vars(self)[name] = value

    def replaced(
        self,
        *,
        settings: Settings | None = None,
        clock: Clock | None = None,
        store: Store | None = None,
        tasks: TaskQueue | None = None,
        notifiers: Notifiers | None = None,
        credentials: CredentialsProvider | None = None,
        generator: Generator | None = None,
        materials_storage: MaterialsStorage | None = None,
        mail_threads: MailSource | None = None,
    ) -> Bootstrap:
        """A root sharing every adapter this one has built, with the given ones in their place.

        For a scenario that swaps one port midway (a queue that dies, a generator
        that fails): the data, queue and outbox in use carry over, nothing is
        patched. Built views of the root itself (the sidebar, the ready sender)
        are not shared.

        New `settings` or a new `clock` reach what this root builds from then on;
        the adapters already built keep what they were built with (a queue keeps
        its clock), so hand in a new adapter for any port the change must reach.
        """
        root = Bootstrap(
            settings or self.settings,
            clock=clock or self.clock,
            store=store,
            tasks=tasks,
            notifiers=notifiers,
            credentials=credentials,
            generator=generator,
            materials_storage=materials_storage,
            mail_threads=mail_threads,
        )
        mine = vars(root)
        for name, value in vars(self).items():
            if name in _SHARED_ADAPTERS and name not in mine:
                mine[name] = value
        return root

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
        return _credentials(self)

    @cached_property
    def keyring(self) -> Keyring:
        """The credentials KEK (PREP_TOKEN_KEK; locally the key file under .local).

        Seals refresh tokens, and keys the stable materials links and reader sessions.
        """
        from functions.oauth.sealing import keyring_from_settings

        return keyring_from_settings(self.settings)

    @cached_property
    def signin_client(self) -> OAuthClient:
        """The web OAuth client readers of a stable link sign in with (even under
        domain-wide delegation, where the credentials provider has no client)."""
        from functions.oauth.client import OAuthClient

        return OAuthClient.from_settings(self.settings)

    @cached_property
    def tasks(self) -> TaskQueue:
        """Cloud Tasks in production; locally an in-process queue with the same semantics.

        The local queue delivers only when driven: the local server calls its
        `start()`, tests call `run_due()` / `drain()`.
        """
        if self.settings.is_local:
            return _local_task_queue(self)
        return cloud_tasks_queue(self.settings)

    @cached_property
    def notifiers(self) -> Notifiers:
        """Gmail and Chat delivery in production; the local outbox (/dev/outbox) locally."""
        return build_notifiers(self)

    @cached_property
    def chat_verifier(self) -> ChatVerifier:
        """Checks that a request to /chat comes from Google Chat (the configured audience)."""
        return _chat_verifier(self)

    @cached_property
    def generator(self) -> Generator:
        """Gemini on Vertex AI in production; the offline template generator locally."""
        return build_generator(self.settings)

    @cached_property
    def materials_storage(self) -> MaterialsStorage:
        """Cloud Storage in production; files under .local served by the app locally."""
        return build_materials_storage(self.settings, self.clock)

    @cached_property
    def prep_templates(self) -> TemplateSet:
        from functions.materials.templates import load_templates

        return load_templates(self.settings.materials.templates_path)

    @cached_property
    def mail_threads(self) -> MailSource:
        """Recent mail with a meeting's people: Gmail in production, a sample mailbox locally."""
        return build_mail_source(self)

    @cached_property
    def standing_context(self) -> StandingContext:
        """Documents an admin names per meeting type (config/standing_context.yaml)."""
        from functions.materials.documents.standing import load_standing_context

        return load_standing_context(
            self.settings.materials.standing_context_path,
            known_types=self.classifier.rules.type_names,
        )

    def document_credentials(self, user_id: str) -> Credentials:
        """A user's own grant for reading documents, failing in the document port's terms.

        A method, not a built adapter: a replaced root reads its own credentials.
        """
        return document_credentials(self)(user_id)

    def documents_for(self, user: User, meeting_type: str) -> DocumentSources | None:
        """Where a generation reads `user`'s documents for a meeting of `meeting_type`."""
        return document_sources(
            self.settings.materials,
            self.standing_context,
            user,
            meeting_type,
            self.document_credentials,
        )

    def calendar_for(self, user: User) -> CalendarSource:
        """The calendar `user`'s background sync reads: the .ics locally, else the Calendar API."""
        return calendar_source(self, user)

    def first_sync(self, user_id: str) -> None:
        """Queue a newly connected user's first sync (oauth calls this after consent)."""
        from functions.sync.tasks import request_sync

        request_sync(self.tasks, user_id, self.clock.now())

    def stop_channels(self, user_id: str) -> int:
        """Stop the user's push channels (the oauth feature calls this on disconnect)."""
        from functions.sync.channels import stop_all

        return stop_all(self, user_id)

    @cached_property
    def send_ready(self) -> Callable[[User, Meeting], None] | None:
        """Materials' "prep is ready" message: the notify feature's sender, None if not deployed.

        The sender is looked up on each call, so it always acts for this root.
        """
        try:
            from functions.notify import ready
        except ModuleNotFoundError as exc:
            if exc.name not in ("functions.notify", "functions.notify.ready"):
                raise
            return None

        def send(user: User, meeting: Meeting) -> None:
            ready.send_ready(self, user, meeting)

        return send

    @cached_property
    def sidebar(self) -> Sidebar:
        """What the add-on's handlers work with: these ports, and Calendar as the user."""
        from addon.sidebar import BlockWriter, Sidebar
        from functions.sync.sources import uses_ics

        settings = self.settings
        block_writer: BlockWriter | None = None  # local, on a Calendar API fake: nowhere
        if uses_ics(settings):
            block_writer = local_block_writer
        elif not settings.is_local:
            block_writer = google_block_writer
        return Sidebar(
            services=self,
            calendar_for=None if settings.is_local else google_calendar(settings),
            share_ports=local_share_ports if settings.is_local else google_share_ports,
            block_writer=block_writer,
        )


class _Current:
    """Holder for the process-wide services (a module-level slot without `global`)."""

    services: Bootstrap | None = None
    lock = threading.Lock()


def get_services() -> Bootstrap:
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
            _Current.services = Bootstrap(settings)
        return _Current.services


def set_services(services: Bootstrap | None) -> None:
    """Install services explicitly (tests, the local server, the CLI)."""
    with _Current.lock:
        _Current.services = services


# ---------------------------------------------------------------------------------- adapters
# Each builder imports its adapter (and the Google client behind it) inside its body:
# nothing here is paid for until a request needs it.


def _credentials(root: Bootstrap) -> CredentialsProvider:
    """Sealed user grants through the OAuth client, or domain-wide delegation when keyed."""
    from functions.oauth.client import OAuthClient
    from functions.oauth.credentials import CredentialsProvider, Delegation
    from functions.oauth.sealing import Sealer

    settings = root.settings
    sealer = Sealer(root.keyring)
    if settings.dwd_key_path is not None:
        delegation = Delegation(settings.dwd_key_path, settings.oauth_scopes)
        return CredentialsProvider(
            root.store, sealer, None, clock=root.clock, delegation=delegation
        )
    client = OAuthClient.from_settings(settings)
    return CredentialsProvider(root.store, sealer, client, clock=root.clock)


def _chat_verifier(root: Bootstrap) -> ChatVerifier:
    from functions.auth.id_tokens import CertSource
    from functions.chat.auth import ChatAudience, ChatVerifier

    settings = root.settings
    certs: CertSource
    if settings.is_local:
        # Locally the development key stands in for Chat's, as it does for Google's.
        certs = root.dev_signer.certs
    else:
        certs = HttpCerts(settings.notify.chat_certs_url)
    return ChatVerifier(
        ChatAudience(settings.notify.chat_audience_type),
        settings.notify.chat_audience,
        id_tokens=root.id_tokens,
        chat_certs=certs,
    )


def _local_task_queue(root: Bootstrap) -> LocalTaskQueue:
    """The local queue, delivering to this app's own routes, signed by the local dev key."""
    from functions.prep.queueing import GENERATE_QUEUE, PREP_QUEUE
    from functions.tasks.local_journal import TaskJournal
    from functions.tasks.local_queue import LocalTaskQueue, RetryPolicy, in_process

    settings = root.settings
    signer = root.dev_signer

    def token() -> str:
        return signer.id_token(
            audience=settings.tasks_audience,
            subject="local-cloud-tasks",
            email=settings.tasks_sa_email,
        )

    retries = settings.materials.max_transient_failures
    # Durable beside the store's data, so `make run` keeps its reminders across restarts.
    journal = (
        TaskJournal(settings.sqlite_path)
        if settings.store == "sqlite" and str(settings.sqlite_path) != ":memory:"
        else None
    )
    return LocalTaskQueue(
        # As Cloud Tasks posts to whatever app serves the URL: the process-wide root's routes.
        in_process(lambda: local_routes(get_services())),
        clock=root.clock,
        token_source=token,
        # Attempts as the deployed queues allow (deploy/topology.py), so no handler's
        # own retry limit is cut short locally by a queue that gives up first.
        retry_by_queue={
            PREP_QUEUE: RetryPolicy(max_attempts=20),
            GENERATE_QUEUE: RetryPolicy(max_attempts=2 * retries + 5),
        },
        journal=journal,
    )


def cloud_tasks_queue(settings: Settings) -> TaskQueue:
    """Cloud Tasks HTTP targets with OIDC, through google-cloud-tasks."""
    from google.cloud import tasks_v2

    from functions.tasks.cloud_tasks import CloudTasksQueue

    if not settings.project:
        raise SettingsError("GOOGLE_CLOUD_PROJECT is required to enqueue Cloud Tasks")
    if not settings.tasks_location:
        raise SettingsError("PREP_TASKS_LOCATION is required when PREP_MODE=production")
    return CloudTasksQueue(
        tasks_v2.CloudTasksClient(),
        project=settings.project,
        location=settings.tasks_location,
        base_url=settings.public_url,
        service_account_email=settings.tasks_sa_email,
        audience=settings.tasks_audience,
    )


def user_credentials(root: Bootstrap) -> Callable[[str], Credentials]:
    """The user's own Gmail credentials, with the OAuth module's failures in delivery terms."""
    from functions.notify import problems
    from functions.notify.port import Channel, PermanentDeliveryError, TransientDeliveryError

    def credentials_for(user_id: str) -> Credentials:
        from functions.oauth.credentials import CredentialsUnavailable, ReconnectNeeded

        try:
            return root.credentials.credentials_for(user_id)
        except ReconnectNeeded:
            raise PermanentDeliveryError(
                Channel.EMAIL, problems.EMAIL_NOT_AUTHORIZED, "reconnect needed"
            ) from None
        except CredentialsUnavailable:
            raise TransientDeliveryError(Channel.EMAIL, "token endpoint unavailable") from None

    return credentials_for


def document_credentials(root: Bootstrap) -> Callable[[str], Credentials]:
    """The user's own grant for Drive, with the OAuth module's failures in document terms."""
    from functions.materials.documents.port import DocumentsUnavailable, DocumentUnreadable

    def credentials_for(user_id: str) -> Credentials:
        from functions.oauth.credentials import CredentialsUnavailable, ReconnectNeeded

        try:
            return root.credentials.credentials_for(user_id)
        except ReconnectNeeded:
            raise DocumentUnreadable("no_access", "reconnect needed") from None
        except CredentialsUnavailable:
            raise DocumentsUnavailable("token endpoint unavailable") from None

    return credentials_for


def document_sources(
    settings: MaterialsSettings,
    standing: StandingContext,
    user: User,
    meeting_type: str,
    credentials_for: Callable[[str], Credentials],
) -> DocumentSources | None:
    """The reader and standing refs for this user's meeting; None when documents are off.

    Only for a user who turned documents on in Settings
    (`Preferences.documents_enabled`; in production asked with the
    `drive.readonly` scope then): everybody else gets no documents at all, not
    a failing read per file, and the materials say the source is not turned on.
    Production reads Drive as the user; the embedded default reads the local
    folder (the same switch, no consent to ask). `credentials_for` is called
    only when a document is actually read.
    """
    from functions.materials.documents.gather import DocumentSources

    if settings.documents not in ("local", "drive") or not user.preferences.documents_enabled:
        return None
    refs = standing.for_type(meeting_type)
    if settings.documents == "local":
        from functions.materials.documents.local import LocalDocumentReader

        return DocumentSources(LocalDocumentReader(settings.documents_dir), refs, needs_grant=False)
    from functions.materials.documents.drive import GoogleDriveReader

    reader = GoogleDriveReader(
        lambda: credentials_for(user.user_id), api_endpoint=settings.drive_api_endpoint
    )
    return DocumentSources(reader, refs)


def build_notifiers(root: Bootstrap) -> Notifiers:
    """Gmail and Chat delivery in production; the local outbox (/dev/outbox) locally."""
    from functions.notify.port import Notifiers

    settings = root.settings.notify
    if settings.delivery == "outbox":
        from functions.notify.outbox import Outbox, OutboxChatSender, OutboxEmailSender

        outbox = Outbox(settings.outbox_path, clock=root.clock)
        return Notifiers(email=OutboxEmailSender(outbox), chat=OutboxChatSender(outbox))
    from functions.notify.gmail import GmailSender
    from functions.notify.google_chat import ChatAppSender

    return Notifiers(
        email=GmailSender(user_credentials(root), api_endpoint=settings.gmail_api_endpoint),
        chat=ChatAppSender(api_endpoint=settings.chat_api_endpoint),
    )


def build_mail_source(root: Bootstrap) -> MailSource:
    """Gmail's threads as the user (their stored grant), or the local sample mailbox.

    Locally without `PREP_GMAIL_API_ENDPOINT` it is `config/sample_mailbox.json`;
    with it (the tests' fake) and in production it is the Gmail API. The OAuth
    module's failures become the mail port's: a dead grant is "not allowed", a
    token endpoint that failed is "unavailable".
    """
    from functions.mail.port import MailNotAllowed, MailUnavailable

    settings = root.settings
    if settings.is_local and not settings.notify.gmail_api_endpoint:
        from functions.mail.local import LocalMailbox

        return LocalMailbox()
    from functions.mail.gmail import GmailThreads

    def credentials_for(user_id: str) -> Credentials:
        from functions.oauth.credentials import CredentialsUnavailable, ReconnectNeeded

        try:
            return root.credentials.credentials_for(user_id)
        except ReconnectNeeded:
            raise MailNotAllowed("reconnect needed") from None
        except CredentialsUnavailable:
            raise MailUnavailable("token endpoint unavailable") from None

    return GmailThreads(credentials_for, api_endpoint=settings.notify.gmail_api_endpoint)


def build_generator(settings: Settings) -> Generator:
    """Gemini on Vertex AI in production; the offline template generator locally."""
    from functions.materials.settings import MaterialsSettingsError

    m = settings.materials
    if m.generator == "vertex":
        from functions.materials.generator import Prices
        from functions.materials.vertex import VertexGenerator

        if not settings.project:
            raise MaterialsSettingsError("GOOGLE_CLOUD_PROJECT is required for Vertex AI")
        return VertexGenerator(
            project=settings.project,
            location=m.vertex_location,
            model=m.vertex_model,
            timeout_seconds=m.vertex_timeout_seconds,
            attempts=m.vertex_attempts,
            thinking_level=m.vertex_thinking_level,
            max_output_tokens=m.vertex_max_output_tokens,
            prices=Prices(m.price_input_per_million, m.price_output_per_million),
            base_url=m.vertex_base_url,
        )
    from functions.materials.offline import OfflineGenerator

    return OfflineGenerator()


def build_materials_storage(settings: Settings, clock: Clock) -> MaterialsStorage:
    """Cloud Storage behind V4 signed URLs; locally files under .local served by the app."""
    from functions.materials.settings import MaterialsSettingsError

    m = settings.materials
    if m.storage == "gcs":
        from functions.materials.gcs import (
            GcsMaterialsStorage,
            IamSigning,
            KeySigning,
            UrlSigning,
            storage_client,
        )

        if not m.bucket:
            raise MaterialsSettingsError("PREP_MATERIALS_BUCKET is required with Cloud Storage")
        signing: UrlSigning = IamSigning(m.signer_email)
        if m.signing_key_path is not None:
            if settings.is_local:  # e.g. the storage emulator: a local key is made on first use
                from functions.materials.local_files import LocalSigningKey

                LocalSigningKey.load_or_create(m.signing_key_path)
            signing = KeySigning.from_file(str(m.signing_key_path))
        project = settings.project
        return GcsMaterialsStorage(
            bucket=m.bucket, signing=signing, client_factory=lambda: storage_client(project)
        )
    if not settings.is_local:
        raise RuntimeError("local materials storage exists only in local mode")
    from functions.materials.local_files import LocalMaterialsStorage, LocalSigningKey

    key_path = m.signing_key_path or m.local_dir / "signing-key.json"
    return LocalMaterialsStorage(
        m.local_dir, LocalSigningKey.load_or_create(key_path), settings.public_url, clock
    )


def calendar_source(root: Bootstrap, user: User) -> CalendarSource:
    """The calendar `user`'s background sync reads; raises `ReconnectNeeded` when the grant is gone.

    Locally (the embedded default) every user's calendar is the .ics file in
    force (the last one imported, else `PREP_ICS_PATH`: `functions.sync.local`),
    unless `PREP_CALENDAR_API_ENDPOINT` points at a Calendar API (the tests' fake).
    Otherwise it is the Calendar API with the user's stored OAuth grant.
    """
    from functions.sync.sources import uses_ics

    settings = root.settings
    if uses_ics(settings):
        from functions.sync.local import LocalCalendars

        return LocalCalendars(settings, root.clock, user)  # own .ics + calendars shared locally
    from functions.calendar.google_api import GoogleCalendarSource

    credentials = root.credentials.credentials_for(user.user_id)
    return GoogleCalendarSource(credentials, api_endpoint=settings.calendar_api_endpoint)


def google_share_ports(call: Call, token: str) -> tuple[AgendaCalendar, AgendaDocs]:
    """ "Share agenda with guests" as the user: Calendar and Drive with the click's token."""
    from google.oauth2.credentials import Credentials

    from functions.share.google_api import GoogleAgendaCalendar, GoogleAgendaDocs

    settings = call.app.settings
    credentials = Credentials(token=token)
    return (
        GoogleAgendaCalendar(credentials, api_endpoint=settings.calendar_api_endpoint),
        # The one Drive API the deployment names (PREP_DRIVE_API_ENDPOINT), as documents use.
        GoogleAgendaDocs(credentials, api_endpoint=settings.materials.drive_api_endpoint),
    )


def local_share_ports(call: Call, _token: str) -> tuple[AgendaCalendar, AgendaDocs]:
    """The local stand-ins: the attachment recorded beside the database, the doc a local page."""
    from functions.share.local import LocalAgendaCalendar, LocalAgendaDocs, local_folder

    folder = local_folder(call.app.settings)
    return (
        LocalAgendaCalendar(folder, call.app.store, call.user_id, call.who.email),
        LocalAgendaDocs(folder, call.app.settings.public_url),
    )


def google_block_writer(call: Call, token: str) -> CalendarWriter:
    """ "Block 30 min to prepare" in production: Google Calendar as the user (the click's token)."""
    from google.oauth2.credentials import Credentials

    from functions.calendar.google_api import GoogleCalendarWriter

    return GoogleCalendarWriter(
        Credentials(token=token), api_endpoint=call.app.settings.calendar_api_endpoint
    )


def local_block_writer(call: Call, _token: str) -> CalendarWriter:
    """Locally: the .ics calendars are the busy time, the blocks kept beside the database."""
    from functions.sync.local import LocalCalendars
    from functions.sync.local_blocks import LocalCalendarWriter, blocks_path

    settings = call.app.settings
    calendars = LocalCalendars(settings, call.app.services.clock, call.user)
    return LocalCalendarWriter(calendars, blocks_path(settings.sqlite_path), user_id=call.user_id)


def google_calendar(settings: Settings) -> CalendarFactory:
    """The sidebar in production: the Calendar API through Google's client, as the user."""

    def make(token: str) -> CalendarSource:
        from google.oauth2.credentials import Credentials

        from functions.calendar.google_api import GoogleCalendarSource

        return GoogleCalendarSource(
            Credentials(token=token), api_endpoint=settings.calendar_api_endpoint
        )

    return make


# ------------------------------------------------------------------------------------ routes
# Which handler answers which path, for each deployed entry point and for local mode. Each
# Cloud Function is deployed with one entry point from `main.py`; locally the `local` entry
# point serves them all from one process under the same paths. Imports stay inside: a
# function deployed for one entry point never loads another's handlers.
#
# Binding: every table takes the root and hands it to each feature's own table, which binds
# it into each handler (`web.bound(handler, root)`, `task_endpoint(kind, handler, root)`).
# A handler's first parameter is typed with its feature's Protocol (`functions/*/deps.py`),
# so it sees only what it names, and nothing below this module imports it.


def task_routes(root: Bootstrap) -> dict[str, Handler]:
    """Every /tasks/* handler: the `tasks` entry point (Cloud Tasks and Cloud Scheduler).

    Each background feature adds its handlers here, so one deployed function
    serves all task paths behind the same OIDC check.
    """
    from functions.followup.scheduling import FOLLOWUP_PATH
    from functions.materials.routes import task_routes as materials_task_routes
    from functions.prep.routes import task_routes as prep_task_routes
    from functions.sync.routes import task_routes as sync_task_routes
    from functions.tasks.endpoint import task_endpoint

    routes: dict[str, Handler] = {}
    routes.update(sync_task_routes(root))
    routes.update(prep_task_routes(root))
    routes.update(materials_task_routes(root))
    routes[FOLLOWUP_PATH] = task_endpoint("followup", _followup_task, root)
    return routes


def _followup_task(root: Bootstrap, payload: Mapping[str, Any]) -> Mapping[str, Any]:
    """After the meeting (functions/followup): the task bound to the ports it uses."""
    from functions.followup.proposals import from_notes
    from functions.followup.task import form_url, handle_followup
    from functions.followup.token import issue
    from functions.notify.delivery import deliver_outgoing

    def url(user_id: str, event_id: str) -> str:
        keyring = root.credentials.sealer.keyring
        token = issue(keyring, user_id, event_id, root.clock.now())
        return form_url(root.settings.oauth_redirect_uri, token)

    return handle_followup(
        store=root.store,
        tasks=root.tasks,
        now=root.clock.now(),
        payload=payload,
        label_of=root.classifier.rules.label_of,
        deliver=lambda out, prefix: deliver_outgoing(root, out, claim_prefix=prefix),
        form_url=url,
        proposals=from_notes(root.documents_for),
    )


def _followup_form(root: Bootstrap, request: Request) -> Response:
    """The email's follow-up form (public; trusted only through its signed token)."""
    from functions.followup.form import form_page
    from functions.followup.proposals import from_notes

    return form_page(
        request,
        store=root.store,
        keyring=root.credentials.sealer.keyring,
        now=root.clock.now(),
        proposals=from_notes(root.documents_for),
    )


def webhook_routes(root: Bootstrap) -> dict[str, Handler]:
    """Google's Calendar push pings: the `calendar_webhook` entry point (public)."""
    from functions.sync.routes import webhook_routes as sync_webhook_routes

    return sync_webhook_routes(root)


def oauth_routes(root: Bootstrap) -> dict[str, Handler]:
    """The browser-facing `oauth` entry point (public): the consent flow's redirect, the
    follow-up form, and the stable materials links with their sign-in (each checks its
    own state, token or session)."""
    from functions.followup.task import FORM_PATH
    from functions.materials.routes import reader_routes
    from functions.oauth.flow import callback
    from functions.web import bound

    return {
        "/oauth/callback": bound(callback, root),
        FORM_PATH: bound(_followup_form, root),
        **reader_routes(root),
    }


def chat_routes(root: Bootstrap) -> dict[str, Handler]:
    """Google Chat's interaction events (card clicks): the `chat` entry point."""
    from functions.notify.routes import chat_routes as notify_chat_routes

    return notify_chat_routes(root)


def chat_endpoint(root: Bootstrap) -> Handler:
    """The `chat` entry point deployed on its own: its URL is the Chat app's, whatever the path."""
    from functions.chat.endpoint import chat_endpoint as endpoint
    from functions.web import bound

    return bound(endpoint, root)


def addon_routes(root: Bootstrap) -> dict[str, Handler]:
    """The Calendar sidebar: the `addon` entry point (its sidebar is built on first use)."""
    from addon.routes import addon_routes as sidebar_routes

    return sidebar_routes(lambda: root.sidebar)


def dev_routes(root: Bootstrap) -> dict[str, Handler]:
    """Local mode only (each handler answers 404 otherwise): Google's stand-ins, task preview."""
    from functions.materials.routes import dev_routes as materials_dev_routes
    from functions.notify.routes import dev_routes as notify_dev_routes
    from functions.oauth import dev_server
    from functions.tasks.local_route import preview
    from functions.web import bound

    return {
        "/dev/oauth/authorize": bound(dev_server.authorize, root),
        "/dev/oauth/token": bound(dev_server.token, root),
        "/dev/oauth/revoke": bound(dev_server.revoke, root),
        "/dev/tasks": bound(preview, root),
        **notify_dev_routes(root),
        **materials_dev_routes(root),
    }


def local_routes(root: Bootstrap) -> dict[str, Handler]:
    """Every route of every entry point (imports stay inside: cheap cold start)."""
    from addon.routes import local_routes as addon_local_routes
    from functions.local_home import health, home
    from functions.web import bound

    routes: dict[str, Handler] = {"/": bound(home, root), "/healthz": bound(health, root)}
    routes.update(task_routes(root))
    routes.update(webhook_routes(root))
    routes.update(oauth_routes(root))
    routes.update(chat_routes(root))
    routes.update(dev_routes(root))
    routes.update(addon_local_routes(root, lambda: root.sidebar))
    return routes


def serve(table: Callable[[Bootstrap], Mapping[str, Handler]], request: Request) -> Response:
    """Answer `request` from `table` bound to the process-wide root: what `main.py` calls.

    The root is built on the first request, inside `web.guarded`, so a bad
    configuration is the generic 500 (and the CRITICAL log line of `get_services`),
    never a traceback.
    """
    from functions import web

    return web.guarded(lambda req: web.dispatch(table(get_services()), req), request)


def serve_one(handler: Callable[[Bootstrap], Handler], request: Request) -> Response:
    """As `serve`, for an entry point that is one handler whatever the path (`chat`)."""
    from functions import web

    def answer(req: Request) -> Response:
        return handler(get_services())(req)

    return web.guarded(answer, request)
