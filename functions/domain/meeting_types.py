"""Meeting-type rules and their loader for `config/meeting_types.yaml`.

The loader walks PyYAML's node tree rather than the parsed dict so that every
error can name the file, the line and the dotted field path: the people who
edit this file are admins tuning rules, not Python developers.

The rules load on the first card a fresh process shows, so loading is kept
cheap: a compiled cache keyed by the file's hash spares PyYAML, libyaml
parses when the PyYAML wheel has it (PyYAML's own parser re-reads a refused
file, for its messages), and no keyword pattern is compiled at load:
classification compiles one when a text holds its words (`keyword_parts`).
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from functions.domain.users import MAX_LEAD_HOURS

if TYPE_CHECKING:
    import yaml

DEFAULT_TYPE = "default"
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_KNOWN_MATCH_FIELDS = frozenset({"title", "description"})
# Separators a human might type between the words of one keyword.
_SEPARATOR_CHARS = " \t-\u2010\u2011\u2012\u2013\u2014_"
_SEPARATOR_RE = r"[\s\-\u2010-\u2014_]+"


class ConfigError(ValueError):
    """A rules file is wrong; the message says where and why."""

    def __init__(self, path: str, line: int | None, field_path: str, problem: str) -> None:
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {field_path}: {problem}")
        self.path = path
        self.line = line
        self.field_path = field_path
        self.problem = problem


def normalize_text(text: str) -> str:
    """Fold case and compatibility forms so "１:１" and "1:1" compare equal."""
    return unicodedata.normalize("NFKC", text).casefold()


def keyword_pattern(keyword: str) -> re.Pattern[str]:
    """Compile a keyword into a whole-word, separator-tolerant pattern.

    Word boundaries fix the seed's substring bug ("several" is not "sev");
    runs of spaces, hyphens and underscores in a keyword match any such run
    ("all hands" = "all-hands", "1-on-1" = "1 on 1"); other punctuation is
    literal with optional spaces around it ("1:1" = "1 : 1"); a trailing plural
    "s" is allowed ("1:1s", "CEOs").
    """
    norm = normalize_text(keyword).strip()
    parts: list[str] = []
    i = 0
    while i < len(norm):
        ch = norm[i]
        if ch in _SEPARATOR_CHARS or ch.isspace():
            while i < len(norm) and (norm[i] in _SEPARATOR_CHARS or norm[i].isspace()):
                i += 1
            parts.append(_SEPARATOR_RE)
            continue
        if ch.isalnum():
            parts.append(re.escape(ch))
        else:
            parts.append(r"\s*" + re.escape(ch) + r"\s*")
        i += 1
    body = "".join(parts)
    return re.compile(rf"(?<!\w){body}(?:s|'s)?(?!\w)")


def keyword_parts(keyword: str) -> tuple[str, ...]:
    """The runs of letters and digits that every match of `keyword_pattern(keyword)`
    contains verbatim ("post-mortem" -> "post", "mortem"; "1:1" -> "1", "1").

    A text lacking one cannot match, so classification tests these substrings
    first and compiles (and runs) a keyword's pattern only for a text that has
    them all: most titles hold none of the ~90 shipped keywords, and compiling
    every pattern cost ~20 ms of the first card of a fresh process.
    """
    return tuple(
        run for run in re.split(r"[^\w]|_", normalize_text(keyword).strip()) if run.isalnum()
    )


@dataclass(frozen=True, slots=True)
class MatchRule:
    keywords: tuple[str, ...] = ()
    fields: tuple[str, ...] = ("title", "description")
    min_attendees: int | None = None
    max_attendees: int | None = None
    #: True: needs a person from outside the user's domains; False: must have none.
    external: bool | None = None
    #: True: a room is booked; False: none is.
    rooms: bool | None = None
    #: True: the title is two names joined by "/", "<>", "&", "+", "x" or "and".
    paired_names: bool | None = None

    @property
    def is_empty(self) -> bool:
        return (
            not self.keywords
            and self.min_attendees is None
            and self.max_attendees is None
            and self.external is None
            and self.rooms is None
            and self.paired_names is None
        )


@dataclass(frozen=True, slots=True)
class MeetingTypeRule:
    name: str
    label: str
    priority: int
    prep_hours_before: float
    #: Alternatives: the type applies when any one of them holds.
    matches: tuple[MatchRule, ...]


@dataclass(frozen=True, slots=True)
class RuleSet:
    """All meeting types of one config file, highest priority first."""

    rules: tuple[MeetingTypeRule, ...]
    default: MeetingTypeRule
    internal_domains: frozenset[str] = frozenset()
    source: str = "<memory>"

    def get(self, name: str) -> MeetingTypeRule | None:
        if name == self.default.name:
            return self.default
        return next((r for r in self.rules if r.name == name), None)

    @property
    def type_names(self) -> tuple[str, ...]:
        return (*(r.name for r in self.rules), self.default.name)

    def label_of(self, name: str) -> str:
        rule = self.get(name)
        return rule.label if rule else name


# --------------------------------------------------------------------------- loading


class _Node:
    """A YAML node with the file path and the dotted field path, for errors."""

    def __init__(
        self, node: yaml.Node, path: str, field_path: str, line: int | None = None
    ) -> None:
        self.node = node
        self.path = path
        self.field_path = field_path
        # A block value starts on the line after its key; the key's line is what
        # a person looks for, so children of a mapping carry their key's line.
        self.line = line if line is not None else node.start_mark.line + 1

    def error(self, problem: str) -> ConfigError:
        return ConfigError(self.path, self.line, self.field_path, problem)

    def _value(self) -> object:
        import yaml

        if not isinstance(self.node, yaml.ScalarNode):
            raise self.error("expected a single value")
        return yaml.SafeLoader(self.node.value).construct_object(self.node)

    def items(self) -> Iterator[tuple[str, _Node]]:
        import yaml

        if not isinstance(self.node, yaml.MappingNode):
            raise self.error("expected a mapping of keys to values")
        seen: set[str] = set()
        for key_node, value_node in self.node.value:
            key = str(key_node.value)
            child = _Node(
                value_node,
                self.path,
                f"{self.field_path}.{key}".lstrip("."),
                key_node.start_mark.line + 1,
            )
            if key in seen:
                raise child.error("appears twice")
            seen.add(key)
            yield key, child

    def sequence(self) -> list[_Node]:
        import yaml

        if not isinstance(self.node, yaml.SequenceNode):
            raise self.error("expected a list")
        return [
            _Node(n, self.path, f"{self.field_path}[{i}]") for i, n in enumerate(self.node.value)
        ]

    def string(self) -> str:
        value = self._value()
        if not isinstance(value, str) or not value.strip():
            raise self.error(f"expected non-empty text, got {value!r}")
        return value

    def integer(self) -> int:
        value = self._value()
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(f"expected a whole number, got {value!r}")
        return value

    def number(self) -> float:
        value = self._value()
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(f"expected a number, got {value!r}")
        return float(value)

    def boolean(self) -> bool:
        value = self._value()
        if not isinstance(value, bool):
            raise self.error(f"expected true or false, got {value!r}")
        return value


_MATCH_FIELDS = "keywords, fields, min_attendees, max_attendees, external, rooms, paired_names"


def _parse_matches(node: _Node) -> tuple[MatchRule, ...]:
    """One match block, or a list of them: any one that holds makes the type apply."""
    import yaml

    if isinstance(node.node, yaml.SequenceNode):
        alternatives = node.sequence()
        if not alternatives:
            raise node.error("expected at least one match block")
        parsed = []
        for alternative in alternatives:
            rule = _parse_match(alternative)
            if rule.is_empty:
                raise alternative.error(
                    "an empty match block matches everything; give it a condition"
                )
            parsed.append(rule)
        return tuple(parsed)
    return (_parse_match(node),)


def _parse_match(node: _Node) -> MatchRule:
    keywords: tuple[str, ...] = ()
    fields: tuple[str, ...] = ("title", "description")
    min_att: int | None = None
    max_att: int | None = None
    external: bool | None = None
    rooms: bool | None = None
    paired: bool | None = None
    for key, child in node.items():
        if key == "keywords":
            keywords = tuple(k.string() for k in child.sequence())
            if not keywords:
                # An empty list would leave only the attendee bounds: "Lunch" with
                # four people would then be this type. Omit the key for that.
                raise child.error(
                    "needs at least one keyword (leave keywords out to match on attendees alone)"
                )
        elif key == "fields":
            fields = tuple(f.string() for f in child.sequence())
            unknown = set(fields) - _KNOWN_MATCH_FIELDS
            if unknown or not fields:
                raise child.error(f"fields must be some of {sorted(_KNOWN_MATCH_FIELDS)}")
        elif key in ("min_attendees", "max_attendees"):
            value = child.integer()
            if value < 1:
                raise child.error("must be at least 1")
            if key == "min_attendees":
                min_att = value
            else:
                max_att = value
        elif key == "external":
            external = child.boolean()
        elif key == "rooms":
            rooms = child.boolean()
        elif key == "paired_names":
            paired = child.boolean()
        else:
            raise child.error(f"unknown field (known: {_MATCH_FIELDS})")
    if min_att is not None and max_att is not None and min_att > max_att:
        raise node.error(f"min_attendees {min_att} is larger than max_attendees {max_att}")
    return MatchRule(
        keywords=keywords,
        fields=fields,
        min_attendees=min_att,
        max_attendees=max_att,
        external=external,
        rooms=rooms,
        paired_names=paired,
    )


def _parse_type(name: str, node: _Node) -> MeetingTypeRule:
    if not _NAME_RE.match(name):
        raise node.error("type names are lower_snake_case, at most 40 characters")
    label = name.replace("_", " ").capitalize()
    priority: int | None = None
    hours: float | None = None
    matches: tuple[MatchRule, ...] = ()
    for key, child in node.items():
        if key == "label":
            label = child.string()
        elif key == "priority":
            priority = child.integer()
        elif key == "prep_hours_before":
            hours = child.number()
            if not 0 <= hours <= MAX_LEAD_HOURS:
                raise child.error(f"must be between 0 and {MAX_LEAD_HOURS} hours, got {hours:g}")
        elif key == "match":
            matches = _parse_matches(child)
        else:
            raise child.error("unknown field (known: label, priority, prep_hours_before, match)")
    if hours is None:
        raise node.error("prep_hours_before is required")
    empty = all(m.is_empty for m in matches)
    if name == DEFAULT_TYPE:
        if not empty:
            raise node.error("the default type matches everything else and takes no match rules")
        priority = priority if priority is not None else -1
        matches = ()
    elif priority is None:
        raise node.error("priority is required (higher wins when several types match)")
    elif empty:
        raise node.error("match is required: keywords, attendee bounds, external or rooms")
    return MeetingTypeRule(name, label, priority, hours, matches)


def _compose(text: str) -> yaml.Node | None:
    """libyaml's parser when the PyYAML wheel has it, else (and to explain errors) PyYAML's.

    The rules load on the first card a fresh process shows, and the pure-Python
    scanner took ~30 ms of it. libyaml refuses what PyYAML refuses, but words it
    differently, so a file it refuses is parsed again by PyYAML: error messages
    and line numbers stay the ones the tests pin. Both build the same nodes with
    the same marks and the same (Python) tag resolution.
    """
    import yaml

    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        try:
            return yaml.compose(text, Loader=fast)
        except yaml.YAMLError:
            pass
    return yaml.compose(text, Loader=yaml.SafeLoader)


def parse_rules(text: str, path: str = "<memory>") -> RuleSet:
    """Parse and validate a rules document; raise `ConfigError` on any mistake."""
    import yaml

    try:
        root_node = _compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(path, line, "(document)", f"not valid YAML: {exc.problem}") from None
    except yaml.reader.ReaderError as exc:
        # Control characters (a NUL byte from a bad copy-paste): PyYAML gives an
        # offset rather than a mark, so the line is counted here.
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        problem = f"not valid YAML: character {exc.character:#06x} is not allowed"
        raise ConfigError(path, line, "(document)", problem) from None
    except yaml.YAMLError as exc:
        raise ConfigError(path, None, "(document)", f"not valid YAML: {exc}") from None
    if root_node is None:
        raise ConfigError(path, None, "(document)", "the file is empty")
    root = _Node(root_node, path, "")
    types_node: _Node | None = None
    internal: frozenset[str] = frozenset()
    for key, child in root.items():
        if key == "meeting_types":
            types_node = child
        elif key == "internal_domains":
            internal = frozenset(d.string().lower().lstrip("@") for d in child.sequence())
        elif key == "version":
            if child.integer() != 1:
                raise child.error("only version 1 is understood")
        else:
            raise child.error("unknown field (known: version, internal_domains, meeting_types)")
    if types_node is None:
        raise root.error("meeting_types is required")
    rules: list[MeetingTypeRule] = []
    default: MeetingTypeRule | None = None
    priorities: dict[int, str] = {}
    for name, child in types_node.items():
        rule = _parse_type(name, child)
        if name == DEFAULT_TYPE:
            default = rule
            continue
        if rule.priority in priorities:
            raise child.error(
                f"priority {rule.priority} is already used by {priorities[rule.priority]!r}; "
                "priorities must be unique so the winner is never ambiguous"
            )
        priorities[rule.priority] = name
        rules.append(rule)
    if default is None:
        raise types_node.error("a 'default' type is required")
    rules.sort(key=lambda r: r.priority, reverse=True)
    return RuleSet(tuple(rules), default, internal, path)


def load_rules(path: str | Path) -> RuleSet:
    """The rules of `path`: from its compiled cache when that was made from these very
    bytes, else parsed (and every mistake reported with its line) from the YAML."""
    p = Path(path)
    raw = _read(p)
    cached = _cached_rules(p, hashlib.sha256(raw).hexdigest())
    if cached is not None:
        return cached
    return parse_rules(_text(p, raw), str(p))


# --------------------------------------------------------------------------- compiled cache
#
# The first card of a fresh process loads the rules, and importing PyYAML alone
# cost ~20 ms of it. `write_rules_cache` stores the parsed, validated rules as
# JSON beside the file, with the SHA-256 of the exact bytes it was made from;
# `load_rules` uses it only when the file's bytes hash to that same value, so an
# edited file is always parsed again (never stale), and its mistakes are
# reported from the YAML with their lines. A cache that is missing, unreadable,
# of another format or of the wrong shape is ignored the same way.

#: Bump when the cache's shape changes: caches of another format are ignored.
CACHE_FORMAT = 1


def cache_path(path: str | Path) -> Path:
    """Where the compiled form of a rules file lives: beside it."""
    p = Path(path)
    return p.with_name(f"{p.stem}.compiled.json")


def _read(p: Path) -> bytes:
    try:
        return p.read_bytes()
    except OSError as exc:
        raise ConfigError(str(p), None, "(file)", f"cannot read: {exc.strerror}") from None


def _text(p: Path, raw: bytes) -> str:
    """The file as text, newlines translated as `Path.read_text` does."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(str(p), None, "(file)", "is not UTF-8 text") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _rules_json(rules: RuleSet, digest: str) -> dict[str, Any]:
    def match(m: MatchRule) -> dict[str, Any]:
        return {
            "keywords": list(m.keywords),
            "fields": list(m.fields),
            "min_attendees": m.min_attendees,
            "max_attendees": m.max_attendees,
            "external": m.external,
            "rooms": m.rooms,
            "paired_names": m.paired_names,
        }

    def rule(r: MeetingTypeRule) -> dict[str, Any]:
        return {
            "name": r.name,
            "label": r.label,
            "priority": r.priority,
            "prep_hours_before": r.prep_hours_before,
            "matches": [match(m) for m in r.matches],
        }

    return {
        "format": CACHE_FORMAT,
        "source_sha256": digest,
        "internal_domains": sorted(rules.internal_domains),
        "rules": [rule(r) for r in rules.rules],
        "default": rule(rules.default),
    }


