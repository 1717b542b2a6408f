"""The key-encryption key setting (PREP_TOKEN_KEK): its format, parsed without any key use.

Apart from `functions.oauth.sealing` so that `functions.config` can validate
the setting at load time without importing the sealing code, which itself
reads `Settings` (the two would otherwise import each other).
"""

from __future__ import annotations

import base64
import binascii
import re

#: AES-256: every KEK (and every data key it wraps) is this long.
KEK_BYTES = 32
_KID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def parse_kek_spec(spec: str) -> dict[str, bytes]:
    """Parse `id:base64key[,id:base64key...]`; the first entry is the primary.

    Raises ValueError with a message that never contains key material.
    """
    keys: dict[str, bytes] = {}
    for i, part in enumerate(p.strip() for p in spec.split(",")):
        kid, sep, material = part.partition(":")
        if not sep or not _KID_RE.match(kid):
            raise ValueError(f"entry {i + 1} is not 'id:base64key' with a simple id")
        try:
            key = base64.b64decode(material.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"key {kid!r} is not valid base64") from None
        if len(key) != KEK_BYTES:
            raise ValueError(f"key {kid!r} must be {KEK_BYTES} bytes (AES-256)")
        if kid in keys:
            raise ValueError(f"key id {kid!r} appears twice")
        keys[kid] = key
    if not keys:
        raise ValueError("no key given")
    return keys
