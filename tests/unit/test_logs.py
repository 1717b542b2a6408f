"""Logs are JSON lines and never carry tokens or meeting content."""

from __future__ import annotations

import json
import logging

import pytest

from functions.logs import REDACTED, JsonFormatter, log


def render(message: str, **fields: object) -> dict[str, object]:
    logger = logging.getLogger("test.logs")
    record = logger.makeRecord("test.logs", logging.INFO, __file__, 1, message, (), None)
    for k, v in fields.items():
        setattr(record, k, v)
    out: dict[str, object] = json.loads(JsonFormatter().format(record))
    return out


def test_fields_become_json_keys() -> None:
    entry = render("synced", user_id="u1", events=12)
    assert entry["severity"] == "INFO"
    assert entry["message"] == "synced"
    assert (entry["user_id"], entry["events"]) == ("u1", 12)


@pytest.mark.parametrize(
    "field", ["title", "description", "refresh_token", "access_token", "state", "code", "email"]
)
def test_sensitive_fields_are_redacted(field: str) -> None:
    entry = render("x", **{field: "Board: layoffs plan"})
    assert entry[field] == REDACTED


@pytest.mark.parametrize(
    "secret",
    [
        "ya29.a0AfH6SMBx-abc_def",
        "1//0gLm-refresh_token_value",
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
        "Bearer abc.def-ghi",
    ],
)
def test_token_shapes_are_masked_anywhere(secret: str) -> None:
    entry = render(f"calling with {secret} now", detail={"nested": [f"x {secret}"]})
    dumped = json.dumps(entry)
    assert secret not in dumped
    assert REDACTED in str(entry["message"])


def test_exception_text_is_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.logs.exc")
    try:
        raise ValueError("meeting 'Secret merger' failed")
    except ValueError:
        record = logger.makeRecord(
            "test.logs.exc", logging.ERROR, __file__, 1, "failed", (), __import__("sys").exc_info()
        )
    line = JsonFormatter().format(record)
    assert "Secret merger" not in line
    assert json.loads(line)["exception"] == "ValueError"


def test_log_helper_passes_fields(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.logs.helper")
    with caplog.at_level(logging.INFO, logger="test.logs.helper"):
        log(logger, logging.INFO, "done", user_id="u9", lineno="reserved names are dropped")
    record = caplog.records[0]
    assert json.loads(JsonFormatter().format(record))["user_id"] == "u9"
    assert isinstance(record.lineno, int)
