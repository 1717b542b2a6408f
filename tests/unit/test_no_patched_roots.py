"""No test patches a built root: overrides are constructor arguments (issue 14).

A test that assigns into a root (`services.settings = ...`, `services.__dict__["tasks"]
= ...`, `vars(root)[...] = ...`) changes it behind what it has already built (the
sidebar, the credentials provider, the local queue keep the old port), so the
test no longer shows what production does. `Bootstrap(settings, tasks=...)` or
`root.replaced(settings=...)` say the same thing honestly. This walks every test
module's syntax tree for such an assignment.
"""

from __future__ import annotations

import ast
from pathlib import Path

from functions.bootstrap import _SHARED_ADAPTERS

TESTS = Path(__file__).resolve().parents[1]
#: Names the tests give a root (their fixtures and helpers).
ROOT_NAMES = frozenset(
    {
        "services",
        "root",
        "local",
        "local_services",
        "local_root",
        "svc",
        "looker",
        "first",
        "second",
    }
)
#: What a root holds: its configuration, clock and every adapter and view it builds.
ROOT_ATTRIBUTES = _SHARED_ADAPTERS | {"settings", "clock", "sidebar", "send_ready"}


def _patches(target: ast.expr) -> bool:
    if isinstance(target, ast.Subscript):
        holder = target.value
        if isinstance(holder, ast.Attribute) and holder.attr == "__dict__":
            return isinstance(holder.value, ast.Name) and holder.value.id in ROOT_NAMES
        if isinstance(holder, ast.Call) and isinstance(holder.func, ast.Name):
            return holder.func.id == "vars" and any(
                isinstance(a, ast.Name) and a.id in ROOT_NAMES for a in holder.args
            )
    if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
        return target.value.id in ROOT_NAMES and target.attr in ROOT_ATTRIBUTES
    return False


def _offences(source: str, name: str) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(source, name)):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        found.extend(f"{name}:{t.lineno}" for t in targets if _patches(t))
    return found


def test_no_test_assigns_into_a_root() -> None:
    offences = [
        hit
        for path in sorted(TESTS.rglob("*.py"))
        for hit in _offences(path.read_text(encoding="utf-8"), str(path.relative_to(TESTS)))
    ]
    assert offences == []


def test_the_check_sees_each_way_of_patching_a_root() -> None:
    """Not vacuous: each shape the issue named is reported, a fake's own field is not."""
    source = "\n".join(
        (
            "services.settings = other",
            "root.__dict__['tasks'] = queue",
            "vars(local)['store'] = store",
            "services.clock = clock",
            "queue.clock = clock",  # a fake's own attribute, not a root's
            "record.__dict__['x'] = 1",
        )
    )
    assert _offences(source, "t.py") == ["t.py:1", "t.py:2", "t.py:3", "t.py:4"]
