"""Gmail adapter: users.threads.list with a search query, then users.threads.get (metadata).

Scope: `gmail.readonly`. The narrower `gmail.metadata` would be enough for
threads.get with `format=metadata`, but Gmail refuses the `q` parameter to
any token that carries gmail.metadata ("Metadata scope does not support 'q'
parameter", 403), even alongside gmail.readonly, and without `q` the only way
to find threads with the attendees is to list the whole mailbox. So the
grant is gmail.readonly, and the narrowness is in what is requested: threads
matching the attendees in the last 14 days, `maxResults` = the thread cap,
and per thread `format=metadata` with only Subject/From/To/Cc/Date: the
bodies are never transferred.

Time: the threads are read inside the generate task, whose worst case must
end before Cloud Tasks' dispatch deadline (tests/materials/test_deadline.py).
Every HTTP call has `DEFAULT_TIMEOUT_S` (the client library's default is 60 s,
which six calls would turn into six minutes), and no threads.get starts after
`READ_SECONDS`: the threads not read by then are left out (newest first still
holds for those read). Reading mail costs at most `WORST_CASE_SECONDS`.

Errors: 401/403 (not a rate limit) is `MailNotAllowed`; 429, 5xx, rate-limit
403s and network failures (a timeout too) are `MailUnavailable`; a 404 on
threads.get (the thread was deleted between the two calls) skips that thread.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from functions.logs import log
from functions.mail.port import MailLimits, MailNotAllowed, MailThread, MailUnavailable
from functions.mail.query import METADATA_HEADERS, read_thread, search_query

if TYPE_CHECKING:
    from google.auth.credentials import Credentials

_log = logging.getLogger(__name__)

GMAIL_READONLY = "https://www.googleapis.com/auth/gmail.readonly"

#: 403 reasons that are quotas, not permissions (Gmail's usage-limits guide).
_RATE_LIMITS = frozenset(
    {"rateLimitExceeded", "userRateLimitExceeded", "dailyLimitExceeded", "quotaExceeded"}
)

CredentialsFor = Callable[[str], "Credentials"]

#: Seconds one HTTP call (threads.list or one threads.get) may take.
DEFAULT_TIMEOUT_S = 3.0
#: No threads.get starts after this many seconds of reading.
READ_SECONDS = 7.0
#: Reading mail for one meeting, at most: the last call starts before `READ_SECONDS`.
WORST_CASE_SECONDS = READ_SECONDS + DEFAULT_TIMEOUT_S


def web_link(thread_id: str) -> str:
    """The thread in Gmail's web view (the API's hex thread id opens it in `#all/`)."""
    return "https://mail.google.com/mail/#all/" + urllib.parse.quote(thread_id, safe="")


def _reasons(exc: Any) -> frozenset[str]:
    content = getattr(exc, "content", b"")
    try:
        body = json.loads(content.decode("utf-8") if isinstance(content, bytes) else content)
        errors = body["error"].get("errors") or []
        return frozenset(str(e.get("reason", "")) for e in errors if isinstance(e, dict))
    except (ValueError, AttributeError, TypeError, KeyError):
        return frozenset()


class GmailThreads:
    """Recent threads with the attendees, read as the user with their stored grant."""

    needs_grant = True

    def __init__(
        self,
        credentials_for: CredentialsFor,
        *,
        api_endpoint: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        read_seconds: float = READ_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._credentials_for = credentials_for
        self._api_endpoint = api_endpoint
        self._timeout_s = timeout_s
        self._read_seconds = read_seconds
        self._clock = clock
        self._local = threading.local()

    def _threads(self) -> Any:
        """users.threads, built once per thread (building renders docstrings, ~50 ms)."""
        threads = getattr(self._local, "threads", None)
        if threads is None:
            from functions.google_clients import discovery_service, plain_http

            service = discovery_service(
                "gmail", "v1", http=plain_http(), api_endpoint=self._api_endpoint
            )
            threads = self._local.threads = service.users().threads()
        return threads

    def recent_threads(
        self, user_id: str, people: Sequence[str], now: datetime, limits: MailLimits
    ) -> list[MailThread]:
        query = search_query(people, limits)
        if query is None:
            return []
        started = self._clock()
        http = self._http(user_id)
        threads = self._threads()
        listed = self._call(
            threads.list(
                userId="me", q=query, maxResults=limits.max_threads, includeSpamTrash=False
            ),
            http,
        )
        found: list[MailThread] = []
        oldest = now - timedelta(days=limits.days)
        items = (listed or {}).get("threads", [])[: limits.max_threads]
        for read, item in enumerate(items):
            if self._clock() - started >= self._read_seconds:
                log(_log, logging.INFO, "mail threads left unread", left=len(items) - read)
                break
            thread_id = str(item.get("id", ""))
            if not thread_id:
                continue
            answer = self._call(
                threads.get(
                    userId="me",
                    id=thread_id,
                    format="metadata",
                    metadataHeaders=list(METADATA_HEADERS),
                ),
                http,
                missing_ok=True,
            )
            if answer is None:
                continue
            thread = read_thread(answer, str(item.get("snippet") or ""), limits)
            # newer_than is Gmail's clock; the window is ours (the same on the local mailbox).
            if thread is not None and thread.last_message_at >= oldest:
                found.append(dataclasses.replace(thread, link=web_link(thread.thread_id)))
        found.sort(key=lambda t: t.last_message_at, reverse=True)
        return found

    def _http(self, user_id: str) -> Any:
        from functions.google_clients import authorized_http

        return authorized_http(self._credentials_for(user_id), timeout_s=self._timeout_s)

    def _call(self, request: Any, http: Any, *, missing_ok: bool = False) -> Any:
        import httplib2  # type: ignore[import-untyped, unused-ignore]
        from google.auth import exceptions as auth_errors
        from googleapiclient.errors import HttpError

        try:
            return request.execute(http=http)
        except HttpError as exc:
            status = int(getattr(exc.resp, "status", 0) or 0)
            reasons = _reasons(exc)
            if status == 404 and missing_ok:
                return None
            if status >= 500 or status == 429 or (status == 403 and reasons & _RATE_LIMITS):
                raise MailUnavailable(f"http {status}") from None
            log(_log, logging.WARNING, "gmail refused", status=status, reasons=sorted(reasons))
            if status in (401, 403):
                raise MailNotAllowed(f"http {status}") from None
            raise MailUnavailable(f"http {status}") from None
        except auth_errors.RefreshError:
            raise MailNotAllowed("token refresh refused") from None
        except (httplib2.HttpLib2Error, OSError, auth_errors.TransportError) as exc:
            raise MailUnavailable(type(exc).__name__) from None
