"""The OAuth 2.0 web-server flow that gives background work its own refresh token.

1. The sidebar's connect button calls `start_authorization` for the verified
   user and opens the returned Google URL (offline access, forced consent so
   a refresh token is issued, incremental scopes, PKCE S256, and a `state`
   bound to that user; see `functions.oauth.state`).
2. Google redirects the browser to `GET /oauth/callback`, served by
   `callback`: the state is authenticated and consumed (single use), the code
   is exchanged with the server-side PKCE verifier, the ID token in the answer
   must name the same Google account that started the flow, every needed
   scope must be granted and a refresh token present. Only then is the grant
   sealed and stored and the user marked connected.
3. `disconnect` revokes the grant at Google (best effort), stops push
   channels, forgets the credentials and marks the user not connected.

The callback answers with a small static page: never a token, an id or any
detail of what went wrong.
"""

from __future__ import annotations

import logging
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from flask import Request, Response

from functions.auth.id_tokens import TokenRejected
from functions.domain.users import ConnectionState
from functions.errors import PermanentError, TransientError
from functions.logs import log
from functions.oauth import pages
from functions.oauth import scopes as oauth_scopes
from functions.oauth.client import OAuthClient
from functions.oauth.credentials import ReconnectNeeded, StoredGrant
from functions.oauth.deps import OAuthDeps
from functions.oauth.sealing import SealError
from functions.oauth.state import StateCodec, StateRejected, consume

if TYPE_CHECKING:
    from google_auth_oauthlib.flow import Flow

    from functions.oauth.credentials import CredentialsProvider

_log = logging.getLogger(__name__)

#: Seconds to wait for Google's token and revoke endpoints.
HTTP_TIMEOUT = 10.0

# requests-oauthlib logs whole token responses (refresh token included) at DEBUG;
# these loggers are kept at INFO or above whatever the root level is.
for _name in ("requests_oauthlib", "oauthlib"):
    logging.getLogger(_name).setLevel(logging.INFO)


class _ExchangeUnavailable(TransientError):
    """The token endpoint could not be reached: the same link may work in a moment."""


class _ExchangeRefused(PermanentError):
    """The token endpoint refused the code (used, expired, PKCE mismatch): start again."""


def _codec(credentials: CredentialsProvider) -> StateCodec:
    return StateCodec(credentials.sealer.keyring)


def _flow(
    client: OAuthClient,
    code_verifier: str,
    extra_scopes: Sequence[str] = (),
    *,
    only_extra: bool = False,
) -> Flow:
    from google_auth_oauthlib.flow import Flow

    if client.loopback:
        # oauthlib refuses plain http; config allows it only on loopback (tests,
        # the local stand-in), so production never gets here.
        os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
    requested = [*client.requested_scopes, *(s for s in extra_scopes if s not in client.scopes)]
    if only_extra:
        requested = [oauth_scopes.OPENID, *(s for s in extra_scopes if s != oauth_scopes.OPENID)]
    flow: Flow = Flow.from_client_config(
        client.client_config(),
        scopes=requested,
        redirect_uri=client.redirect_uri,
        code_verifier=code_verifier,
        autogenerate_code_verifier=False,
    )
    return flow


