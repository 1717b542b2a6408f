"""Local mode only: a tiny stand-in for Google's consent page and token endpoint.

`make run` has no Google, yet the connect button should work end to end so
the flow can be seen and clicked through. These three handlers play Google's
part just far enough for the production code path to run unchanged: a consent
page that redirects back with a code, a token endpoint that checks the PKCE
verifier and client secret and answers like Google (ID token signed with the
local dev key), and a revoke endpoint. Every handler answers 404 unless the
app runs in local mode, and 403 to a caller not on this machine or a Host
that does not name it (`web.local_only`).

Codes and revocations live in this process's memory; refresh tokens are
HMAC-signed so they keep working across restarts of `make run`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import secrets
import threading
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Request, Response

from functions.config import Settings
from functions.oauth import pages
from functions.oauth.client import OAuthClient
from functions.oauth.credentials import CredentialsProvider
from functions.oauth.deps import OAuthDeps
from functions.web import json_response, local_only

AUTHORIZE_PATH = "/dev/oauth/authorize"
_CODE_TTL = 120.0
_ACCESS_TTL = 3599


@dataclass(frozen=True, slots=True)
class _Code:
    subject: str
    email: str
    scopes: tuple[str, ...]
    challenge: str
    redirect_uri: str
    expires: float
    #: OpenID Connect sign-in: echoed in the ID token, as Google does.
    nonce: str | None = None


class _Authority:
    codes: dict[str, _Code] = {}  # noqa: RUF012 - process-wide by design
    revoked: set[str] = set()  # noqa: RUF012
    lock = threading.Lock()


def _local(settings: Settings) -> bool:
    return settings.is_local


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _signing_key(credentials: CredentialsProvider) -> bytes:
    return credentials.sealer.keyring.derive("dev-oauth/v1")


def _refresh_token(services: OAuthDeps, subject: str, scopes: tuple[str, ...]) -> str:
    body = _b64(json.dumps({"s": subject, "g": list(scopes), "n": secrets.token_hex(8)}).encode())
    mac = _b64(hmac.new(_signing_key(services.credentials), body.encode(), hashlib.sha256).digest())
    return f"1//dev-{body}.{mac}"


def _open_refresh_token(services: OAuthDeps, token: str) -> tuple[str, tuple[str, ...]] | None:
    if not token.startswith("1//dev-") or token in _Authority.revoked:
        return None
    body, _, mac = token.removeprefix("1//dev-").partition(".")
    want = _b64(
        hmac.new(_signing_key(services.credentials), body.encode(), hashlib.sha256).digest()
    )
    # Bytes, not str: compare_digest raises on a str holding non-ASCII characters.
    if not hmac.compare_digest(mac.encode(), want.encode()):
        return None
    try:
        doc = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        return str(doc["s"]), tuple(str(s) for s in doc["g"])
    except (ValueError, TypeError, KeyError):  # signed by us, so only a key change gets here
        return None


def authorize(services: OAuthDeps, request: Request) -> Response:
    """GET: the consent page. POST: the user's answer, redirected back with a code."""
    if not _local(services.settings):
        return pages.not_found()
    refused = local_only(request)
    if refused is not None:
        return refused
    from functions.materials.reader import signin_redirect_uri
    from functions.sync.local import LOCAL_USER_ID

    client = services.credentials.client
    params = request.args if request.method == "GET" else request.form
    signin_uri = signin_redirect_uri(services.settings)
    signin = params.get("redirect_uri") == signin_uri
    problem = _check_authorization_request(
        client, params, signin_uri, subject_needed=request.method == "POST" or not signin
    )
    if problem:
        return pages.page(400, "Invalid request", problem)
    if request.method == "GET":
        if signin:
            # Google knows who is signed in; the stand-in asks (the local user by default).
            return _consent_page(params, who=(LOCAL_USER_ID, services.settings.local_user_email))
        return _consent_page(params)
    redirect_uri = params["redirect_uri"]
    answer: dict[str, str] = {"state": params.get("state", "")}
    if params.get("decision") != "allow":
        answer["error"] = "access_denied"
    else:
        code = "4/dev-" + secrets.token_urlsafe(24)
        scopes = tuple(params.get("scope", "").split())
        with _Authority.lock:
            _Authority.codes[code] = _Code(
                subject=params.get("dev_subject", ""),
                email=params.get("login_hint", ""),
                scopes=scopes,
                challenge=params.get("code_challenge", ""),
                redirect_uri=redirect_uri,
                expires=time.monotonic() + _CODE_TTL,
                nonce=params.get("nonce") or None,
            )
        answer.update(code=code, scope=" ".join(scopes))
    location = f"{redirect_uri}?{urllib.parse.urlencode(answer)}"
    return Response(status=303, headers={"Location": location, "Cache-Control": "no-store"})