def _typed(value: Any, kind: type | tuple[type, ...], *, optional: bool = False) -> Any:
    if (value is None and optional) or (isinstance(value, kind) and not isinstance(value, bool)):
        return value
    if kind is bool and isinstance(value, bool):
        return value
    raise TypeError(f"{value!r} is not {kind}")


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(_typed(v, str) for v in _typed(value, list))


def _match_from_json(d: Any) -> MatchRule:
    _typed(d, dict)
    return MatchRule(
        keywords=_strings(d["keywords"]),
        fields=_strings(d["fields"]),
        min_attendees=_typed(d["min_attendees"], int, optional=True),
        max_attendees=_typed(d["max_attendees"], int, optional=True),
        external=_typed(d["external"], bool, optional=True),
        rooms=_typed(d["rooms"], bool, optional=True),
        paired_names=_typed(d["paired_names"], bool, optional=True),
    )


def _rule_from_json(d: Any) -> MeetingTypeRule:
    _typed(d, dict)
    return MeetingTypeRule(
        name=_typed(d["name"], str),
        label=_typed(d["label"], str),
        priority=_typed(d["priority"], int),
        prep_hours_before=float(_typed(d["prep_hours_before"], (int, float))),
        matches=tuple(_match_from_json(m) for m in _typed(d["matches"], list)),
    )