def start_authorization(
    services: OAuthDeps,
    user_id: str,
    email: str,
    *,
    extra_scopes: Sequence[str] = (),
    only_extra: bool = False,
) -> str:
    """Google's consent URL for `user_id` (already verified by the caller).

    `extra_scopes` asks for more than background work always needs, at the
    moment a feature needs it (incremental consent: assistant mode asks for
    `calendar.events.readonly` only when the user turns it on). The callback
    requires only the configured scopes; what else was granted is stored with
    the grant, and the feature checks for it there.

    `only_extra` asks for nothing but `openid` and `extra_scopes` (a context
    source turned on by a user who is connected already): with
    `include_granted_scopes=true` Google's answer covers every scope granted
    before as well, so the callback's check of the configured scopes still
    holds and the consent screen shows just the new one.
    """
    client = services.credentials.client
    codec = _codec(services.credentials)
    state, pending = codec.issue(user_id, email, services.clock.now())
    params: dict[str, str] = {
        "access_type": "offline",
        "prompt": "consent",
        "include_granted_scopes": "true",
        "login_hint": email,
        "state": state,
    }
    if services.settings.is_local:
        # The local stand-in has no Google session: this plays "who is signed in".
        params["dev_subject"] = user_id
    flow = _flow(client, codec.code_verifier(pending), extra_scopes, only_extra=only_extra)
    url, _ = flow.authorization_url(**params)
    log(_log, logging.INFO, "authorization started", user_id=user_id)
    return str(url)


def callback(services: OAuthDeps, request: Request) -> Response:
    """`GET /oauth/callback`: finish the flow for the user the state names."""
    if request.method != "GET":
        return pages.page(405, "Not allowed", "This address only accepts links from Google.")
    args = request.args
    error = args.get("error")
    try:
        pending = _codec(services.credentials).open(args.get("state", ""), services.clock.now())
        consume(services.store, pending)
    except StateRejected as exc:
        log(_log, logging.WARNING, "oauth callback refused", reason=exc.reason)
        return pages.declined() if error == "access_denied" else pages.invalid_link()
    user_id = pending.user_id
    if error:
        log(_log, logging.INFO, "consent not given", user_id=user_id, error=error[:64])
        return pages.declined() if error == "access_denied" else pages.invalid_link()
    code = args.get("code", "")
    if not code or len(code) > 2048:
        log(_log, logging.WARNING, "oauth callback without a code", user_id=user_id)
        return pages.invalid_link()

    provider = services.credentials
    client = provider.client
    try:
        token = _exchange(client, _codec(services.credentials).code_verifier(pending), code)
    except (_ExchangeUnavailable, _ExchangeRefused) as exc:
        log(_log, logging.WARNING, "code exchange failed", user_id=user_id, reason=str(exc))
        return pages.try_again() if isinstance(exc, TransientError) else pages.invalid_link()

    refresh_token = token.get("refresh_token")
    try:
        verified = services.id_tokens.verify(
            str(token.get("id_token", "")), audience=client.client_id, emails=None
        )
    except TokenRejected as exc:
        log(_log, logging.WARNING, "token response not trusted", user_id=user_id, reason=exc.reason)
        return pages.invalid_link()
    # Refused grants are dropped, not revoked: revoking would also end any
    # working connection that account already has with this client.
    if verified.subject != user_id:
        # Somebody completed this user's link with another Google account.
        log(_log, logging.WARNING, "consent by another account refused", user_id=user_id)
        return pages.wrong_account()
    granted = _granted_scopes(token)
    if oauth_scopes.missing(client.scopes, granted):
        log(_log, logging.INFO, "needed scope not granted", user_id=user_id)
        return pages.scopes_missing()
    if not isinstance(refresh_token, str) or not refresh_token:
        log(_log, logging.ERROR, "no refresh token issued", user_id=user_id)
        return pages.invalid_link()

    expires_in = _int(token.get("expires_in"))
    access_token = token.get("access_token")
    provider.save(
        user_id,
        StoredGrant(
            refresh_token=refresh_token,
            scopes=tuple(granted),
            access_token=access_token if isinstance(access_token, str) else None,
            expiry=services.clock.now() + timedelta(seconds=expires_in) if expires_in else None,
        ),
    )
    provider.set_connection(
        user_id, ConnectionState.CONNECTED, email=pending.email or (verified.email or "")
    )
    log(_log, logging.INFO, "user connected", user_id=user_id)
    after_connect(services, user_id)
    return pages.connected()


