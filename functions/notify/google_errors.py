"""Read Google API error answers the same way for Gmail and Chat.

Google puts the useful part in the JSON body ({"error": {"code", "status",
"errors": [{"reason"}]}}): a 403 can be a rate limit (retry) or a missing
permission (stop), and only the reason tells them apart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

#: 403 reasons that are quotas, not permissions: retrying later works.
RATE_LIMIT_REASONS = frozenset(
    {"rateLimitExceeded", "userRateLimitExceeded", "dailyLimitExceeded", "quotaExceeded"}
)


@dataclass(frozen=True, slots=True)
class ApiError:
    status: int
    reasons: frozenset[str]
    #: The canonical status name ("NOT_FOUND", "PERMISSION_DENIED"), if given.
    api_status: str

    @property
    def transient(self) -> bool:
        """Server trouble, throttling and timeouts: the queue's backoff should retry."""
        if self.status >= 500 or self.status in (408, 429):
            return True
        return self.status == 403 and bool(self.reasons & RATE_LIMIT_REASONS)


def api_error(exc: Any) -> ApiError:
    """Pull status and reasons out of a `googleapiclient.errors.HttpError`."""
    status = int(getattr(getattr(exc, "resp", None), "status", 0) or 0)
    reasons: set[str] = set()
    api_status = ""
    content = getattr(exc, "content", b"")
    try:
        body = json.loads(content.decode("utf-8") if isinstance(content, bytes) else content)
    except (ValueError, AttributeError, TypeError):
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        api_status = str(err.get("status") or "")
        for item in err.get("errors") or []:
            if isinstance(item, dict) and item.get("reason"):
                reasons.add(str(item["reason"]))
        for detail in err.get("details") or []:
            if isinstance(detail, dict) and detail.get("reason"):
                reasons.add(str(detail["reason"]))
    return ApiError(status, frozenset(reasons), api_status)
