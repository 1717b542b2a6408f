"""The few values an admin chooses for one deployment, validated before anything runs.

They come from `deploy/deploy.env` (KEY=VALUE lines, see `deploy.env.example`)
and command-line overrides. Everything else (function names, URLs, service
accounts, every runtime setting) is derived from them in `topology.py`, so the
same inputs always plan the same commands. Every problem is reported at once,
each naming its key, so a bad file is fixed in one pass.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from functions.materials.settings import (
    DEFAULT_VERTEX_LOCATION,
    DEFAULT_VERTEX_MODEL,
    RETIRED_MODEL,
)
from functions.oauth.scopes import is_valid_scope


class InputError(ValueError):
    """One or more inputs are missing or malformed; the message names each key."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


Check = Callable[[str], str]
"""Validate one raw value: return it normalised, or raise ValueError saying why."""


def _pattern(regex: str, why: str) -> Check:
    compiled = re.compile(regex)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(why)
        return value

    return check


def _integer(lo: int, hi: int) -> Check:
    def check(value: str) -> str:
        try:
            number = int(value)
        except ValueError:
            raise ValueError("must be a whole number") from None
        if not lo <= number <= hi:
            raise ValueError(f"must be between {lo} and {hi}")
        return str(number)

    return check


def _choice(*allowed: str) -> Check:
    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return value

    return check


_project_id = _pattern(
    r"[a-z][a-z0-9-]{4,28}[a-z0-9]",
    "must be a project id: 6-30 lowercase letters, digits or hyphens, starting with a "
    "letter and not ending with a hyphen (the id, not the display name)",
)
_project_number = _pattern(r"[1-9][0-9]{0,19}", "must be the numeric project number")
_region = _pattern(r"[a-z]+-[a-z]+[0-9]{1,2}", "must be a region like us-central1")
_firestore_location = _pattern(
    r"[a-z]+-[a-z]+[0-9]{1,2}|nam[0-9]+|eur[0-9]+",
    "must be a region like us-central1 or a multi-region like nam5 / eur3",
)
_vertex_location = _pattern(
    r"[a-z]+-[a-z]+[0-9]{1,2}|global|us|eu",
    "must be global, a multi-region (us, eu) or a region like us-central1",
)
_prefix = _pattern(
    r"[a-z](?:[a-z0-9-]{0,18}[a-z0-9])?",
    "must be 1-20 lowercase letters, digits or hyphens, starting with a letter "
    "(it starts every function, queue, secret and service-account name)",
)
_database = _pattern(
    r"\(default\)|[a-z][a-z0-9-]{2,61}[a-z0-9]",
    "must be (default) or 4-63 lowercase letters, digits or hyphens",
)
_deployment_id = _pattern(
    r"[a-z][a-z0-9-]{0,61}[a-z0-9]",
    "must be 2-63 lowercase letters, digits or hyphens, starting with a letter",
)
_addon_client_id = _pattern(
    r"[A-Za-z0-9][A-Za-z0-9._-]{4,199}",
    "must be the oauthClientId printed by `gcloud workspace-add-ons get-authorization`",
)
_web_client_id = _pattern(
    r"[A-Za-z0-9-]+\.apps\.googleusercontent\.com",
    "must be an OAuth client id ending in .apps.googleusercontent.com",
)
_model_id = _pattern(
    r"[a-z0-9][a-z0-9.\-]{1,62}", f"must be a Gemini model id like {DEFAULT_VERTEX_MODEL}"
)


def _model(value: str) -> str:
    """A model id, and not one Google has retired (it would answer 404 to every generation)."""
    _model_id(value)
    if RETIRED_MODEL.match(value):
        raise ValueError(f"is a retired model (Vertex AI answers 404); use {DEFAULT_VERTEX_MODEL}")
    return value


def _bucket(value: str) -> str:
    """Cloud Storage naming rules, minus dotted names (they need domain verification)."""
    if not 3 <= len(value) <= 63:
        raise ValueError("must be 3-63 characters")
    if "." in value:
        raise ValueError("must not contain dots (dotted names need a verified domain)")
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*[a-z0-9]", value):
        raise ValueError(
            "must use only lowercase letters, digits, hyphens and underscores, "
            "and start and end with a letter or digit"
        )
    if value.startswith("goog") or re.search(r"g[o0][o0]g[l1]e", value):
        raise ValueError('must not start with "goog" or contain "google"')
    return value


