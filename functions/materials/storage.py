"""The materials storage port: per-user objects, written once, read through signed URLs.

Layout (the same for Cloud Storage and the local folder):

    users/{sha256(user_id)[:16]}/{sha256(event_id)[:16]}/{cache key}.html   the document
                                                          {cache key}.md     Markdown copy
                                                          {cache key}.json   summary record

Hashed ids keep user and event identifiers (and anything a calendar might put
in them) out of object names and URLs. A meeting's `materials_ref` is the
common stem; an object set is complete once its `.html` exists, because the
HTML is written last. Objects carry metadata about how they were made
(generator, model, tokens, template version) but never meeting content.
"""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from pydantic import ValidationError

from functions.errors import TransientError
from functions.materials.model import GenerationInfo, SummaryRecord

HTML = ".html"
MARKDOWN = ".md"
SUMMARY = ".json"
CONTENT_TYPES = {
    HTML: "text/html; charset=utf-8",
    MARKDOWN: "text/markdown; charset=utf-8",
    SUMMARY: "application/json",
}
#: Private documents: no shared caches, nothing kept after the tab closes.
CACHE_CONTROL = "private, no-store"

_REF_RE = re.compile(r"users/[0-9a-f]{16}/[0-9a-f]{16}/[0-9a-z\-]{8,80}")
_NAME_RE = re.compile(_REF_RE.pattern + r"\.(?:html|md|json)")


def _h16(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def user_prefix(user_id: str) -> str:
    return f"users/{_h16(user_id)}/"


def materials_ref(user_id: str, event_id: str, key: str) -> str:
    ref = f"{user_prefix(user_id)}{_h16(event_id)}/{key}"
    if not _REF_RE.fullmatch(ref):
        raise ValueError("cache keys are 8-80 lowercase letters, digits or hyphens")
    return ref


def owns(user_id: str, ref: str) -> bool:
    """True when `ref` is a well-formed materials ref under this user's own prefix."""
    return bool(_REF_RE.fullmatch(ref)) and ref.startswith(user_prefix(user_id))


def is_object_name(name: str) -> bool:
    return bool(_NAME_RE.fullmatch(name))


def object_metadata(info: GenerationInfo) -> dict[str, str]:
    """Custom metadata for every object of a set: how it was made, no meeting content."""
    return {
        "generator": info.generator,
        "model": info.model,
        "offline": "true" if info.offline else "false",
        "input-tokens": str(info.input_tokens),
        "output-tokens": str(info.output_tokens),
        "cost-usd": f"{info.cost_usd:.9f}",
        "template-version": info.template_version,
        "cache-key": info.cache_key,
        "generated-at": info.generated_at.isoformat(),
        "rejected-statements": str(info.rejected_statements),
    }


@dataclass(frozen=True, slots=True)
class MaterialsObjects:
    html: str
    markdown: str
    summary: SummaryRecord
    metadata: Mapping[str, str] = field(default_factory=dict)

    def files(self) -> list[tuple[str, bytes]]:
        """(suffix, body) in write order: the HTML last, so it marks a complete set."""
        return [
            (SUMMARY, self.summary.model_dump_json().encode()),
            (MARKDOWN, self.markdown.encode()),
            (HTML, self.html.encode()),
        ]


class StorageError(RuntimeError, TransientError):
    """Storage could not do what was asked (transient as far as callers know)."""


class MaterialsStorage(ABC):
    @abstractmethod
    def exists(self, ref: str) -> bool:
        """Whether a complete object set is stored under `ref`."""

    @abstractmethod
    def put(self, ref: str, objects: MaterialsObjects) -> None:
        """Store the set under `ref` (overwrites: the same key means the same content)."""

    @abstractmethod
    def read(self, name: str) -> bytes | None:
        """One object's bytes, or None if it does not exist."""

    @abstractmethod
    def signed_url(self, name: str, ttl: timedelta) -> str:
        """A fresh GET-only URL for one object that stops working after `ttl`."""

    def delete_user(self, user_id: str) -> int:
        """Delete every object of one user (they asked us to forget them); returns the count.

        Takes a user id rather than a prefix so no caller can pass a broader one.
        """
        return self._delete_prefix(user_prefix(user_id))

    @abstractmethod
    def _delete_prefix(self, prefix: str) -> int:
        """Delete every object under one user's prefix (`users/{hash}/`)."""

    def read_summary(self, ref: str) -> SummaryRecord | None:
        body = self.read(ref + SUMMARY)
        if body is None:
            return None
        try:
            return SummaryRecord.model_validate_json(body)
        except ValidationError:
            return None
