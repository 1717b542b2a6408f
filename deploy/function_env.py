"""The runtime environment of every deployed function, generated from the topology.

Every function gets the same non-secret settings (so they all agree on URLs,
audiences and identities) and only the secrets it uses. The result is checked
with the application's own `load_settings` plus the first-use table before any
gcloud command runs: a deploy cannot ship a configuration the code would refuse.
"""

from __future__ import annotations

from deploy.readiness import ENTRY_POINTS, SECRET_SETTINGS, check_environment
from deploy.topology import Topology
from functions.config import SettingsError


def runtime_env(topo: Topology) -> dict[str, str]:
    """The non-secret PREP_* settings, identical for every function."""
    i = topo.inputs
    env = {
        "PREP_MODE": "production",
        "GOOGLE_CLOUD_PROJECT": i.project_id,
        "PREP_STORE": "firestore",
        "PREP_FIRESTORE_DATABASE": i.firestore_database,
        "PREP_LOG_LEVEL": i.log_level,
        # Base of every task URL: Cloud Tasks POSTs to PREP_PUBLIC_URL + "/tasks/...".
        "PREP_PUBLIC_URL": topo.tasks_url,
        "PREP_TASKS_AUDIENCE": topo.tasks_url,
        "PREP_TASKS_SA_EMAIL": topo.tasks_sa,
        "PREP_TASKS_LOCATION": i.region,
        "PREP_ADDON_AUDIENCE": topo.addon_url,
        "PREP_ADDON_SA_EMAIL": topo.addon_sa,
        "PREP_OAUTH_CLIENT_ID": i.addon_oauth_client_id,
        "PREP_OAUTH_WEB_CLIENT_ID": i.oauth_web_client_id,
        "PREP_OAUTH_REDIRECT_URI": topo.oauth_redirect_uri,
        "PREP_WEBHOOK_URL": topo.webhook_url,
        "PREP_SYNC_INTERVAL_MINUTES": str(i.sync_interval_minutes),
        "PREP_GENERATOR": "vertex",
        "PREP_VERTEX_LOCATION": i.vertex_location,
        "PREP_VERTEX_MODEL": i.vertex_model,
        "PREP_GENERATION_MAX_RETRIES": str(i.generation_max_retries),
        "PREP_MATERIALS_STORAGE": "gcs",
        "PREP_MATERIALS_BUCKET": i.bucket,
        "PREP_MATERIALS_SIGNER_EMAIL": topo.runtime_sa,
        "PREP_NOTIFY": "google",
        "PREP_CHAT_AUDIENCE_TYPE": "endpoint_url",
        "PREP_CHAT_AUDIENCE": topo.chat_url,
    }
    if i.oauth_scopes:
        env["PREP_OAUTH_SCOPES"] = i.oauth_scopes
    return env


def set_env_vars_flag(env: dict[str, str]) -> str:
    """`--set-env-vars=K=V,...`: gcloud splits on commas, so no value may contain one."""
    for name, value in env.items():
        if "," in value or "\n" in value:
            raise SettingsError(f"{name}={value!r}: a comma or newline cannot be deployed")
    return "--set-env-vars=" + ",".join(f"{k}={v}" for k, v in sorted(env.items()))


def set_secrets_flag(topo: Topology, entry_point: str) -> str:
    """`--set-secrets=ENV=secret:latest,...` or `--clear-secrets` (declarative both ways)."""
    mounted = topo.secrets_of(entry_point)
    if not mounted:
        return "--clear-secrets"
    return "--set-secrets=" + ",".join(f"{s.setting}={s.secret_id}:latest" for s in mounted)


def validate(topo: Topology) -> None:
    """Run the application's own checks on what each function will be deployed with."""
    env = runtime_env(topo)
    for entry_point in ENTRY_POINTS:
        mounted = tuple(s.setting for s in topo.secrets_of(entry_point))
        check_environment(env, (entry_point,), provided_elsewhere=mounted)
    set_env_vars_flag(env)
    unmounted = set(SECRET_SETTINGS) - {s.setting for s in topo.secrets}
    if unmounted:
        raise SettingsError(f"no Secret Manager secret planned for {', '.join(sorted(unmounted))}")
