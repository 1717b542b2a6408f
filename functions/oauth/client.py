"""The OAuth web client as configured: who we are to Google's token endpoint.

Client id and secret are needed only by the functions that run the consent
flow or refresh tokens, so they are checked here, where they are used, rather
than at every function's start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from functions.config import Settings, SettingsError
from functions.oauth.scopes import OPENID


@dataclass(frozen=True, slots=True)
class OAuthClient:
    client_id: str
    client_secret: str = field(repr=False)
    auth_uri: str
    token_uri: str
    revoke_uri: str
    redirect_uri: str
    #: What background work needs (checked against each grant).
    scopes: tuple[str, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> OAuthClient:
        if not settings.oauth_web_client_id:
            raise SettingsError("PREP_OAUTH_WEB_CLIENT_ID is required when PREP_MODE=production")
        if not settings.oauth_web_client_secret:
            raise SettingsError(
                "PREP_OAUTH_WEB_CLIENT_SECRET is required when PREP_MODE=production"
            )
        return cls(
            client_id=settings.oauth_web_client_id,
            client_secret=settings.oauth_web_client_secret,
            auth_uri=settings.oauth_auth_uri,
            token_uri=settings.oauth_token_uri,
            revoke_uri=settings.oauth_revoke_uri,
            redirect_uri=settings.oauth_redirect_uri,
            scopes=settings.oauth_scopes,
        )

    @property
    def requested_scopes(self) -> list[str]:
        """The configured scopes plus `openid`, so the consenting account is named."""
        return [OPENID, *(s for s in self.scopes if s != OPENID)]

    def client_config(self) -> dict[str, Any]:
        """The `client_secrets.json` shape google-auth-oauthlib expects."""
        return {
            "web": {
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "auth_uri": self.auth_uri,
                "token_uri": self.token_uri,
                "redirect_uris": [self.redirect_uri],
            }
        }

    @property
    def loopback(self) -> bool:
        """Token endpoint on plain-http loopback: a test fake or the local stand-in."""
        return self.token_uri.startswith(("http://127.0.0.1", "http://localhost"))
