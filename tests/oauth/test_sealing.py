"""Envelope encryption of stored credentials: round trip, tampering, wrong user, key rotation."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import stat
from pathlib import Path

import pytest

from functions.config import Mode, SettingsError, load_settings
from functions.domain.users import ConnectionState, User
from functions.oauth.kek import parse_kek_spec
from functions.oauth.sealing import (
    Keyring,
    Sealer,
    SealError,
    keyring_from_settings,
    local_key_file,
    rewrap_all,
)
from functions.store.port import SealedCredentials
from functions.store.sqlite import SqliteStore

PLAINTEXT = b'{"refresh_token": "1//secret-refresh", "scopes": ["openid"]}'


def _key(fill: int) -> str:
    return base64.b64encode(bytes([fill]) * 32).decode()


K1 = f"k1:{_key(1)}"
K2 = f"k2:{_key(2)}"


def _tamper(sealed: bytes, field: str) -> SealedCredentials:
    record = json.loads(sealed)
    raw = bytearray(base64.b64decode(record[field]))
    raw[-1] ^= 0x01
    record[field] = base64.b64encode(bytes(raw)).decode()
    return SealedCredentials(json.dumps(record).encode())


def test_round_trip() -> None:
    sealer = Sealer(Keyring.from_spec(K1))
    sealed = sealer.seal("alice", PLAINTEXT)
    assert bytes(sealed).find(b"secret-refresh") == -1
    assert sealer.open("alice", sealed) == PLAINTEXT


def test_every_record_gets_its_own_data_key() -> None:
    sealer = Sealer(Keyring.from_spec(K1))
    a, b = json.loads(sealer.seal("alice", PLAINTEXT)), json.loads(sealer.seal("alice", PLAINTEXT))
    assert a["wk"] != b["wk"]
    assert a["ct"] != b["ct"]


@pytest.mark.parametrize("field", ["ct", "wk"])
def test_tampering_is_detected(field: str) -> None:
    sealer = Sealer(Keyring.from_spec(K1))
    sealed = sealer.seal("alice", PLAINTEXT)
    with pytest.raises(SealError):
        sealer.open("alice", _tamper(sealed, field))


def test_relabelling_the_key_id_is_detected() -> None:
    sealer = Sealer(Keyring.from_spec(f"{K1},k1b:{_key(1)}"))
    record = json.loads(sealer.seal("alice", PLAINTEXT))
    record["kid"] = "k1b"  # same key material, another id: still bound to the id
    with pytest.raises(SealError):
        sealer.open("alice", SealedCredentials(json.dumps(record).encode()))


@pytest.mark.parametrize(
    "garbage", [b"", b"not json", b"{}", b'{"v":1,"kid":"k1","wk":"!","ct":"x"}']
)
def test_garbage_is_a_seal_error(garbage: bytes) -> None:
    with pytest.raises(SealError):
        Sealer(Keyring.from_spec(K1)).open("alice", garbage)


def test_a_record_copied_to_another_user_does_not_open() -> None:
    sealer = Sealer(Keyring.from_spec(K1))
    sealed = sealer.seal("alice", PLAINTEXT)
    with pytest.raises(SealError):
        sealer.open("bob", sealed)


def test_a_record_under_an_unknown_key_does_not_open() -> None:
    sealed = Sealer(Keyring.from_spec(K1)).seal("alice", PLAINTEXT)
    with pytest.raises(SealError):
        Sealer(Keyring.from_spec(K2)).open("alice", sealed)


def test_rotation_new_primary_encrypts_old_keys_still_decrypt() -> None:
    old = Sealer(Keyring.from_spec(K1))
    sealed_old = old.seal("alice", PLAINTEXT)

    rotated = Sealer(Keyring.from_spec(f"{K2},{K1}"))

    assert rotated.open("alice", sealed_old) == PLAINTEXT
    assert rotated.needs_rewrap(sealed_old)
    sealed_new = rotated.seal("alice", PLAINTEXT)
    assert rotated.key_id(sealed_new) == "k2"
    assert not rotated.needs_rewrap(sealed_new)
    # Once everything is rewrapped the old key can go.
    assert Sealer(Keyring.from_spec(K2)).open("alice", sealed_new) == PLAINTEXT


def test_rewrap_all_moves_connected_users_to_the_primary(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "prep.db")
    try:
        old = Sealer(Keyring.from_spec(K1))
        for uid in ("u1", "u2", "u3"):
            store.put_user(User(uid, f"{uid}@example.com", connection=ConnectionState.CONNECTED))
            store.put_credentials(uid, old.seal(uid, PLAINTEXT))
        rotated = Sealer(Keyring.from_spec(f"{K2},{K1}"))
        store.put_credentials("u3", rotated.seal("u3", PLAINTEXT))

        assert rewrap_all(store, rotated, page_size=2) == 2
        assert rewrap_all(store, rotated) == 0

        retired = Sealer(Keyring.from_spec(K2))
        for uid in ("u1", "u2", "u3"):
            sealed = store.get_credentials(uid)
            assert sealed is not None
            assert retired.open(uid, sealed) == PLAINTEXT
    finally:
        store.close()


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("", "not 'id:base64key'"),
        ("k1", "not 'id:base64key'"),
        ("bad id:" + _key(1), "not 'id:base64key'"),
        ("k1:%%%", "not valid base64"),
        ("k1:" + base64.b64encode(b"short").decode(), "must be 32 bytes"),
        (f"{K1},{K1}", "appears twice"),
    ],
)
def test_key_specs_are_validated_without_echoing_keys(spec: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem) as info:
        parse_kek_spec(spec)
    assert _key(1) not in str(info.value)


def test_a_malformed_kek_stops_the_process_at_start() -> None:
    with pytest.raises(SettingsError, match="PREP_TOKEN_KEK") as info:
        load_settings({"PREP_TOKEN_KEK": "k1:" + base64.b64encode(b"x" * 16).decode()})
    assert base64.b64encode(b"x" * 16).decode() not in str(info.value)


def test_production_needs_a_kek() -> None:
    settings = dataclasses.replace(load_settings({}), mode=Mode.PRODUCTION)
    with pytest.raises(SettingsError, match="PREP_TOKEN_KEK"):
        keyring_from_settings(settings)
    ring = keyring_from_settings(load_settings({"PREP_TOKEN_KEK": f"{K2},{K1}"}))
    assert (ring.primary, sorted(ring.keys)) == ("k2", ["k1", "k2"])


def test_local_key_file_is_private_and_stable(tmp_path: Path) -> None:
    path = tmp_path / ".local" / "token-kek"
    first = local_key_file(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert local_key_file(path) == first
    ring = keyring_from_settings(load_settings({"PREP_TOKEN_KEK_PATH": str(path)}))
    assert ring.primary == "local-1"
    assert len(ring.keys["local-1"]) == 32


def test_keyring_repr_hides_keys() -> None:
    assert _key(1) not in repr(Keyring.from_spec(K1))
    assert "\x01" not in repr(Keyring.from_spec(K1))
