"""Small grammar for the sentences the materials write themselves (English).

Users read these sentences next to what an assistant would write, so "1
earlier related meetings were found" or "a Incident review" reads as a
machine. Every count that reaches a user goes through `count`, every type
label placed inside a sentence through `in_sentence` and `with_article`.
The model writes its own text; this is for the offline generator and the
document's fixed wording.
"""

from __future__ import annotations

import re

# Words that start with a vowel letter but a consonant sound ("a one-on-one",
# "a usage review", "a European team"), and with a silent h ("an hour").
_CONSONANT_SOUND = re.compile(r"^(?:one\b|once|uni(?!n)|use|usa|usu|uti|ure|uro|eu|ewe|ubi)")
_SILENT_H = re.compile(r"^(?:hour|honest|honou?r|heir)")
# Letters whose spoken name starts with a vowel sound ("an SLA", "an FYI").
_VOWEL_LETTERS = frozenset("AEFHILMNORSX")


def count(n: int, one: str, many: str) -> str:
    """ "1 meeting", "2 meetings", "0 meetings"."""
    return f"{n} {one if n == 1 else many}"


def is_are(n: int) -> str:
    return "is" if n == 1 else "are"


def was_were(n: int) -> str:
    return "was" if n == 1 else "were"


def has_have(n: int) -> str:
    return "has" if n == 1 else "have"


def _is_acronym(word: str) -> bool:
    letters = [c for c in word if c.isalpha()]
    return len(letters) >= 2 and all(c.isupper() for c in letters)


def in_sentence(label: str) -> str:
    """A type label as it reads mid-sentence: "Incident review" -> "incident review".

    Acronyms and words with capitals after the first letter (QBR, 1:1, OKRs,
    iOS) are kept as written.
    """
    words = label.split(maxsplit=1)
    if not words:
        return label
    first = words[0]
    if _is_acronym(first) or any(c.isupper() for c in first[1:]) or not first[:1].isupper():
        return label
    return first[0].lower() + label[1:]


def article(phrase: str) -> str:
    """ "a" or "an" for `phrase`, by the sound of its first word."""
    words = phrase.split()
    if not words:
        return "a"
    word = words[0].lstrip("\"'(“‘")
    if not word:
        return "a"
    if _is_acronym(word):
        return "an" if word[0] in _VOWEL_LETTERS else "a"
    lower = word.lower()
    if lower[0].isdigit():
        # "an 8-hour", "an 11:00", "an 18-month"; "a 1:1", "a 30-minute".
        return "an" if re.match(r"^(?:8|1[18](?!\d))", lower) else "a"
    if _CONSONANT_SOUND.match(lower):
        return "a"
    if _SILENT_H.match(lower):
        return "an"
    return "an" if lower[0] in "aeiou" else "a"


def with_article(phrase: str) -> str:
    return f"{article(phrase)} {phrase}"


def names(people: list[str], limit: int = 3) -> str:
    """ "Ana", "Ana and Bo", "Ana, Bo and Cy", "Ana, Bo, Cy and 2 more"."""
    shown = people[:limit]
    rest = len(people) - len(shown)
    if rest > 0:
        return f"{', '.join(shown)} and {rest} more"
    if len(shown) <= 1:
        return "".join(shown)
    return f"{', '.join(shown[:-1])} and {shown[-1]}"


def duration(minutes: int) -> str:
    """ "45 minutes", "1 hour", "1 hour 30 minutes", "3 days"."""
    if minutes < 60:
        return count(minutes, "minute", "minutes")
    if minutes % 1440 == 0:
        return count(minutes // 1440, "day", "days")
    hours, rest = divmod(minutes, 60)
    text = count(hours, "hour", "hours")
    return f"{text} {count(rest, 'minute', 'minutes')}" if rest else text
