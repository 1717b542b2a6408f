"""Each reason `verify_url` refuses a V4 signed URL, and the edges of its validity window.

Every bad URL here carries a signature that matches its own (bad) query, so a
refusal can only come from the check under test, not from the signature.
"""

from __future__ import annotations

import urllib.parse
from datetime import UTC, datetime, timedelta

import pytest

from functions.materials.local_files import LocalSigningKey
from functions.materials.v4 import (
    ALGORITHM,
    CLOCK_SKEW,
    InvalidSignedUrl,
    canonical_query,
    canonical_request,
    sign_url,
    string_to_sign,
    verify_url,
)

BASE = "https://storage.googleapis.com"
PATH = "/bucket/materials/u1/e1.html"
SIGNED_AT = datetime(2026, 12, 3, 10, 0, 0, tzinfo=UTC)
TTL = timedelta(hours=1)
KEY = LocalSigningKey.generate("signer@project.iam.gserviceaccount.com")


def good_query() -> dict[str, str]:
    return {
        "X-Goog-Algorithm": ALGORITHM,
        "X-Goog-Credential": f"{KEY.email}/20261203/auto/storage/goog4_request",
        "X-Goog-Date": "20261203T100000Z",
        "X-Goog-Expires": "3600",
        "X-Goog-SignedHeaders": "host",
    }


def signed(query: dict[str, str], *, extra: str = "") -> str:
    """A URL for `query` whose signature is right for it (`extra` is appended unsigned)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    canonical = canonical_query(query)
    scope = query["X-Goog-Credential"].partition("/")[2]
    request = canonical_request("GET", PATH, canonical, "storage.googleapis.com")
    to_sign = string_to_sign(query["X-Goog-Date"], scope, request)
    signature = KEY.private_key.sign(to_sign.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{BASE}{PATH}?{canonical}{extra}&X-Goog-Signature={signature.hex()}"


def verify(url: str, now: datetime = SIGNED_AT, **kwargs: str) -> None:
    verify_url(url, public_key=KEY.public_key, now=now, **kwargs)


def test_the_helper_signs_what_sign_url_signs() -> None:
    """The hand-signed URL is the library's own: the rejections below start from a good URL."""
    url = sign_url(
        private_key=KEY.private_key,
        client_email=KEY.email,
        base_url=BASE,
        path=PATH,
        params={},
        ttl=TTL,
        now=SIGNED_AT,
    )
    assert url == signed(good_query())
    verify(url)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"X-Goog-Algorithm": "GOOG4-HMAC-SHA256"}, "not a V4 RSA signed URL"),
        ({"X-Goog-SignedHeaders": "host;x-goog-meta-a"}, "unexpected signed headers"),
        (
            {"X-Goog-Credential": f"{KEY.email}/20261203/us-east1/storage/goog4_request"},
            "bad credential scope",
        ),
        (
            {"X-Goog-Credential": f"{KEY.email}/20261202/auto/storage/goog4_request"},
            "bad credential scope",
        ),
        ({"X-Goog-Credential": "/20261203/auto/storage/goog4_request"}, "bad credential scope"),
        ({"X-Goog-Expires": "604801"}, "expiry out of range"),
        ({"X-Goog-Expires": "0"}, "expiry out of range"),
        ({"X-Goog-Date": "2026-12-03T10:00:00Z"}, "bad date or expiry"),
    ],
)
def test_a_correctly_signed_url_with_a_bad_field_is_refused(
    change: dict[str, str], reason: str
) -> None:
    with pytest.raises(InvalidSignedUrl) as caught:
        verify(signed({**good_query(), **change}))
    assert caught.value.reason == reason


def test_a_repeated_parameter_is_refused_even_when_the_first_one_is_signed() -> None:
    url = signed(good_query(), extra="&X-Goog-Expires=604800")
    with pytest.raises(InvalidSignedUrl) as caught:
        verify(url)
    assert caught.value.reason == "repeated parameter X-Goog-Expires"


def test_a_url_from_another_signer_is_refused_when_the_signer_is_expected() -> None:
    url = signed(good_query())
    verify(url, expected_email=KEY.email)
    with pytest.raises(InvalidSignedUrl) as caught:
        verify(url, expected_email="other@project.iam.gserviceaccount.com")
    assert caught.value.reason == "signed by another account"


def test_a_url_is_not_valid_before_its_date_beyond_the_allowed_clock_skew() -> None:
    url = signed(good_query())
    verify(url, now=SIGNED_AT - CLOCK_SKEW)
    with pytest.raises(InvalidSignedUrl) as caught:
        verify(url, now=SIGNED_AT - CLOCK_SKEW - timedelta(microseconds=1))
    assert caught.value.reason == "not valid yet"


def test_the_expiry_boundary_is_exclusive() -> None:
    url = signed(good_query())
    verify(url, now=SIGNED_AT + TTL - timedelta(microseconds=1))
    for now in (SIGNED_AT + TTL, SIGNED_AT + TTL + timedelta(seconds=1)):
        with pytest.raises(InvalidSignedUrl) as caught:
            verify(url, now=now)
        assert caught.value.reason == "expired"


def test_a_signature_that_is_not_hex_or_a_malformed_query_is_refused() -> None:
    url = signed(good_query())
    not_hex = url.rsplit("=", 1)[0] + "=zz" + url.rsplit("=", 1)[1][2:]
    with pytest.raises(InvalidSignedUrl) as caught:
        verify(not_hex)
    assert caught.value.reason == "signature is not hex"
    malformed = url.replace("&X-Goog-Date", "&&X-Goog-Date", 1)
    with pytest.raises(InvalidSignedUrl) as caught:
        verify(malformed)
    assert caught.value.reason == "malformed query"


def test_the_signed_path_and_host_are_part_of_the_signature() -> None:
    url = signed(good_query())
    parts = urllib.parse.urlsplit(url)
    for bad in (
        parts._replace(path="/bucket/materials/u2/e1.html").geturl(),
        parts._replace(netloc="evil.example.com").geturl(),
    ):
        with pytest.raises(InvalidSignedUrl) as caught:
            verify(bad)
        assert caught.value.reason == "signature does not match"
