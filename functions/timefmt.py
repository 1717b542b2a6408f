"""Dates and times as the user reads them: their time zone, their locale's conventions.

Workspace tells us both on every request (`commonEventObject.timeZone.id` and
`userLocale`); CLDR data through Babel turns them into "Tue, Dec 1, 3:30 PM"
for en-US and "Tue, 1 Dec, 15:30" for de-DE. Everything around a date is
English (cards, messages, the materials' headings and sentences), so a date
in German or Japanese words would be a stray foreign string in an English
sentence: the words are English and the locale decides the conventions
(day-month order, 24-hour clock) through `english_locale`. Babel is
imported on first use and each locale's data is loaded once per process.

Importing Babel and merging a locale's CLDR data costs ~30 ms, most of the
first sidebar card's own work on a fresh process (issue 14, cold start). So
for the English locales of `COMPILED_LOCALES` (one file each,
config/timefmt/<tag>.json, ~35 KB, read when a card first needs it; the
user's own tag leads there through `ENGLISH_OF` without Babel) the four
things a card shows (`day`,
`time`, `day_time`, `zone_name`) come from a compiled extract of Babel's own
answers: the tokenised CLDR patterns, the weekday, month and AM/PM names they
use, and each time zone's long standard and daylight names where Babel names
the zone by a translation (not by the moment's GMT offset). Only patterns
made of fields whose output is one of those names or a plain number are
compiled (Babel writes date numbers in ASCII digits); any other locale, zone
or field goes to Babel, as does every other use (notifications, materials).
Regenerate the files with `.venv/bin/python -m functions.timefmt` after
upgrading Babel: tests/unit/test_timefmt.py fails while they differ from what
the pinned Babel gives, and compares both paths over a year of hours.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:
    from babel import Locale

DEFAULT_LOCALE = "en-US"
_LOCALE_RE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8}){0,3}$")
COMPILED_DIR = Path(__file__).resolve().parent.parent / "config" / "timefmt"
#: The locales with an extract (config/timefmt/<tag>.json): the default and the
#: languages most Workspace users read; every other locale is Babel's.
COMPILED_LOCALES = (
    DEFAULT_LOCALE,
    "en-GB",
    "en-DE",
    "en-FR",
    "en-ES",
    "en-IT",
    "en-NL",
    "en-150",
)
#: `english_locale` of the languages most Workspace users read, so that their
#: first card needs no Babel (tests/unit/test_timefmt.py keeps it equal).
ENGLISH_OF = {
    "en-US": "en-US",
    "en-GB": "en-GB",
    "de-DE": "en-DE",
    "fr-FR": "en-FR",
    "es-ES": "en-ES",
    "it-IT": "en-IT",
    "pt-BR": "en-150",
    "nl-NL": "en-NL",
    "ja-JP": "en-150",
}
#: Fields answered from the extract: names looked up by weekday, month or
#: AM/PM, and numbers written with `width` digits, as Babel writes them.
_NAME_FIELDS = {"E": (1, 2, 3), "M": (3, 4), "a": (1, 2, 3)}
_NUMBER_FIELDS = {"d": (1, 2), "h": (1, 2), "H": (1, 2), "m": (1, 2), "M": (1, 2)}


def valid_locale(tag: str | None) -> str | None:
    """A BCP 47 tag Babel knows, normalised with '-', else None."""
    if not tag or not _LOCALE_RE.match(tag):
        return None
    normal = tag.replace("_", "-")
    if normal in ENGLISH_OF or (normal in COMPILED_LOCALES and _extract(normal) is not None):
        return normal
    try:
        _locale(normal)
    except ValueError:
        return None
    return normal


def valid_zone(name: str | None) -> str | None:
    if not name or len(name) > 64:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


@functools.lru_cache(maxsize=64)
def _locale(tag: str) -> Locale:
    from babel import Locale
    from babel.core import UnknownLocaleError

    try:
        return Locale.parse(tag, sep="-")
    except (UnknownLocaleError, ValueError, TypeError) as exc:
        raise ValueError(f"unknown locale {tag!r}") from exc


@functools.lru_cache(maxsize=64)
def english_locale(tag: str | None) -> str:
    """The English Babel locale with the conventions of `tag` ("de-DE" -> "en_DE").

    English as spoken in the user's region where CLDR has it (en_DE, en_FR,
    en_IN, ...); elsewhere international English with the region's clock:
    Europe's English (24-hour) when the user's own locale writes 24-hour
    times, world English (12-hour) when it does not. Unknown tags are en-US.
    """
    from babel import Locale
    from babel.core import UnknownLocaleError

    good = valid_locale(tag) or DEFAULT_LOCALE
    own = _locale(good)
    if own.language == "en":
        return str(own)
    if own.territory:
        try:
            return str(Locale("en", own.territory))
        except (UnknownLocaleError, ValueError):
            pass
    short = own.time_formats.get("short")
    pattern = str(getattr(short, "pattern", short) or "")
    return "en_150" if "H" in pattern else "en_001"


@dataclass(frozen=True, slots=True)
class TimeFormat:
    zone: tzinfo
    #: The BCP 47 tag, valid (`valid_locale`); its Babel `Locale` is loaded only if needed.
    tag: str

    @classmethod
    def for_user(cls, time_zone: str | None, locale: str | None) -> TimeFormat:
        zone_name = valid_zone(time_zone) or "UTC"
        tag = valid_locale(locale) or DEFAULT_LOCALE
        english = ENGLISH_OF.get(tag) or english_locale(tag).replace("_", "-")
        return cls(ZoneInfo(zone_name), english)

    @property
    def locale(self) -> Locale:
        return _locale(self.tag)

    @property
    def _extract(self) -> _Extract | None:
        return _extract(self.tag) if self.tag in COMPILED_LOCALES else None

    def day(self, when: datetime) -> str:
        extract = self._extract
        if extract is not None:
            return extract.format("day", self._local(when))
        from babel.dates import format_skeleton

        return str(format_skeleton("MMMEd", when, tzinfo=self.zone, locale=self.locale))

    def time(self, when: datetime) -> str:
        extract = self._extract
        if extract is not None:
            return extract.format("time", self._local(when))
        from babel.dates import format_time

        return str(format_time(when, "short", tzinfo=self.zone, locale=self.locale))

    def day_time(self, when: datetime) -> str:
        """Weekday, date and time in the locale's own order ("Tue, Dec 1, 3:30 PM")."""
        extract = self._extract
        if extract is not None:
            pattern = extract.glue
        else:
            pattern = str(self.locale.datetime_formats.get("medium") or "{1}, {0}")
        return pattern.replace("{1}", self.day(when)).replace("{0}", self.time(when))

    def zone_name(self, when: datetime) -> str:
        """The zone's name in English ("Central European Standard Time")."""
        extract = self._extract
        key = getattr(self.zone, "key", None)
        names = extract.zones.get(key) if extract is not None and key else None
        if names is not None:
            name = names[1] if self._local(when).dst() else names[0]
            if name is not None:
                return name
        from babel.dates import format_datetime

        return str(format_datetime(when, "zzzz", tzinfo=self.zone, locale=self.locale))

    def _local(self, when: datetime) -> datetime:
        """`when` in the user's zone; a naive time is UTC, as Babel takes it."""
        return (when if when.tzinfo is not None else when.replace(tzinfo=UTC)).astimezone(self.zone)


