"""Runtime configuration: one schema, read from the environment, validated at start.

Every setting is documented in `docs/configuration.md`; a missing or malformed
value fails the process at start with a message naming the variable, rather
than failing the first request that happens to need it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from pathlib import Path

from functions.materials.settings import (
    MaterialsSettings,
    MaterialsSettingsError,
    load_materials_settings,
)
from functions.notify.settings import (
    NotifySettings,
    NotifySettingsError,
    load_notify_settings,
)
from functions.oauth.kek import parse_kek_spec
from functions.oauth.scopes import DEFAULT_SCOPES, is_valid_scope

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE_PATH = REPO_ROOT / ".local" / "prep.db"
DEFAULT_MEETING_TYPES = REPO_ROOT / "config" / "meeting_types.yaml"
DEFAULT_DEV_KEY = REPO_ROOT / ".local" / "dev-signing-key.pem"
GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
DEFAULT_TOKEN_KEK = REPO_ROOT / ".local" / "token-kek"
LOCAL_WEB_CLIENT_ID = "local-web-client.apps.googleusercontent.com"
GOOGLE_AUTH_URI = "https://accounts.google.com/o/oauth2/v2/auth"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL
GOOGLE_REVOKE_URI = "https://oauth2.googleapis.com/revoke"
DEFAULT_ICS = REPO_ROOT / "config" / "sample.ics"


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
    #: Cloud Tasks region of the queues; required to enqueue in production.
    tasks_location: str | None = None
    #: OAuth *web* client of the offline-access consent flow (not the add-on's own client).
    oauth_web_client_id: str = LOCAL_WEB_CLIENT_ID
    oauth_web_client_secret: str = field(default="local-web-client-secret", repr=False)
    oauth_redirect_uri: str = "http://127.0.0.1:8080/oauth/callback"
    #: Google's endpoints in production; the app's own /dev/oauth/* stand-ins locally.
    oauth_auth_uri: str = "http://127.0.0.1:8080/dev/oauth/authorize"
    oauth_token_uri: str = "http://127.0.0.1:8080/dev/oauth/token"  # noqa: S105 - a URL
    oauth_revoke_uri: str = "http://127.0.0.1:8080/dev/oauth/revoke"
    oauth_scopes: tuple[str, ...] = DEFAULT_SCOPES
    #: Key-encryption keys for stored credentials: "id:base64[,id:base64...]", first encrypts.
    token_kek: str = field(default="", repr=False)
    #: Local mode without PREP_TOKEN_KEK: the key file, created 0600 on first use.
    token_kek_path: Path = DEFAULT_TOKEN_KEK
    #: Domain-wide delegation: a service-account key file; set, it replaces per-user consent.
    dwd_key_path: Path | None = None
    #: Local mode: the calendar the embedded default imports (see docs/sync.md).
    ics_path: Path = DEFAULT_ICS
    #: The local user's email: their attendee entries in the .ics are "you".
    local_user_email: str = "you@example.com"
    #: PREP_LOCAL_USER_EMAIL was given; otherwise the owner is inferred from the .ics.
    local_user_email_set: bool = False
    #: Calendar API base URL; None is Google's. Set locally, background sync uses the API.
    calendar_api_endpoint: str | None = None
    #: Where Google delivers push pings; push is off unless it is an https:// URL.
    webhook_url: str = "http://127.0.0.1:8080/calendar/webhook"
    #: Key of the push channel tokens (HMAC); required for push in production.
    webhook_secret: str = field(default="", repr=False)
    #: How often Cloud Scheduler calls the fan-out; task names are per slot of this length.
    sync_interval: timedelta = timedelta(minutes=15)
    #: How far ahead meetings are stored and planned; see functions/sync/horizons.py.
    sync_horizon: timedelta = timedelta(days=90)
    #: Prep materials: generator, Vertex AI, storage, links (functions/materials/settings.py).
    materials: MaterialsSettings = field(default_factory=MaterialsSettings)
    #: Notification delivery and the Chat app (functions/notify/settings.py).
    notify: NotifySettings = field(default_factory=NotifySettings)

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


def _optional_path(env: Mapping[str, str], name: str) -> Path | None:
    return _path(env, name, REPO_ROOT) if env.get(name, "").strip() else None


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


def _email(name: str, value: str) -> str:
    """A service account's email: the caller an ID token must name, so a typo locks all out."""
    local, at, domain = value.partition("@")
    spaced = any(c.isspace() for c in value)
    if spaced or not (local and at and "." in domain and "@" not in domain):
        raise SettingsError(f"{name}={value!r} is not a service account email")
    return value


