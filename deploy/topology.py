"""Every name, URL and identity of one deployment, derived from its inputs.

Function URLs are Cloud Run's deterministic ones,
`https://SERVICE-PROJECT_NUMBER.REGION.run.app`, known before anything is
deployed, so audiences, redirect URIs and the add-on manifest are set up front
in one pass. They are used instead of `cloudfunctions.net` URLs because Cloud
Run hands the request path through unchanged (`/tasks/sync` arrives as
`/tasks/sync`), and because Cloud Run's IAM check accepts them as the OIDC
audience of Cloud Tasks, Cloud Scheduler and the add-on's system ID token.
"""

from __future__ import annotations

from dataclasses import dataclass

from deploy.inputs import DeployInputs
from deploy.readiness import secrets_for
from functions.materials.lease import generation_lease
from functions.materials.settings import MaterialsSettings
from functions.prep.queueing import GENERATE_QUEUE, PREP_QUEUE
from functions.sync.tasks import SYNC_QUEUE
from functions.tasks.cloud_tasks import DEFAULT_DISPATCH_DEADLINE

#: Google Chat signs its requests as this account when the audience is the endpoint URL.
CHAT_CALLER = "chat@system.gserviceaccount.com"
#: How long a crashed holder's generation lock (and its meeting's `generating`) lasts:
#: the lease the deployed settings give (`functions.materials.lease`). A retry of the
#: generation task must still be coming after it ends, and no live attempt (bounded by
#: the tasks function's timeout) may outlast it.
GENERATION_LOCK_WINDOW_SECONDS = int(generation_lease(MaterialsSettings()).total_seconds())
#: Cloud Tasks (the dispatch deadline) and Cloud Scheduler (--attempt-deadline=300s) stop
#: waiting for the tasks function after 5 minutes and retry; a handler running on past
#: that would overlap its own redelivery, so the function's timeout ends it there.
TASKS_TIMEOUT_SECONDS = int(DEFAULT_DISPATCH_DEADLINE.total_seconds())


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    entry_point: str
    #: Deployed name (and Cloud Run service name): hyphens, because services allow no '_'.
    name: str
    url: str
    #: Public functions authenticate their callers themselves (state, channel token).
    public: bool
    #: Members granted roles/run.invoker on this function only.
    invokers: tuple[str, ...]
    memory: str
    timeout_seconds: int
    why: str


@dataclass(frozen=True, slots=True)
class QueueSpec:
    name: str
    why: str
    max_attempts: int
    min_backoff_seconds: int
    max_backoff_seconds: int
    max_doublings: int
    max_dispatches_per_second: int
    max_concurrent_dispatches: int

    def retry_span_seconds(self) -> int:
        """Cloud Tasks' backoff summed over every retry: how long a task keeps coming back."""
        total, delay = 0, self.min_backoff_seconds
        for retry in range(self.max_attempts - 1):
            total += min(delay, self.max_backoff_seconds)
            if retry < self.max_doublings:
                delay *= 2
            else:
                delay += self.min_backoff_seconds * 2**self.max_doublings
        return total


@dataclass(frozen=True, slots=True)
class SecretSpec:
    setting: str
    secret_id: str
    why: str
    how_to_add: str


