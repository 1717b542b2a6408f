"""Sanitising untrusted text, and the prep templates file."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.config import DEFAULT_MEETING_TYPES
from functions.domain.meeting_types import load_rules
from functions.materials.settings import DEFAULT_TEMPLATES
from functions.materials.templates import TemplateError, load_templates, parse_templates
from functions.materials.text import LINK_REMOVED, clean_text, clip, drop_unknown_urls, urls_in


def test_control_and_invisible_characters_are_removed() -> None:
    hostile = "Re\x00vi\x1bew\u202e gnp.exe\u200b plan\r\nnext\x7f line"
    assert clean_text(hostile) == "Review gnp.exe plan\nnext line"


def test_unicode_line_separators_are_line_breaks_not_hidden_ones() -> None:
    """U+2028/U+2029 survive JSON encoding raw: they become a plain newline (or a space)."""
    assert clean_text("a\u2028b\u2029c") == "a\nb\nc"
    assert clean_text("a\u2028b\u2029c", multiline=False) == "a b c"


def test_single_line_mode_and_blank_runs() -> None:
    assert clean_text("a\n\n\n\n b\t\tc", multiline=False) == "a b c"
    assert clean_text("a\n\n\n\nb") == "a\n\nb"


@given(st.text(), st.integers(min_value=1, max_value=300))
def test_clean_text_is_bounded_and_free_of_controls(text: str, limit: int) -> None:
    out = clean_text(text, limit)
    assert len(out) <= limit
    assert not any(ord(c) < 32 and c != "\n" for c in out)
    assert "\u202e" not in out


def test_clip_marks_what_it_cut() -> None:
    assert clip("abcdef", 4) == "abc…"
    assert clip("abc", 4) == "abc"


def test_unknown_links_are_removed_known_ones_kept() -> None:
    text = "See https://docs.example.com/plan, then https://evil.example/x and javascript:alert(1)."
    allowed = frozenset({"https://docs.example.com/plan"})
    out = drop_unknown_urls(text, allowed)
    assert "https://docs.example.com/plan," in out
    assert "evil.example" not in out and "javascript:" not in out
    assert out.count(LINK_REMOVED) == 2
    assert urls_in(text) == {
        "https://docs.example.com/plan",
        "https://evil.example/x",
        "javascript:alert(1",  # a closing bracket is read as prose punctuation
    }


def test_shipped_templates_cover_every_meeting_type() -> None:
    templates = load_templates(DEFAULT_TEMPLATES)
    rules = load_rules(DEFAULT_MEETING_TYPES)
    assert set(rules.type_names) <= set(templates.names)
    assert templates.for_type("unknown_type") == templates.for_type("default")


def test_template_version_follows_the_file_content() -> None:
    text = DEFAULT_TEMPLATES.read_text()
    one = parse_templates(text)
    two = parse_templates(text.replace("Check-in", "Personal check-in"))
    assert one.version != two.version
    assert one.version.startswith("1-")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: 1\ntemplates: {}\n", "a `default` template is required"),
        (
            "version: 1\ntemplates:\n  default:\n    focus: x\n    agenda: []\n",
            "templates.default.agenda",
        ),
        (
            "version: 1\ntemplates:\n  default:\n    focus: x\n"
            "    agenda: [{item: a, minutes: 0}]\n",
            "templates.default.agenda.0.minutes",
        ),
        ("version: [\n", "not valid YAML"),
    ],
)
def test_template_errors_name_the_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(text)
    with pytest.raises(TemplateError, match=message) as info:
        load_templates(path)
    assert str(path) in str(info.value)
