"""ID-token verification against a local certificate endpoint: every attack refused."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator, Mapping

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


# --- The RS256 check is our own (cold start, issue 14): held to google-auth's answers. ---


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _signed(signer: DevSigner, header: Mapping[str, object], claims: Mapping[str, object]) -> str:
    """A token with any header, RS256-signed by `signer`'s key (whatever `alg` claims)."""
    from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
    from cryptography.hazmat.primitives.hashes import SHA256
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = load_pem_private_key(signer._private_pem, password=None)
    assert isinstance(key, RSAPrivateKey)
    signed = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    return f"{signed}.{_b64(key.sign(signed.encode(), PKCS1v15(), SHA256()))}"


def _claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": "https://accounts.google.com",
        "aud": AUD,
        "sub": "1",
        "email": SA,
        "email_verified": True,
        "iat": now,
        "exp": now + 600,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _google_auth_accepts(token: str, certs: dict[str, str]) -> bool:
    from google.auth import exceptions as gexc
    from google.auth import jwt

    try:
        jwt.decode(token, certs=certs, audience=[AUD], clock_skew_in_seconds=10)
    except (ValueError, TypeError, gexc.GoogleAuthError):
        return False
    return True


def _ours_accepts(token: str, certs: dict[str, str]) -> bool:
    try:
        IdTokenVerifier(lambda: certs).verify(token, audience=AUD, emails=None)
    except TokenRejected:
        return False
    return True


def test_tokens_signed_by_google_auth_are_accepted_and_ours_verify_with_google_auth() -> None:
    """The two sides interoperate: google-auth's `jwt.encode` (with and without a
    kid) passes our check, and the dev signer's tokens pass google-auth's `decode`."""
    from google.auth import crypt, jwt

    signer = DevSigner.generate()
    certs = dict(signer.certs())
    for key_id in (signer.key_id, None):
        rsa_signer = crypt.RSASigner.from_string(signer._private_pem, key_id=key_id)
        token = jwt.encode(rsa_signer, _claims()).decode()
        assert (
            IdTokenVerifier(lambda: certs).verify(token, audience=AUD, emails={SA}).subject == "1"
        )
    ours = signer.id_token(audience=AUD, subject="7", email=SA)
    assert jwt.decode(ours, certs=certs, audience=AUD)["sub"] == "7"


def _forged_cases(signer: DevSigner) -> dict[str, str]:
    """Tokens google-auth refuses, each signed by the published key where a signature exists."""
    import hashlib
    import hmac

    kid = {"alg": "RS256", "kid": signer.key_id, "typ": "JWT"}
    now = int(time.time())
    hs_header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    hs_signed = f"{hs_header}.{_b64(json.dumps(_claims()).encode())}"
    hs_mac = hmac.new(signer.cert_pem.encode(), hs_signed.encode(), hashlib.sha256).digest()
    return {
        "alg none": _signed(signer, {"alg": "none"}, _claims()).rsplit(".", 1)[0] + ".",
        "HS256 keyed with the public certificate": f"{hs_signed}.{_b64(hs_mac)}",
        "alg missing": _signed(signer, {"kid": signer.key_id}, _claims()),
        "unknown kid": _signed(signer, {**kid, "kid": "not-published"}, _claims()),
        "expired beyond the skew": _signed(signer, kid, _claims(iat=now - 7200, exp=now - 60)),
        "issued beyond the skew": _signed(signer, kid, _claims(iat=now + 60, exp=now + 600)),
        "no iat": _signed(signer, kid, _claims(iat=None)),
        "no exp": _signed(signer, kid, _claims(exp=None)),
        "wrong audience": _signed(signer, kid, _claims(aud="https://evil.example")),
        "other key": _signed(DevSigner.generate(), kid, _claims()),
        "header not an object": _signed(signer, kid, _claims()).replace(
            _b64(json.dumps(kid).encode()), _b64(b"[1]"), 1
        ),
    }


def test_what_google_auth_refuses_is_refused() -> None:
    signer = DevSigner.generate()
    certs = dict(signer.certs())
    for why, token in _forged_cases(signer).items():
        assert not _google_auth_accepts(token, certs), why
        assert not _ours_accepts(token, certs), why
    # and what it accepts, within the skew on either side, is accepted
    now = int(time.time())
    kid = {"alg": "RS256", "kid": signer.key_id}
    for claims in (
        _claims(),
        _claims(iat=now + 5, exp=now + 600),
        _claims(iat=now - 99, exp=now - 5),
    ):
        token = _signed(signer, kid, claims)
        assert _google_auth_accepts(token, certs) and _ours_accepts(token, certs), claims


@pytest.mark.parametrize(
    ("why", "claims"),
    [
        ("NaN expiry passes every comparison", {"exp": float("nan")}),
        ("expiry as text", {"exp": str(int(time.time()) + 600)}),
        ("issued-at as a boolean", {"iat": True}),
        ("audience as a list", {"aud": [AUD]}),
    ],
)
def test_signed_claims_of_the_wrong_type_are_refused(why: str, claims: dict[str, object]) -> None:
    """Stricter than google-auth, which would raise TypeError (a 500) or accept NaN:
    only a Google-signed token could carry these, but the check costs nothing."""
    signer = DevSigner.generate()
    token = _signed(signer, {"alg": "RS256", "kid": signer.key_id}, _claims(**claims))
    with pytest.raises(TokenRejected):
        IdTokenVerifier(signer.certs).verify(token, audience=AUD, emails=None)


def test_deeply_nested_json_is_refused_not_crashed() -> None:
    deep = _b64(b"[" * 5000 + b"]" * 5000)
    with pytest.raises(TokenRejected, match="not a JWT"):
        IdTokenVerifier(DevSigner.generate().certs).verify(
            f"{deep}.{deep}.sig", audience=AUD, emails=None
        )


def test_a_certificate_whose_key_is_not_rsa_verifies_nothing() -> None:
    """A published EC certificate under the token's kid: RS256 never checks against it."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "ec")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    signer = DevSigner.generate()
    token = _signed(signer, {"alg": "RS256", "kid": "ec"}, _claims())
    with pytest.raises(TokenRejected):
        IdTokenVerifier(lambda: {"ec": pem}).verify(token, audience=AUD, emails=None)
