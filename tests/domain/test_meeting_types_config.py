"""A bad rules file must say which file, which line and which field is wrong."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from functions.domain import meeting_types
from functions.domain.meeting_types import (
    ConfigError,
    cache_path,
    keyword_pattern,
    load_rules,
    parse_rules,
    write_rules_cache,
)

GOOD = """\
version: 1
meeting_types:
  one_on_one:
    priority: 40
    prep_hours_before: 24
    match:
      keywords: ["1:1"]
      max_attendees: 3
  default:
    prep_hours_before: 24
"""


def error_of(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_rules(text, "rules.yaml")
    return info.value


def test_good_file_parses_in_priority_order() -> None:
    rules = parse_rules(
        GOOD.replace(
            "  default:",
            "  qbr:\n    priority: 90\n    prep_hours_before: 336\n"
            "    match:\n      keywords: [QBR]\n  default:",
        )
    )
    assert [r.name for r in rules.rules] == ["qbr", "one_on_one"]
    assert rules.default.name == "default"


@pytest.mark.parametrize(
    ("text", "line", "field", "problem"),
    [
        (
            GOOD.replace("prep_hours_before: 24\n    match", "prep_hours_before: soon\n    match"),
            5,
            "meeting_types.one_on_one.prep_hours_before",
            "expected a number",
        ),
        (
            GOOD.replace("max_attendees: 3", "max_attendees: 0"),
            8,
            "meeting_types.one_on_one.match.max_attendees",
            "at least 1",
        ),
        (
            GOOD.replace("max_attendees: 3", "max_atendees: 3"),
            8,
            "meeting_types.one_on_one.match.max_atendees",
            "unknown field",
        ),
        (
            GOOD.replace("    priority: 40\n", ""),
            3,
            "meeting_types.one_on_one",
            "priority is required",
        ),
        (
            GOOD.replace("prep_hours_before: 24\n    match", "prep_hours_before: 9999\n    match"),
            5,
            "meeting_types.one_on_one.prep_hours_before",
            "between 0 and 720",
        ),
        (
            GOOD.replace('keywords: ["1:1"]', "keywords: 1:1"),
            7,
            "meeting_types.one_on_one.match.keywords",
            "expected a list",
        ),
        (
            GOOD.replace("  default:\n    prep_hours_before: 24\n", ""),
            2,
            "meeting_types",
            "'default' type is required",
        ),
        (GOOD.replace("version: 1", "version: 2"), 1, "version", "only version 1"),
        (
            GOOD.replace("  one_on_one:", "  One-On-One:"),
            3,
            "meeting_types.One-On-One",
            "lower_snake_case",
        ),
        (
            GOOD + "  one_on_one:\n    prep_hours_before: 1\n",
            11,
            "meeting_types.one_on_one",
            "appears twice",
        ),
        (
            GOOD.replace(
                "    match:\n      keywords", "    match:\n      min_attendees: 5\n      keywords"
            ),
            6,
            "meeting_types.one_on_one.match",
            "larger than max_attendees",
        ),
    ],
)
def test_errors_name_file_line_and_field(text: str, line: int, field: str, problem: str) -> None:
    err = error_of(text)
    assert err.path == "rules.yaml"
    assert err.line == line
    assert err.field_path == field
    assert problem in str(err)
    assert str(err).startswith(f"rules.yaml:{line}: {field}: ")


def test_duplicate_priorities_are_refused() -> None:
    text = GOOD.replace(
        "  default:",
        "  qbr:\n    priority: 40\n    prep_hours_before: 1\n"
        "    match:\n      keywords: [QBR]\n  default:",
    )
    err = error_of(text)
    assert err.field_path == "meeting_types.qbr"
    assert "already used by 'one_on_one'" in str(err)


def test_broken_yaml_names_the_line() -> None:
    err = error_of("meeting_types:\n  a: [unclosed\n")
    assert err.line is not None and err.line >= 2
    assert "not valid YAML" in str(err)


def test_empty_and_missing_files(tmp_path: Path) -> None:
    assert "empty" in str(error_of(""))
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=r"nope\.yaml: \(file\): cannot read"):
        load_rules(missing)


def test_shipped_rules_file_is_valid() -> None:
    rules = load_rules(Path(__file__).resolve().parents[2] / "config" / "meeting_types.yaml")
    assert {
        "incident_review",
        "qbr",
        "executive",
        "leadership",
        "external",
        "staff",
        "one_on_one",
    } <= set(rules.type_names)


@pytest.mark.parametrize(
    ("keyword", "text", "hit"),
    [
        ("SEV", "several", False),
        ("SEV", "sev-1 call", True),
        ("all hands", "all-hands", True),
        ("all hands", "all   hands", True),
        ("all hands", "smallhands", False),
        ("1:1", "11", False),
        ("1:1", "21:15 slot", False),
        ("1:1", "(1:1)", True),
        ("CEO", "ceos", True),
        ("CEO", "ceosomething", False),
        ("post-mortem", "post–mortem", True),  # en dash
    ],
)
def test_keyword_patterns(keyword: str, text: str, hit: bool) -> None:
    assert bool(keyword_pattern(keyword).search(text)) is hit


def test_a_nul_byte_is_a_config_error_not_a_traceback(tmp_path: Path) -> None:
    """PyYAML refuses control characters with a ReaderError, which is no MarkedYAMLError."""
    err = error_of(GOOD.replace("priority: 40", "priority: 4\x000"))
    assert "not valid YAML" in str(err)
    assert err.line == 4
    bad = tmp_path / "rules.yaml"
    bad.write_bytes(GOOD.encode().replace(b"1:1", b"1\x00:1"))
    with pytest.raises(ConfigError, match=r"rules\.yaml:7: \(document\): not valid YAML"):
        load_rules(bad)


@pytest.mark.parametrize("empty", ["[]", "[ ]", "\n        []"])
def test_an_empty_keyword_list_is_refused(empty: str) -> None:
    """`keywords: []` beside attendee bounds would match every meeting of that size."""
    err = error_of(GOOD.replace('keywords: ["1:1"]', f"keywords: {empty}"))
    assert err.field_path == "meeting_types.one_on_one.match.keywords"
    assert err.line == 7
    assert "at least one keyword" in str(err)


def test_an_empty_fields_list_is_refused() -> None:
    err = error_of(GOOD.replace("max_attendees: 3", "max_attendees: 3\n      fields: []"))
    assert err.field_path == "meeting_types.one_on_one.match.fields"


ALTERNATIVES = GOOD.replace(
    '      keywords: ["1:1"]\n      max_attendees: 3\n',
    '      - keywords: ["1:1"]\n        max_attendees: 3\n'
    "      - paired_names: true\n        max_attendees: 3\n"
    "      - {min_attendees: 2, max_attendees: 2, external: false, rooms: false}\n",
)


def test_a_type_may_list_several_match_blocks() -> None:
    rule = parse_rules(ALTERNATIVES).rules[0]
    assert len(rule.matches) == 3
    assert rule.matches[1].paired_names is True
    assert (rule.matches[2].external, rule.matches[2].rooms) == (False, False)


@pytest.mark.parametrize(
    ("text", "field", "problem"),
    [
        (
            ALTERNATIVES.replace(
                "      - paired_names: true\n", "      - paired_names: yes please\n"
            ),
            "meeting_types.one_on_one.match[1].paired_names",
            "true or false",
        ),
        (
            ALTERNATIVES.replace("rooms: false}", "room: false}"),
            "meeting_types.one_on_one.match[2].room",
            "unknown field",
        ),
        (
            ALTERNATIVES.replace(
                "      - paired_names: true\n        max_attendees: 3\n", "      - {}\n"
            ),
            "meeting_types.one_on_one.match[1]",
            "matches everything",
        ),
        (
            GOOD.replace('      keywords: ["1:1"]\n      max_attendees: 3\n', "      []\n").replace(
                "    match:\n      []", "    match: []"
            ),
            "meeting_types.one_on_one.match",
            "at least one match block",
        ),
    ],
)
def test_match_block_lists_are_checked_one_by_one(text: str, field: str, problem: str) -> None:
    err = error_of(text)
    assert err.field_path == field
    assert problem in str(err)


SHIPPED = Path(__file__).resolve().parents[2] / "config" / "meeting_types.yaml"


def test_a_valid_file_is_read_by_libyaml_not_the_pure_python_scanner(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The pure-Python scanner cost ~30 ms of the first eventOpen (the rules load on
    the first card); the installed PyYAML wheel carries libyaml (CSafeLoader)."""
    import yaml

    assert yaml.__with_libyaml__, "the pinned PyYAML wheel is expected to include libyaml"

    def refuse(self: object) -> None:
        raise AssertionError("the pure-Python scanner ran on a valid file")

    monkeypatch.setattr(yaml.scanner.Scanner, "fetch_more_tokens", refuse)
    rules = parse_rules(SHIPPED.read_text(encoding="utf-8"))
    assert "one_on_one" in rules.type_names


