"""The failure vocabulary: the tree in `functions.errors` is the real class tree,
and `functions.web` answers each base the way that docstring says."""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterator
from dataclasses import dataclass

import flask
import pytest

import addon
import functions
from functions import errors, web
from functions.errors import PermanentError, TransientError

BASES = (TransientError, PermanentError)

#: One tree line: markers and indentation, the class name, its module, optional "also X".
_LINE = re.compile(
    r"^(?P<indent> *)[*\-·] (?P<name>\w+) +(?P<module>[\w.]+)(?: +also (?P<also>\w+))?$"
)


@dataclass(frozen=True)
class Entry:
    name: str
    module: str
    parent: str | None
    also: str | None

    def cls(self) -> type[BaseException]:
        found = getattr(importlib.import_module(self.module), self.name)
        assert isinstance(found, type) and issubclass(found, BaseException), self
        return found


def tree() -> list[Entry]:
    """The tree as the module docstring draws it (two spaces per level)."""
    doc = errors.__doc__ or ""
    lines = [m for line in doc.splitlines() if (m := _LINE.match(line))]
    entries: list[Entry] = []
    stack: list[str] = []
    for m in lines:
        depth = len(m["indent"]) // 2
        del stack[depth:]
        entries.append(Entry(m["name"], m["module"], stack[-1] if stack else None, m["also"]))
        stack.append(m["name"])
    return entries


def subclasses_drawn() -> list[Entry]:
    return [e for e in tree() if e.parent is not None]


def _product_modules() -> Iterator[str]:
    for package in (functions, addon):
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            yield info.name


def _all_subclasses(cls: type) -> set[type]:
    found: set[type] = set()
    pending: list[type] = [cls]
    while pending:
        subs: list[type] = pending.pop().__subclasses__()
        for sub in subs:
            if sub not in found:
                found.add(sub)
                pending.append(sub)
    return found


@pytest.fixture(scope="module")
def product_loaded() -> None:
    """Every product module imported, so `__subclasses__` sees every class."""
    for name in _product_modules():
        importlib.import_module(name)


def test_the_docstring_draws_both_bases_at_the_top() -> None:
    roots = [e for e in tree() if e.parent is None]
    assert [(e.name, e.module) for e in roots] == [
        ("TransientError", "functions.errors"),
        ("PermanentError", "functions.errors"),
    ]
    assert len(tree()) > 2 * len(roots)  # the drawing was parsed, not skipped


@pytest.mark.parametrize("entry", subclasses_drawn(), ids=lambda e: e.name)
def test_each_class_in_the_drawing_subclasses_its_parent_directly(entry: Entry) -> None:
    cls = entry.cls()
    assert entry.parent is not None
    parent = next(e for e in tree() if e.name == entry.parent).cls()
    assert parent in cls.__bases__, f"{entry.name} is drawn under {entry.parent}"
    if entry.also is not None:
        assert entry.also in {b.__name__ for b in cls.__bases__}, f"{entry.name} also {entry.also}"


def test_every_transient_or_permanent_class_is_drawn(product_loaded: None) -> None:
    real = {
        (c.__module__, c.__name__)
        for base in BASES
        for c in _all_subclasses(base)
        if c.__module__.startswith(("functions.", "addon."))
    }
    drawn = {(e.module, e.name) for e in subclasses_drawn()}
    assert real == drawn


def test_no_class_is_both_transient_and_permanent(product_loaded: None) -> None:
    both = _all_subclasses(TransientError) & _all_subclasses(PermanentError)
    assert both == set()


def test_classes_named_transient_or_permanent_sit_under_that_base(product_loaded: None) -> None:
    """A new `Transient...`/`Permanent...` class cannot be left outside the tree by accident."""
    named = [
        c
        for module in _product_modules()
        for c in vars(importlib.import_module(module)).values()
        if isinstance(c, type)
        and issubclass(c, BaseException)
        and c.__name__.startswith(("Transient", "Permanent"))
    ]
    assert named  # the scan saw the existing pairs
    for c in named:
        base = TransientError if c.__name__.startswith("Transient") else PermanentError
        assert issubclass(c, base), c


# ------------------------------------------------------------ the HTTP answers


def _instance(cls: type[BaseException]) -> BaseException:
    """An instance with a known message, whatever the class's own constructor takes."""
    return cls.__new__(cls, "what happened")


def _classes(base: type[BaseException]) -> list[type[BaseException]]:
    return [base, *(e.cls() for e in tree() if issubclass(e.cls(), base) and e.cls() is not base)]


@pytest.mark.parametrize("cls", _classes(TransientError), ids=lambda c: c.__name__)
def test_a_task_target_answers_any_transient_error_with_503_retry(
    cls: type[BaseException],
) -> None:
    exc = _instance(cls)
    assert isinstance(exc, TransientError)
    with flask.Flask(__name__).app_context():
        resp = web.task_failure(exc, kind="k", task="t", attempt="0")
    assert resp.status_code == 503
    assert resp.get_json() == {"error": "retry", "message": "transient failure; retry later"}


@pytest.mark.parametrize("cls", _classes(PermanentError), ids=lambda c: c.__name__)
def test_a_task_target_acknowledges_any_permanent_error_with_200_dropped(
    cls: type[BaseException],
) -> None:
    exc = _instance(cls)
    assert isinstance(exc, PermanentError)
    with flask.Flask(__name__).app_context():
        resp = web.task_failure(exc, kind="k", task="t", attempt="0")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "dropped", "reason": "what happened"}


def _raising(exc: BaseException) -> web.Handler:
    def handler(request: flask.Request) -> flask.Response:
        raise exc

    return handler


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (TransientError("busy"), 503, "unavailable"),
        (PermanentError("gone"), 500, "internal"),
        (ValueError("a bug"), 500, "internal"),
    ],
    ids=["transient", "permanent", "anything-else"],
)
def test_other_entry_points_answer_what_escapes_by_its_base(
    exc: Exception, status: int, code: str
) -> None:
    app = flask.Flask(__name__)
    with app.test_request_context("/x", method="POST"):
        resp = web.guarded(_raising(exc), flask.request)
    assert resp.status_code == status
    body = resp.get_json()
    assert body["error"] == code
    assert "busy" not in body["message"] and "gone" not in body["message"]  # no echo
