"""The dry run: a complete, ordered plan a reviewer can check against issue 8's list."""

from __future__ import annotations

import ast
import json
import shlex
from collections.abc import Sequence
from pathlib import Path

import pytest

from deploy.function_env import runtime_env
from deploy.inputs import load_inputs
from deploy.plan import APIS, Plan, build_plan
from deploy.readiness import ENTRY_POINTS, ON_FIRST_USE, SECRET_SETTINGS
from deploy.steps import Step
from deploy.topology import GENERATION_LOCK_WINDOW_SECONDS
from functions.cli import main
from functions.config import REPO_ROOT, Mode, SettingsError, load_settings
from functions.notify.delivery import CHAT_CLAIM_LEASE
from functions.prep.queueing import GENERATE_QUEUE, PREP_QUEUE
from tests.deploy.conftest import write_env_file
from tests.support.environments import INPUTS

SECTION_ORDER = (
    "preflight",
    "apis",
    "service-accounts",
    "iam",
    "firestore",
    "queues",
    "bucket",
    "oauth-client",
    "secrets",
    "functions",
    "scheduler",
    "chat",
)


def commands(plan: Plan) -> list[list[str]]:
    return [list(s.argv) for s in plan.steps if s.argv]


def flag(argv: Sequence[str], name: str) -> str:
    values = [a.partition("=")[2] for a in argv if a.startswith(f"--{name}=")]
    assert len(values) == 1, f"--{name} appears {len(values)} times in {shlex.join(argv)}"
    return values[0]


def deploy_steps(plan: Plan) -> dict[str, Step]:
    """Entry point -> its `gcloud functions deploy` step."""
    found = {}
    for s in plan.steps:
        if s.argv[:3] == ("gcloud", "functions", "deploy"):
            found[flag(s.argv, "entry-point")] = s
    return found


def deployed_env(step: Step) -> dict[str, str]:
    raw = flag(step.argv, "set-env-vars")
    return dict(pair.split("=", 1) for pair in raw.split(","))


def first_index(plan: Plan, predicate: object) -> int:
    assert callable(predicate)
    return next(n for n, s in enumerate(plan.steps) if predicate(s))


def test_sections_come_in_dependency_order(plan: Plan) -> None:
    sections = [s.section for s in plan.steps]
    firsts = [sections.index(name) for name in SECTION_ORDER]
    assert firsts == sorted(firsts)
    lasts = [len(sections) - 1 - sections[::-1].index(name) for name in SECTION_ORDER]
    # No section starts before the previous one has finished (the add-on's identity
    # check after the APIs is the one deliberate interleaving: it needs its API).
    for earlier, later in zip(lasts, firsts[1:], strict=False):
        assert earlier < later
    assert sections[-1] == "addon"
    assert sections.index("addon") == sections.index("apis") + 1


def test_every_api_is_enabled_first(plan: Plan) -> None:
    preflight, enable = plan.steps[0], plan.steps[1]
    assert preflight.argv[:3] == ("gcloud", "projects", "describe")
    assert enable.argv[:3] == ("gcloud", "services", "enable")
    for api in (
        "cloudfunctions.googleapis.com",
        "run.googleapis.com",
        "cloudbuild.googleapis.com",
        "artifactregistry.googleapis.com",
        "firestore.googleapis.com",
        "cloudtasks.googleapis.com",
        "cloudscheduler.googleapis.com",
        "storage.googleapis.com",
        "aiplatform.googleapis.com",
        "calendar-json.googleapis.com",
        "gmail.googleapis.com",
        "drive.googleapis.com",
        "chat.googleapis.com",
        "gsuiteaddons.googleapis.com",
        "iamcredentials.googleapis.com",
        "secretmanager.googleapis.com",
    ):
        assert api in enable.argv
    assert set(APIS) <= set(enable.argv)


def test_every_command_is_gcloud_with_the_project(plan: Plan) -> None:
    for argv in commands(plan):
        assert argv[0] == "gcloud"
        # `gcloud projects ...` names the project as its argument instead.
        assert "--project=acme-prep" in argv or argv[1:2] + argv[3:4] == ["projects", "acme-prep"]
        assert not any(a.startswith("--project=") and a != "--project=acme-prep" for a in argv)