def _https_or_empty(value: str) -> str:
    if value and not re.fullmatch(r"https://[^\s#]+", value):
        raise ValueError("must be an https:// URL without spaces or a fragment")
    return value


def _scopes(value: str) -> str:
    scopes = value.replace(",", " ").split()
    bad = [s for s in scopes if not is_valid_scope(s)]
    if bad:
        raise ValueError(f"{bad[0]!r} is not a Google OAuth scope")
    # Space separated: a comma would split `--set-env-vars`.
    return " ".join(dict.fromkeys(scopes))


def _sync_interval(value: str) -> str:
    """Cloud Scheduler fires on wall-clock cron slots; the app slots by `floor(now / N)`.

    The two agree only when N divides an hour, or is whole hours dividing a day.
    """
    minutes = int(_integer(1, 1440)(value))
    if (minutes <= 60 and 60 % minutes == 0) or (minutes % 60 == 0 and 1440 % minutes == 0):
        return str(minutes)
    raise ValueError("must divide an hour (1, 2, 3, 5, 10, 15, 20, 30, 60) or a day in hours")


def _yes_no(value: str) -> str:
    lowered = value.lower()
    if lowered in ("yes", "true", "1"):
        return "yes"
    if lowered in ("no", "false", "0"):
        return "no"
    raise ValueError("must be yes or no")


@dataclass(frozen=True, slots=True)
class InputSpec:
    key: str
    help: str
    check: Check
    #: None: required, no default.
    default: str | None = None


SPECS: tuple[InputSpec, ...] = (
    InputSpec("PROJECT_ID", "Google Cloud project id", _project_id),
    InputSpec(
        "PROJECT_NUMBER",
        "its project number (gcloud projects describe PROJECT_ID --format='value(projectNumber)')",
        _project_number,
    ),
    InputSpec(
        "REGION", "region of the functions, queues, scheduler and bucket", _region, "us-central1"
    ),
    InputSpec("NAME_PREFIX", "prefix of every resource name", _prefix, "meeting-prep"),
    InputSpec("BUCKET", "Cloud Storage bucket for prep materials (globally unique)", _bucket),
    InputSpec(
        "MATERIALS_RETENTION_DAYS",
        "materials older than this are deleted by the bucket's lifecycle rule",
        _integer(1, 3650),
        "180",
    ),
    InputSpec(
        "FIRESTORE_LOCATION",
        "Firestore location (default: REGION)",
        _firestore_location,
        "",
    ),
    InputSpec("FIRESTORE_DATABASE", "Firestore database id", _database, "(default)"),
    InputSpec(
        "VERTEX_LOCATION",
        "Vertex AI location of the Gemini model (Gemini 3.8 Flash: global, us or eu)",
        _vertex_location,
        DEFAULT_VERTEX_LOCATION,
    ),
    InputSpec("VERTEX_MODEL", "Gemini model id", _model, DEFAULT_VERTEX_MODEL),
    InputSpec(
        "ADDON_DEPLOYMENT",
        "Workspace add-on deployment name",
        _deployment_id,
        "meeting-prep",
    ),
    InputSpec(
        "ADDON_OAUTH_CLIENT_ID",
        "oauthClientId from `gcloud workspace-add-ons get-authorization`",
        _addon_client_id,
    ),
    InputSpec("ADDON_LOGO_URL", "https URL of the add-on's logo (optional)", _https_or_empty, ""),
    InputSpec(
        "OAUTH_WEB_CLIENT_ID",
        "OAuth web client of the offline-access consent (its secret goes to Secret Manager)",
        _web_client_id,
    ),
    InputSpec("OAUTH_SCOPES", "background scopes (optional; default in code)", _scopes, ""),
    InputSpec(
        "SYNC_INTERVAL_MINUTES",
        "how often Cloud Scheduler starts the calendar sync fan-out",
        _sync_interval,
        "15",
    ),
    InputSpec(
        "GENERATION_MAX_RETRIES",
        "transient model failures before a meeting's prep is marked failed",
        _integer(1, 50),
        "5",
    ),
    InputSpec(
        "LOG_LEVEL", "log level of the functions", _choice("DEBUG", "INFO", "WARNING"), "INFO"
    ),
    InputSpec(
        "RUNTIME",
        "Cloud Functions Python runtime",
        _choice("python311", "python312", "python313"),
        "python311",
    ),
    InputSpec(
        "INSTALL_ADDON_FOR_ME",
        "install the add-on for the account running the deploy (a test install)",
        _yes_no,
        "yes",
    ),
)
KEYS = tuple(spec.key for spec in SPECS)

