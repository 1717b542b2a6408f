"""Runtime configuration: one schema, read from the environment, validated at start.

Every setting is documented in `docs/configuration.md`; a missing or malformed
value fails the process at start with a message naming the variable, rather
than failing the first request that happens to need it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE_PATH = REPO_ROOT / ".local" / "prep.db"
DEFAULT_MEETING_TYPES = REPO_ROOT / "config" / "meeting_types.yaml"
DEFAULT_DEV_KEY = REPO_ROOT / ".local" / "dev-signing-key.pem"
GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"


class Mode(StrEnum):
    LOCAL = "local"
    PRODUCTION = "production"


class SettingsError(ValueError):
    """A configuration value is missing or malformed; the message names it."""


@dataclass(frozen=True, slots=True)
class Settings:
    mode: Mode = Mode.LOCAL
    store: str = "sqlite"
    sqlite_path: Path = DEFAULT_SQLITE_PATH
    meeting_types_path: Path = DEFAULT_MEETING_TYPES
    project: str | None = None
    firestore_database: str = "(default)"
    log_level: str = "INFO"
    #: Where Google's ID-token certificates are fetched (a loopback URL in tests).
    google_certs_url: str = GOOGLE_CERTS_URL
    #: Local mode only: the key that stands in for Google's when signing tokens.
    dev_key_path: Path = DEFAULT_DEV_KEY
    #: Public base URL of the deployment; locally the `serve` address.
    public_url: str = "http://127.0.0.1:8080"
    #: Audience of add-on systemIdTokens: the add-on endpoint URL in the manifest.
    addon_audience: str = "http://127.0.0.1:8080/addon"
    #: service-PROJECT_NUMBER@gcp-sa-gsuiteaddons.iam.gserviceaccount.com in production.
    addon_sa_email: str = "addon@local.invalid"
    #: OAuth client id of the add-on deployment: the audience of userIdTokens.
    oauth_client_id: str = "local-client.apps.googleusercontent.com"
    #: Audience and caller of OIDC tokens on /tasks/* (Cloud Tasks and Scheduler).
    tasks_audience: str = "http://127.0.0.1:8080/tasks"
    tasks_sa_email: str = "tasks@local.invalid"

    @property
    def is_local(self) -> bool:
        return self.mode is Mode.LOCAL


_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = env.get(name, default).strip().lower() or default
    if value not in allowed:
        raise SettingsError(f"{name}={value!r} is not one of {', '.join(allowed)}")
    return value


def _path(env: Mapping[str, str], name: str, default: Path) -> Path:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    p = Path(raw)
    return p if p.is_absolute() else REPO_ROOT / p


def _url(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip() or default
    loopback = value.startswith(("http://127.0.0.1", "http://localhost"))
    if not (value.startswith("https://") or loopback):
        raise SettingsError(f"{name}={value!r} must be an https:// URL (or loopback http)")
    return value


def _required_in_production(
    env: Mapping[str, str], mode: Mode, name: str, local_default: str
) -> str:
    value = env.get(name, "").strip()
    if value:
        return value
    if mode is Mode.PRODUCTION:
        raise SettingsError(f"{name} is required when PREP_MODE=production")
    return local_default


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build `Settings` from environment variables (PREP_* plus Google's standard ones)."""
    env = os.environ if env is None else env
    mode = Mode(_choice(env, "PREP_MODE", "local", tuple(m.value for m in Mode)))
    default_store = "sqlite" if mode is Mode.LOCAL else "firestore"
    store = _choice(env, "PREP_STORE", default_store, ("sqlite", "firestore"))
    project = env.get("GOOGLE_CLOUD_PROJECT", "").strip() or None
    if store == "firestore" and not project:
        raise SettingsError("GOOGLE_CLOUD_PROJECT is required when PREP_STORE=firestore")
    if mode is Mode.PRODUCTION and store == "sqlite":
        raise SettingsError(
            "PREP_STORE=sqlite is for local mode only: "
            "Cloud Functions instances do not share a disk"
        )
    level = env.get("PREP_LOG_LEVEL", "INFO").strip().upper() or "INFO"
    if level not in _LOG_LEVELS:
        raise SettingsError(f"PREP_LOG_LEVEL={level!r} is not one of {', '.join(_LOG_LEVELS)}")
    public_url = _url(
        env,
        "PREP_PUBLIC_URL",
        _required_in_production(env, mode, "PREP_PUBLIC_URL", "http://127.0.0.1:8080"),
    ).rstrip("/")
    return Settings(
        mode=mode,
        store=store,
        sqlite_path=_path(env, "PREP_SQLITE_PATH", DEFAULT_SQLITE_PATH),
        meeting_types_path=_path(env, "PREP_MEETING_TYPES", DEFAULT_MEETING_TYPES),
        project=project,
        firestore_database=env.get("PREP_FIRESTORE_DATABASE", "").strip() or "(default)",
        log_level=level,
        google_certs_url=_url(env, "PREP_GOOGLE_CERTS_URL", GOOGLE_CERTS_URL),
        dev_key_path=_path(env, "PREP_DEV_KEY_PATH", DEFAULT_DEV_KEY),
        public_url=public_url,
        addon_audience=_url(
            env,
            "PREP_ADDON_AUDIENCE",
            _required_in_production(env, mode, "PREP_ADDON_AUDIENCE", f"{public_url}/addon"),
        ),
        addon_sa_email=_required_in_production(
            env, mode, "PREP_ADDON_SA_EMAIL", "addon@local.invalid"
        ),
        oauth_client_id=_required_in_production(
            env, mode, "PREP_OAUTH_CLIENT_ID", "local-client.apps.googleusercontent.com"
        ),
        tasks_audience=_url(
            env,
            "PREP_TASKS_AUDIENCE",
            _required_in_production(env, mode, "PREP_TASKS_AUDIENCE", f"{public_url}/tasks"),
        ),
        tasks_sa_email=_required_in_production(
            env, mode, "PREP_TASKS_SA_EMAIL", "tasks@local.invalid"
        ),
    )
