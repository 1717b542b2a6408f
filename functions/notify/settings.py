"""Settings for notification delivery and the Chat app, from the environment.

Kept beside the code that uses them and folded into `functions.config.Settings`
as one `notify` field, so the shared settings module only names it. Every
value is validated at start and a problem names its variable. Documented in
docs/configuration.md and docs/workflow.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUTBOX = _ROOT / ".local" / "outbox.db"
CHAT_CERTS_URL = (
    "https://www.googleapis.com/service_accounts/v1/metadata/x509/chat@system.gserviceaccount.com"
)
AUDIENCE_TYPES = ("endpoint_url", "project_number")


class NotifySettingsError(ValueError):
    """A notification setting is missing or malformed; the message names it."""


@dataclass(frozen=True, slots=True)
class NotifySettings:
    #: "outbox" (a local file shown at /dev/outbox) or "google" (Gmail and Chat).
    delivery: str = "outbox"
    outbox_path: Path = DEFAULT_OUTBOX
    #: Gmail / Chat API base URLs; None is Google's (tests point them at a fake).
    gmail_api_endpoint: str | None = None
    chat_api_endpoint: str | None = None
    #: The Chat app's "authentication audience": endpoint_url or project_number.
    chat_audience_type: str = "endpoint_url"
    #: The Chat endpoint URL, or the Cloud project number, as set in the Chat app's config.
    chat_audience: str = "http://127.0.0.1:8080/chat"
    #: Chat's own signing certificates (for the project_number audience).
    chat_certs_url: str = CHAT_CERTS_URL
    #: Display name on reminder emails (the address is the user's own).
    mail_from_name: str = "Meeting prep"


def _url(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip() or default
    loopback = value.startswith(("http://127.0.0.1", "http://localhost"))
    if not (value.startswith("https://") or loopback):
        raise NotifySettingsError(f"{name}={value!r} must be an https:// URL (or loopback http)")
    return value


def _optional_url(env: Mapping[str, str], name: str) -> str | None:
    return _url(env, name, "") if env.get(name, "").strip() else None


def _choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = env.get(name, "").strip().lower() or default
    if value not in allowed:
        raise NotifySettingsError(f"{name}={value!r} is not one of {', '.join(allowed)}")
    return value


def load_notify_settings(
    env: Mapping[str, str], *, production: bool, public_url: str, repo_root: Path = _ROOT
) -> NotifySettings:
    delivery = _choice(
        env, "PREP_NOTIFY", "google" if production else "outbox", ("outbox", "google")
    )
    if production and delivery == "outbox":
        raise NotifySettingsError("PREP_NOTIFY=outbox is for local mode only: nobody would see it")
    audience_type = _choice(env, "PREP_CHAT_AUDIENCE_TYPE", "endpoint_url", AUDIENCE_TYPES)
    raw_audience = env.get("PREP_CHAT_AUDIENCE", "").strip()
    if production and not raw_audience:
        raise NotifySettingsError("PREP_CHAT_AUDIENCE is required when PREP_MODE=production")
    if audience_type == "endpoint_url":
        audience = _url(env, "PREP_CHAT_AUDIENCE", f"{public_url}/chat")
    elif raw_audience.isdigit():
        audience = raw_audience
    else:
        raise NotifySettingsError(
            "PREP_CHAT_AUDIENCE must be the Cloud project number "
            "when PREP_CHAT_AUDIENCE_TYPE=project_number"
        )
    raw_outbox = env.get("PREP_OUTBOX_PATH", "").strip()
    outbox = Path(raw_outbox) if raw_outbox else DEFAULT_OUTBOX
    return NotifySettings(
        delivery=delivery,
        outbox_path=outbox if outbox.is_absolute() else repo_root / outbox,
        gmail_api_endpoint=_optional_url(env, "PREP_GMAIL_API_ENDPOINT"),
        chat_api_endpoint=_optional_url(env, "PREP_CHAT_API_ENDPOINT"),
        chat_audience_type=audience_type,
        chat_audience=audience,
        chat_certs_url=_url(env, "PREP_CHAT_CERTS_URL", CHAT_CERTS_URL),
        mail_from_name=" ".join(env.get("PREP_MAIL_FROM_NAME", "").split()) or "Meeting prep",
    )
