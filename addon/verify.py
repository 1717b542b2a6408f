"""Who is calling: Google (systemIdToken) on behalf of whom (userIdToken).

The systemIdToken proves the request comes from our add-on deployment's
service account, for our endpoint URL; without it anybody could POST an event
object. The userIdToken (audience: the deployment's OAuth client id) names the
user, and its `sub` is the only user id the handlers ever use: ids in the
body's parameters are looked up *under* that user, never trusted on their own.
"""

from __future__ import annotations

from dataclasses import dataclass

from functions.auth.id_tokens import IdTokenVerifier, TokenRejected
from functions.config import Settings


@dataclass(frozen=True, slots=True)
class Identity:
    user_id: str
    email: str
    #: The `hd` claim: the Workspace (primary) domain of the account, "" for consumer
    #: accounts. Colleagues there are internal even when the user's address is on a
    #: secondary domain; it costs no scope and no API call.
    hosted_domain: str = ""


def _hosted_domain(value: object) -> str:
    if not isinstance(value, str):
        return ""
    domain = value.strip().lower()
    if not 3 <= len(domain) <= 253 or "." not in domain:
        return ""
    if not all(c.isalnum() or c in ".-" for c in domain):
        return ""
    return domain


def verify_system_token(verifier: IdTokenVerifier, settings: Settings, token: str | None) -> None:
    """Raise `TokenRejected` unless `token` is our deployment's, for our URL."""
    if not token:
        raise TokenRejected("missing system token")
    verifier.verify(token, audience=settings.addon_audience, emails={settings.addon_sa_email})


def verify_user_token(verifier: IdTokenVerifier, settings: Settings, token: str | None) -> Identity:
    if not token:
        raise TokenRejected("missing user token")
    verified = verifier.verify(token, audience=settings.oauth_client_id, emails=None)
    if len(verified.subject) > 255:
        raise TokenRejected("subject too long")
    return Identity(
        user_id=verified.subject,
        email=verified.email or "",
        hosted_domain=_hosted_domain(verified.claims.get("hd")),
    )