def test_service_accounts_exist_before_any_binding_names_them(plan: Plan) -> None:
    t = plan.topology
    for email in (t.runtime_sa, t.tasks_sa, t.build_sa):
        account_id = email.partition("@")[0]
        created = first_index(
            plan,
            lambda s, a=account_id: (
                s.argv[:4] == ("gcloud", "iam", "service-accounts", "create") and s.argv[4] == a
            ),
        )
        for n, s in enumerate(plan.steps):
            if any(email in a for a in s.argv) and "add-iam-policy-binding" in s.argv:
                assert n > created, s.purpose


def test_runtime_roles_are_least_privilege(plan: Plan) -> None:
    t = plan.topology
    member = f"--member=serviceAccount:{t.runtime_sa}"
    project_roles = {
        flag(s.argv, "role")
        for s in plan.steps
        if s.argv[:3] == ("gcloud", "projects", "add-iam-policy-binding") and member in s.argv
    }
    assert project_roles == {"roles/datastore.user", "roles/aiplatform.user"}
    by_resource = {
        (s.argv[1], s.argv[s.argv.index("add-iam-policy-binding") + 1], flag(s.argv, "role"))
        for s in plan.steps
        if "add-iam-policy-binding" in s.argv and member in s.argv and s.argv[1] != "projects"
    }
    assert ("storage", f"gs://{plan.inputs.bucket}", "roles/storage.objectAdmin") in by_resource
    assert ("iam", t.runtime_sa, "roles/iam.serviceAccountTokenCreator") in by_resource
    assert ("iam", t.tasks_sa, "roles/iam.serviceAccountUser") in by_resource
    for q in t.queues:
        assert ("tasks", q.name, "roles/cloudtasks.enqueuer") in by_resource
    for s in t.secrets:
        assert ("secrets", s.secret_id, "roles/secretmanager.secretAccessor") in by_resource
    assert len(by_resource) == 3 + len(t.queues) + len(t.secrets)
    everything = " ".join(a for argv in commands(plan) for a in argv)
    for broad in ("roles/owner", "roles/editor", "roles/run.admin", "roles/datastore.owner"):
        assert broad not in everything


def test_every_index_in_the_file_is_created(plan: Plan) -> None:
    spec = json.loads((REPO_ROOT / "firestore.indexes.json").read_text())
    created = [
        s.argv
        for s in plan.steps
        if s.argv[:5] == ("gcloud", "firestore", "indexes", "composite", "create")
    ]
    assert len(created) == len(spec["indexes"])
    for index, argv in zip(spec["indexes"], created, strict=True):
        assert flag(argv, "collection-group") == index["collectionGroup"]
        assert flag(argv, "query-scope") == index["queryScope"].lower().replace("_", "-")
        configs = [
            a.removeprefix("--field-config=") for a in argv if a.startswith("--field-config=")
        ]
        assert configs == [
            f"field-path={f['fieldPath']},order={f['order'].lower()}" for f in index["fields"]
        ]
    database = first_index(
        plan, lambda s: s.argv[:4] == ("gcloud", "firestore", "databases", "create")
    )
    first_index_step = first_index(plan, lambda s: "composite" in s.argv)
    assert database < first_index_step


def test_ttl_and_exemptions_follow_the_file(plan: Plan) -> None:
    spec = json.loads((REPO_ROOT / "firestore.indexes.json").read_text())
    ttl = [(s.argv[5], flag(s.argv, "collection-group")) for s in plan.steps if "ttls" in s.argv]
    assert ttl == [
        (o["fieldPath"], o["collectionGroup"]) for o in spec["fieldOverrides"] if o.get("ttl")
    ]
    assert ("expire_at", "meetings") in ttl
    exempt = [
        (s.argv[5], flag(s.argv, "collection-group"))
        for s in plan.steps
        if s.argv[:5] == ("gcloud", "firestore", "indexes", "fields", "update")
    ]
    assert exempt == [
        (o["fieldPath"], o["collectionGroup"])
        for o in spec["fieldOverrides"]
        if o.get("indexes") == []
    ]


