"""Both storage adapters on one contract: Cloud Storage (on the emulator) and local files.

Signed URLs are checked with `v4.verify_url`, never by asking the emulator,
which serves any URL whatever its signature.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from functions.domain.clock import FixedClock
from functions.materials.gcs import GcsMaterialsStorage, IamSigning, KeySigning, storage_client
from functions.materials.local_files import LocalMaterialsStorage, LocalSigningKey
from functions.materials.model import GenerationInfo, OpenItem, SummaryRecord
from functions.materials.storage import (
    MaterialsObjects,
    MaterialsStorage,
    StorageError,
    materials_ref,
    object_metadata,
    owns,
)
from functions.materials.v4 import InvalidSignedUrl, verify_url
from tests.materials.conftest import NOW
from tests.support.storage_emulator import fake_iam, redirecting_request_class, storage_emulator

BUCKET = "prep-materials-test"


@dataclass
class Subject:
    storage: MaterialsStorage
    key: LocalSigningKey
    #: Whether fetching a signed URL proves anything beyond the signature (the emulator).
    fetchable: bool


@pytest.fixture(params=["gcs", "local"])
def subject(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Subject]:
    key_path = tmp_path / "signer.json"
    key = LocalSigningKey.load_or_create(key_path)
    if request.param == "gcs":
        with storage_emulator(BUCKET) as emulator:
            monkeypatch.setenv("STORAGE_EMULATOR_HOST", emulator.host)
            storage = GcsMaterialsStorage(
                bucket=BUCKET,
                signing=KeySigning.from_file(str(key_path)),
                client_factory=lambda: storage_client("test-project"),
            )
            yield Subject(storage, key, fetchable=True)
    else:
        local = LocalMaterialsStorage(
            tmp_path / "materials", key, "http://127.0.0.1:8080", FixedClock(datetime.now(UTC))
        )
        yield Subject(local, key, fetchable=False)


def info(key: str = "a" * 40) -> GenerationInfo:
    return GenerationInfo(
        generator="vertex:gemini-2.5-flash",
        model="gemini-2.5-flash-001",
        offline=False,
        input_tokens=1500,
        output_tokens=700,
        cost_usd=0.00220,
        template_version="1-abc",
        cache_key=key,
        generated_at=NOW,
    )


def objects(text: str = "Budget review") -> MaterialsObjects:
    return MaterialsObjects(
        html=f"<!DOCTYPE html><p>{text}</p>",
        markdown=f"# {text}\n",
        summary=SummaryRecord(
            meeting_start=NOW,
            summary=text,
            open_items=[OpenItem(kind="question", text="Who?", raised_at=NOW)],
        ),
        metadata=object_metadata(info()),
    )


def test_objects_round_trip_and_complete_sets_are_detected(subject: Subject) -> None:
    ref = materials_ref("user-1", "evt-1", "a" * 40)
    assert not subject.storage.exists(ref)
    subject.storage.put(ref, objects())
    assert subject.storage.exists(ref)
    assert subject.storage.read(ref + ".html") == b"<!DOCTYPE html><p>Budget review</p>"
    assert subject.storage.read(ref + ".md") == b"# Budget review\n"
    summary = subject.storage.read_summary(ref)
    assert summary is not None and summary.open_questions == ["Who?"]
    assert subject.storage.read(materials_ref("user-1", "evt-1", "b" * 40) + ".html") is None


def test_object_names_carry_no_identifiers() -> None:
    ref = materials_ref("alice@example.com", "meeting-with-acme", "c" * 40)
    assert ref.startswith("users/") and "alice" not in ref and "acme" not in ref
    assert owns("alice@example.com", ref)
    assert not owns("bob@example.com", ref)
    assert not owns("alice@example.com", ref + "/../x")
    with pytest.raises(ValueError, match="cache keys"):
        materials_ref("u", "e", "../../etc")


def test_metadata_says_how_it_was_made_and_nothing_about_the_meeting() -> None:
    meta = object_metadata(info())
    assert meta["generator"] == "vertex:gemini-2.5-flash"
    assert (meta["input-tokens"], meta["output-tokens"]) == ("1500", "700")
    assert meta["template-version"] == "1-abc"
    assert set(meta) == {
        "generator", "model", "offline", "input-tokens", "output-tokens", "cost-usd",
        "template-version", "cache-key", "generated-at", "rejected-statements",
    }  # fmt: skip


def test_cloud_storage_objects_have_type_cache_control_and_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with storage_emulator(BUCKET) as emulator:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", emulator.host)
        storage = GcsMaterialsStorage(
            bucket=BUCKET,
            signing=KeySigning(None),
            client_factory=lambda: storage_client("test-project"),
        )
        ref = materials_ref("user-1", "evt-1", "d" * 40)
        storage.put(ref, objects())
        blob = storage.bucket().get_blob(ref + ".html")
        assert blob is not None
        assert blob.content_type.startswith("text/html")
        assert blob.cache_control == "private, no-store"
        assert blob.metadata["input-tokens"] == "1500"
        md = storage.bucket().get_blob(ref + ".md")
        assert md is not None and md.content_type.startswith("text/markdown")


def test_signed_urls_verify_expire_and_open(subject: Subject) -> None:
    ref = materials_ref("user-1", "evt-1", "e" * 40)
    subject.storage.put(ref, objects())
    url = subject.storage.signed_url(ref + ".html", timedelta(hours=24))
    now = datetime.now(UTC)
    verified = verify_url(url, public_key=subject.key.public_key, now=now)
    assert verified.expires_at - verified.signed_at == timedelta(hours=24)
    assert verified.signer_email == subject.key.email
    assert abs((verified.signed_at - now).total_seconds()) < 120
    with pytest.raises(InvalidSignedUrl, match="expired"):
        verify_url(url, public_key=subject.key.public_key, now=now + timedelta(hours=24, minutes=2))
    if subject.fetchable:  # the emulator ignores the signature, so this proves only the path
        with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 - loopback
            assert resp.read() == b"<!DOCTYPE html><p>Budget review</p>"


def _tamper(url: str, old: str, new: str) -> str:
    assert old in url
    return url.replace(old, new, 1)


def test_tampered_urls_fail_verification(subject: Subject) -> None:
    ref = materials_ref("user-1", "evt-1", "f" * 40)
    other = materials_ref("user-2", "evt-9", "f" * 40)
    url = subject.storage.signed_url(ref + ".html", timedelta(hours=1))
    key = subject.key.public_key
    now = datetime.now(UTC)
    verify_url(url, public_key=key, now=now)
    ref_in_url = ref if subject.fetchable else ref.replace("/", "%2F")
    other_in_url = other if subject.fetchable else other.replace("/", "%2F")
    tampered = {
        "path": _tamper(url, ref_in_url, other_in_url),
        "suffix": _tamper(url, ".html", ".md"),
        "expiry": _tamper(url, "X-Goog-Expires=3600", "X-Goog-Expires=604800"),
        "host": _tamper(url, "127.0.0.1", "localhost"),
        "signature": url[:-4] + ("0000" if not url.endswith("0000") else "1111"),
    }
    for what, bad in tampered.items():
        try:
            verify_url(bad, public_key=key, now=now)
        except InvalidSignedUrl:
            continue
        pytest.fail(f"a URL with a tampered {what} verified")
    with pytest.raises(InvalidSignedUrl, match="does not match"):
        verify_url(url, public_key=key, now=now, method="PUT")
    stranger = LocalSigningKey.generate("someone@else.test")
    with pytest.raises(InvalidSignedUrl, match="does not match"):
        verify_url(url, public_key=stranger.public_key, now=now)


def test_links_longer_than_seven_days_are_refused(subject: Subject) -> None:
    ref = materials_ref("user-1", "evt-1", "0" * 40)
    with pytest.raises((ValueError, StorageError)):
        subject.storage.signed_url(ref + ".html", timedelta(days=7, seconds=1))


def test_deleting_a_users_prefix_leaves_other_users_alone(subject: Subject) -> None:
    mine = materials_ref("user-1", "evt-1", "1" * 40)
    theirs = materials_ref("user-2", "evt-1", "1" * 40)
    subject.storage.put(mine, objects("mine"))
    subject.storage.put(theirs, objects("theirs"))
    assert subject.storage.delete_user("user-1") >= 3
    assert not subject.storage.exists(mine)
    assert subject.storage.read(mine + ".json") is None
    assert subject.storage.read(theirs + ".html") == b"<!DOCTYPE html><p>theirs</p>"
    assert subject.storage.delete_user("nobody") == 0


class _RefreshingCredentials:
    """Runtime credentials whose token must be refreshed before use (like Compute's)."""

    service_account_email = "materials-signer@local.invalid"

    def __init__(self) -> None:
        self.token: str | None = None
        self.valid = False
        self.refreshes = 0

    def refresh(self, request: Any) -> None:
        self.refreshes += 1
        self.token = "fresh-access-token"
        self.valid = True


def test_production_signing_goes_through_iam_sign_blob(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from google.auth.transport import requests as auth_requests

    key = LocalSigningKey.generate("materials-signer@local.invalid")
    creds = _RefreshingCredentials()
    with (
        storage_emulator(BUCKET) as emulator,
        fake_iam(key, token="fresh-access-token") as iam,
    ):
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", emulator.host)
        monkeypatch.setattr(auth_requests, "Request", redirecting_request_class(iam.base_url))
        storage = GcsMaterialsStorage(
            bucket=BUCKET,
            signing=IamSigning(credentials_factory=lambda: cast(Any, creds)),
            client_factory=lambda: storage_client("test-project"),
        )
        url = storage.signed_url(materials_ref("u", "e", "2" * 40) + ".html", timedelta(hours=2))
        verified = verify_url(url, public_key=key.public_key, now=datetime.now(UTC))
    assert verified.signer_email == "materials-signer@local.invalid"
    assert iam.calls == ["materials-signer@local.invalid"]
    assert creds.refreshes == 1


def test_iam_signing_without_a_service_account_fails_cleanly() -> None:
    class NoEmail(_RefreshingCredentials):
        service_account_email = "default"

    signing = IamSigning(credentials_factory=lambda: cast(Any, NoEmail()))
    with pytest.raises(StorageError, match="service account"):
        signing.signing_kwargs()