def _cached_rules(p: Path, digest: str) -> RuleSet | None:
    """The cache's rules if it was made from bytes hashing to `digest`, else None."""
    try:
        data = json.loads(cache_path(p).read_bytes())
    except (OSError, ValueError):
        return None
    if (
        not isinstance(data, dict)
        or data.get("format") != CACHE_FORMAT
        or data.get("source_sha256") != digest
    ):
        return None
    try:
        return RuleSet(
            rules=tuple(_rule_from_json(r) for r in _typed(data["rules"], list)),
            default=_rule_from_json(data["default"]),
            internal_domains=frozenset(_strings(data["internal_domains"])),
            source=str(p),
        )
    except (KeyError, TypeError, ValueError):
        return None


def write_rules_cache(path: str | Path) -> Path:
    """Parse `path` from its YAML (raising `ConfigError` on a mistake) and write its cache."""
    p = Path(path)
    raw = _read(p)
    rules = parse_rules(_text(p, raw), str(p))
    target = cache_path(p)
    document = _rules_json(rules, hashlib.sha256(raw).hexdigest())
    target.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return target


if __name__ == "__main__":
    # python -m functions.domain.meeting_types config/meeting_types.yaml
    for name in sys.argv[1:] or ["config/meeting_types.yaml"]:
        print(write_rules_cache(name))
