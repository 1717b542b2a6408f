"""`python main.py classify`: one JSON object out, exit 2 and one line on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from functions.cli import main

ROOT = Path(__file__).resolve().parents[2]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse exits on usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_classify_prints_one_json_object(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "classify", "--title", "Weekly 1:1 with Sam", "--attendees", "2")
    assert code == 0
    assert err == ""
    payload = json.loads(out)
    assert payload["meeting_type"] == "one_on_one"
    assert payload["prep_hours_before"] == 24
    assert out.count("\n") == 1


def test_classify_external_and_trigger_time(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "classify",
        "--title",
        "Intro",
        "--attendee-domain",
        "acme.com",
        "--user-domain",
        "example.com",
        "--start",
        "2026-12-01T09:00:00+01:00",
    )
    payload = json.loads(out)
    assert code == 0
    assert payload["meeting_type"] == "external"
    assert payload["external"] is True
    # 48 h before is Sunday: prep moves to Friday, same time (Monday to Friday by default).
    assert payload["prep_trigger_at"] == "2026-11-27T09:00:00+01:00"


@pytest.mark.parametrize(
    "argv",
    [
        ["classify"],
        ["classify", "--title", "x", "--attendees", "zero"],
        ["classify", "--title", "x", "--attendees", "0"],
        ["classify", "--title", "x", "--start", "tomorrow"],
        ["classify", "--title", "x", "--start", "2026-12-01T09:00:00"],
        ["classify", "--title", "x", "--attendee-domain", "not a domain"],
        ["classify", "--title", "   "],
        ["classify", "--title", "x", "--config", "/nonexistent/rules.yaml"],
        ["classify", "--title", "x", "--rooms", "-1"],
        ["classify", "--title", "x", "--min-accuracy", "0.9"],
        ["classify", "--evaluate", "/nonexistent/cases.yaml"],
        ["classify", "--evaluate", "tests/data/meeting_titles.yaml", "--title", "x"],
        ["classify", "--evaluate", "tests/data/meeting_titles.yaml", "--min-accuracy", "95"],
        ["frobnicate"],
    ],
)
def test_bad_input_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert "error:" in err
    assert "Traceback" not in err


LABELLED = str(ROOT / "tests" / "data" / "meeting_titles.yaml")


def test_evaluate_reports_accuracy_per_type_and_holds_95_percent(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "classify", "--evaluate", LABELLED, "--min-accuracy", "0.95")
    assert (code, err) == (0, "")
    table = out.split("\n\n")[0].splitlines()
    assert table[0].split() == ["type", "cases", "right", "accuracy", "precision"]
    overall = next(line for line in table if line.startswith("overall"))
    cases, right = (int(v) for v in overall.split()[1:3])
    assert cases >= 300 and right / cases >= 0.95
    assert {line.split()[0] for line in table[1:-1]} >= {"one_on_one", "qbr", "default"}


def test_evaluate_below_the_bar_exits_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cases = tmp_path / "cases.yaml"
    cases.write_text("cases:\n  - {title: Brainstorm, people: 6, expect: staff}\n")
    code, out, err = run(capsys, "classify", "--evaluate", str(cases), "--min-accuracy", "0.5")
    assert code == 1
    assert "expected staff, got default" in out
    assert "accuracy 0.0% is below 50.0%" in err


def test_classify_explains_the_structure_it_used(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "classify", "--title", "Roadmap chat", "--attendees", "2")
    assert code == 0
    assert json.loads(out)["reason"] == "2 internal people, no room"
    code, out, _ = run(
        capsys, "classify", "--title", "Roadmap chat", "--attendees", "2", "--rooms", "1"
    )
    assert json.loads(out)["meeting_type"] == "default"


def test_bad_rules_file_names_file_line_and_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("meeting_types:\n  default:\n    prep_hours_before: lots\n")
    code, _, err = run(capsys, "classify", "--title", "x", "--config", str(rules))
    assert code == 2
    assert f"{rules}:3: meeting_types.default.prep_hours_before: expected a number" in err


def test_main_py_is_the_real_entry_point() -> None:
    proc = subprocess.run(
        [sys.executable, "main.py", "classify", "--title", "Post-mortem", "--attendees", "5"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["meeting_type"] == "incident_review"