def test_index_file_shapes_the_generator_does_not_know_are_errors(tmp_path: Path) -> None:
    from deploy.firestore_plan import IndexFileError, firestore_steps

    bad = tmp_path / "indexes.json"
    bad.write_text(
        json.dumps({"indexes": [{"collectionGroup": "m", "fields": [{"fieldPath": "a"}]}]})
    )
    with pytest.raises(IndexFileError, match="indexes\\[0\\]"):
        firestore_steps("acme-prep", "us-central1", "(default)", bad)


def _queue_constants() -> set[str]:
    """Every `*_QUEUE = "..."` in the code: the queues tasks are created on."""
    found = set()
    for path in (REPO_ROOT / "functions").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id.endswith("_QUEUE")
                and isinstance(node.value, ast.Constant)
            ):
                found.add(str(node.value.value))
    return found


def test_every_queue_the_code_uses_is_created_with_retries(plan: Plan) -> None:
    created = {
        s.argv[4]: s for s in plan.steps if s.argv[:4] == ("gcloud", "tasks", "queues", "create")
    }
    assert set(created) == _queue_constants() == {"sync", "prep", "generate"}
    for name, step in created.items():
        assert step.update is not None and step.update[3] == "update"
        assert [a for a in step.argv if a.startswith("--max")] == [
            a for a in step.update if a.startswith("--max")
        ]
        assert int(flag(step.argv, "max-attempts")) > 1, name
    generate = plan.topology.queues[-1]
    assert generate.name == "generate"
    assert generate.max_attempts > plan.inputs.generation_max_retries
    assert generate.retry_span_seconds() > GENERATION_LOCK_WINDOW_SECONDS
    # The generation lease outlasts any live attempt: a slow generation never runs twice.
    tasks = next(f for f in plan.topology.functions if f.entry_point == "tasks")
    assert tasks.timeout_seconds < GENERATION_LOCK_WINDOW_SECONDS
    assert int(flag(created["prep"].argv, "max-attempts")) >= 10


def test_a_dead_senders_chat_claim_expires_while_its_task_still_retries(plan: Plan) -> None:
    """The Chat claim lease must outlast any live attempt, and the retries outlast it."""
    lease = CHAT_CLAIM_LEASE.total_seconds()
    tasks = next(f for f in plan.topology.functions if f.entry_point == "tasks")
    assert tasks.timeout_seconds < lease
    for queue in plan.topology.queues:
        if queue.name in (PREP_QUEUE, GENERATE_QUEUE):  # reminders, digests, ready messages
            assert queue.retry_span_seconds() > 2 * lease, queue.name


def test_generate_queue_follows_the_retry_setting() -> None:
    many = load_inputs({**INPUTS, "GENERATION_MAX_RETRIES": "30"})
    plan = build_plan(many)
    generate = next(q for q in plan.topology.queues if q.name == "generate")
    assert generate.max_attempts > 30
    env = deployed_env(deploy_steps(plan)["tasks"])
    assert env["PREP_GENERATION_MAX_RETRIES"] == "30"


def test_bucket_is_uniform_private_and_expires_materials(plan: Plan) -> None:
    step = next(s for s in plan.steps if s.argv[:4] == ("gcloud", "storage", "buckets", "create"))
    assert step.update is not None
    for argv in (step.argv, step.update):
        assert "--uniform-bucket-level-access" in argv
        assert "--public-access-prevention" in argv
    following = plan.steps[plan.steps.index(step) + 1]
    assert following.argv[:5] == ("gcloud", "storage", "buckets", "update", step.argv[4])
    assert "--clear-soft-delete" in following.argv
    (lifecycle,) = step.files
    assert flag(step.argv, "lifecycle-file") == lifecycle.path
    rule = json.loads(lifecycle.content)["lifecycle"]["rule"]
    assert rule == [{"action": {"type": "Delete"}, "condition": {"age": 180}}]


def _entry_points_in_main() -> set[str]:
    tree = ast.parse((REPO_ROOT / "main.py").read_text())
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and any(ast.unparse(d) == "functions_framework.http" for d in node.decorator_list)
    }


