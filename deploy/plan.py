"""The whole deployment as an ordered list of steps, built from the inputs alone.

Order is dependency order: APIs, then identities, then the resources those
identities get roles on (each binding right after its resource), then the
functions (their secrets and queues must exist), then what calls them
(Cloud Scheduler, Chat, the add-on deployment, whose manifest holds their URLs).
Nothing here talks to Google: `runner.apply` executes the plan, `render` prints it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from addon.manifest import DEFAULT_LOGO, filled_manifest
from deploy import function_env
from deploy.firestore_plan import INDEXES_FILE, firestore_steps
from deploy.inputs import DeployInputs
from deploy.steps import Argv, FileArtifact, Step, render
from deploy.topology import CHAT_CALLER, FunctionSpec, QueueSpec, Topology
from functions.config import REPO_ROOT
from functions.oauth.scopes import DEFAULT_SCOPES, OPENID
from functions.sync.tasks import FANOUT_PATH

DEFAULT_BUILD_DIR = REPO_ROOT / ".local" / "deploy"
#: Relative to the source directory (`--source=.`): what not to upload.
IGNORE_FILE = "deploy/gcloudignore"

APIS: tuple[str, ...] = (
    "cloudresourcemanager.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",
    "cloudfunctions.googleapis.com",
    "run.googleapis.com",
    "cloudbuild.googleapis.com",
    "artifactregistry.googleapis.com",
    "firestore.googleapis.com",
    "cloudtasks.googleapis.com",
    "cloudscheduler.googleapis.com",
    "storage.googleapis.com",
    "secretmanager.googleapis.com",
    "aiplatform.googleapis.com",
    "calendar-json.googleapis.com",
    "gmail.googleapis.com",
    "drive.googleapis.com",
    "chat.googleapis.com",
    "gsuiteaddons.googleapis.com",
)

#: Project-level roles, the narrowest that exist for what each identity does.
RUNTIME_PROJECT_ROLES = ("roles/datastore.user", "roles/aiplatform.user")
BUILD_PROJECT_ROLES = (
    "roles/logging.logWriter",
    "roles/artifactregistry.writer",
    "roles/storage.objectAdmin",
)


@dataclass(frozen=True, slots=True)
class Plan:
    inputs: DeployInputs
    topology: Topology
    steps: tuple[Step, ...]
    build_dir: Path

    @property
    def files(self) -> tuple[FileArtifact, ...]:
        return tuple(f for s in self.steps for f in s.files)

    def render(self) -> str:
        return "\n\n".join([self._header(), render(self.steps), self._files()]) + "\n"

    def _header(self) -> str:
        i, t = self.inputs, self.topology
        lines = [
            f"# Meeting prep: deployment plan for project {i.project_id} "
            f"({i.project_number}), region {i.region}",
            "# Dry run: nothing below has been run. `--apply` runs it in this order, from",
            "# the repository root, with CLOUDSDK_CORE_DISABLE_PROMPTS=1, and stops at the",
            "# first failure. The functions' configuration below has passed the app's own",
            "# load_settings and the first-use checks of deploy/readiness.py.",
            "#",
            "# Function URLs (Cloud Run's deterministic URLs, known before deploying):",
        ]
        lines += [f"#   {f.entry_point:<17} {f.url}" for f in t.functions]
        lines += [
            "# Service accounts:",
            f"#   runtime  {t.runtime_sa}",
            f"#   tasks    {t.tasks_sa}  (OIDC caller of the tasks function)",
            f"#   build    {t.build_sa}",
            f"#   add-on   {t.addon_sa}  (Google-managed)",
        ]
        return "\n".join(lines)

    def _files(self) -> str:
        blocks = []
        for artifact in self.files:
            body = "\n".join(f"#   {line}" for line in artifact.content.rstrip("\n").splitlines())
            blocks.append(f"# ---- {artifact.path}\n{body}")
        return "# Files written before the steps that read them:\n" + "\n".join(blocks)


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


class _Builder:
    def __init__(self, inputs: DeployInputs, build_dir: Path) -> None:
        self.i = inputs
        self.t = Topology(inputs)
        self.build_dir = build_dir
        self.p = f"--project={inputs.project_id}"

    def file(self, name: str, content: str) -> FileArtifact:
        return FileArtifact(_display(self.build_dir / name), content)

    # ---------------------------------------------------------------- sections

    def preflight(self) -> list[Step]:
        return [
            Step(
                section="preflight",
                purpose="The project exists and its number is PROJECT_NUMBER "
                "(URLs and the add-on's account derive from it)",
                argv=(
                    "gcloud",
                    "projects",
                    "describe",
                    self.i.project_id,
                    "--format=value(projectNumber)",
                ),
                expect=(self.i.project_number,),
                hint="Set PROJECT_NUMBER to the number printed by this command.",
            )
        ]

    def apis(self) -> list[Step]:
        return [
            Step(
                section="apis",
                purpose="Enable every Google API the deployment and the app use",
                argv=("gcloud", "services", "enable", *APIS, self.p),
            )
        ]

    def addon_identity(self) -> list[Step]:
        return [
            Step(
                section="addon",
                purpose="The add-on's Google-managed account and OAuth client "
                "(created on first call) match the inputs",
                argv=(
                    "gcloud",
                    "workspace-add-ons",
                    "get-authorization",
                    self.p,
                    "--format=value(serviceAccountEmail,oauthClientId)",
                ),
                expect=(self.t.addon_sa, self.i.addon_oauth_client_id),
                hint="Set ADDON_OAUTH_CLIENT_ID to the oauthClientId this command prints.",
            )
        ]

    def service_accounts(self) -> list[Step]:
        accounts = (
            (self.t.runtime_sa, "Meeting prep functions", "runtime identity of every function"),
            (self.t.tasks_sa, "Meeting prep task caller", "OIDC identity of Cloud Tasks/Scheduler"),
            (self.t.build_sa, "Meeting prep builds", "Cloud Build identity of function builds"),
        )
        steps = []
        for email, display, why in accounts:
            account_id = email.partition("@")[0]
            steps.append(
                Step(
                    section="service-accounts",
                    purpose=f"Service account {account_id}: {why}",
                    probe=("gcloud", "iam", "service-accounts", "describe", email, self.p),
                    argv=(
                        "gcloud",
                        "iam",
                        "service-accounts",
                        "create",
                        account_id,
                        self.p,
                        f"--display-name={display}",
                        f"--description={why}",
                    ),
                )
            )
        return steps

    def project_role(self, email: str, role: str, why: str) -> Step:
        return Step(
            section="iam",
            purpose=f"{role} for {email.partition('@')[0]}: {why}",
            argv=(
                "gcloud",
                "projects",
                "add-iam-policy-binding",
                self.i.project_id,
                f"--member=serviceAccount:{email}",
                f"--role={role}",
                "--condition=None",
            ),
            attempts=3,
        )

    def identity_roles(self) -> list[Step]:
        t = self.t
        why = {
            "roles/datastore.user": "read and write Firestore",
            "roles/aiplatform.user": "call Gemini on Vertex AI",
            "roles/logging.logWriter": "write build logs",
            "roles/artifactregistry.writer": "push the built images",
            "roles/storage.objectAdmin": "read the uploaded function source",
        }
        steps = [self.project_role(t.runtime_sa, r, why[r]) for r in RUNTIME_PROJECT_ROLES]
        steps += [self.project_role(t.build_sa, r, why[r]) for r in BUILD_PROJECT_ROLES]
        steps.append(
            Step(
                section="iam",
                purpose="The runtime account may sign blobs as itself "
                "(V4 signed links to materials through IAM signBlob, no key file)",
                argv=self._sa_binding(
                    t.runtime_sa, t.runtime_sa, "roles/iam.serviceAccountTokenCreator"
                ),
                attempts=3,
            )
        )
        steps.append(
            Step(
                section="iam",
                purpose="The runtime account may act as the tasks account "
                "(tasks it creates carry OIDC tokens minted as that account)",
                argv=self._sa_binding(t.tasks_sa, t.runtime_sa, "roles/iam.serviceAccountUser"),
                attempts=3,
            )
        )
        return steps

    def _sa_binding(self, target: str, member: str, role: str) -> Argv:
        return (
            "gcloud",
            "iam",
            "service-accounts",
            "add-iam-policy-binding",
            target,
            self.p,
            f"--member=serviceAccount:{member}",
            f"--role={role}",
        )

    def firestore(self) -> list[Step]:
        return firestore_steps(
            self.i.project_id, self.i.firestore_location, self.i.firestore_database, INDEXES_FILE
        )

    def queue_flags(self, q: QueueSpec) -> tuple[str, ...]:
        return (
            f"--max-attempts={q.max_attempts}",
            f"--min-backoff={q.min_backoff_seconds}s",
            f"--max-backoff={q.max_backoff_seconds}s",
            f"--max-doublings={q.max_doublings}",
            f"--max-dispatches-per-second={q.max_dispatches_per_second}",
            f"--max-concurrent-dispatches={q.max_concurrent_dispatches}",
        )

    def queues(self) -> list[Step]:
        steps = []
        loc = f"--location={self.i.region}"
        for q in self.t.queues:
            base = ("gcloud", "tasks", "queues")
            steps.append(
                Step(
                    section="queues",
                    purpose=f'Cloud Tasks queue "{q.name}": {q.why}',
                    probe=(*base, "describe", q.name, self.p, loc),
                    argv=(*base, "create", q.name, self.p, loc, *self.queue_flags(q)),
                    update=(*base, "update", q.name, self.p, loc, *self.queue_flags(q)),
                    notes=(f"retries keep coming for {q.retry_span_seconds() // 60} minutes",),
                )
            )
            steps.append(
                Step(
                    section="queues",
                    purpose=f'roles/cloudtasks.enqueuer on queue "{q.name}" only, for the runtime',
                    argv=(
                        *base,
                        "add-iam-policy-binding",
                        q.name,
                        self.p,
                        loc,
                        f"--member=serviceAccount:{self.t.runtime_sa}",
                        "--role=roles/cloudtasks.enqueuer",
                    ),
                    attempts=3,
                )
            )
        return steps

    def bucket(self) -> list[Step]:
        days = self.i.materials_retention_days
        lifecycle = self.file(
            "lifecycle.json",
            json.dumps(
                {
                    "lifecycle": {
                        "rule": [{"action": {"type": "Delete"}, "condition": {"age": days}}]
                    }
                },
                indent=2,
            )
            + "\n",
        )
        url = f"gs://{self.i.bucket}"
        settings = (
            "--uniform-bucket-level-access",
            "--public-access-prevention",
            f"--lifecycle-file={lifecycle.path}",
        )
        return [
            Step(
                section="bucket",
                purpose=f"Materials bucket {url}: uniform access, never public, "
                f"objects deleted after {days} days",
                probe=("gcloud", "storage", "buckets", "describe", url, self.p),
                argv=(
                    "gcloud",
                    "storage",
                    "buckets",
                    "create",
                    url,
                    self.p,
                    f"--location={self.i.region}",
                    *settings,
                ),
                update=("gcloud", "storage", "buckets", "update", url, self.p, *settings),
                files=(lifecycle,),
                hint="Bucket names are global: if another project owns this one, choose "
                "another BUCKET.",
            ),
            Step(
                section="bucket",
                purpose="No soft delete: a user's deletion is final (materials are regenerable)",
                argv=("gcloud", "storage", "buckets", "update", url, self.p, "--clear-soft-delete"),
            ),
            Step(
                section="bucket",
                purpose="roles/storage.objectAdmin on this bucket only, for the runtime",
                argv=(
                    "gcloud",
                    "storage",
                    "buckets",
                    "add-iam-policy-binding",
                    url,
                    self.p,
                    f"--member=serviceAccount:{self.t.runtime_sa}",
                    "--role=roles/storage.objectAdmin",
                ),
                attempts=3,
            ),
        ]

    def oauth_client(self) -> list[Step]:
        scopes = self.i.oauth_scopes.split() if self.i.oauth_scopes else list(DEFAULT_SCOPES)
        scopes = [*scopes, OPENID] if OPENID not in scopes else scopes
        console = f"https://console.cloud.google.com/auth/overview?project={self.i.project_id}"
        return [
            Step(
                section="oauth-client",
                purpose="The OAuth consent screen and web client (console only)",
                manual="\n".join(
                    [
                        f"1. Open {console} (Google Auth Platform).",
                        "2. Branding: app name Meeting prep, your support email.",
                        "   Audience: Internal (only your Workspace users).",
                        "3. Data access: add these scopes:",
                        *[f"     {s}" for s in scopes],
                        "4. Clients > Create client > Web application, with exactly this",
                        f"   authorized redirect URI: {self.t.oauth_redirect_uri}",
                        f"5. Its client id goes in OAUTH_WEB_CLIENT_ID (now: "
                        f"{self.i.oauth_web_client_id});",
                        "   its secret in Secret Manager (the secrets steps say how).",
                    ]
                ),
            )
        ]

    def secrets(self) -> list[Step]:
        steps: list[Step] = []
        for s in self.t.secrets:
            base = ("gcloud", "secrets")
            steps.append(
                Step(
                    section="secrets",
                    purpose=f"Secret {s.secret_id} ({s.setting}): {s.why}; created empty",
                    probe=(*base, "describe", s.secret_id, self.p),
                    argv=(*base, "create", s.secret_id, self.p, "--replication-policy=automatic"),
                )
            )
            steps.append(
                Step(
                    section="secrets",
                    purpose=f"roles/secretmanager.secretAccessor on {s.secret_id} only, "
                    "for the runtime",
                    argv=(
                        *base,
                        "add-iam-policy-binding",
                        s.secret_id,
                        self.p,
                        f"--member=serviceAccount:{self.t.runtime_sa}",
                        "--role=roles/secretmanager.secretAccessor",
                    ),
                    attempts=3,
                )
            )
        for s in self.t.secrets:
            steps.append(
                Step(
                    section="secrets",
                    purpose=f"Secret {s.secret_id} has a value (functions mount its latest)",
                    argv=(
                        "gcloud",
                        "secrets",
                        "versions",
                        "list",
                        s.secret_id,
                        self.p,
                        "--filter=state:ENABLED",
                        "--limit=1",
                        "--format=value(name)",
                    ),
                    require_output=True,
                    hint=f"Add its value, then run the deploy again:\n  {s.how_to_add}",
                )
            )
        return steps

    def deploy_argv(self, f: FunctionSpec) -> Argv:
        env = function_env.runtime_env(self.t)
        return (
            "gcloud",
            "functions",
            "deploy",
            f.name,
            "--gen2",
            self.p,
            f"--region={self.i.region}",
            f"--runtime={self.i.runtime}",
            "--source=.",
            f"--entry-point={f.entry_point}",
            "--trigger-http",
            "--allow-unauthenticated" if f.public else "--no-allow-unauthenticated",
            f"--service-account={self.t.runtime_sa}",
            f"--build-service-account=projects/{self.i.project_id}/serviceAccounts/{self.t.build_sa}",
            f"--ignore-file={IGNORE_FILE}",
            f"--memory={f.memory}",
            f"--timeout={f.timeout_seconds}s",
            function_env.set_env_vars_flag(env),
            function_env.set_secrets_flag(self.t, f.entry_point),
        )

    def functions(self) -> list[Step]:
        steps: list[Step] = []
        for f in self.t.functions:
            access = "public: " if f.public else "private: "
            steps.append(
                Step(
                    section="functions",
                    purpose=f"Cloud Function {f.name} (2nd gen, entry point {f.entry_point}); "
                    f"{access}{f.why}",
                    argv=self.deploy_argv(f),
                )
            )
            steps.append(
                Step(
                    section="functions",
                    purpose=f"{f.name} answers at the URL the plan configured",
                    argv=(
                        "gcloud",
                        "run",
                        "services",
                        "describe",
                        f.name,
                        self.p,
                        f"--region={self.i.region}",
                        "--format=value(status.url)",
                    ),
                    expect=(f.url,),
                    hint="Every audience and the add-on manifest use this deterministic URL; "
                    "check that default run.app URLs are not disabled for the service.",
                )
            )
            for member in f.invokers:
                steps.append(
                    Step(
                        section="functions",
                        purpose=f"roles/run.invoker on {f.name} only, for {member}",
                        argv=(
                            "gcloud",
                            "functions",
                            "add-invoker-policy-binding",
                            f.name,
                            self.p,
                            f"--region={self.i.region}",
                            f"--member={member}",
                        ),
                        attempts=3,
                    )
                )
        return steps

    def scheduler(self) -> list[Step]:
        minutes = self.i.sync_interval_minutes
        if minutes < 60:
            cron = f"*/{minutes} * * * *"
        elif minutes == 60:
            cron = "0 * * * *"
        else:
            cron = f"0 */{minutes // 60} * * *"
        job, loc = self.t.scheduler_job, f"--location={self.i.region}"
        target = (
            f"--uri={self.t.tasks_url}{FANOUT_PATH}",
            "--http-method=POST",
            "--message-body={}",
            f"--oidc-service-account-email={self.t.tasks_sa}",
            f"--oidc-token-audience={self.t.tasks_url}",
            f"--schedule={cron}",
            "--time-zone=Etc/UTC",
            "--attempt-deadline=300s",
            "--max-retry-attempts=2",
            "--min-backoff=30s",
        )
        base = ("gcloud", "scheduler", "jobs")
        return [
            Step(
                section="scheduler",
                purpose=f"Cloud Scheduler job {job}: the sync fan-out every {minutes} minutes, "
                "with an OIDC token for the tasks function",
                probe=(*base, "describe", job, self.p, loc),
                argv=(
                    *base,
                    "create",
                    "http",
                    job,
                    self.p,
                    loc,
                    *target,
                    "--headers=Content-Type=application/json",
                ),
                update=(
                    *base,
                    "update",
                    "http",
                    job,
                    self.p,
                    loc,
                    *target,
                    "--update-headers=Content-Type=application/json",
                ),
            )
        ]

    def chat(self) -> list[Step]:
        logo = self.i.addon_logo_url or DEFAULT_LOGO
        console = (
            "https://console.cloud.google.com/apis/api/chat.googleapis.com/hangouts-chat"
            f"?project={self.i.project_id}"
        )
        return [
            Step(
                section="chat",
                purpose="The Google Chat app (console only: the Chat API configuration "
                "has no gcloud command)",
                manual="\n".join(
                    [
                        f"1. Open {console}",
                        f"2. App name: Meeting prep. Avatar URL: {logo}",
                        "   Description: Prep reminders before your meetings.",
                        "3. Interactive features: on. Functionality: receive 1:1 messages.",
                        f"4. Connection settings: HTTP endpoint URL = {self.t.chat_url}",
                        "5. Authentication Audience: HTTP endpoint URL (the function accepts",
                        f"   only ID tokens for that URL, signed as {CHAT_CALLER}).",
                        "6. Visibility: the people or groups who get reminders. Save.",
                    ]
                ),
            )
        ]

    def addon(self) -> list[Step]:
        manifest = filled_manifest(self.t.addon_url, logo_url=self.i.addon_logo_url or DEFAULT_LOGO)
        deployment = self.file("deployment.json", json.dumps(manifest, indent=2) + "\n")
        name, base = self.i.addon_deployment, ("gcloud", "workspace-add-ons", "deployments")
        file_flag = f"--deployment-file={deployment.path}"
        steps = [
            Step(
                section="addon",
                purpose=f"Workspace add-on deployment {name} from manifest/deployment.json, "
                f"runFunction = {self.t.addon_url}",
                probe=(*base, "describe", name, self.p),
                argv=(*base, "create", name, self.p, file_flag),
                update=(*base, "replace", name, self.p, file_flag),
                files=(deployment,),
            )
        ]
        if self.i.install_addon_for_me:
            steps.append(
                Step(
                    section="addon",
                    purpose="Install it for the account running this deploy (a test install)",
                    argv=(*base, "install", name, self.p),
                    exists_ok=True,
                )
            )
        steps.append(
            Step(
                section="addon",
                purpose="Install for your users (Workspace admin, console only)",
                manual="\n".join(
                    [
                        "1. Enable the Google Workspace Marketplace SDK in this project:",
                        f"   gcloud services enable appsmarket-component.googleapis.com {self.p}",
                        "2. In its App Configuration: visibility Private; app integration",
                        f"   Google Workspace add-on, HTTP deployment ID {name}. Save, then",
                        "   fill in the Store Listing and publish (private apps need no review).",
                        "3. Admin console > Apps > Google Workspace Marketplace apps > Add app:",
                        "   install it for the organisational units that should have it.",
                    ]
                ),
            )
        )
        return steps


def build_plan(inputs: DeployInputs, *, build_dir: Path = DEFAULT_BUILD_DIR) -> Plan:
    """Validate the runtime configuration, then lay out every step in dependency order."""
    b = _Builder(inputs, build_dir)
    function_env.validate(b.t)
    steps = [
        *b.preflight(),
        *b.apis(),
        *b.addon_identity(),
        *b.service_accounts(),
        *b.identity_roles(),
        *b.firestore(),
        *b.queues(),
        *b.bucket(),
        *b.oauth_client(),
        *b.secrets(),
        *b.functions(),
        *b.scheduler(),
        *b.chat(),
        *b.addon(),
    ]
    return Plan(inputs=inputs, topology=b.t, steps=tuple(steps), build_dir=build_dir)
