"""A local stand-in for Google's OAuth 2.0 authorization server, strict where Google is.

Runs as a real HTTP server on a free loopback port, so the production code
path (google-auth-oauthlib's `Flow.fetch_token`, google-auth's refresh and
service-account JWT grant) talks to it exactly as it would to
https://oauth2.googleapis.com. Semantics follow Google's web-server flow
documentation:

* The browser step is `consent()`: it validates the authorization URL the
  way Google does (registered client and redirect URI, `response_type=code`,
  PKCE S256 challenge), plays a signed-in `Account`, and returns the redirect
  back to the app with `code`, `state` and the granted `scope`; with
  `include_granted_scopes=true` the grant also covers the scopes the account
  granted this client before (incremental authorization), unless revoked.
* `/token`: `authorization_code` (single-use code, same redirect URI, PKCE
  verifier must hash to the challenge, client authenticated by HTTP Basic or
  form fields), `refresh_token` (answers `invalid_grant` "Token has been
  expired or revoked." once revoked) and the JWT-bearer grant used by
  domain-wide delegation (signature checked against the registered service
  account key, subject must be delegated the requested scopes, else
  `unauthorized_client`). A refresh token is issued only with
  `access_type=offline`, and again only with `prompt=consent`.
* `/revoke`: form field `token`; revoking either token kills the grant.
* ID tokens (scope `openid`) are signed with the given `DevSigner`, so the
  app's `IdTokenVerifier` checks them for real.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from functions.auth.dev_keys import DevSigner
from tests.support.loopback import serve_loopback

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
#: A service-account assertion is addressed to Google's token endpoint, whatever URL it is
#: POSTed to (google-auth always sets this audience).
ASSERTION_AUDIENCE = "https://oauth2.googleapis.com/token"


@dataclass(frozen=True)
class Account:
    subject: str
    email: str


@dataclass
class Grant:
    account: Account
    scopes: tuple[str, ...]
    refresh_token: str | None
    access_tokens: set[str] = field(default_factory=set)
    revoked: bool = False


@dataclass
class _Code:
    grant: Grant
    redirect_uri: str
    challenge: str
    issued_at: float
    used: bool = False
    #: OpenID Connect: the request's `nonce`, echoed in the ID token of this code's answer.
    nonce: str | None = None


@dataclass
class ServiceAccount:
    client_email: str
    public_key_pem: bytes
    #: Domain-wide delegation as an admin set it up: user email -> allowed scopes.
    delegated: dict[str, frozenset[str]]


@dataclass
class TokenRequest:
    """What the token endpoint received (secrets included: tests assert on them)."""

    form: dict[str, str]
    basic_auth: tuple[str, str] | None


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class FakeGoogleOAuth:
    CODE_LIFETIME = 600.0

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        signer: DevSigner,
        other_redirect_uris: tuple[str, ...] = (),
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uri = redirect_uri
        #: Every redirect URI registered for the client (Google refuses any other).
        self.redirect_uris = frozenset({redirect_uri, *other_redirect_uris})
        self.signer = signer
        self.base_url = ""
        self.token_requests: list[TokenRequest] = []
        self.revoke_requests: list[dict[str, str]] = []
        self.authorization_requests: list[dict[str, str]] = []
        self.grants: list[Grant] = []
        self.service_accounts: dict[str, ServiceAccount] = {}
        #: Answer the next token requests with these (status, OAuth error code), then recover.
        self.fail_next: list[tuple[int, str]] = []
        self._codes: dict[str, _Code] = {}
        self._consented: set[str] = set()
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ endpoints

    @property
    def auth_uri(self) -> str:
        return f"{self.base_url}/o/oauth2/v2/auth"

    @property
    def token_uri(self) -> str:
        return f"{self.base_url}/token"

    @property
    def revoke_uri(self) -> str:
        return f"{self.base_url}/revoke"

    # ------------------------------------------------------------------ the browser step

    def consent(
        self,
        authorization_url: str,
        account: Account,
        *,
        grant: list[str] | None = None,
        deny: bool = False,
    ) -> str:
        """The user at Google's consent screen; returns the redirect to the app.

        `grant` simulates granular consent (the user unticked some scopes).
        """
        parsed = urllib.parse.urlsplit(authorization_url)
        if f"{parsed.scheme}://{parsed.netloc}{parsed.path}" != self.auth_uri:
            raise AssertionError(f"not our authorization endpoint: {authorization_url}")
        query = dict(urllib.parse.parse_qsl(parsed.query))
        self.authorization_requests.append(query)
        if query.get("client_id") != self.client_id:
            raise AssertionError("Error 401: invalid_client")
        if query.get("redirect_uri") not in self.redirect_uris:
            raise AssertionError("Error 400: redirect_uri_mismatch")
        back_to = query["redirect_uri"]
        if query.get("response_type") != "code":
            raise AssertionError("Error 400: unsupported_response_type")
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            raise AssertionError("this fake insists on PKCE S256")
        state = query.get("state")
        back: dict[str, str] = {"state": state} if state is not None else {}
        if deny:
            back["error"] = "access_denied"
            return f"{back_to}?{urllib.parse.urlencode(back)}"
        requested = query.get("scope", "").split()
        granted = tuple(grant if grant is not None else requested)
        if query.get("include_granted_scopes") == "true":
            # Google: the new grant also covers what this account granted this client before.
            with self._lock:
                earlier = [
                    s
                    for g in self.grants
                    if g.account == account and not g.revoked
                    for s in g.scopes
                ]
            granted = tuple(dict.fromkeys([*granted, *earlier]))
        offline = query.get("access_type") == "offline"
        first_time = account.subject not in self._consented
        issue_refresh = offline and (first_time or query.get("prompt") == "consent")
        self._consented.add(account.subject)
        record = Grant(
            account,
            granted,
            "1//fake-" + secrets.token_urlsafe(32) if issue_refresh else None,
        )
        code = "4/fake-" + secrets.token_urlsafe(24)
        with self._lock:
            self.grants.append(record)
            self._codes[code] = _Code(
                record,
                query["redirect_uri"],
                query["code_challenge"],
                time.monotonic(),
                nonce=query.get("nonce"),
            )
        back.update(code=code, scope=" ".join(granted))
        return f"{back_to}?{urllib.parse.urlencode(back)}"

    # ------------------------------------------------------------------ test controls

    def revoke_user(self, account: Account) -> None:
        """The user removed the app's access in their Google Account settings."""
        with self._lock:
            for g in self.grants:
                if g.account == account:
                    g.revoked = True

    def grant_for(self, refresh_token: str) -> Grant | None:
        with self._lock:
            return next((g for g in self.grants if g.refresh_token == refresh_token), None)

    def requests_of(self, grant_type: str) -> list[TokenRequest]:
        return [r for r in self.token_requests if r.form.get("grant_type") == grant_type]

    # ------------------------------------------------------------------ token endpoint

    def handle_token(
        self, form: dict[str, str], basic: tuple[str, str] | None
    ) -> tuple[int, dict[str, Any]]:
        self.token_requests.append(TokenRequest(dict(form), basic))
        if self.fail_next:
            status, error = self.fail_next.pop(0)
            return status, {"error": error, "error_description": "injected by the test"}
        grant_type = form.get("grant_type")
        if grant_type == JWT_BEARER:
            return self._jwt_bearer(form)
        client_id, secret = basic or (form.get("client_id"), form.get("client_secret"))
        if client_id != self.client_id or secret != self.client_secret:
            return 401, {"error": "invalid_client", "error_description": "Unauthorized"}
        if grant_type == "authorization_code":
            return self._authorization_code(form)
        if grant_type == "refresh_token":
            return self._refresh(form)
        return 400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"}

    def _authorization_code(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        bad = (400, {"error": "invalid_grant", "error_description": "Bad Request"})
        with self._lock:
            code = self._codes.get(form.get("code", ""))
            if code is None or code.used:
                return bad
            code.used = True
        if time.monotonic() - code.issued_at > self.CODE_LIFETIME:
            return bad
        if form.get("redirect_uri") != code.redirect_uri:
            return 400, {"error": "redirect_uri_mismatch", "error_description": "Bad Request"}
        verifier = form.get("code_verifier", "")
        if _b64url(hashlib.sha256(verifier.encode()).digest()) != code.challenge:
            return 400, {"error": "invalid_grant", "error_description": "Invalid code verifier."}
        grant = code.grant
        body = self._access(grant, nonce=code.nonce)
        if grant.refresh_token:
            body["refresh_token"] = grant.refresh_token
        return 200, body

    def _refresh(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        grant = self.grant_for(form.get("refresh_token", ""))
        if grant is None or grant.revoked:
            return 400, {
                "error": "invalid_grant",
                "error_description": "Token has been expired or revoked.",
            }
        asked = form.get("scope", "").split()
        if asked and not set(asked) <= set(grant.scopes):
            return 400, {"error": "invalid_scope", "error_description": "Bad Request"}
        return 200, self._access(grant)

    def _access(self, grant: Grant, *, nonce: str | None = None) -> dict[str, Any]:
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        grant.access_tokens.add(token)
        body: dict[str, Any] = {
            "access_token": token,
            "expires_in": 3599,
            "scope": " ".join(grant.scopes),
            "token_type": "Bearer",
        }
        if "openid" in grant.scopes:
            body["id_token"] = self.signer.id_token(
                audience=self.client_id,
                subject=grant.account.subject,
                email=grant.account.email,
                azp=self.client_id,
                **_nonce_claim(nonce),
            )
        return body

    def _jwt_bearer(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        from google.auth import jwt

        unauthorized = (
            401,
            {
                "error": "unauthorized_client",
                "error_description": "Client is unauthorized to retrieve access tokens "
                "using this method, or client not authorized for any of the scopes requested.",
            },
        )
        assertion = form.get("assertion", "")
        try:
            unverified = jwt.decode(assertion, verify=False)
            account = self.service_accounts[str(unverified.get("iss"))]
            claims = jwt.decode(
                assertion, certs=account.public_key_pem, audience=ASSERTION_AUDIENCE
            )
        except (KeyError, ValueError):
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        subject = str(claims.get("sub", ""))
        scopes = set(str(claims.get("scope", "")).split())
        allowed = account.delegated.get(subject)
        if allowed is None or not scopes or not scopes <= allowed:
            return unauthorized
        return 200, {
            "access_token": "ya29.fake-dwd-" + secrets.token_urlsafe(16),
            "expires_in": 3599,
            "token_type": "Bearer",
        }

    def handle_revoke(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        self.revoke_requests.append(dict(form))
        token = form.get("token", "")
        with self._lock:
            for g in self.grants:
                if (
                    token
                    and not g.revoked
                    and (token == g.refresh_token or token in g.access_tokens)
                ):
                    g.revoked = True
                    return 200, {}
        return 400, {"error": "invalid_token", "error_description": "Token expired or revoked"}


@contextmanager
def fake_google_oauth(
    *,
    client_id: str,
    client_secret: str,
    redirect_uri: str,
    signer: DevSigner,
    other_redirect_uris: tuple[str, ...] = (),
) -> Iterator[FakeGoogleOAuth]:
    fake = FakeGoogleOAuth(
        client_id=client_id,
        client_secret=client_secret,
        redirect_uri=redirect_uri,
        signer=signer,
        other_redirect_uris=other_redirect_uris,
    )

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode()
            form = dict(urllib.parse.parse_qsl(raw, keep_blank_values=True))
            form.update(dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query)))
            path = urllib.parse.urlsplit(self.path).path
            if path == "/token":
                status, body = fake.handle_token(form, self._basic())
            elif path == "/revoke":
                status, body = fake.handle_revoke(form)
            else:
                status, body = 404, {"error": "not_found"}
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _basic(self) -> tuple[str, str] | None:
            header = self.headers.get("Authorization", "")
            if not header.lower().startswith("basic "):
                return None
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            return urllib.parse.unquote_plus(user), urllib.parse.unquote_plus(password)

        def log_message(self, format: str, *args: object) -> None:
            return

    with serve_loopback(Handler, "fake-oauth") as url:
        fake.base_url = url
        yield fake


def _nonce_claim(nonce: str | None) -> dict[str, Any]:
    """OpenID Connect: the ID token echoes the authorization request's nonce, if it had one."""
    return {"nonce": nonce} if nonce else {}
