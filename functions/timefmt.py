"""Dates and times as the user reads them: their time zone, their locale's conventions.

Workspace tells us both on every request (`commonEventObject.timeZone.id` and
`userLocale`); CLDR data through Babel turns them into "Tue, Dec 1, 3:30 PM"
for en-US and "Tue, 1 Dec, 15:30" for de-DE. Everything around a date is
English (cards, messages, the materials' headings and sentences), so a date
in German or Japanese words would be a stray foreign string in an English
sentence: the words are English and the locale decides the conventions
(day-month order, 24-hour clock) through `english_locale`. Babel is
imported on first use and each locale's data is loaded once per process.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:
    from babel import Locale

DEFAULT_LOCALE = "en-US"
_LOCALE_RE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8}){0,3}$")


def valid_locale(tag: str | None) -> str | None:
    """A BCP 47 tag Babel knows, normalised with '-', else None."""
    if not tag or not _LOCALE_RE.match(tag):
        return None
    try:
        _locale(tag.replace("_", "-"))
    except ValueError:
        return None
    return tag.replace("_", "-")


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
    locale: Locale

    @classmethod
    def for_user(cls, time_zone: str | None, locale: str | None) -> TimeFormat:
        zone_name = valid_zone(time_zone) or "UTC"
        return cls(ZoneInfo(zone_name), _locale(english_locale(locale).replace("_", "-")))

    def day(self, when: datetime) -> str:
        from babel.dates import format_skeleton

        return str(format_skeleton("MMMEd", when, tzinfo=self.zone, locale=self.locale))

    def time(self, when: datetime) -> str:
        from babel.dates import format_time

        return str(format_time(when, "short", tzinfo=self.zone, locale=self.locale))

    def day_time(self, when: datetime) -> str:
        """Weekday, date and time in the locale's own order ("Tue, Dec 1, 3:30 PM")."""
        pattern = str(self.locale.datetime_formats.get("medium") or "{1}, {0}")
        return pattern.replace("{1}", self.day(when)).replace("{0}", self.time(when))

    def zone_name(self, when: datetime) -> str:
        """The zone's name in English ("Central European Standard Time")."""
        from babel.dates import format_datetime

        return str(format_datetime(when, "zzzz", tzinfo=self.zone, locale=self.locale))
