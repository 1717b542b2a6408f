"""Settings for prep materials (generator, Vertex AI, storage, signed links), from the environment.

Kept beside the code that uses them and folded into `functions.config.Settings`
as one `materials` field, so the shared settings module only names it. Same
rules as the rest of the configuration: every value is validated at start and
a problem names its variable. Documented in docs/configuration.md.

The Vertex AI time settings obey one invariant, checked here at start: the
worst case of one generation (`MaterialsSettings.generation_worst_case_seconds`:
schema attempts x (HTTP attempts x timeout + the client's backoff between
them)) stays within `GENERATION_BUDGET_SECONDS`, which is the generate task's
Cloud Tasks dispatch deadline less a reserve for the rest of the handler.
Past the deadline Cloud Tasks would deliver the task again while the first
attempt still runs (tests/materials/test_deadline.py ties the numbers together).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TEMPLATES = _ROOT / "config" / "prep_templates.yaml"
DEFAULT_MATERIALS_DIR = _ROOT / ".local" / "materials"
DEFAULT_SIGNING_KEY = _ROOT / ".local" / "materials-signing-key.json"
#: The embedded default's "Drive": text files named by file id (documents/local.py).
DEFAULT_DOCUMENTS_DIR = _ROOT / "config" / "documents"
DEFAULT_STANDING_CONTEXT = _ROOT / "config" / "standing_context.yaml"
#: Cloud Storage's limit for V4 signed URLs.
MAX_LINK_HOURS = 7 * 24

#: A current GA Gemini Flash model on Vertex AI (released 2026-09-02). It is served from
#: the global endpoint and the us/eu multi-regions only, hence the default location.
DEFAULT_VERTEX_MODEL = "gemini-3.8-flash"
DEFAULT_VERTEX_LOCATION = "global"
#: Gemini 3 models think at a level (thinking_budget is the Gemini 2.5 control). LOW is
#: enough to fill a schema from the data given and keeps thinking well inside the output.
THINKING_LEVELS = ("low", "medium", "high")
#: Output tokens per call, thinking included. Room for thinking at LOW (about a thousand
#: tokens) and an answer of ~7,000 tokens: several times a rich answer, and over half the
#: schema's theoretical maximum (every list full, every item at its length cap: ~11,500
#: tokens), which the prompt's "short" never asks for. Deliberately not more: at Flash's
#: ~200 tokens/s it is reached within one HTTP timeout, so a runaway answer ends as
#: MAX_TOKENS (failed, not retried) instead of as a timeout (retried, and billed again).
#: tests/materials/test_vertex.py derives both sides from the schema and the settings.
DEFAULT_MAX_OUTPUT_TOKENS = 8192
#: Output speed assumed above (Gemini Flash models measure 150-300 tokens/s).
ASSUMED_OUTPUT_TOKENS_PER_SECOND = 200
#: Gemini's own ceiling for maxOutputTokens.
MAX_OUTPUT_TOKENS_LIMIT = 65_536
#: Model ids Google has retired on Vertex AI (they answer 404): Gemini 1.0/1.5 (and the
#: unversioned `gemini-pro`), 2.0 and 2.5. Retirement is permanent, so the list only grows.
RETIRED_MODEL = re.compile(r"gemini-(?:1\.|pro(?:$|-)|ultra|2\.0|2\.5)")
#: Models served only from the global endpoint and the us/eu multi-regions.
GLOBAL_ONLY_MODELS = frozenset({"gemini-3.7-flash", "gemini-3.8-flash"})
MULTI_REGION_LOCATIONS = frozenset({"global", "us", "eu"})

#: Answers that come back but do not match the schema are asked for once more.
SCHEMA_ATTEMPTS = 2
#: Backoff of the client's own retries (google-genai `HttpRetryOptions`; tenacity's
#: wait_exponential_jitter: min(initial * 2**n + uniform(0, jitter), max)).
RETRY_INITIAL_DELAY = 1.0
RETRY_MAX_DELAY = 20.0
RETRY_JITTER = 1.0
#: Cloud Tasks' dispatch deadline for our HTTP tasks (`functions.tasks.cloud_tasks`).
DISPATCH_DEADLINE_SECONDS = 300.0
#: What the generate handler needs besides the model call: store reads and writes, the
#: generation lock, two Cloud Storage uploads and the "ready" message, and reading the
#: meeting's documents and mail (at most `DOCUMENTS_WORST_CASE_SECONDS` and
#: `MAIL_WORST_CASE_SECONDS` of it).
HANDLER_RESERVE_SECONDS = 60.0
#: Reading documents: no read starts after 10 s (`DocumentBudget.read_seconds`), and the
#: one in flight is two Drive calls of at most 5 s (`documents.drive`).
DOCUMENTS_WORST_CASE_SECONDS = 20.0
#: Reading mail threads: no threads.get starts after 7 s, each call at most 3 s
#: (`functions.mail.gmail`).
MAIL_WORST_CASE_SECONDS = 10.0
#: The longest one generation may take, all attempts and backoff included.
GENERATION_BUDGET_SECONDS = DISPATCH_DEADLINE_SECONDS - HANDLER_RESERVE_SECONDS


def retry_delays(attempts: int, initial: float, maximum: float, jitter: float) -> list[float]:
    """The longest wait before each retry of `attempts` HTTP attempts (jitter at its most)."""
    return [min(initial * 2**n + jitter, maximum) for n in range(attempts - 1)]


def call_worst_case_seconds(
    timeout: float,
    attempts: int,
    initial: float = RETRY_INITIAL_DELAY,
    maximum: float = RETRY_MAX_DELAY,
    jitter: float = RETRY_JITTER,
) -> float:
    """One model call: every HTTP attempt runs to its timeout, every backoff to its longest."""
    return attempts * timeout + sum(retry_delays(attempts, initial, maximum, jitter))


class MaterialsSettingsError(ValueError):
    """A materials setting is missing or malformed; the message names it."""


@dataclass(frozen=True, slots=True)
class MaterialsSettings:
    #: "offline" (deterministic, no model; the embedded default) or "vertex".
    generator: str = "offline"
    vertex_location: str = DEFAULT_VERTEX_LOCATION
    vertex_model: str = DEFAULT_VERTEX_MODEL
    #: One HTTP attempt; a Flash answer at thinking level LOW takes 5-30 s, and a full
    #: `vertex_max_output_tokens` about 40 s.
    vertex_timeout_seconds: float = 50.0
    #: HTTP attempts per model call, including the first (retries 408/429/5xx and timeouts).
    #: One retry covers a blip; longer trouble is the queue's backoff, not a held instance.
    vertex_attempts: int = 2
    vertex_thinking_level: str = "low"
    #: Thinking and answer together (Gemini counts thinking tokens as output).
    vertex_max_output_tokens: int = DEFAULT_MAX_OUTPUT_TOKENS
    #: Another endpoint for the Vertex API (tests, Private Service Connect); None = Google's.
    vertex_base_url: str | None = None
    #: List prices of the model in USD per million tokens (thinking is billed as output), for
    #: cost estimates: gemini-3.8-flash from 2027-01-01 ($0.75/$3.75 introductory until then).
    price_input_per_million: float = 1.50
    price_output_per_million: float = 7.50
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
    #: Where documents come from: "drive" (Drive v3 as the user, only for users who
    #: turned documents on), "local" (files in `documents_dir`) or "off".
    documents: str = "local"
    documents_dir: Path = DEFAULT_DOCUMENTS_DIR
    standing_context_path: Path = DEFAULT_STANDING_CONTEXT
    #: Another endpoint for the Drive API (tests' fake); None = Google's.
    drive_api_endpoint: str | None = None

    def generation_worst_case_seconds(self) -> float:
        """The longest one Vertex generation can take with these settings."""
        return SCHEMA_ATTEMPTS * call_worst_case_seconds(
            self.vertex_timeout_seconds, self.vertex_attempts
        )


def model_warnings(m: MaterialsSettings) -> list[str]:
    """What `check-config` says about the model choice (not errors: Google's list moves on)."""
    if m.generator != "vertex":
        return []
    found: list[str] = []
    if RETIRED_MODEL.match(m.vertex_model):
        found.append(
            f"PREP_VERTEX_MODEL={m.vertex_model} is a retired model id (Vertex AI answers 404 "
            f"and no prep can be generated); use a current one such as {DEFAULT_VERTEX_MODEL}"
        )
    if m.vertex_model in GLOBAL_ONLY_MODELS and m.vertex_location not in MULTI_REGION_LOCATIONS:
        found.append(
            f"PREP_VERTEX_LOCATION={m.vertex_location}: {m.vertex_model} is served only from "
            "global, us or eu (Vertex AI answers 404 elsewhere)"
        )
    return found


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
    documents = _choice(
        env, "PREP_DOCUMENTS", "drive" if production else "local", ("drive", "local", "off")
    )
    if production and documents == "local":
        raise MaterialsSettingsError("PREP_DOCUMENTS=local is for local mode only")
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
    timeout = _number(env, "PREP_VERTEX_TIMEOUT_SECONDS", 50.0, 1, 600)
    attempts = _integer(env, "PREP_VERTEX_ATTEMPTS", 2, 1, 10)
    worst = SCHEMA_ATTEMPTS * call_worst_case_seconds(timeout, attempts)
    if generator == "vertex" and worst > GENERATION_BUDGET_SECONDS:
        raise MaterialsSettingsError(
            f"PREP_VERTEX_TIMEOUT_SECONDS={timeout:g} with PREP_VERTEX_ATTEMPTS={attempts} let "
            f"one generation run {worst:g} s, past its {GENERATION_BUDGET_SECONDS:g} s budget "
            f"(the {DISPATCH_DEADLINE_SECONDS:g} s Cloud Tasks dispatch deadline less "
            f"{HANDLER_RESERVE_SECONDS:g} s for the rest of the task): Cloud Tasks would "
            "deliver the task again while it still runs"
        )
    return MaterialsSettings(
        generator=generator,
        vertex_location=_text(env, "PREP_VERTEX_LOCATION") or DEFAULT_VERTEX_LOCATION,
        vertex_model=_text(env, "PREP_VERTEX_MODEL") or DEFAULT_VERTEX_MODEL,
        vertex_timeout_seconds=timeout,
        vertex_attempts=attempts,
        vertex_thinking_level=_choice(env, "PREP_VERTEX_THINKING_LEVEL", "low", THINKING_LEVELS),
        vertex_max_output_tokens=_integer(
            env,
            "PREP_VERTEX_MAX_OUTPUT_TOKENS",
            DEFAULT_MAX_OUTPUT_TOKENS,
            1024,
            MAX_OUTPUT_TOKENS_LIMIT,
        ),
        vertex_base_url=base_url,
        price_input_per_million=_number(env, "PREP_VERTEX_PRICE_INPUT", 1.50, 0, 1000),
        price_output_per_million=_number(env, "PREP_VERTEX_PRICE_OUTPUT", 7.50, 0, 1000),
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
        documents=documents,
        documents_dir=_path(env, "PREP_DOCUMENTS_DIR", DEFAULT_DOCUMENTS_DIR),
        standing_context_path=_path(env, "PREP_STANDING_CONTEXT", DEFAULT_STANDING_CONTEXT),
        drive_api_endpoint=_text(env, "PREP_DRIVE_API_ENDPOINT"),
    )
