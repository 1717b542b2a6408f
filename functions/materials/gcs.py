"""Cloud Storage adapter (google-cloud-storage, imported on first use).

Signing: a Cloud Function has no private key, so production URLs are signed
through IAM signBlob: refresh the default credentials, then pass the service
account email and access token to `generate_signed_url` (the function's
service account needs roles/iam.serviceAccountTokenCreator on itself). With a
key file (tests, or a deployment that chooses one) the key signs locally.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from functions.materials.storage import (
    CACHE_CONTROL,
    CONTENT_TYPES,
    HTML,
    MaterialsObjects,
    MaterialsStorage,
    StorageError,
)

if TYPE_CHECKING:
    from google.auth.credentials import Credentials
    from google.cloud.storage import Bucket, Client


@contextmanager
def _storage_errors(action: str) -> Iterator[None]:
    """Google API and transport failures become `StorageError` (the task retries)."""
    from google.api_core import exceptions as api_exceptions
    from google.auth import exceptions as auth_exceptions

    try:
        yield
    except (api_exceptions.GoogleAPIError, auth_exceptions.GoogleAuthError, OSError) as exc:
        raise StorageError(f"{action} failed ({type(exc).__name__})") from None


class UrlSigning:
    """How `generate_signed_url` gets its signature."""

    def signing_kwargs(self) -> dict[str, Any]:
        raise NotImplementedError


class KeySigning(UrlSigning):
    """Sign with a service-account key (`google.oauth2.service_account.Credentials`)."""

    def __init__(self, credentials: Any) -> None:
        self.credentials = credentials

    @classmethod
    def from_file(cls, path: str) -> KeySigning:
        from google.oauth2 import service_account

        return cls(service_account.Credentials.from_service_account_file(path))

    def signing_kwargs(self) -> dict[str, Any]:
        return {"credentials": self.credentials}


class IamSigning(UrlSigning):
    """Sign through IAM signBlob with the runtime's own (refreshed) credentials."""

    def __init__(
        self,
        email: str | None = None,
        credentials_factory: Callable[[], Credentials] | None = None,
    ) -> None:
        self._email = email
        self._factory = credentials_factory
        self._credentials: Credentials | None = None
        self._lock = threading.Lock()

    def _default_credentials(self) -> Credentials:
        import google.auth

        credentials, _ = google.auth.default(
            scopes=["https://www.googleapis.com/auth/cloud-platform"]
        )
        return credentials

    def signing_kwargs(self) -> dict[str, Any]:
        from google.auth.transport.requests import Request

        with self._lock:
            if self._credentials is None:
                self._credentials = (self._factory or self._default_credentials)()
            creds = self._credentials
            if not creds.valid:
                creds.refresh(Request())
            email = self._email or getattr(creds, "service_account_email", None)
            if not email or email == "default":
                raise StorageError("no service account email to sign URLs with")
            return {"service_account_email": email, "access_token": creds.token}


class GcsMaterialsStorage(MaterialsStorage):
    def __init__(
        self, *, bucket: str, signing: UrlSigning, client_factory: Callable[[], Client]
    ) -> None:
        self.bucket_name = bucket
        self.signing = signing
        self._client_factory = client_factory
        self._bucket: Bucket | None = None
        self._lock = threading.Lock()

    def bucket(self) -> Bucket:
        with self._lock:
            if self._bucket is None:
                self._bucket = self._client_factory().bucket(self.bucket_name)
            return self._bucket

    def exists(self, ref: str) -> bool:
        with _storage_errors("exists"):
            return bool(self.bucket().blob(ref + HTML).exists())

    def put(self, ref: str, objects: MaterialsObjects) -> None:
        with _storage_errors("upload"):
            for suffix, body in objects.files():
                blob = self.bucket().blob(ref + suffix)
                blob.metadata = dict(objects.metadata)
                blob.cache_control = CACHE_CONTROL
                blob.upload_from_string(body, content_type=CONTENT_TYPES[suffix])

    def read(self, name: str) -> bytes | None:
        from google.api_core import exceptions

        with _storage_errors("download"):
            try:
                data: bytes = self.bucket().blob(name).download_as_bytes()
            except exceptions.NotFound:
                return None
            return data

    def signed_url(self, name: str, ttl: timedelta) -> str:
        with _storage_errors("signing"):
            url: str = (
                self.bucket()
                .blob(name)
                .generate_signed_url(
                    version="v4", expiration=ttl, method="GET", **self.signing.signing_kwargs()
                )
            )
            return url

    def _delete_prefix(self, prefix: str) -> int:
        with _storage_errors("delete"):
            blobs = list(self.bucket().list_blobs(prefix=prefix))
            for blob in blobs:
                blob.delete()
            return len(blobs)


def storage_client(project: str | None) -> Client:
    """The production client; honours STORAGE_EMULATOR_HOST for the emulator."""
    import os

    from google.cloud.storage import Client

    if os.environ.get("STORAGE_EMULATOR_HOST"):
        from google.auth.credentials import AnonymousCredentials

        return Client(project=project or "local", credentials=AnonymousCredentials())
    return Client(project=project)