def test_one_function_per_deployed_entry_point_of_main(plan: Plan) -> None:
    deployed = deploy_steps(plan)
    assert set(deployed) == set(ENTRY_POINTS)
    # `health` answers only a liveness probe and `local` is the embedded all-in-one server.
    assert _entry_points_in_main() - set(ENTRY_POINTS) == {"health", "local"}
    for entry_point, step in deployed.items():
        argv = step.argv
        assert "--gen2" in argv and "--trigger-http" in argv
        assert flag(argv, "runtime").startswith("python3")
        assert flag(argv, "source") == "."
        assert flag(argv, "service-account") == plan.topology.runtime_sa
        assert flag(argv, "build-service-account").endswith(plan.topology.build_sa)
        assert (REPO_ROOT / flag(argv, "ignore-file")).is_file()
        assert argv[3] == plan.topology.service_name(entry_point)


def test_only_the_self_authenticating_endpoints_are_public(plan: Plan) -> None:
    deployed = deploy_steps(plan)
    for entry_point in ("addon", "tasks", "chat"):
        assert "--no-allow-unauthenticated" in deployed[entry_point].argv
        assert "--allow-unauthenticated" not in deployed[entry_point].argv
    for entry_point in ("oauth", "calendar_webhook"):
        assert "--allow-unauthenticated" in deployed[entry_point].argv
    invokers = {
        (s.argv[3], flag(s.argv, "member"))
        for s in plan.steps
        if s.argv[:3] == ("gcloud", "functions", "add-invoker-policy-binding")
    }
    t = plan.topology
    assert invokers == {
        (t.service_name("addon"), f"serviceAccount:{t.addon_sa}"),
        (t.service_name("tasks"), f"serviceAccount:{t.tasks_sa}"),
        (t.service_name("chat"), "serviceAccount:chat@system.gserviceaccount.com"),
    }
    assert t.addon_sa == "service-123456789012@gcp-sa-gsuiteaddons.iam.gserviceaccount.com"


def _required_at_start(env: dict[str, str]) -> set[str]:
    """Variables whose absence `load_settings` refuses (found by removing each in turn)."""
    refusals = {}
    for name in env:
        try:
            load_settings({k: v for k, v in env.items() if k != name})
        except SettingsError as exc:
            refusals[name] = str(exc)
    unnamed = {name: why for name, why in refusals.items() if name not in why}
    assert not unnamed, "a refusal must name the missing variable"
    return set(refusals)


def test_every_function_gets_a_production_configuration_the_code_accepts(plan: Plan) -> None:
    deployed = deploy_steps(plan)
    envs = {ep: deployed_env(step) for ep, step in deployed.items()}
    assert all(env == envs["tasks"] for env in envs.values())
    env = envs["tasks"]
    settings = load_settings(env)
    assert settings.mode is Mode.PRODUCTION
    required = _required_at_start(env)
    assert {
        "PREP_PUBLIC_URL",
        "PREP_ADDON_AUDIENCE",
        "PREP_ADDON_SA_EMAIL",
        "PREP_OAUTH_CLIENT_ID",
        "PREP_TASKS_AUDIENCE",
        "PREP_TASKS_SA_EMAIL",
        "PREP_CHAT_AUDIENCE",
        "GOOGLE_CLOUD_PROJECT",
    } <= required
    first_use_not_secret = set(ON_FIRST_USE) - set(SECRET_SETTINGS)
    assert first_use_not_secret <= set(env)
    assert not set(SECRET_SETTINGS) & set(env)