class Topology:
    """The derived deployment: read-only, computed once from `DeployInputs`."""

    def __init__(self, inputs: DeployInputs) -> None:
        self.inputs = inputs
        p = inputs.name_prefix
        domain = f"{inputs.project_id}.iam.gserviceaccount.com"
        self.runtime_sa = f"{p}-runtime@{domain}"
        self.tasks_sa = f"{p}-tasks@{domain}"
        self.build_sa = f"{p}-build@{domain}"
        #: Created by `gcloud workspace-add-ons get-authorization`; signs systemIdTokens.
        self.addon_sa = (
            f"service-{inputs.project_number}@gcp-sa-gsuiteaddons.iam.gserviceaccount.com"
        )
        self.scheduler_job = f"{p}-sync-fanout"
        self.functions = self._functions()
        self.queues = self._queues()
        self.secrets = self._secrets()

    def url(self, entry_point: str) -> str:
        service = self.service_name(entry_point)
        return f"https://{service}-{self.inputs.project_number}.{self.inputs.region}.run.app"

    def service_name(self, entry_point: str) -> str:
        return f"{self.inputs.name_prefix}-{entry_point.replace('_', '-')}"

    def function(self, entry_point: str) -> FunctionSpec:
        return next(f for f in self.functions if f.entry_point == entry_point)

    def secret(self, setting: str) -> SecretSpec:
        return next(s for s in self.secrets if s.setting == setting)

    @property
    def addon_url(self) -> str:
        return self.url("addon")

    @property
    def tasks_url(self) -> str:
        return self.url("tasks")

    @property
    def chat_url(self) -> str:
        return self.url("chat")

    @property
    def oauth_redirect_uri(self) -> str:
        return self.url("oauth") + "/oauth/callback"

    @property
    def webhook_url(self) -> str:
        return self.url("calendar_webhook") + "/calendar/webhook"

    def secrets_of(self, entry_point: str) -> tuple[SecretSpec, ...]:
        return tuple(self.secret(name) for name in secrets_for(entry_point))

    def _functions(self) -> tuple[FunctionSpec, ...]:
        def spec(
            entry_point: str,
            *,
            public: bool = False,
            invokers: tuple[str, ...] = (),
            memory: str = "512Mi",
            timeout: int = 60,
            why: str,
        ) -> FunctionSpec:
            return FunctionSpec(
                entry_point=entry_point,
                name=self.service_name(entry_point),
                url=self.url(entry_point),
                public=public,
                invokers=invokers,
                memory=memory,
                timeout_seconds=timeout,
                why=why,
            )

        return (
            spec(
                "addon",
                invokers=(f"serviceAccount:{self.addon_sa}",),
                timeout=30,
                why="the Calendar sidebar; only the add-on's Google-managed account may call it",
            ),
            spec(
                "tasks",
                invokers=(f"serviceAccount:{self.tasks_sa}",),
                memory="1Gi",
                timeout=TASKS_TIMEOUT_SECONDS,
                why="Cloud Tasks and Cloud Scheduler, with OIDC tokens minted as the tasks account",
            ),
            spec(
                "calendar_webhook",
                public=True,
                timeout=30,
                why="Calendar push pings: Google sends no token, the channel token is checked",
            ),
            spec(
                "oauth",
                public=True,
                timeout=60,
                why="the consent redirect in the user's browser: the signed state is checked",
            ),
            spec(
                "chat",
                invokers=(f"serviceAccount:{CHAT_CALLER}",),
                timeout=30,
                why="Google Chat card clicks; only Chat's account may call it",
            ),
        )

    def _queues(self) -> tuple[QueueSpec, ...]:
        retries = self.inputs.generation_max_retries
        return (
            QueueSpec(
                name=SYNC_QUEUE,
                why="per-user calendar syncs and fan-out pages; a later slot repairs a loss",
                max_attempts=6,
                min_backoff_seconds=30,
                max_backoff_seconds=600,
                max_doublings=4,
                max_dispatches_per_second=20,
                max_concurrent_dispatches=50,
            ),
            QueueSpec(
                name=PREP_QUEUE,
                why="reminders at each meeting's trigger time; many attempts, so one is never lost",
                max_attempts=20,
                min_backoff_seconds=30,
                max_backoff_seconds=900,
                max_doublings=5,
                max_dispatches_per_second=20,
                max_concurrent_dispatches=50,
            ),
            QueueSpec(
                name=GENERATE_QUEUE,
                why=(
                    f"materials generation; more attempts than GENERATION_MAX_RETRIES={retries} "
                    "(a busy lock retries without counting) and retries past the 20-minute lock"
                ),
                max_attempts=2 * retries + 5,
                min_backoff_seconds=10,
                max_backoff_seconds=600,
                max_doublings=5,
                max_dispatches_per_second=5,
                max_concurrent_dispatches=10,
            ),
        )

    def _secrets(self) -> tuple[SecretSpec, ...]:
        p, project = self.inputs.name_prefix, self.inputs.project_id
        add = f"gcloud secrets versions add {{secret}} --project={project} --data-file=-"
        return (
            SecretSpec(
                setting="PREP_TOKEN_KEK",
                secret_id=f"{p}-token-kek",
                why="key-encryption key of stored OAuth credentials",
                how_to_add=(
                    "printf 'k1:%s' \"$(head -c32 /dev/urandom | base64)\" | "
                    + add.format(secret=f"{p}-token-kek")
                ),
            ),
            SecretSpec(
                setting="PREP_OAUTH_WEB_CLIENT_SECRET",
                secret_id=f"{p}-oauth-client-secret",
                why="secret of the OAuth web client (OAUTH_WEB_CLIENT_ID)",
                how_to_add=(
                    "printf %s 'THE_CLIENT_SECRET_FROM_THE_CONSOLE' | "
                    + add.format(secret=f"{p}-oauth-client-secret")
                ),
            ),
            SecretSpec(
                setting="PREP_WEBHOOK_SECRET",
                secret_id=f"{p}-webhook-secret",
                why="HMAC key of the Calendar push channel tokens",
                how_to_add=(
                    "head -c32 /dev/urandom | base64 | tr -d '\\n' | "
                    + add.format(secret=f"{p}-webhook-secret")
                ),
            ),
        )
