"""ID-token verification against a local certificate endpoint: every attack refused."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator

import pytest

from functions.auth.dev_keys import DevSigner
from functions.auth.id_tokens import HttpCerts, IdTokenVerifier, TokenRejected, bearer_token
from tests.support.google_certs import CertServer, cert_server

AUD = "https://region-project.cloudfunctions.net/addon"
SA = "service-123@gcp-sa-gsuiteaddons.iam.gserviceaccount.com"


@pytest.fixture(scope="module")
def certs() -> Iterator[CertServer]:
    with cert_server() as server:
        yield server


@pytest.fixture
def verifier(certs: CertServer) -> IdTokenVerifier:
    return IdTokenVerifier(HttpCerts(certs.url))


def good(certs: CertServer, **overrides: object) -> str:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": "https://accounts.google.com",
        "aud": AUD,
        "sub": "1234567890",
        "email": SA,
        "email_verified": True,
        "iat": now,
        "exp": now + 600,
    }
    claims.update(overrides)
    return certs.signer.sign({k: v for k, v in claims.items() if v is not None})


def test_valid_token_is_accepted(certs: CertServer, verifier: IdTokenVerifier) -> None:
    got = verifier.verify(good(certs), audience=AUD, emails={SA})
    assert (got.subject, got.email, got.audience) == ("1234567890", SA, AUD)


def test_certificates_are_cached(certs: CertServer) -> None:
    v = IdTokenVerifier(HttpCerts(certs.url))
    before = len(certs.hits)
    for _ in range(5):
        v.verify(good(certs), audience=AUD, emails={SA})
    assert len(certs.hits) - before == 1


@pytest.mark.parametrize(
    ("overrides", "why"),
    [
        ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, "expired"),
        ({"aud": "https://evil.example/addon"}, "wrong audience"),
        ({"iss": "https://evil.example"}, "wrong issuer"),
        ({"email": "attacker@evil.iam.gserviceaccount.com"}, "wrong email"),
        ({"email_verified": False}, "unverified email"),
        ({"email": None, "email_verified": None}, "no email"),
        ({"iat": int(time.time()) + 3600, "exp": int(time.time()) + 7200}, "issued in the future"),
    ],
)
def test_bad_claims_are_rejected(
    certs: CertServer, verifier: IdTokenVerifier, overrides: dict[str, object], why: str
) -> None:
    with pytest.raises(TokenRejected):
        verifier.verify(good(certs, **overrides), audience=AUD, emails={SA})


def test_tampered_payload_is_rejected(certs: CertServer, verifier: IdTokenVerifier) -> None:
    header, payload, sig = good(certs).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["email"] = "attacker@evil.example"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(TokenRejected):
        verifier.verify(f"{header}.{forged}.{sig}", audience=AUD, emails=None)


def test_tampered_signature_is_rejected(certs: CertServer, verifier: IdTokenVerifier) -> None:
    header, payload, sig = good(certs).split(".")
    flipped = ("A" if sig[10] != "A" else "B").join((sig[:10], sig[11:]))
    with pytest.raises(TokenRejected):
        verifier.verify(f"{header}.{payload}.{flipped}", audience=AUD, emails={SA})


def test_token_signed_by_another_key_is_rejected(verifier: IdTokenVerifier) -> None:
    stranger = DevSigner.generate()
    token = stranger.id_token(audience=AUD, subject="1", email=SA)
    with pytest.raises(TokenRejected):
        verifier.verify(token, audience=AUD, emails={SA})


def test_unsigned_alg_none_is_rejected(verifier: IdTokenVerifier) -> None:
    def b64(d: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()

    now = int(time.time())
    token = ".".join(
        [
            b64({"alg": "none", "typ": "JWT"}),
            b64(
                {
                    "iss": "accounts.google.com",
                    "aud": AUD,
                    "sub": "1",
                    "email": SA,
                    "email_verified": True,
                    "iat": now,
                    "exp": now + 60,
                }
            ),
            "",
        ]
    )
    with pytest.raises(TokenRejected):
        verifier.verify(token, audience=AUD, emails={SA})


@pytest.mark.parametrize("junk", ["", "abc", "a.b", "a.b.c", "x" * 20000, "ey.ey.ey"])
def test_garbage_is_rejected(verifier: IdTokenVerifier, junk: str) -> None:
    with pytest.raises(TokenRejected):
        verifier.verify(junk, audience=AUD, emails=None)


def test_user_tokens_skip_the_email_check(certs: CertServer, verifier: IdTokenVerifier) -> None:
    token = good(certs, email="alice@example.com", aud="client-id.apps.googleusercontent.com")
    got = verifier.verify(token, audience="client-id.apps.googleusercontent.com", emails=None)
    assert got.email == "alice@example.com"


def test_unreachable_cert_endpoint_rejects_instead_of_crashing() -> None:
    v = IdTokenVerifier(HttpCerts("http://127.0.0.1:9/certs", timeout=0.5))
    token = DevSigner.generate().id_token(audience=AUD, subject="1", email=SA)
    with pytest.raises(TokenRejected, match="could not fetch"):
        v.verify(token, audience=AUD, emails={SA})


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer  abc ", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_token(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token