def _scopes(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    raw = env.get(name, "").replace(",", " ").split()
    if not raw:
        return DEFAULT_SCOPES
    bad = [s for s in raw if not is_valid_scope(s)]
    if bad:
        raise SettingsError(f"{name}: {bad[0]!r} is not a Google OAuth scope")
    return tuple(dict.fromkeys(raw))


def _kek(env: Mapping[str, str], name: str) -> str:
    raw = env.get(name, "").strip()
    if raw:
        try:
            parse_kek_spec(raw)
        except ValueError as exc:
            raise SettingsError(f"{name}: {exc}") from None
    return raw


def _production_or_local(env: Mapping[str, str], mode: Mode, name: str, local: str) -> str:
    """A secret needed only by some functions: empty in production until set.

    Checked where it is used (with a SettingsError naming it), so functions that
    never need it do not have to be deployed with it.
    """
    return env.get(name, "").strip() or ("" if mode is Mode.PRODUCTION else local)


def _minutes(env: Mapping[str, str], name: str, default: int) -> timedelta:
    raw = env.get(name, "").strip()
    try:
        value = int(raw) if raw else default
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number of minutes") from None
    if not 1 <= value <= 24 * 60:
        raise SettingsError(f"{name}={value} must be between 1 and 1440 minutes")
    return timedelta(minutes=value)


def _horizon_days(env: Mapping[str, str], name: str, default: int) -> timedelta:
    """The sync horizon: long enough that every meeting is stored before its prep trigger."""
    from functions.sync.horizons import shortest_sync_horizon

    raw = env.get(name, "").strip()
    try:
        value = int(raw) if raw else default
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number of days") from None
    least = -(-shortest_sync_horizon() // timedelta(days=1))  # whole days, rounded up
    if not least <= value <= 366:
        raise SettingsError(
            f"{name}={value} must be between {least} days (the longest lead time, the"
            " two-day prep horizon and the weekly re-listing) and 366"
        )
    return timedelta(days=value)


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
        addon_sa_email=_email(
            "PREP_ADDON_SA_EMAIL",
            _required_in_production(env, mode, "PREP_ADDON_SA_EMAIL", "addon@local.invalid"),
        ),
        oauth_client_id=_required_in_production(
            env, mode, "PREP_OAUTH_CLIENT_ID", "local-client.apps.googleusercontent.com"
        ),
        tasks_audience=_url(
            env,
            "PREP_TASKS_AUDIENCE",
            _required_in_production(env, mode, "PREP_TASKS_AUDIENCE", f"{public_url}/tasks"),
        ),
        tasks_sa_email=_email(
            "PREP_TASKS_SA_EMAIL",
            _required_in_production(env, mode, "PREP_TASKS_SA_EMAIL", "tasks@local.invalid"),
        ),
        tasks_location=env.get("PREP_TASKS_LOCATION", "").strip() or None,
        oauth_web_client_id=_production_or_local(
            env, mode, "PREP_OAUTH_WEB_CLIENT_ID", LOCAL_WEB_CLIENT_ID
        ),
        oauth_web_client_secret=_production_or_local(
            env, mode, "PREP_OAUTH_WEB_CLIENT_SECRET", "local-web-client-secret"
        ),
        oauth_redirect_uri=_url(env, "PREP_OAUTH_REDIRECT_URI", f"{public_url}/oauth/callback"),
        oauth_auth_uri=_url(
            env,
            "PREP_OAUTH_AUTH_URI",
            f"{public_url}/dev/oauth/authorize" if mode is Mode.LOCAL else GOOGLE_AUTH_URI,
        ),
        oauth_token_uri=_url(
            env,
            "PREP_OAUTH_TOKEN_URI",
            f"{public_url}/dev/oauth/token" if mode is Mode.LOCAL else GOOGLE_TOKEN_URI,
        ),
        oauth_revoke_uri=_url(
            env,
            "PREP_OAUTH_REVOKE_URI",
            f"{public_url}/dev/oauth/revoke" if mode is Mode.LOCAL else GOOGLE_REVOKE_URI,
        ),
        oauth_scopes=_scopes(env, "PREP_OAUTH_SCOPES"),
        token_kek=_kek(env, "PREP_TOKEN_KEK"),
        token_kek_path=_path(env, "PREP_TOKEN_KEK_PATH", DEFAULT_TOKEN_KEK),
        dwd_key_path=_optional_path(env, "PREP_DWD_KEY_FILE"),
        ics_path=_path(env, "PREP_ICS_PATH", DEFAULT_ICS),
        local_user_email=env.get("PREP_LOCAL_USER_EMAIL", "").strip() or "you@example.com",
        local_user_email_set=bool(env.get("PREP_LOCAL_USER_EMAIL", "").strip()),
        calendar_api_endpoint=(
            _url(env, "PREP_CALENDAR_API_ENDPOINT", "")
            if env.get("PREP_CALENDAR_API_ENDPOINT", "").strip()
            else None
        ),
        webhook_url=_url(env, "PREP_WEBHOOK_URL", f"{public_url}/calendar/webhook"),
        webhook_secret=env.get("PREP_WEBHOOK_SECRET", "").strip(),
        sync_interval=_minutes(env, "PREP_SYNC_INTERVAL_MINUTES", 15),
        sync_horizon=_horizon_days(env, "PREP_SYNC_HORIZON_DAYS", 90),
        materials=_materials(env, mode, project),
        notify=_notify(env, mode, public_url),
    )


def _materials(env: Mapping[str, str], mode: Mode, project: str | None) -> MaterialsSettings:
    try:
        return load_materials_settings(env, production=mode is Mode.PRODUCTION, project=project)
    except MaterialsSettingsError as exc:
        raise SettingsError(str(exc)) from None


def _notify(env: Mapping[str, str], mode: Mode, public_url: str) -> NotifySettings:
    try:
        return load_notify_settings(env, production=mode is Mode.PRODUCTION, public_url=public_url)
    except NotifySettingsError as exc:
        raise SettingsError(str(exc)) from None
