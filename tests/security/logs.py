"""What reaches the logs, as Cloud Logging would receive it, checked for secrets."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from functions.logs import JsonFormatter

_JWT = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]*")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")


def written(records: Iterable[logging.LogRecord]) -> list[str]:
    """Each record as the JSON line the app's formatter writes to stdout."""
    formatter = JsonFormatter()
    return [formatter.format(r) for r in records]


def assert_no_secrets(records: Iterable[logging.LogRecord], *secrets: str) -> None:
    """No token, no email address, and none of `secrets` (titles, ids) in any line."""
    for line in written(records):
        assert not _JWT.search(line), line
        assert not _EMAIL.search(line), line
        for secret in secrets:
            assert secret not in line, (secret, line)