#: Function names become Cloud Run services; the deterministic service URL
#: `https://SERVICE-PROJECT_NUMBER.REGION.run.app` exists only while
#: "SERVICE-PROJECT_NUMBER" fits in one DNS label. The 20-character prefix
#: limit keeps the longest one within it (tests/deploy/test_inputs.py).
LONGEST_FUNCTION_SUFFIX = "-calendar-webhook"
DNS_LABEL = 63


@dataclass(frozen=True, slots=True)
class DeployInputs:
    project_id: str
    project_number: str
    region: str
    name_prefix: str
    bucket: str
    materials_retention_days: int
    firestore_location: str
    firestore_database: str
    vertex_location: str
    vertex_model: str
    addon_deployment: str
    addon_oauth_client_id: str
    addon_logo_url: str
    oauth_web_client_id: str
    oauth_scopes: str
    sync_interval_minutes: int
    generation_max_retries: int
    log_level: str
    runtime: str
    install_addon_for_me: bool


def parse_env_file(path: Path) -> dict[str, str]:
    """Read KEY=VALUE lines (`#` comments, optional `export`, optional quotes); no expansion."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError([f"{path}: cannot read ({exc.strerror or exc})"]) from None
    values: dict[str, str] = {}
    problems: list[str] = []
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not re.fullmatch(r"[A-Z][A-Z0-9_]*", key):
            problems.append(f"{path.name}:{number}: expected KEY=VALUE")
            continue
        if key not in KEYS:
            problems.append(f"{path.name}:{number}: unknown setting {key}")
            continue
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    if problems:
        raise InputError(problems)
    return values


def load_inputs(
    file_values: Mapping[str, str], overrides: Mapping[str, str] | None = None
) -> DeployInputs:
    """Merge the file and the overrides (which win), apply defaults, validate everything."""
    raw = {**file_values, **(overrides or {})}
    problems = [f"unknown setting {key}" for key in raw if key not in KEYS]
    values: dict[str, str] = {}
    for spec in SPECS:
        value = raw.get(spec.key, "").strip()
        if not value:
            if spec.default is None:
                problems.append(f"{spec.key} is required: {spec.help}")
                continue
            if not spec.default:
                values[spec.key] = ""
                continue
            value = spec.default
        try:
            values[spec.key] = spec.check(value)
        except ValueError as exc:
            problems.append(f"{spec.key}={value!r} {exc}")
    if problems:
        raise InputError(problems)
    region = values["REGION"]
    return DeployInputs(
        project_id=values["PROJECT_ID"],
        project_number=values["PROJECT_NUMBER"],
        region=region,
        name_prefix=values["NAME_PREFIX"],
        bucket=values["BUCKET"],
        materials_retention_days=int(values["MATERIALS_RETENTION_DAYS"]),
        firestore_location=values["FIRESTORE_LOCATION"] or region,
        firestore_database=values["FIRESTORE_DATABASE"],
        vertex_location=values["VERTEX_LOCATION"],
        vertex_model=values["VERTEX_MODEL"],
        addon_deployment=values["ADDON_DEPLOYMENT"],
        addon_oauth_client_id=values["ADDON_OAUTH_CLIENT_ID"],
        addon_logo_url=values["ADDON_LOGO_URL"],
        oauth_web_client_id=values["OAUTH_WEB_CLIENT_ID"],
        oauth_scopes=values["OAUTH_SCOPES"],
        sync_interval_minutes=int(values["SYNC_INTERVAL_MINUTES"]),
        generation_max_retries=int(values["GENERATION_MAX_RETRIES"]),
        log_level=values["LOG_LEVEL"],
        runtime=values["RUNTIME"],
        install_addon_for_me=values["INSTALL_ADDON_FOR_ME"] == "yes",
    )
