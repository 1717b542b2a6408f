"""Envelope encryption of stored credentials: a fresh data key per record.

A refresh token is a long-lived key to somebody's calendar, so the store never
sees one in the clear. Each record gets its own random AES-256-GCM data key;
that key is wrapped by a key-encryption key (KEK) from configuration, and the
record names the KEK by id. Rotating the KEK is therefore cheap: add a new
primary, keep the old ones for reading, and records move to the new key the
next time they are written (or all at once with `rewrap_all`).

Both the data and the wrapped key are authenticated together with the owning
user id, so a record copied into another user's slot fails to open instead of
silently handing one user's calendar to another.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from functions.oauth.kek import KEK_BYTES, parse_kek_spec

if TYPE_CHECKING:
    from functions.config import Settings
    from functions.store.port import SealedCredentials, Store

#: Version tag of the record layout; part of the authenticated data.
_FORMAT = 1
_KEY_BYTES = KEK_BYTES
_NONCE_BYTES = 12
#: Local mode's key id; production ids are whatever the operator chooses.
LOCAL_KEY_ID = "local-1"


class SealError(Exception):
    """The record cannot be opened: tampered, another user's, or an unknown key.

    The message is deliberately generic; the cause is not something to show.
    """


@dataclass(frozen=True)
class Keyring:
    """The KEKs by id; `primary` encrypts, every key decrypts."""

    keys: Mapping[str, bytes] = field(repr=False)
    primary: str

    def __post_init__(self) -> None:
        if self.primary not in self.keys:
            raise ValueError("the primary key id must be one of the keys")

    @classmethod
    def from_spec(cls, spec: str) -> Keyring:
        keys = parse_kek_spec(spec)
        return cls(keys, next(iter(keys)))

    def key(self, kid: str) -> bytes:
        try:
            return self.keys[kid]
        except KeyError:
            raise SealError("sealed with an unknown key") from None

    def derive(self, purpose: str, kid: str | None = None) -> bytes:
        """A subkey for another purpose (e.g. OAuth state), so one KEK serves all."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        hkdf = HKDF(
            algorithm=hashes.SHA256(),
            length=_KEY_BYTES,
            salt=None,
            info=f"meeting-prep/{purpose}".encode(),
        )
        return hkdf.derive(self.key(kid or self.primary))


def _aad(kind: str, kid: str, user_id: str) -> bytes:
    # Length-prefixed so no (kid, user_id) pair can collide with another.
    parts = (f"meeting-prep/credentials/v{_FORMAT}/{kind}", kid, user_id)
    return b"".join(len(p.encode()).to_bytes(4, "big") + p.encode() for p in parts)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: object) -> bytes:
    if not isinstance(text, str):
        raise SealError("malformed record")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise SealError("malformed record") from None


class Sealer:
    """Seal and open credential records for one user at a time."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring

    def seal(self, user_id: str, plaintext: bytes) -> SealedCredentials:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        from functions.store.port import SealedCredentials

        kid = self.keyring.primary
        data_key = AESGCM.generate_key(bit_length=256)
        key_nonce, data_nonce = os.urandom(_NONCE_BYTES), os.urandom(_NONCE_BYTES)
        wrapped = AESGCM(self.keyring.key(kid)).encrypt(
            key_nonce, data_key, _aad("key", kid, user_id)
        )
        ciphertext = AESGCM(data_key).encrypt(data_nonce, plaintext, _aad("data", kid, user_id))
        record = {
            "v": _FORMAT,
            "kid": kid,
            "wk": _b64(key_nonce + wrapped),
            "ct": _b64(data_nonce + ciphertext),
        }
        return SealedCredentials(json.dumps(record, separators=(",", ":")).encode())

    def open(self, user_id: str, sealed: bytes) -> bytes:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        kid, wrapped, ciphertext = self._parse(sealed)
        try:
            data_key = AESGCM(self.keyring.key(kid)).decrypt(
                wrapped[:_NONCE_BYTES], wrapped[_NONCE_BYTES:], _aad("key", kid, user_id)
            )
            return AESGCM(data_key).decrypt(
                ciphertext[:_NONCE_BYTES], ciphertext[_NONCE_BYTES:], _aad("data", kid, user_id)
            )
        except (InvalidTag, ValueError):
            raise SealError("record does not open for this user") from None

    def key_id(self, sealed: bytes) -> str:
        return self._parse(sealed)[0]

    def needs_rewrap(self, sealed: bytes) -> bool:
        return self.key_id(sealed) != self.keyring.primary

    @staticmethod
    def _parse(sealed: bytes) -> tuple[str, bytes, bytes]:
        try:
            record = json.loads(sealed)
        except (ValueError, UnicodeDecodeError):
            raise SealError("malformed record") from None
        if not isinstance(record, dict) or record.get("v") != _FORMAT:
            raise SealError("unknown record format")
        kid = record.get("kid")
        if not isinstance(kid, str):
            raise SealError("malformed record")
        wrapped, ciphertext = _unb64(record.get("wk")), _unb64(record.get("ct"))
        if len(wrapped) != _NONCE_BYTES + _KEY_BYTES + 16 or len(ciphertext) < _NONCE_BYTES + 16:
            raise SealError("malformed record")
        return kid, wrapped, ciphertext


def rewrap_all(store: Store, sealer: Sealer, *, page_size: int = 100) -> int:
    """Re-seal every connected user's credentials under the primary KEK.

    Run after adding a new primary if the old key must be retired before every
    record has been refreshed naturally; returns how many records moved.
    """
    moved = 0
    for user_id in _connected_user_ids(store, page_size):
        sealed = store.get_credentials(user_id)
        if not sealed or not sealer.needs_rewrap(sealed):
            continue
        store.put_credentials(user_id, sealer.seal(user_id, sealer.open(user_id, sealed)))
        moved += 1
    return moved


def _connected_user_ids(store: Store, page_size: int) -> Iterator[str]:
    after: str | None = None
    while True:
        page = store.list_connected_users(after=after, limit=page_size)
        yield from (u.user_id for u in page.users)
        if page.next_after is None:
            return
        after = page.next_after


def local_key_file(path: Path) -> str:
    """Local mode's KEK spec, from a key file created (mode 0600) on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        spec = f"{LOCAL_KEY_ID}:{_b64(secrets.token_bytes(_KEY_BYTES))}\n"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process won the race; read theirs
        else:
            with os.fdopen(fd, "w") as f:
                f.write(spec)
    return path.read_text().strip()


def keyring_from_settings(settings: Settings) -> Keyring:
    """Production: PREP_TOKEN_KEK (from Secret Manager). Local: the same, or the key file."""
    from functions.config import SettingsError

    if settings.token_kek:
        return Keyring.from_spec(settings.token_kek)
    if not settings.is_local:
        raise SettingsError("PREP_TOKEN_KEK is required when PREP_MODE=production")
    return Keyring.from_spec(local_key_file(settings.token_kek_path))