def test_urls_and_identities_agree_everywhere(plan: Plan) -> None:
    t = plan.topology
    env = deployed_env(deploy_steps(plan)["tasks"])
    assert env["PREP_PUBLIC_URL"] == env["PREP_TASKS_AUDIENCE"] == t.url("tasks")
    assert env["PREP_ADDON_AUDIENCE"] == t.url("addon")
    assert env["PREP_CHAT_AUDIENCE"] == t.url("chat")
    assert env["PREP_OAUTH_REDIRECT_URI"] == t.url("oauth") + "/oauth/callback"
    assert env["PREP_WEBHOOK_URL"] == t.url("calendar_webhook") + "/calendar/webhook"
    assert env["PREP_TASKS_SA_EMAIL"] == t.tasks_sa
    assert env["PREP_MATERIALS_SIGNER_EMAIL"] == t.runtime_sa
    assert env["PREP_MATERIALS_BUCKET"] == "acme-prep-materials"
    assert env["PREP_TASKS_LOCATION"] == "us-central1"
    assert t.url("calendar_webhook") == (
        "https://meeting-prep-calendar-webhook-123456789012.us-central1.run.app"
    )
    checks = {
        s.argv[4]: s.expect
        for s in plan.steps
        if s.argv[:4] == ("gcloud", "run", "services", "describe")
    }
    assert checks == {f.name: (f.url,) for f in t.functions}


def test_secrets_are_mounted_only_where_used(plan: Plan) -> None:
    deployed = deploy_steps(plan)
    t = plan.topology
    for entry_point, step in deployed.items():
        wanted = {name for name, users in ON_FIRST_USE.items() if entry_point in users}
        wanted &= set(SECRET_SETTINGS)
        if not wanted:
            assert "--clear-secrets" in step.argv
            continue
        mounted = dict(p.split("=", 1) for p in flag(step.argv, "set-secrets").split(","))
        assert mounted == {name: f"{t.secret(name).secret_id}:latest" for name in wanted}
    assert "--clear-secrets" in deployed["chat"].argv
    assert "PREP_TOKEN_KEK" not in flag(deployed["calendar_webhook"].argv, "set-secrets")


def test_secrets_are_created_empty_and_checked_before_functions(plan: Plan) -> None:
    checks = [s for s in plan.steps if s.require_output]
    assert {s.argv[4] for s in checks} == {s.secret_id for s in plan.topology.secrets}
    for check in checks:
        assert "gcloud secrets versions add" in check.hint
    first_deploy = first_index(plan, lambda s: s.argv[:3] == ("gcloud", "functions", "deploy"))
    assert all(plan.steps.index(c) < first_deploy for c in checks)
    for s in plan.steps:
        if s.argv[:3] == ("gcloud", "secrets", "create"):
            assert not any(a.startswith("--data-file") for a in s.argv)


def test_scheduler_calls_the_fanout_with_an_oidc_token(plan: Plan) -> None:
    t = plan.topology
    step = next(
        s for s in plan.steps if s.argv[:5] == ("gcloud", "scheduler", "jobs", "create", "http")
    )
    assert step.update is not None
    for argv in (step.argv, step.update):
        assert flag(argv, "uri") == t.tasks_url + "/tasks/fanout"
        assert flag(argv, "oidc-service-account-email") == t.tasks_sa
        assert flag(argv, "oidc-token-audience") == t.tasks_url
        assert flag(argv, "schedule") == "*/15 * * * *"
        assert flag(argv, "http-method") == "POST"
        assert flag(argv, "message-body") == "{}"
    assert flag(step.argv, "headers") == "Content-Type=application/json"
    assert flag(step.update, "update-headers") == "Content-Type=application/json"


@pytest.mark.parametrize(
    ("minutes", "cron"), [("5", "*/5 * * * *"), ("60", "0 * * * *"), ("180", "0 */3 * * *")]
)
def test_schedule_follows_the_sync_interval(minutes: str, cron: str) -> None:
    plan = build_plan(load_inputs({**INPUTS, "SYNC_INTERVAL_MINUTES": minutes}))
    step = next(s for s in plan.steps if s.section == "scheduler")
    assert flag(step.argv, "schedule") == cron
    assert deployed_env(deploy_steps(plan)["tasks"])["PREP_SYNC_INTERVAL_MINUTES"] == minutes