def test_libyaml_and_the_python_loader_read_the_same_rules(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Same types, keywords and bounds, and the same lines in errors found in the nodes."""
    import yaml

    text = SHIPPED.read_text(encoding="utf-8")
    with_c = parse_rules(text)
    bad_with_c = error_of(GOOD.replace("max_attendees: 3", "max_attendees: 0"))
    monkeypatch.delattr(yaml, "CSafeLoader")
    assert parse_rules(text) == with_c
    bad_in_python = error_of(GOOD.replace("max_attendees: 3", "max_attendees: 0"))
    assert bad_with_c.line == bad_in_python.line == 8
    assert bad_with_c.field_path == bad_in_python.field_path


# ---------------------------------------------------------------- the compiled cache


def test_the_shipped_cache_is_current_and_holds_the_same_rules() -> None:
    """Regenerate with `.venv/bin/python -m functions.domain.meeting_types` after an edit
    (a stale cache is never used, but the first card then pays for PyYAML again)."""
    cached = meeting_types._cached_rules(SHIPPED, hashlib.sha256(SHIPPED.read_bytes()).hexdigest())
    assert cached is not None, "config/meeting_types.compiled.json is stale or missing"
    assert cached == parse_rules(SHIPPED.read_text(encoding="utf-8"), str(SHIPPED))
    assert [m.keywords for r in cached.rules for m in r.matches] == [
        m.keywords
        for r in parse_rules(SHIPPED.read_text(encoding="utf-8")).rules
        for m in r.matches
    ]


def test_a_current_cache_is_read_without_parsing_the_yaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(GOOD, encoding="utf-8")
    assert write_rules_cache(rules_file) == tmp_path / "rules.compiled.json"
    expected = parse_rules(GOOD, str(rules_file))

    def refuse(text: str, path: str = "") -> None:
        raise AssertionError("parsed the YAML although the cache is current")

    monkeypatch.setattr(meeting_types, "parse_rules", refuse)
    assert load_rules(rules_file) == expected


def test_an_edited_file_is_parsed_again_never_served_from_the_stale_cache(
    tmp_path: Path,
) -> None:
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(GOOD, encoding="utf-8")
    write_rules_cache(rules_file)
    rules_file.write_text(GOOD.replace("priority: 40", "priority: 41"), encoding="utf-8")
    rule = load_rules(rules_file).get("one_on_one")
    assert rule is not None and rule.priority == 41
    # A mistake in the edit is reported from the YAML, with its line.
    rules_file.write_text(GOOD.replace("max_attendees: 3", "max_attendees: 0"), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_rules(rules_file)
    assert info.value.line == 8
    assert info.value.field_path == "meeting_types.one_on_one.match.max_attendees"


@pytest.mark.parametrize(
    "damage",
    [
        lambda doc: "{not json",
        lambda doc: json.dumps({**doc, "format": 99}),
        lambda doc: json.dumps({**doc, "rules": "all of them"}),
        lambda doc: json.dumps({**doc, "default": {"name": "default"}}),
        lambda doc: json.dumps({**doc, "rules": [{**doc["rules"][0], "priority": True}]}),
    ],
)
def test_a_broken_cache_is_ignored(tmp_path: Path, damage: Callable[[dict[str, Any]], str]) -> None:
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(GOOD, encoding="utf-8")
    doc = json.loads(write_rules_cache(rules_file).read_text(encoding="utf-8"))
    cache_path(rules_file).write_text(damage(doc), encoding="utf-8")
    assert load_rules(rules_file) == parse_rules(GOOD, str(rules_file))
