"""The import graph of the product has no cycle, and only the entry layer reaches the root.

`make lint` runs import-linter's layers contract (pyproject.toml), which
orders packages but does not see a cycle between two modules of one layer
(config and the oauth sealing code once imported each other). This walks the
same graph grimp builds for import-linter, function-level and type-only
imports included, and asserts that no module can reach itself.
"""

from __future__ import annotations

import functools

import grimp

#: The only modules that may import the composition root (`functions.bootstrap`).
ENTRY_LAYER = frozenset({"functions.cli", "functions.local_server"})


@functools.cache
def _graph() -> grimp.ImportGraph:
    return grimp.build_graph("functions", "addon", exclude_type_checking_imports=False)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work: list[tuple[str, list[str]]] = [(start, sorted(edges[start]))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, pending = work[-1]
            if pending:
                nxt = pending.pop()
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, sorted(edges[nxt])))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _edges(graph: grimp.ImportGraph) -> dict[str, set[str]]:
    modules = graph.modules
    return {
        m: {t for t in graph.find_modules_directly_imported_by(m) if t in modules and t != m}
        for m in modules
    }


def test_no_module_of_the_product_imports_itself_round_a_cycle() -> None:
    assert _cycles(_edges(_graph())) == []


def test_the_cycle_finder_sees_a_two_module_cycle() -> None:
    """The check above can fail: a made-up pair that imports each other is reported."""
    edges = {"a": {"b"}, "b": {"a", "c"}, "c": set()}
    assert _cycles(edges) == [["a", "b"]]


def test_only_the_entry_layer_imports_the_root() -> None:
    graph = _graph()
    importers = graph.find_modules_that_directly_import("functions.bootstrap")
    assert importers <= ENTRY_LAYER, sorted(importers - ENTRY_LAYER)


def _layered() -> set[str]:
    """Every module named in the layers contract of pyproject.toml."""
    import tomllib
    from pathlib import Path

    config = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    contract = next(c for c in config["tool"]["importlinter"]["contracts"] if c["id"] == "layers")
    return {name.strip() for layer in contract["layers"] for name in layer.split(":")}


def test_every_part_of_functions_sits_in_a_layer() -> None:
    """A new feature folder (or top-level module) that no layer lists escapes the contract."""
    from pathlib import Path

    root = Path(__file__).parents[2] / "functions"
    parts = {
        f"functions.{p.stem}"
        for p in root.iterdir()
        if (p.is_dir() and (p / "__init__.py").exists())
        or (p.suffix == ".py" and p.stem != "__init__")
    }
    assert parts - _layered() == set()
