"""Fill in `manifest/deployment.json` for one deployment.

The checked-in manifest keeps `${ADDON_URL}` and `${LOGO_URL}` placeholders
because the add-on URL is only known after deploying the function, and it
must equal `PREP_ADDON_AUDIENCE` (Workspace mints each systemIdToken for the
URL it calls). Placeholders are replaced inside parsed JSON values, never by
text substitution, so no URL can change the document's structure.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from functions.config import REPO_ROOT

TEMPLATE = REPO_ROOT / "manifest" / "deployment.json"
#: A neutral Material icon; pass --logo-url for your own.
DEFAULT_LOGO = "https://www.gstatic.com/images/icons/material/system/2x/event_note_black_48dp.png"
PLACEHOLDERS = ("${ADDON_URL}", "${LOGO_URL}")


class ManifestError(ValueError):
    """A URL or the template is unusable; the message says which."""


def _https_url(value: str, what: str) -> str:
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname:
        raise ManifestError(f"{what} must be an https:// URL, got {value!r}")
    if parts.fragment or any(c.isspace() for c in value):
        raise ManifestError(f"{what} must not contain a fragment or spaces")
    return value


def _replace(node: Any, values: dict[str, str]) -> Any:
    if isinstance(node, str):
        for key, value in values.items():
            node = node.replace(key, value)
        return node
    if isinstance(node, list):
        return [_replace(n, values) for n in node]
    if isinstance(node, dict):
        return {k: _replace(v, values) for k, v in node.items()}
    return node


def filled_manifest(
    addon_url: str, *, logo_url: str = DEFAULT_LOGO, template: Path = TEMPLATE
) -> dict[str, Any]:
    values = {
        "${ADDON_URL}": _https_url(addon_url, "--url"),
        "${LOGO_URL}": _https_url(logo_url, "--logo-url"),
    }
    try:
        doc = json.loads(template.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ManifestError(f"{template}: cannot read the manifest template ({exc})") from None
    filled = _replace(doc, values)
    if not isinstance(filled, dict) or "${" in json.dumps(filled):
        raise ManifestError(f"{template}: a placeholder was left unfilled")
    return filled
