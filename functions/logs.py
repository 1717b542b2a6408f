"""Structured JSON logs that cannot carry tokens or meeting content.

Cloud Logging parses one JSON object per line on stdout (`severity`,
`message`, anything else becomes `jsonPayload`). Handlers log facts as
keyword fields through `log()`; a field whose name suggests a secret or user
content is replaced before it is formatted, and token-shaped strings are
masked wherever they appear, so a careless call cannot leak them.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

#: Field names whose values are never written: secrets and meeting content.
SENSITIVE_FIELDS = frozenset(
    {
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "authorization",
        "password",
        "secret",
        "client_secret",
        "code",
        "state",
        "code_verifier",
        "title",
        "summary",
        "description",
        "body",
        "content",
        "prompt",
        "attendees",
        "email",
    }
)
REDACTED = "[redacted]"

# Google access tokens, refresh tokens, JWTs, and "Bearer x" headers.
_TOKEN_RE = re.compile(
    r"(ya29\.[\w\-.]+|1//[\w\-]+|eyJ[\w\-]+\.[\w\-]+\.[\w\-]*|(?i:bearer)\s+[\w\-.~+/=]+)"
)

_STD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message"}


def scrub(value: Any) -> Any:
    """Mask token-shaped substrings; recurse into containers."""
    if isinstance(value, str):
        return _TOKEN_RE.sub(REDACTED, value)
    if isinstance(value, dict):
        return {k: redact_field(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


def redact_field(name: str, value: Any) -> Any:
    if name.lower() in SENSITIVE_FIELDS or name.lower().endswith(("_token", "_secret")):
        return REDACTED
    return scrub(value)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "severity": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STD_ATTRS and not key.startswith("_"):
                entry[key] = redact_field(key, value)
        if record.exc_info and record.exc_info[0] is not None:
            # The type only: exception messages can quote request content.
            entry["exception"] = record.exc_info[0].__name__
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure(level: str = "INFO") -> None:
    """Route the root logger to stdout as JSON lines (idempotent)."""
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        root.setLevel(level)
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root.handlers = [handler]
    root.setLevel(level)


def log(logger: logging.Logger, level: int, message: str, **fields: Any) -> None:
    """Log a fixed message with structured fields (never interpolate user data)."""
    logger.log(level, message, extra={k: v for k, v in fields.items() if k not in _STD_ATTRS})
