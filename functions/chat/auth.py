"""Verify that a request to the Chat endpoint really comes from Google Chat.

Chat signs every request with a bearer token whose shape depends on the
"authentication audience" chosen in the Chat app's configuration:

- HTTP endpoint URL: a Google-signed OIDC ID token (Google's usual
  certificates and issuers) for audience = the endpoint URL, with
  `email` = chat@system.gserviceaccount.com. Checked with the same
  `IdTokenVerifier` as every other Google-signed token here.
- Project number: a JWT that Chat's service account signs itself, with
  `iss` = chat@system.gserviceaccount.com, audience = the project number,
  verified against that account's published x509 certificates.

Only the configured variant is accepted; the other is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TYPE_CHECKING

from functions.auth.id_tokens import (
    CertSource,
    HttpCerts,
    IdTokenVerifier,
    TokenRejected,
    VerifiedToken,
)

if TYPE_CHECKING:
    pass

CHAT_ISSUER = "chat@system.gserviceaccount.com"


class ChatAudience(StrEnum):
    ENDPOINT_URL = "endpoint_url"
    PROJECT_NUMBER = "project_number"


class ChatVerifier:
    def __init__(
        self,
        kind: ChatAudience,
        audience: str,
        *,
        id_tokens: IdTokenVerifier,
        chat_certs: CertSource,
        clock_skew_seconds: int = 10,
    ) -> None:
        self.kind = kind
        self.audience = audience
        self._id_tokens = id_tokens
        self._chat_certs = chat_certs
        self.clock_skew_seconds = clock_skew_seconds

    def verify(self, token: str | None) -> VerifiedToken:
        """The checked claims of a genuine Chat request; raise `TokenRejected` otherwise.

        What comes back is what was verified (issuer, audience, Chat's account), so
        a caller or a test can see which variant let the request in.
        """
        if not token:
            raise TokenRejected("missing bearer token")
        if self.kind is ChatAudience.ENDPOINT_URL:
            return self._id_tokens.verify(token, audience=self.audience, emails={CHAT_ISSUER})
        return self._verify_project_jwt(token)

    def _verify_project_jwt(self, token: str) -> VerifiedToken:
        from google.auth import exceptions as gexc
        from google.auth import jwt

        if token.count(".") != 2 or len(token) > 16384:
            raise TokenRejected("not a JWT")
        try:
            claims: Mapping[str, object] = jwt.decode(
                token,
                certs=self._certs_for(token),
                audience=self.audience,
                clock_skew_in_seconds=self.clock_skew_seconds,
            )
        except (ValueError, gexc.GoogleAuthError) as exc:
            raise TokenRejected(f"invalid token: {type(exc).__name__}") from None
        if claims.get("iss") != CHAT_ISSUER:
            raise TokenRejected("unexpected issuer")
        email = claims.get("email")
        return VerifiedToken(
            subject=str(claims.get("sub") or ""),
            email=email if isinstance(email, str) else None,
            audience=self.audience,
            issuer=CHAT_ISSUER,
            claims=dict(claims),
        )

    def _certs_for(self, token: str) -> Mapping[str, str]:
        """Chat's keys, refetched once when the token names a key we have not seen (rotation)."""
        from google.auth import jwt

        certs = self._chat_certs()
        try:
            header = jwt.decode_header(token)
        except ValueError:
            raise TokenRejected("not a JWT") from None
        kid = header.get("kid") if isinstance(header, dict) else None
        if kid and kid not in certs and isinstance(self._chat_certs, HttpCerts):
            self._chat_certs.invalidate()
            certs = self._chat_certs()
        return certs
