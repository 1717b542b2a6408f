"""The labelled set of real-world titles, and the rules' accuracy on it.

The accuracy is computed by the code behind `main.py classify --evaluate`,
so the figure the command prints is the figure this test holds the rules to.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from functions.config import DEFAULT_MEETING_TYPES
from functions.domain.classification import Classifier
from functions.domain.evaluation import CasesError, evaluate, load_cases
from functions.domain.meeting_types import load_rules

ROOT = Path(__file__).resolve().parents[2]
LABELLED = ROOT / "tests" / "data" / "meeting_titles.yaml"
RULES = load_rules(DEFAULT_MEETING_TYPES)


def test_the_labelled_set_is_large_and_covers_every_type() -> None:
    _, cases = load_cases(LABELLED, RULES.type_names)
    assert len(cases) >= 300
    per_type = {name: sum(c.expect == name for c in cases) for name in RULES.type_names}
    assert min(per_type.values()) >= 20, per_type
    # Structure is part of every case: 1:1s and groups, customers, rooms.
    assert any(c.external for c in cases) and any(c.rooms for c in cases)
    assert len({c.title for c in cases}) >= 280  # mostly distinct titles, not one title tuned


def test_shipped_rules_reach_95_percent_on_the_labelled_set() -> None:
    domain, cases = load_cases(LABELLED, RULES.type_names)
    result = evaluate(Classifier(RULES), cases, user_domain=domain)
    assert result.cases == len(cases)
    assert result.accuracy >= 0.95, result.report()
    # No type is carried by the others: each one is recognised on its own cases.
    for score in result.scores:
        assert score.accuracy >= 0.9, result.report()


def test_report_lists_each_miss_with_the_rules_reason(tmp_path: Path) -> None:
    labelled = tmp_path / "cases.yaml"
    labelled.write_text(
        "user_domain: example.com\n"
        "cases:\n"
        "  - {title: 'Sam / Alex', people: 2, expect: one_on_one}\n"
        "  - {title: 'Brainstorm', people: 6, expect: staff}\n"
        "  - {title: 'QBR', people: 6, external: [contoso.com], expect: qbr}\n",
        encoding="utf-8",
    )
    domain, cases = load_cases(labelled, RULES.type_names)
    result = evaluate(Classifier(RULES), cases, user_domain=domain)
    assert (result.cases, result.right) == (3, 2)
    scores = {s.meeting_type: (s.cases, s.right, s.predicted) for s in result.scores}
    assert scores["staff"] == (1, 0, 0) and scores["default"] == (0, 0, 1)
    text = result.report()
    assert "overall                3      2     66.7%" in text
    assert "'Brainstorm' (6 people): expected staff, got default (no rule matched)" in text


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("cases: [{title: x, people: 2, expect: nonsense}]", "cases[0].expect"),
        ("cases: [{title: x, people: 0, expect: default}]", "cases[0].people"),
        ("cases: [{title: x, people: 2, expect: default, colour: red}]", "unknown field"),
        ("cases: [{title: x, people: 2, expect: default, external: acme.io}]", "external"),
        ("nothing: here", "a list of cases"),
        ("cases: [unclosed", "not a YAML file"),
    ],
)
def test_bad_labelled_files_name_the_case(tmp_path: Path, body: str, problem: str) -> None:
    labelled = tmp_path / "cases.yaml"
    labelled.write_text(body, encoding="utf-8")
    with pytest.raises(CasesError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        load_cases(labelled, RULES.type_names)