def test_functions_come_before_everything_that_calls_them(plan: Plan) -> None:
    last_deploy = max(
        n for n, s in enumerate(plan.steps) if s.argv[:3] == ("gcloud", "functions", "deploy")
    )
    for first_caller in (
        first_index(plan, lambda s: s.section == "scheduler"),
        first_index(plan, lambda s: s.section == "chat"),
        first_index(
            plan, lambda s: s.argv[:4] == ("gcloud", "workspace-add-ons", "deployments", "create")
        ),
    ):
        assert last_deploy < first_caller


def test_the_add_on_manifest_points_at_the_addon_function(plan: Plan) -> None:
    step = next(
        s
        for s in plan.steps
        if s.argv[:4] == ("gcloud", "workspace-add-ons", "deployments", "create")
    )
    assert step.update is not None and step.update[3] == "replace"
    (artifact,) = step.files
    assert flag(step.argv, "deployment-file") == artifact.path
    manifest = json.loads(artifact.content)
    calendar = manifest["addOns"]["calendar"]
    assert calendar["homepageTrigger"]["runFunction"] == plan.topology.addon_url
    assert calendar["eventOpenTrigger"]["runFunction"] == plan.topology.addon_url
    assert "${" not in artifact.content
    template = json.loads((REPO_ROOT / "manifest" / "deployment.json").read_text())
    assert manifest["oauthScopes"] == template["oauthScopes"]
    install = plan.steps[plan.steps.index(step) + 1]
    assert install.argv[:5] == (
        "gcloud",
        "workspace-add-ons",
        "deployments",
        "install",
        "meeting-prep",
    )


def test_chat_and_oauth_console_steps_carry_the_values_to_paste(plan: Plan) -> None:
    t = plan.topology
    chat = next(s for s in plan.steps if s.section == "chat")
    assert not chat.argv
    assert t.chat_url in chat.manual and "HTTP endpoint URL" in chat.manual
    oauth = next(s for s in plan.steps if s.section == "oauth-client")
    assert t.oauth_redirect_uri in oauth.manual


def test_dry_run_prints_every_step_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_env_file(tmp_path / "deploy.env")
    build = tmp_path / "build"
    assert main(["deploy", "--config", str(config), "--build-dir", str(build)]) == 0
    out = capsys.readouterr().out
    assert not build.exists()
    plan = build_plan(load_inputs(INPUTS), build_dir=build)
    printed = [line for line in out.splitlines() if line.startswith("gcloud ")]
    assert printed == [shlex.join(s.argv) for s in plan.steps if s.argv]
    assert out.count("\n# [") == len(plan.steps)
    for artifact in plan.files:
        assert f"# ---- {artifact.path}" in out
    # Same inputs, same plan.
    assert main(["deploy", "--config", str(config), "--build-dir", str(build), "--dry-run"]) == 0
    assert capsys.readouterr().out == out


def test_no_secret_reaches_the_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = {
        "PREP_TOKEN_KEK": "k1:c2VjcmV0LWtleS1tYXRlcmlhbC0zMi1ieXRlcy1sb25nISE=",
        "PREP_OAUTH_WEB_CLIENT_SECRET": "GOCSPX-very-secret-client-secret",
        "PREP_WEBHOOK_SECRET": "d2ViaG9vay1zZWNyZXQtdmFsdWU=",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    config = write_env_file(tmp_path / "deploy.env")
    assert main(["deploy", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    for value in secrets.values():
        assert value not in out
    assert "c2VjcmV0" not in out
    for name in secrets:
        assert f"{name}=" not in out.replace(f"{name}=meeting-prep-", "")


def test_runtime_env_refuses_values_gcloud_would_split(plan: Plan) -> None:
    from deploy.function_env import set_env_vars_flag

    env = runtime_env(plan.topology)
    with pytest.raises(SettingsError, match="PREP_OAUTH_SCOPES"):
        set_env_vars_flag({**env, "PREP_OAUTH_SCOPES": "a,b"})
    scoped = build_plan(
        load_inputs(
            {**INPUTS, "OAUTH_SCOPES": "openid, https://www.googleapis.com/auth/gmail.send"}
        )
    )
    assert deployed_env(deploy_steps(scoped)["oauth"])["PREP_OAUTH_SCOPES"] == (
        "openid https://www.googleapis.com/auth/gmail.send"
    )
