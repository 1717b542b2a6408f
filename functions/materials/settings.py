"""Settings for prep materials (generator, Vertex AI, storage, signed links), from the environment.

Kept beside the code that uses them and folded into `functions.config.Settings`
as one `materials` field, so the shared settings module only names it. Same
rules as the rest of the configuration: every value is validated at start and
a problem names its variable. Documented in docs/configuration.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TEMPLATES = _ROOT / "config" / "prep_templates.yaml"
DEFAULT_MATERIALS_DIR = _ROOT / ".local" / "materials"
DEFAULT_SIGNING_KEY = _ROOT / ".local" / "materials-signing-key.json"
#: Cloud Storage's limit for V4 signed URLs.
MAX_LINK_HOURS = 7 * 24


class MaterialsSettingsError(ValueError):
    """A materials setting is missing or malformed; the message names it."""


@dataclass(frozen=True, slots=True)
class MaterialsSettings:
    #: "offline" (deterministic, no model; the embedded default) or "vertex".
    generator: str = "offline"
    vertex_location: str = "us-central1"
    vertex_model: str = "gemini-2.5-flash"
    vertex_timeout_seconds: float = 60.0
    #: HTTP attempts per model call, including the first (retries 408/429/5xx and timeouts).
    vertex_attempts: int = 3
    #: Another endpoint for the Vertex API (tests, Private Service Connect); None = Google's.
    vertex_base_url: str | None = None
    #: List prices of the model in USD per million tokens, for cost estimates.
    price_input_per_million: float = 0.30
    price_output_per_million: float = 2.50
    #: Model generations one user may start per UTC day (cache hits are free).
    daily_generations: int = 20
    #: "local" (files under .local, served by the app) or "gcs".
    storage: str = "local"
    bucket: str | None = None
    local_dir: Path = DEFAULT_MATERIALS_DIR
    #: Service-account key that signs URLs; None in production means IAM signBlob.
    signing_key_path: Path | None = DEFAULT_SIGNING_KEY
    #: Service account that signs through IAM; None = the runtime's own account.
    signer_email: str | None = None
    link_hours: int = 24
    templates_path: Path = DEFAULT_TEMPLATES
    #: Transient generation failures tolerated before the meeting is marked failed.
    max_transient_failures: int = 5


def _text(env: Mapping[str, str], name: str) -> str | None:
    return env.get(name, "").strip() or None


def _number(env: Mapping[str, str], name: str, default: float, lo: float, hi: float) -> float:
    raw = _text(env, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise MaterialsSettingsError(f"{name}={raw!r} is not a number") from None
    if not lo <= value <= hi:
        raise MaterialsSettingsError(f"{name}={raw!r} must be between {lo:g} and {hi:g}")
    return value


def _integer(env: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    value = _number(env, name, default, lo, hi)
    if value != int(value):
        raise MaterialsSettingsError(f"{name} must be a whole number")
    return int(value)


def _choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = (_text(env, name) or default).lower()
    if value not in allowed:
        raise MaterialsSettingsError(f"{name}={value!r} is not one of {', '.join(allowed)}")
    return value


def _path(env: Mapping[str, str], name: str, default: Path) -> Path:
    raw = _text(env, name)
    if raw is None:
        return default
    p = Path(raw)
    return p if p.is_absolute() else _ROOT / p


def load_materials_settings(
    env: Mapping[str, str], *, production: bool, project: str | None
) -> MaterialsSettings:
    generator = _choice(
        env, "PREP_GENERATOR", "vertex" if production else "offline", ("offline", "vertex")
    )
    storage = _choice(
        env, "PREP_MATERIALS_STORAGE", "gcs" if production else "local", ("local", "gcs")
    )
    if production and storage == "local":
        raise MaterialsSettingsError(
            "PREP_MATERIALS_STORAGE=local is for local mode only: "
            "Cloud Functions instances do not share a disk"
        )
    if generator == "vertex" and not project:
        raise MaterialsSettingsError("GOOGLE_CLOUD_PROJECT is required when PREP_GENERATOR=vertex")
    # Needed only by the functions that touch materials: checked where it is used
    # (`wiring.build_materials_storage`), so the others deploy without it.
    bucket = _text(env, "PREP_MATERIALS_BUCKET")
    base_url = _text(env, "PREP_VERTEX_BASE_URL")
    if base_url and not base_url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise MaterialsSettingsError("PREP_VERTEX_BASE_URL must be https:// (or loopback http)")
    key_default = None if production else DEFAULT_SIGNING_KEY
    key_raw = _text(env, "PREP_MATERIALS_SIGNING_KEY")
    return MaterialsSettings(
        generator=generator,
        vertex_location=_text(env, "PREP_VERTEX_LOCATION") or "us-central1",
        vertex_model=_text(env, "PREP_VERTEX_MODEL") or "gemini-2.5-flash",
        vertex_timeout_seconds=_number(env, "PREP_VERTEX_TIMEOUT_SECONDS", 60.0, 1, 600),
        vertex_attempts=_integer(env, "PREP_VERTEX_ATTEMPTS", 3, 1, 10),
        vertex_base_url=base_url,
        price_input_per_million=_number(env, "PREP_VERTEX_PRICE_INPUT", 0.30, 0, 1000),
        price_output_per_million=_number(env, "PREP_VERTEX_PRICE_OUTPUT", 2.50, 0, 1000),
        daily_generations=_integer(env, "PREP_DAILY_GENERATIONS", 20, 1, 1000),
        storage=storage,
        bucket=bucket,
        local_dir=_path(env, "PREP_MATERIALS_DIR", DEFAULT_MATERIALS_DIR),
        signing_key_path=_path(env, "PREP_MATERIALS_SIGNING_KEY", DEFAULT_SIGNING_KEY)
        if key_raw
        else key_default,
        signer_email=_text(env, "PREP_MATERIALS_SIGNER_EMAIL"),
        link_hours=_integer(env, "PREP_MATERIALS_LINK_HOURS", 24, 1, MAX_LINK_HOURS),
        templates_path=_path(env, "PREP_TEMPLATES", DEFAULT_TEMPLATES),
        max_transient_failures=_integer(env, "PREP_GENERATION_MAX_RETRIES", 5, 1, 50),
    )
