"""Production adapters for sharing an agenda: Calendar events.patch and Drive v3.

Both are google-api-python-client with its static discovery documents, built
per click from the add-on's `userOAuthToken`, and imported only when a user
shares (the client library is heavy; the sidebar's cold path never loads it).

Calendar: the attachment list goes in with `supportsAttachments=true`
(without it Calendar ignores attachments) and `sendUpdates=none` (a re-share
must not mail every guest again). Drive: the HTML is uploaded with the
Google Docs MIME type as the file's, so Drive converts it and guests read a
Doc; `fields` asks for the `webViewLink`, the link form Calendar documents for
a Drive attachment's `fileUrl`. Readers are added without notification mail;
Drive refuses that for an address with no Google account
(`invalidSharingRequest`), and such a guest is skipped: they could not open
a Doc anyway.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from functions.calendar.google_api import DEFAULT_TIMEOUT_S, GoogleCalendarSource
from functions.calendar.port import CalendarUnavailable, Event
from functions.share.port import (
    DOC_MARKER_KEY,
    DOC_MIME,
    AgendaCalendar,
    AgendaDocs,
    DocGone,
    DocsError,
    SharedDoc,
)

if TYPE_CHECKING:
    from google.auth.credentials import Credentials

_FIELDS = "id,webViewLink,trashed"
#: permissions.list pages of 100 read at most (more readers are granted again: harmless).
MAX_PERMISSION_PAGES = 20


class GoogleAgendaCalendar(GoogleCalendarSource, AgendaCalendar):
    """events.get (from the read adapter) and events.patch of attachments."""

    def attach(
        self,
        calendar_id: str,
        event_id: str,
        *,
        attachments: Sequence[Mapping[str, Any]],
        private: Mapping[str, str],
    ) -> Event:
        body = {
            "attachments": [dict(a) for a in attachments],
            "extendedProperties": {"private": dict(private)},
        }
        got = self._execute(
            lambda s: s.events().patch(
                calendarId=calendar_id,
                eventId=event_id,
                body=body,
                supportsAttachments=True,
                sendUpdates="none",
            )
        )
        if not isinstance(got, Mapping):
            raise CalendarUnavailable("events.patch answered with no JSON object")
        return got


def _reasons(content: bytes) -> set[str]:
    try:
        error = json.loads(content or b"{}").get("error", {})
    except (ValueError, AttributeError):
        return set()
    errors = error.get("errors") if isinstance(error, Mapping) else None
    return {
        str(e.get("reason")) for e in errors or () if isinstance(e, Mapping) and e.get("reason")
    }


class GoogleAgendaDocs(AgendaDocs):
    """Drive v3 as the user, with `drive.file`: only the documents this app created."""

    def __init__(
        self,
        credentials: Credentials,
        *,
        api_endpoint: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        transport: Any = None,
    ) -> None:
        """`transport`: an httplib2.Http to send through (tests: the library builds upload
        URLs with https whatever the `api_endpoint` scheme, so a plain-HTTP fake needs one
        that rewrites them)."""
        self._credentials = credentials
        self._api_endpoint = api_endpoint
        self._timeout_s = timeout_s
        self._transport = transport
        self._client: Any = None
        self._lock = threading.Lock()

    def _service(self) -> Any:
        with self._lock:
            if self._client is None:
                from functions.google_clients import authorized_http, discovery_service

                http = authorized_http(
                    self._credentials, timeout_s=self._timeout_s, base=self._transport
                )
                self._client = discovery_service(
                    "drive", "v3", http=http, api_endpoint=self._api_endpoint
                )
            return self._client

    def _execute(self, make_request: Callable[[Any], Any], *, gone_on_404: bool = False) -> Any:
        import httplib2  # type: ignore[import-untyped, unused-ignore]
        from google.auth import exceptions as auth_exceptions
        from googleapiclient.errors import HttpError

        request = make_request(self._service())
        try:
            got = request.execute(num_retries=0)
        except HttpError as exc:
            if gone_on_404 and exc.resp.status == 404:
                raise DocGone("document not found") from None
            raise DocsError(f"drive answered {exc.resp.status}") from None
        except (auth_exceptions.GoogleAuthError, httplib2.HttpLib2Error, OSError):
            raise DocsError("drive unreachable") from None
        if not isinstance(got, Mapping):
            raise DocsError("drive answered with no JSON object")
        return got

    @staticmethod
    def _doc(got: Mapping[str, Any]) -> SharedDoc:
        file_id, link = got.get("id"), got.get("webViewLink")
        if not isinstance(file_id, str) or not file_id:
            raise DocsError("drive answered without a file id")
        if not isinstance(link, str) or not link.startswith("https://"):
            raise DocsError("drive answered without a view link")
        return SharedDoc(file_id, link)

    @staticmethod
    def _media(html: str) -> Any:
        from googleapiclient.http import MediaInMemoryUpload

        return MediaInMemoryUpload(html.encode("utf-8"), mimetype="text/html", resumable=False)

    def find(self, marker: str) -> SharedDoc | None:
        if not marker.isalnum():  # the query is built from it: hex digits only
            raise ValueError("a marker is letters and digits")
        query = (
            f"appProperties has {{ key='{DOC_MARKER_KEY}' and value='{marker}' }} "
            "and trashed = false"
        )
        got = self._execute(
            lambda s: s.files().list(
                q=query, spaces="drive", pageSize=10, fields="files(id,webViewLink)"
            )
        )
        files = got.get("files")
        if not isinstance(files, list) or not files:
            return None
        return self._doc(files[0])

    def create(self, name: str, html: str, marker: str) -> SharedDoc:
        body = {"name": name, "mimeType": DOC_MIME, "appProperties": {DOC_MARKER_KEY: marker}}
        media = self._media(html)
        return self._doc(
            self._execute(lambda s: s.files().create(body=body, media_body=media, fields=_FIELDS))
        )

    def update(self, file_id: str, name: str, html: str) -> SharedDoc:
        media = self._media(html)
        got = self._execute(
            lambda s: s.files().update(
                fileId=file_id, body={"name": name}, media_body=media, fields=_FIELDS
            ),
            gone_on_404=True,
        )
        if got.get("trashed") is True:
            # In the owner's trash: guests cannot open it, so a new one takes its place.
            raise DocGone("document trashed")
        return self._doc(got)

    def grant_readers(self, file_id: str, emails: Sequence[str]) -> None:
        """Reader access for each address that lacks it: one permissions.list (paged), then
        permissions.create only for the missing ones, so a re-share costs one call."""
        from googleapiclient.errors import HttpError

        have = self._reader_emails(file_id)
        for email in emails:
            if email.strip().lower() in have:
                continue
            body = {"type": "user", "role": "reader", "emailAddress": email}
            try:
                self._execute_raw(self._grant(file_id, body))
            except HttpError as exc:
                if exc.resp.status == 400 and "invalidSharingRequest" in _reasons(exc.content):
                    continue  # no Google account behind the address
                if exc.resp.status == 404:
                    raise DocGone("document not found") from None
                raise DocsError(f"drive answered {exc.resp.status}") from None

    def _reader_emails(self, file_id: str) -> set[str]:
        found: set[str] = set()
        token: str | None = None
        for _ in range(MAX_PERMISSION_PAGES):
            page = token

            def request(service: Any, page: str | None = page) -> Any:
                return service.permissions().list(
                    fileId=file_id,
                    pageSize=100,
                    pageToken=page,
                    fields="nextPageToken,permissions(emailAddress)",
                )

            got = self._execute(request, gone_on_404=True)
            for perm in got.get("permissions") or ():
                if isinstance(perm, Mapping) and isinstance(perm.get("emailAddress"), str):
                    found.add(perm["emailAddress"].strip().lower())
            next_token = got.get("nextPageToken")
            if not isinstance(next_token, str) or not next_token:
                break
            token = next_token
        return found

    @staticmethod
    def _grant(file_id: str, body: Mapping[str, str]) -> Callable[[Any], Any]:
        def request(service: Any) -> Any:
            return service.permissions().create(
                fileId=file_id, body=dict(body), sendNotificationEmail=False, fields="id"
            )

        return request

    def _execute_raw(self, make_request: Callable[[Any], Any]) -> Any:
        """One request whose HttpError the caller sorts out itself."""
        import httplib2
        from google.auth import exceptions as auth_exceptions

        try:
            return make_request(self._service()).execute(num_retries=0)
        except (auth_exceptions.GoogleAuthError, httplib2.HttpLib2Error, OSError):
            raise DocsError("drive unreachable") from None
