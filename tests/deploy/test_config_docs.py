"""Configuration is documented in one place: every variable the code reads has a row.

Guards docs/configuration.md (and the deploy inputs in docs/deployment.md)
against drift: a new `PREP_*` read without a documented row, or a row for a
variable nothing reads any more, fails here.
"""

from __future__ import annotations

import re

from deploy.inputs import KEYS
from deploy.readiness import ON_FIRST_USE
from functions.config import REPO_ROOT

_QUOTED = re.compile(r"""["'](PREP_[A-Z0-9_]+|GOOGLE_CLOUD_PROJECT)["']""")
_ENVIRON = re.compile(r"""environ(?:\.get\(|\[)\s*["']([A-Z][A-Z0-9_]+)["']""")
_BACKTICKED = re.compile(r"`([A-Z][A-Z0-9_]+)`")


def _read_in_code() -> set[str]:
    names: set[str] = set()
    for folder in ("functions", "addon", "deploy"):
        for path in (REPO_ROOT / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            names |= set(_QUOTED.findall(text)) | set(_ENVIRON.findall(text))
    return names


def _doc(name: str) -> str:
    return (REPO_ROOT / "docs" / name).read_text(encoding="utf-8")


def _table_rows() -> set[str]:
    """Variables named in the first cell of a table row of docs/configuration.md."""
    names: set[str] = set()
    for line in _doc("configuration.md").splitlines():
        if line.startswith("| `"):
            names |= set(_BACKTICKED.findall(line.split("|")[1]))
    return names


def test_the_scan_finds_the_reads_it_is_meant_to() -> None:
    found = _read_in_code()
    assert {"PREP_MODE", "GOOGLE_CLOUD_PROJECT", "PREP_TOKEN_KEK", "PREP_VERTEX_MODEL"} <= found
    assert "STORAGE_EMULATOR_HOST" in found  # read through os.environ.get


def test_every_variable_read_in_code_is_documented() -> None:
    rows = _table_rows()
    prose = set(_BACKTICKED.findall(_doc("configuration.md")))
    ours = {n for n in _read_in_code() if n.startswith("PREP_") or n == "GOOGLE_CLOUD_PROJECT"}
    assert sorted(ours - rows) == [], "add a row to docs/configuration.md"
    # Google's own variables may be described in prose.
    assert sorted(_read_in_code() - ours - prose) == []


def test_no_row_documents_a_variable_nothing_reads() -> None:
    assert sorted(_table_rows() - _read_in_code()) == []


def test_production_requirements_are_listed() -> None:
    text = _doc("configuration.md")
    section = text[text.index("## Required in production") :]
    for name in (
        "GOOGLE_CLOUD_PROJECT",
        "PREP_PUBLIC_URL",
        "PREP_ADDON_AUDIENCE",
        "PREP_ADDON_SA_EMAIL",
        "PREP_OAUTH_CLIENT_ID",
        "PREP_TASKS_AUDIENCE",
        "PREP_TASKS_SA_EMAIL",
        "PREP_CHAT_AUDIENCE",
        *ON_FIRST_USE,
    ):
        assert f"`{name}`" in section, name


def test_every_deploy_input_is_documented() -> None:
    text = _doc("deployment.md")
    for key in KEYS:
        assert f"`{key}`" in text, key
