"""Make untrusted text safe to carry: no control characters, bounded, links accounted for.

Meeting titles and descriptions are written by whoever sent the invitation,
and model output is shaped by them, so both pass through here. Control and
bidirectional-override characters are removed because they can hide text
from a human reader while a model still reads it; the Unicode line and
paragraph separators (U+2028, U+2029) are line breaks like "\n" (a space in
single-line mode), because JSON encoding escapes "\n" but leaves them raw;
lengths are clipped so no single field can blow the prompt budget; and links in model output must be
links the context contained, so a prompt injection cannot plant a phishing URL
in materials that carry our name.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection

ELLIPSIS = "…"
LINK_REMOVED = "[link removed]"

# Bidi embeddings/overrides/isolates and marks, zero-width characters, BOM.
_INVISIBLE = frozenset(
    "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067\u2068\u2069\ufeff"
)
_BLANK_LINES = re.compile(r"\n{3,}")
_SPACES = re.compile(r"[ \t]+")

# Anything with a scheme ("https://", "javascript:", "data:") or a bare "www." host.
URL_RE = re.compile(
    r"(?i)(?:\b[a-z][a-z0-9+.\-]{1,15}://|\bwww\.|\b(?:javascript|data|vbscript|file):)[^\s<>\"'`]*"
)
_TRAILING = ".,;:!?)]}'\""


def clean_text(value: str, limit: int | None = None, *, multiline: bool = True) -> str:
    """Strip control/invisible characters, normalise whitespace, clip to `limit` characters."""
    # U+2028/U+2029 are line breaks to readers and models, yet JSON leaves them raw: they
    # become plain newlines here, so text fenced as one JSON string cannot open a line.
    text = (
        value.replace("\r\n", "\n")
        .replace("\r", "\n")
        .replace("\u2028", "\n")
        .replace("\u2029", "\n")
    )
    kept: list[str] = []
    for ch in text:
        if ch == "\n":
            kept.append("\n" if multiline else " ")
        elif ch == "\t":
            kept.append(" ")
        elif ch in _INVISIBLE or unicodedata.category(ch) in ("Cc", "Cs", "Co"):
            continue
        else:
            kept.append(ch)
    lines = [_SPACES.sub(" ", line).strip() for line in "".join(kept).split("\n")]
    cleaned = _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
    return clip(cleaned, limit) if limit is not None else cleaned


def clip(text: str, limit: int) -> str:
    """At most `limit` characters; a clipped text ends with an ellipsis so readers can tell."""
    if limit <= 0:
        return ""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + ELLIPSIS


def _trim(url: str) -> str:
    return url.rstrip(_TRAILING)


def urls_in(text: str) -> set[str]:
    return {_trim(m.group(0)) for m in URL_RE.finditer(text)}


def drop_unknown_urls(text: str, allowed: Collection[str]) -> str:
    """Replace every link not in `allowed` (exact match) with a visible marker."""

    def replace(match: re.Match[str]) -> str:
        raw = match.group(0)
        url = _trim(raw)
        if url in allowed:
            return raw
        return LINK_REMOVED + raw[len(url) :]

    return URL_RE.sub(replace, text)
