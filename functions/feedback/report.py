"""`python main.py report`: users' feedback counted per meeting type.

What to tune, read off one table: a type with many "wrong type" answers has
rules that catch meetings they should not (or miss ones they should); a type
with a low useful share has a prep template that does not help. Types come
from the rules file, plus any named with `--type` (a type renamed or removed
since the answers were given still has its answers stored under the old name).

Reads the deployment's store (`PREP_STORE`), so the same command reports on
the local SQLite file or on Firestore.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from functions.domain.feedback import FeedbackCounts, FeedbackKind

if TYPE_CHECKING:
    from functions.config import Settings
    from functions.store.port import Store

EXIT_FAILED = 1

_COLUMNS = (FeedbackKind.USEFUL, FeedbackKind.NOT_USEFUL, FeedbackKind.WRONG_TYPE)
_HEADINGS = {
    FeedbackKind.USEFUL: "useful",
    FeedbackKind.NOT_USEFUL: "not useful",
    FeedbackKind.WRONG_TYPE: "wrong type",
}


@dataclass(frozen=True, slots=True)
class Row:
    meeting_type: str
    label: str
    counts: dict[FeedbackKind, int]

    @property
    def useful_share(self) -> float | None:
        """Useful answers among useful + not useful; None before anyone rated."""
        rated = self.counts[FeedbackKind.USEFUL] + self.counts[FeedbackKind.NOT_USEFUL]
        return self.counts[FeedbackKind.USEFUL] / rated if rated else None

    def as_dict(self) -> dict[str, Any]:
        share = self.useful_share
        return {
            "meeting_type": self.meeting_type,
            "label": self.label,
            **{k.value: self.counts[k] for k in _COLUMNS},
            "useful_share": None if share is None else round(share, 3),
        }


def rows_for(
    counts: FeedbackCounts, types: Sequence[tuple[str, str]]
) -> tuple[list[Row], dict[FeedbackKind, int]]:
    """One row per (type, label), in the given order, and the totals per kind."""
    rows = [
        Row(name, label, {k: counts.get((name, k), 0) for k in _COLUMNS}) for name, label in types
    ]
    totals = {k: sum(r.counts[k] for r in rows) for k in _COLUMNS}
    return rows, totals


def format_table(rows: Sequence[Row], totals: dict[FeedbackKind, int]) -> str:
    def share(value: float | None) -> str:
        return "-" if value is None else f"{value:.0%}"

    header = ["type", "label", *(_HEADINGS[k] for k in _COLUMNS), "useful share"]
    body = [
        [r.meeting_type, r.label, *(str(r.counts[k]) for k in _COLUMNS), share(r.useful_share)]
        for r in rows
    ]
    total_row = Row("total", "", totals)
    body.append(["total", "", *(str(totals[k]) for k in _COLUMNS), share(total_row.useful_share)])
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]

    def render(line: Sequence[str]) -> str:
        cells = [
            cell.ljust(widths[i]) if i < 2 else cell.rjust(widths[i]) for i, cell in enumerate(line)
        ]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths)
    lines = [render(header), rule, *(render(line) for line in body[:-1]), rule, render(body[-1])]
    return "\n".join(lines)


# ---------------------------------------------------------------- the command


def add_report_command(sub: Any) -> None:
    parser = sub.add_parser(
        "report",
        help="print users' feedback per meeting type (useful, not useful, wrong type)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--type",
        action="append",
        default=[],
        metavar="NAME",
        help="also count this type (e.g. one renamed or removed from the rules; repeatable)",
    )
    parser.add_argument("--config", help="rules file (default: config/meeting_types.yaml)")


def _type_list(labels: Iterable[tuple[str, str]], extra: Iterable[str]) -> list[tuple[str, str]]:
    out = list(labels)
    known = {name for name, _ in out}
    for raw in extra:
        name = raw.strip()
        if name and name not in known:
            out.append((name, "(not in the rules)"))
            known.add(name)
    return out


class _HasStore(Protocol):
    @property
    def store(self) -> Store: ...


def report_command(args: argparse.Namespace, root_for: Callable[[Settings], _HasStore]) -> int:
    """`root_for` is the composition root's constructor (`functions.cli` hands it in)."""
    from functions.config import load_settings
    from functions.domain.meeting_types import load_rules
    from functions.store.port import StoreError

    settings = load_settings()
    rules = load_rules(args.config or settings.meeting_types_path)
    types = _type_list(((n, rules.label_of(n)) for n in rules.type_names), args.type)
    services = root_for(settings)
    try:
        counts = services.store.feedback_counts([name for name, _ in types])
    except StoreError as exc:
        print(f"main.py report: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        services.store.close()
    rows, totals = rows_for(counts, types)
    if args.json:
        doc = {
            "types": [r.as_dict() for r in rows],
            "totals": {k.value: totals[k] for k in _COLUMNS},
        }
        print(json.dumps(doc, ensure_ascii=False))
    else:
        print(format_table(rows, totals))
    return 0


REPORT_COMMANDS: dict[str, Callable[[argparse.Namespace, Callable[[Settings], _HasStore]], int]] = {
    "report": report_command
}
