"""Lead times as people say them: "2 days", "3 hours", not "336".

Stored lead times stay hours (the rules file and `Preferences.lead_hours`
speak hours); only the settings card turns them into words and back. A
bare number still means hours, so what users typed before keeps working.
"""

from __future__ import annotations

import math
import re

_UNITS: dict[str, float] = {
    "w": 168,
    "wk": 168,
    "wks": 168,
    "week": 168,
    "weeks": 168,
    "d": 24,
    "day": 24,
    "days": 24,
    "h": 1,
    "hr": 1,
    "hrs": 1,
    "hour": 1,
    "hours": 1,
    "m": 1 / 60,
    "min": 1 / 60,
    "mins": 1 / 60,
    "minute": 1 / 60,
    "minutes": 1 / 60,
}
_PART = re.compile(r"(\d+(?:[.,]\d+)?)\s*([a-z]*)")


class BadDuration(ValueError):
    """The text is not a lead time; the message says what would be."""


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


def format_lead(hours: float) -> str:
    """336 -> "2 weeks", 48 -> "2 days", 30 -> "1 day 6 hours", 1.5 -> "90 minutes"."""
    minutes = round(hours * 60)
    if minutes == 0:
        return "0 hours"
    if minutes % 60:
        return _plural(minutes, "minute")
    whole = minutes // 60
    if whole % 168 == 0:
        return _plural(whole // 168, "week")
    days, rest = divmod(whole, 24)
    if not days:
        return _plural(rest, "hour")
    return _plural(days, "day") + (f" {_plural(rest, 'hour')}" if rest else "")


def parse_lead(text: str) -> float:
    """Hours from "2 days", "3h", "1 day 4 hours", "90 min" or a bare number of hours."""
    cleaned = " ".join(text.strip().lower().replace(" and ", " ").split())
    if not cleaned:
        raise BadDuration("enter a time like 2 days or 3 hours")
    total = 0.0
    pos = 0
    for found in _PART.finditer(cleaned):
        if cleaned[pos : found.start()].strip():
            break
        unit = found.group(2) or "hours"
        if unit not in _UNITS:
            raise BadDuration(f"\u201c{unit}\u201d is not a unit: use days, hours or minutes")
        total += float(found.group(1).replace(",", ".")) * _UNITS[unit]
        pos = found.end()
    if pos == 0 or cleaned[pos:].strip():
        raise BadDuration("enter a time like 2 days or 3 hours")
    if not math.isfinite(total):
        raise BadDuration("enter a time like 2 days or 3 hours")
    return round(total, 4)
