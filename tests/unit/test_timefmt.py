"""The compiled date formats answer exactly what Babel answers, and stay current.

`functions/timefmt.py` answers the card's dates for the compiled locales from
config/timefmt/<tag>.json instead of Babel (a cold-start cost, issue 14).
These tests hold that path to Babel's own output over a whole year of hours in
zones with odd offsets and DST rules, over every compiled zone's name in
winter and summer, and hold the shipped file to what the pinned Babel gives.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_datetime, format_skeleton, format_time

from functions import timefmt
from functions.timefmt import (
    COMPILED_DIR,
    COMPILED_LOCALES,
    TimeFormat,
    compile_locale,
    valid_locale,
)

SHIPPED = {
    tag: json.loads((COMPILED_DIR / f"{tag}.json").read_text(encoding="utf-8"))
    for tag in COMPILED_LOCALES
}
ZONES = (
    "UTC",
    "America/New_York",
    "America/St_Johns",  # -3:30, with DST
    "Europe/Paris",
    "Asia/Kolkata",  # +5:30, no DST
    "Australia/Lord_Howe",  # a 30-minute DST shift
    "Pacific/Chatham",  # +12:45
)


def _babel(tag: str, zone: str, when: datetime) -> tuple[str, str, str, str]:
    from babel import Locale

    locale = Locale.parse(tag, sep="-")
    tz = ZoneInfo(zone)
    day = str(format_skeleton("MMMEd", when, tzinfo=tz, locale=locale))
    time = str(format_time(when, "short", tzinfo=tz, locale=locale))
    glue = str(locale.datetime_formats.get("medium") or "{1}, {0}")
    return (
        day,
        time,
        glue.replace("{1}", day).replace("{0}", time),
        str(format_datetime(when, "zzzz", tzinfo=tz, locale=locale)),
    )


def _ours(tag: str, zone: str, when: datetime) -> tuple[str, str, str, str]:
    fmt = TimeFormat.for_user(zone, tag)
    return fmt.day(when), fmt.time(when), fmt.day_time(when), fmt.zone_name(when)


def test_every_listed_locale_has_its_file_and_nothing_else_is_shipped() -> None:
    assert "en-US" in COMPILED_LOCALES
    assert all(timefmt._extract(tag) is not None for tag in COMPILED_LOCALES)
    assert sorted(p.stem for p in COMPILED_DIR.glob("*.json")) == sorted(COMPILED_LOCALES)


@pytest.mark.parametrize("tag", COMPILED_LOCALES)
@pytest.mark.parametrize("zone", ZONES)
def test_every_hour_of_a_year_reads_as_babel_writes_it(tag: str, zone: str) -> None:
    start = datetime(2026, 1, 1, 0, 7, tzinfo=UTC)
    for hour in range(0, 366 * 24, 5):  # every hour of the day, on every fifth day or so
        when = start + timedelta(hours=hour, minutes=(hour * 17) % 60)
        assert _ours(tag, zone, when) == _babel(tag, zone, when), (tag, zone, when)


@pytest.mark.parametrize("tag", COMPILED_LOCALES)
def test_every_compiled_zone_is_named_as_babel_names_it_in_winter_and_summer(tag: str) -> None:
    for zone in SHIPPED[tag]["extract"]["zones"]:
        for when in (datetime(2026, 1, 15, 12, tzinfo=UTC), datetime(2026, 7, 15, 12, tzinfo=UTC)):
            assert TimeFormat.for_user(zone, tag).zone_name(when) == _babel(tag, zone, when)[3]


def test_a_naive_time_is_utc_as_for_babel() -> None:
    naive = datetime(2026, 3, 8, 6, 30)
    assert _ours("en-US", "America/New_York", naive) == _babel("en-US", "America/New_York", naive)


def test_other_locales_and_unknown_zones_still_go_to_babel() -> None:
    when = datetime(2026, 12, 1, 14, 30, tzinfo=UTC)
    assert "de-AT" not in COMPILED_LOCALES
    assert "fr-CA" not in COMPILED_LOCALES
    english = timefmt.english_locale("fr-CA").replace("_", "-")
    assert _ours("fr-CA", "America/Toronto", when) == _babel(english, "America/Toronto", when)
    # English words, the region's conventions: Austria's through Babel, Germany's compiled.
    assert _ours("de-AT", "Europe/Vienna", when) == _babel("en-AT", "Europe/Vienna", when)
    assert TimeFormat.for_user("Europe/Berlin", "de-DE").day_time(when) == "Tue, 1 Dec, 15:30"
    assert valid_locale("en_US") == "en-US"
    assert valid_locale("xx-YY") is None
    assert valid_locale("de_AT") == "de-AT"


def test_the_shortcut_to_english_is_what_english_locale_answers() -> None:
    """`ENGLISH_OF` spares the first card Babel; it must name what Babel would choose."""
    from functions.timefmt import ENGLISH_OF, english_locale

    for tag, english in ENGLISH_OF.items():
        assert english == english_locale(tag).replace("_", "-"), tag
        assert english in COMPILED_LOCALES, tag


def test_the_shipped_file_is_what_the_pinned_babel_gives() -> None:
    """Regenerate with `.venv/bin/python -m functions.timefmt` after upgrading Babel."""
    import babel

    for tag, shipped in SHIPPED.items():
        assert shipped["babel"] == babel.__version__, tag
        assert compile_locale(tag, sorted(shipped["extract"]["zones"])) == shipped["extract"], tag


def test_a_pattern_with_a_field_the_extract_cannot_answer_is_not_compiled() -> None:
    """zh-Hant's short time uses the flexible day period 'B' ("Bh:mm"), whose
    name depends on the hour's CLDR rule, not just AM/PM: it stays with Babel."""
    with pytest.raises(ValueError, match="not compiled"):
        compile_locale("zh-Hant", ["UTC"])


def test_a_missing_or_broken_file_means_babel_for_everything(tmp_path: Path) -> None:
    (tmp_path / "en-US.json").write_text("{", encoding="utf-8")
    assert timefmt._extract("en-US", tmp_path) is None
    assert timefmt._extract("de-DE", tmp_path) is None