def _check_authorization_request(
    client: OAuthClient, params: Mapping[str, str], signin_uri: str, *, subject_needed: bool
) -> str | None:
    get = params.get
    if get("client_id") != client.client_id:
        return "unknown client"
    if get("redirect_uri") not in (client.redirect_uri, signin_uri):
        return "redirect_uri does not match the client's registered ones"
    if get("response_type") != "code" or get("code_challenge_method") != "S256":
        return "only the code flow with PKCE S256 is supported"
    if not get("code_challenge") or (subject_needed and not get("dev_subject")):
        return "missing code_challenge or dev_subject"
    return None


def _consent_page(params: Mapping[str, str], who: tuple[str, str] | None = None) -> Response:
    """The consent page; `who` (sign-in) asks which local account signs in, prefilled."""
    get = params.get
    asked = ("dev_subject", "login_hint") if who is not None else ()
    hidden = "".join(
        f'<input type=hidden name="{html.escape(k)}" value="{html.escape(get(k) or "")}">'
        for k in (
            "client_id",
            "redirect_uri",
            "response_type",
            "scope",
            "state",
            "code_challenge",
            "code_challenge_method",
            "login_hint",
            "dev_subject",
            "access_type",
            "nonce",
        )
        if k not in asked
    )
    scopes = "".join(f"<li>{html.escape(s)}</li>" for s in (get("scope") or "").split())
    if who is not None:
        subject, email = who
        account = (
            "<p>Sign in as (a Google account id and its address; another id plays "
            "somebody else):</p>"
            f'<p><input name=dev_subject value="{html.escape(subject)}" aria-label="Account id"> '
            f'<input name=login_hint value="{html.escape(email)}" aria-label="Address"></p>'
        )
    else:
        account = f"<p>Signed in as {html.escape(get('login_hint') or 'the local user')}.</p>"
    body = (
        f"<p>Requested access:</p><ul>{scopes}</ul>"
        f'<form method=post action="{AUTHORIZE_PATH}">{hidden}{account}'
        "<button name=decision value=allow>Allow</button>"
        "<button name=decision value=deny>Cancel</button></form>"
    )
    return pages.page(
        200,
        "Local sign-in (no Google)",
        "This stands in for Google's consent screen while running locally.",
        body_html=body,
        form_action="'self'",
    )


def _oauth_error(error: str, description: str, status: int = 400) -> Response:
    return json_response({"error": error, "error_description": description}, status)


def token(services: OAuthDeps, request: Request) -> Response:
    """POST: authorization_code and refresh_token grants, answered the way Google does."""
    if not _local(services.settings):
        return pages.not_found()
    refused = local_only(request)
    if refused is not None:
        return refused
    if request.method != "POST":
        return _oauth_error("invalid_request", "POST only", 405)
    client = services.credentials.client
    form = request.form
    auth = request.authorization
    client_id = (auth.username if auth else None) or form.get("client_id")
    secret = (auth.password if auth else None) or form.get("client_secret")
    if client_id != client.client_id or secret != client.client_secret:
        return _oauth_error("invalid_client", "Unauthorized", 401)
    grant_type = form.get("grant_type")
    if grant_type == "authorization_code":
        with _Authority.lock:
            code = _Authority.codes.pop(form.get("code", ""), None)
        verifier = form.get("code_verifier", "")
        challenge = _b64(hashlib.sha256(verifier.encode()).digest())
        if (
            code is None
            or code.expires < time.monotonic()
            or code.redirect_uri != form.get("redirect_uri")
            or not hmac.compare_digest(challenge, code.challenge)
        ):
            return _oauth_error("invalid_grant", "Bad Request")
        return json_response(
            {
                "access_token": "ya29.dev-" + secrets.token_urlsafe(24),
                "expires_in": _ACCESS_TTL,
                "refresh_token": _refresh_token(services, code.subject, code.scopes),
                "scope": " ".join(code.scopes),
                "token_type": "Bearer",
                "id_token": services.dev_signer.id_token(
                    audience=client.client_id,
                    subject=code.subject,
                    email=code.email or None,
                    **_nonce_claim(code.nonce),
                ),
            }
        )
    if grant_type == "refresh_token":
        opened = _open_refresh_token(services, form.get("refresh_token", ""))
        if opened is None:
            return _oauth_error("invalid_grant", "Token has been expired or revoked.")
        return json_response(
            {
                "access_token": "ya29.dev-" + secrets.token_urlsafe(24),
                "expires_in": _ACCESS_TTL,
                "scope": " ".join(opened[1]),
                "token_type": "Bearer",
            }
        )
    return _oauth_error("unsupported_grant_type", "Invalid grant_type")


def revoke(services: OAuthDeps, request: Request) -> Response:
    if not _local(services.settings):
        return pages.not_found()
    refused = local_only(request)
    if refused is not None:
        return refused
    value = request.form.get("token") or request.args.get("token", "")
    if _open_refresh_token(services, value) is None:
        return _oauth_error("invalid_token", "Token expired or revoked")
    with _Authority.lock:
        _Authority.revoked.add(value)
    return json_response({})


def _nonce_claim(nonce: str | None) -> dict[str, Any]:
    """OpenID Connect: the ID token echoes the authorization request's nonce, if it had one."""
    return {"nonce": nonce} if nonce else {}