def disconnect(services: OAuthDeps, user_id: str) -> None:
    """Undo everything `callback` set up; never raises for Google's side."""
    provider = services.credentials
    try:
        grant = provider.load(user_id)
    except SealError:
        grant = None
    _stop_channels(services, user_id)
    if grant is not None and provider.delegation is None:
        _revoke_quietly(provider.client, grant.refresh_token)
    provider.forget(user_id)
    if services.store.get_user(user_id) is not None:
        provider.set_connection(user_id, ConnectionState.NOT_CONNECTED)
    log(_log, logging.INFO, "user disconnected", user_id=user_id)


def connect_delegated(services: OAuthDeps, user_id: str, email: str) -> ConnectionState:
    """With domain-wide delegation there is no consent: prove access, then mark connected."""
    provider = services.credentials
    if provider.delegation is None:
        raise RuntimeError("domain-wide delegation is not configured")
    provider.set_connection(user_id, ConnectionState.NOT_CONNECTED, email=email)
    try:
        provider.credentials_for(user_id)
    except ReconnectNeeded:
        return ConnectionState.RECONNECT_NEEDED
    provider.set_connection(user_id, ConnectionState.CONNECTED, email=email)
    after_connect(services, user_id)
    return ConnectionState.CONNECTED


def after_connect(services: OAuthDeps, user_id: str) -> None:
    """Queue a first sync soon (it also opens the push channel).

    A failure is logged, not raised: the user is connected either way and the
    scheduled fan-out picks them up on its next run.
    """
    try:
        services.first_sync(user_id)
    except Exception as exc:  # the periodic sync is the safety net
        log(
            _log,
            logging.WARNING,
            "first sync not queued",
            user_id=user_id,
            error=type(exc).__name__,
        )


def _stop_channels(services: OAuthDeps, user_id: str) -> None:
    """Stop push channels while the grant still works (channels.stop needs it)."""
    try:
        services.stop_channels(user_id)
    except Exception as exc:  # they expire on their own; pings then fail verification
        log(
            _log,
            logging.WARNING,
            "push channels not stopped",
            user_id=user_id,
            error=type(exc).__name__,
        )


def _exchange(client: OAuthClient, code_verifier: str, code: str) -> dict[str, Any]:
    from oauthlib.oauth2 import OAuth2Error  # type: ignore[import-untyped]
    from requests import RequestException

    flow = _flow(client, code_verifier)
    try:
        return dict(flow.fetch_token(code=code, timeout=HTTP_TIMEOUT))
    except OAuth2Error as exc:
        raise _ExchangeRefused(f"token endpoint: {exc.error}") from None
    except RequestException as exc:
        raise _ExchangeUnavailable(type(exc).__name__) from None
    except Warning as exc:
        # oauthlib raises a bare Warning when the granted scopes differ from the
        # requested ones (include_granted_scopes adds earlier grants); the token
        # rides on the exception and the scopes are checked by the caller.
        token = getattr(exc, "token", None)
        if not isinstance(token, dict):
            raise _ExchangeRefused("unexpected token response") from None
        return dict(token)


def _granted_scopes(token: dict[str, Any]) -> list[str]:
    raw = token.get("scope", "")
    items = raw.split() if isinstance(raw, str) else [str(s) for s in raw or ()]
    return list(dict.fromkeys(items))


def _int(value: object) -> int:
    try:
        return max(0, int(str(value)))
    except ValueError:
        return 0


def _revoke_quietly(client: OAuthClient, token: object) -> None:
    """Revoke a token at Google (RFC 7009 style form POST); log, never raise."""
    if not isinstance(token, str) or not token:
        return
    body = urllib.parse.urlencode({"token": token}).encode()
    req = urllib.request.Request(  # noqa: S310 - config allows https or loopback only
        client.revoke_uri,
        data=body,
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    try:
        with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT):  # noqa: S310
            pass
    except urllib.error.HTTPError as exc:
        log(_log, logging.WARNING, "token revocation refused", status=exc.code)
    except OSError as exc:
        log(_log, logging.WARNING, "token revocation failed", error=type(exc).__name__)
