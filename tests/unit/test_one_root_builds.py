"""Only the composition root builds adapters (issue 14): a guard on the product's syntax.

`functions/bootstrap.py` chooses and builds every adapter; a feature receives
what it uses. This walks every module of `functions/` and `addon/` for a call
that builds one elsewhere: an adapter class (a production or local stand-in:
`Google...`, `Local...`, `Outbox...`, `SqliteStore`...) constructed outside
the module that defines it, or one of the settings-driven builders
(`keyring_from_settings`, `OAuthClient.from_settings`). An adapter may still
build its own internals (a `googleapiclient` service, a `genai.Client`).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: Classes with these prefixes are adapters (one per backend, named after it).
ADAPTER_PREFIXES = (
    "Google",
    "Local",
    "Outbox",
    "Sqlite",
    "Firestore",
    "CloudTasks",
    "Gcs",
    "Vertex",
    "Offline",
    "Gmail",
    "ChatApp",
)
#: Builders that choose from the settings what a root should choose once.
BUILDERS = frozenset({"keyring_from_settings", "from_settings"})
#: Modules allowed to build, and why.
ALLOWED = {
    "functions/bootstrap.py": "the composition root",
    # `main.py eval` without --live: the harness runs golden meetings on an in-memory
    # store and the offline generator by design (--live takes its root from the CLI).
    "functions/materials/evaluation.py": "the offline evaluation harness",
}


def _modules() -> list[Path]:
    return sorted([*ROOT.glob("functions/**/*.py"), *ROOT.glob("addon/**/*.py")])


def _adapters(modules: list[Path]) -> dict[str, str]:
    defined: dict[str, str] = {}
    for path in modules:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and node.name.startswith(ADAPTER_PREFIXES):
                defined[node.name] = path.relative_to(ROOT).as_posix()
    return defined


def _builds(source: str, name: str, adapters: dict[str, str]) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        called = (
            func.attr
            if isinstance(func, ast.Attribute)
            else func.id
            if isinstance(func, ast.Name)
            else ""
        )
        elsewhere = called in adapters and adapters[called] != name
        if elsewhere or called in BUILDERS:
            found.append(f"{name}:{node.lineno}: {ast.unparse(func)}")
    return found


def test_no_module_but_the_root_builds_an_adapter() -> None:
    modules = _modules()
    adapters = _adapters(modules)
    assert len(adapters) > 20  # the walk sees the adapters it guards
    found = [
        hit
        for path in modules
        if (name := path.relative_to(ROOT).as_posix()) not in ALLOWED
        for hit in _builds(path.read_text(encoding="utf-8"), name, adapters)
    ]
    assert found == []


def test_the_guard_sees_a_feature_building_an_adapter() -> None:
    """Not vacuous: what the prep-time block and the materials reader used to do."""
    adapters = {"GoogleCalendarWriter": "functions/calendar/google_api.py"}
    source = "\n".join(
        (
            "writer = GoogleCalendarWriter(credentials)",
            "keyring = keyring_from_settings(settings)",
            "client = OAuthClient.from_settings(settings)",
            "service = build('calendar', 'v3')",  # an adapter's own internals
        )
    )
    assert _builds(source, "addon/prep_block.py", adapters) == [
        "addon/prep_block.py:1: GoogleCalendarWriter",
        "addon/prep_block.py:2: keyring_from_settings",
        "addon/prep_block.py:3: OAuthClient.from_settings",
    ]
    assert _builds(source, "functions/calendar/google_api.py", adapters)[0].endswith(
        "keyring_from_settings"
    )
