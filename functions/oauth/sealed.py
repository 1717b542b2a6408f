"""Small sealed records for URLs and cookies: authenticated, encrypted, purpose-bound.

The reader sign-in's `state`, its session cookie and the stable materials
link all carry something the browser must not read or change (a user id, an
event id, who signed in, until when). Each is an AES-GCM record under a
subkey of the credentials KEK (`Keyring.derive`) for its own purpose, with
the purpose and key id as associated data: a record made for one purpose
does not open as another (a session cookie is no link id), a flipped bit
fails, and the plaintext never shows in a URL or a log. Key rotation works
as for the credentials: the primary key seals, every configured key opens.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from collections.abc import Mapping
from typing import Any

from functions.oauth.sealing import Keyring, SealError

_NONCE = 12
#: Refuse absurd input before decoding it (a URL or a cookie holds far less).
MAX_SEALED = 2048


class Unsealed(Exception):
    """The record is forged, altered, made for another purpose, or under a dropped key."""


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SealedCodec:
    def __init__(self, keyring: Keyring, purpose: str) -> None:
        self.keyring = keyring
        self.purpose = purpose

    def _aad(self, kid: str) -> bytes:
        return f"{self.purpose}\x00{kid}".encode()

    def seal(self, doc: Mapping[str, Any]) -> str:
        """URL- and cookie-safe text (base64url and one dot)."""
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        kid = self.keyring.primary
        body = json.dumps(dict(doc), separators=(",", ":")).encode()
        nonce = secrets.token_bytes(_NONCE)
        key = self.keyring.derive(self.purpose, kid)
        return f"{kid}.{b64e(nonce + AESGCM(key).encrypt(nonce, body, self._aad(kid)))}"

    def open(self, text: str) -> dict[str, Any]:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if not text or len(text) > MAX_SEALED or text.count(".") != 1:
            raise Unsealed("missing, oversized or malformed")
        kid, _, blob = text.partition(".")
        try:
            raw = _b64d(blob)
            if len(raw) <= _NONCE:
                raise ValueError("too short")
            key = self.keyring.derive(self.purpose, kid)
            body = AESGCM(key).decrypt(raw[:_NONCE], raw[_NONCE:], self._aad(kid))
            doc = json.loads(body)
        except (SealError, InvalidTag, binascii.Error, ValueError, TypeError):
            raise Unsealed("does not authenticate") from None
        if not isinstance(doc, dict):
            raise Unsealed("unexpected shape")
        return doc
