"""The Firestore adapter's document layout: collection names, the TTL field, document ids.

Shared by the adapter (`functions.store.firestore`) and the size limits
(`functions.store.limits`), which must measure a document under the very
path the adapter writes it to. Kept apart so neither imports the other.
"""

from __future__ import annotations

import hashlib
import re

USERS = "users"
MEETINGS = "meetings"

#: Field holding a native Firestore timestamp for the TTL policy on `meetings`
#: (see firestore.indexes.json). Not part of the domain: stripped on read.
EXPIRE_AT = "expire_at"

#: Longest id kept readable. Firestore allows 1500 bytes; staying far below keeps
#: document paths (and therefore index entries) small.
_MAX_READABLE_ID = 256

#: Conservative set of characters kept readable: what Calendar event ids (base32hex,
#: `_R...` instance suffixes), calendar ids (e-mail addresses) and our claim keys use.
_READABLE_ID = re.compile(r"[A-Za-z0-9._@:+=\-]+")

#: Prefix of hashed ids. Readable ids may not start with it, so a readable id can
#: never equal the hash of another id: the mapping is injective up to SHA-256.
_HASHED_PREFIX = "h_"


def doc_id(raw: str) -> str:
    """Map an arbitrary id to a valid, deterministic Firestore document id.

    Ids that are already safe stay as they are, so the console stays readable
    for the common case. Everything else becomes `h_` + SHA-256 hex of the
    UTF-8 id: Firestore forbids '/', '.' and '..', `__.*__` and more than 1500
    bytes, and percent-encoding would still hit the length limit. Ids starting
    with `__` are hashed too (reserved prefix), and so are ids starting with
    `h_`, which keeps readable ids and hashed ids disjoint.
    """
    if (
        len(raw) <= _MAX_READABLE_ID
        and raw not in {".", ".."}
        and not raw.startswith(("__", _HASHED_PREFIX))
        and _READABLE_ID.fullmatch(raw) is not None
    ):
        return raw
    return _HASHED_PREFIX + hashlib.sha256(raw.encode("utf-8")).hexdigest()
