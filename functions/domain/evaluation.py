"""How well the rules classify a labelled set of meetings, per type.

The labelled set (`tests/data/meeting_titles.yaml`) is the yardstick for
tuning `config/meeting_types.yaml`: `main.py classify --evaluate FILE` runs
every case through the same `Classifier` the product uses and reports, per
expected type, how many came out right, plus each miss with the reason the
rules gave, so a change to the rules shows what it fixes and what it breaks.

A case is a title with the attendee structure the classifier sees: people
(the user included, rooms not), the domains of outside guests, rooms booked.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from functions.domain.classification import Classification, Classifier, MeetingFacts


class CasesError(ValueError):
    """The labelled file is not usable; the message names the case."""


@dataclass(frozen=True, slots=True)
class LabelledCase:
    title: str
    people: int
    expect: str
    external: tuple[str, ...] = ()
    rooms: int = 0

    def facts(self, user_domain: str) -> MeetingFacts:
        domains = frozenset({user_domain, *self.external} if self.people > 1 else self.external)
        return MeetingFacts(
            title=self.title,
            attendee_count=max(self.people, len(self.external) + 1),
            attendee_domains=domains,
            rooms=self.rooms,
        )


@dataclass(frozen=True, slots=True)
class Miss:
    case: LabelledCase
    got: Classification


@dataclass(frozen=True, slots=True)
class TypeScore:
    meeting_type: str
    cases: int
    right: int
    #: How many cases of any type the rules gave this type (for precision).
    predicted: int

    @property
    def accuracy(self) -> float:
        return self.right / self.cases if self.cases else 1.0

    @property
    def precision(self) -> float:
        return self.right / self.predicted if self.predicted else 1.0


@dataclass(frozen=True, slots=True)
class Evaluation:
    scores: tuple[TypeScore, ...]
    misses: tuple[Miss, ...]

    @property
    def cases(self) -> int:
        return sum(s.cases for s in self.scores)

    @property
    def right(self) -> int:
        return sum(s.right for s in self.scores)

    @property
    def accuracy(self) -> float:
        return self.right / self.cases if self.cases else 1.0

    def report(self) -> str:
        """A table per type, the overall figure, then every miss with the rules' reason."""
        lines = [f"{'type':<18}{'cases':>6}{'right':>7}{'accuracy':>10}{'precision':>11}"]
        for s in self.scores:
            lines.append(
                f"{s.meeting_type:<18}{s.cases:>6}{s.right:>7}"
                f"{s.accuracy:>10.1%}{s.precision:>11.1%}"
            )
        lines.append(f"{'overall':<18}{self.cases:>6}{self.right:>7}{self.accuracy:>10.1%}")
        if self.misses:
            lines.append("")
            lines.append(f"misses ({len(self.misses)}):")
            for miss in self.misses:
                c = miss.case
                outside = f", guests from {', '.join(c.external)}" if c.external else ""
                rooms = f", {c.rooms} room(s)" if c.rooms else ""
                lines.append(
                    f"  {c.title!r} ({c.people} people{outside}{rooms}): expected {c.expect}, "
                    f"got {miss.got.meeting_type} ({miss.got.reason})"
                )
        return "\n".join(lines)


def evaluate(
    classifier: Classifier, cases: Iterable[LabelledCase], *, user_domain: str
) -> Evaluation:
    total: Counter[str] = Counter()
    right: Counter[str] = Counter()
    predicted: Counter[str] = Counter()
    misses: list[Miss] = []
    for case in cases:
        got = classifier.classify_facts(case.facts(user_domain), user_domain=user_domain)
        total[case.expect] += 1
        predicted[got.meeting_type] += 1
        if got.meeting_type == case.expect:
            right[case.expect] += 1
        else:
            misses.append(Miss(case, got))
    order = [n for n in classifier.rules.type_names if n in total or n in predicted]
    scores = tuple(TypeScore(n, total[n], right[n], predicted[n]) for n in order)
    return Evaluation(scores, tuple(misses))


def _case(raw: Any, index: int, known: Sequence[str]) -> LabelledCase:
    where = f"cases[{index}]"
    if not isinstance(raw, Mapping):
        raise CasesError(f"{where}: expected a mapping with title, people and expect")
    unknown = set(raw) - {"title", "people", "expect", "external", "rooms"}
    if unknown:
        raise CasesError(f"{where}: unknown field {sorted(unknown)[0]!r}")
    title, people, expect = raw.get("title"), raw.get("people"), raw.get("expect")
    external, rooms = raw.get("external", []), raw.get("rooms", 0)
    if not isinstance(title, str):
        raise CasesError(f"{where}.title: expected text")
    if isinstance(people, bool) or not isinstance(people, int) or people < 1:
        raise CasesError(f"{where}.people: expected a whole number of at least 1")
    if expect not in known:
        raise CasesError(f"{where}.expect: {expect!r} is not a type of the rules")
    if not isinstance(external, list) or not all(isinstance(d, str) for d in external):
        raise CasesError(f"{where}.external: expected a list of domains")
    if isinstance(rooms, bool) or not isinstance(rooms, int) or rooms < 0:
        raise CasesError(f"{where}.rooms: expected a whole number")
    return LabelledCase(title, people, str(expect), tuple(d.lower() for d in external), rooms)


def load_cases(path: str | Path, known_types: Sequence[str]) -> tuple[str, list[LabelledCase]]:
    """The user's domain and the cases of a labelled file; `CasesError` names a bad case."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CasesError(f"{p}: cannot read: {exc.strerror}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise CasesError(f"{p}: not a YAML file: {exc}") from None
    if not isinstance(data, Mapping) or not isinstance(data.get("cases"), list):
        raise CasesError(f"{p}: expected user_domain and a list of cases")
    domain = data.get("user_domain", "example.com")
    if not isinstance(domain, str) or "." not in domain:
        raise CasesError(f"{p}: user_domain: expected an email domain")
    try:
        cases = [_case(raw, i, known_types) for i, raw in enumerate(data["cases"])]
    except CasesError as exc:
        raise CasesError(f"{p}: {exc}") from None
    return domain.lower(), cases