@dataclass(frozen=True, slots=True)
class _Extract:
    """One locale's compiled patterns and names (see the module docstring)."""

    #: "day" and "time": [literal text | [field char, width]] tokens.
    patterns: dict[str, list[Any]]
    #: The medium date-time glue ("{1}, {0}").
    glue: str
    #: "E<n>": 7 weekday names from Monday; "M<n>": 12 month names; "a<n>": AM, PM.
    names: dict[str, list[str]]
    #: Zone id: [long standard name, long daylight name]; None where Babel
    #: would write the moment's GMT offset instead (it then does so).
    zones: dict[str, list[str | None]]

    def format(self, which: str, local: datetime) -> str:
        out: list[str] = []
        for token in self.patterns[which]:
            if isinstance(token, str):
                out.append(token)
                continue
            char, width = token
            names = self.names.get(f"{char}{width}")
            if names is not None:
                index = {"E": local.weekday(), "M": local.month - 1, "a": int(local.hour >= 12)}
                out.append(names[index[char]])
            else:
                value = {
                    "d": local.day,
                    "h": local.hour % 12 or 12,
                    "H": local.hour,
                    "m": local.minute,
                    "M": local.month,
                }[char]
                out.append(f"{value:0{width}d}")
        return "".join(out)


@functools.cache
def _extract(tag: str, folder: Path = COMPILED_DIR) -> _Extract | None:
    """`tag`'s extract (a tag of `COMPILED_LOCALES`), or None, for Babel, if its
    file is absent or unreadable."""
    try:
        raw = json.loads((folder / f"{tag}.json").read_text(encoding="utf-8"))
        return _Extract(**raw["extract"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def compile_locale(tag: str, zones: list[str]) -> dict[str, Any]:
    """What `_Extract` holds for `tag`, taken from Babel; ValueError if a pattern
    uses a field the extract cannot answer (the locale then stays with Babel)."""
    from babel.dates import (
        DateTimeFormat,
        get_timezone_gmt,
        get_timezone_name,
        tokenize_pattern,
    )

    locale = _locale(tag)
    sources = {
        "day": str(locale.datetime_skeletons["MMMEd"]),
        "time": str(locale.time_formats["short"].pattern),
    }
    patterns: dict[str, list[Any]] = {}
    names: dict[str, list[str]] = {}
    monday = datetime(2024, 1, 1, 9, 0)  # a Monday in January, at 9 AM
    for which, source in sources.items():
        tokens: list[Any] = []
        for kind, value in tokenize_pattern(source):
            if kind == "chars":
                tokens.append(value)
                continue
            char, width = cast(tuple[str, int], value)
            if width in _NUMBER_FIELDS.get(char, ()):
                tokens.append([char, width])
                continue
            if width not in _NAME_FIELDS.get(char, ()):
                raise ValueError(f"{tag}: field {char * width} of {source!r} is not compiled")
            field = char * width
            samples = {
                "E": [monday.replace(day=1 + i) for i in range(7)],
                "M": [monday.replace(month=1 + i) for i in range(12)],
                "a": [monday.replace(hour=1), monday.replace(hour=13)],
            }[char]
            names[f"{char}{width}"] = [str(DateTimeFormat(s, locale)[field]) for s in samples]
            tokens.append([char, width])
        patterns[which] = tokens
    glue = str(locale.datetime_formats.get("medium") or "{1}, {0}")
    zone_names: dict[str, list[str | None]] = {}
    for zone in zones:
        # Babel names a zone by its own or its metazone's translation, else by
        # the GMT offset at that very moment: only the former are compiled.
        at = datetime(2024, 1, 1, tzinfo=ZoneInfo(zone))
        gmt = str(get_timezone_gmt(at, "long", locale=locale))
        variants: list[str | None] = []
        for variant in ("standard", "daylight"):
            name = str(get_timezone_name(at, "long", locale=locale, zone_variant=variant))
            variants.append(None if name == gmt else name)
        if variants != [None, None]:
            zone_names[zone] = variants
    return {"patterns": patterns, "glue": glue, "names": names, "zones": zone_names}


def compile_file(tag: str) -> dict[str, Any]:
    """One file's content: `tag`'s extract over every zone this machine knows."""
    import zoneinfo

    import babel

    zones = sorted(z for z in zoneinfo.available_timezones() if valid_zone(z))
    return {"babel": babel.__version__, "extract": compile_locale(tag, zones)}


def write_compiled(folder: Path = COMPILED_DIR, tags: tuple[str, ...] = COMPILED_LOCALES) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for tag in tags:
        text = json.dumps(compile_file(tag), ensure_ascii=False, sort_keys=True)
        (folder / f"{tag}.json").write_text(text + "\n", encoding="utf-8")
    _extract.cache_clear()
    return folder


if __name__ == "__main__":
    import sys

    print(write_compiled(tags=tuple(sys.argv[1:]) or COMPILED_LOCALES))
