"""Standing context per meeting type: documents an admin names once, read for every such meeting.

The organisational context a prep needs beyond the invitation (company
priorities for leadership meetings, the account plan for customer meetings,
the budget for QBRs) lives in documents nobody attaches to each invite.
`config/standing_context.yaml` lists them per meeting type:

    version: 1
    standing_context:
      qbr:
        - title: FY27 budget
          url: https://docs.google.com/spreadsheets/d/<file id>/edit

Each entry is read like an attachment, as the user whose meeting it is (a
user who cannot open it sees it listed as "could not be read": the config
never widens anyone's access). The file is trusted configuration, so it is
validated strictly at start: an unknown key, a type the rules do not define,
a link that is not a Drive file, or more than `MAX_PER_TYPE` entries for one
type is an error naming the file, the line and the field (as the rules are).
Its version (declared number and a hash of the file) is not part of the cache
key by itself: the documents' text and hashes are, through the context.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from functions.domain.meeting_types import ConfigError
from functions.materials.documents.port import DocumentRef, file_id_from_url

MAX_PER_TYPE = 3
TITLE_CHARS = 160
_ENTRY_KEYS = frozenset({"title", "url"})


@dataclass(frozen=True, slots=True)
class StandingContext:
    by_type: Mapping[str, tuple[DocumentRef, ...]] = field(default_factory=dict)

    def for_type(self, meeting_type: str) -> tuple[DocumentRef, ...]:
        return tuple(self.by_type.get(meeting_type, ()))


EMPTY = StandingContext()


def _line(node: Any) -> int:
    return int(node.start_mark.line) + 1


def _scalar(node: Any, source: str, where: str) -> str:
    import yaml

    if not isinstance(node, yaml.ScalarNode) or not str(node.value).strip():
        raise ConfigError(source, _line(node), where, "expected non-empty text")
    return str(node.value).strip()


def _mapping(node: Any, source: str, where: str) -> list[tuple[str, Any, int]]:
    import yaml

    if not isinstance(node, yaml.MappingNode):
        raise ConfigError(source, _line(node), where, "expected a mapping of keys to values")
    seen: set[str] = set()
    out = []
    for key_node, value in node.value:
        key = str(key_node.value)
        if key in seen:
            raise ConfigError(
                source, _line(key_node), f"{where}.{key}".lstrip("."), "appears twice"
            )
        seen.add(key)
        out.append((key, value, _line(key_node)))
    return out


def _entry(node: Any, source: str, where: str) -> DocumentRef:
    fields = {k: (v, line) for k, v, line in _mapping(node, source, where)}
    for key in fields.keys() - _ENTRY_KEYS:
        raise ConfigError(source, fields[key][1], f"{where}.{key}", "unknown key (title, url)")
    for key in sorted(_ENTRY_KEYS - fields.keys()):
        raise ConfigError(source, _line(node), where, f"{key} is required")
    title = _scalar(fields["title"][0], source, f"{where}.title")
    if len(title) > TITLE_CHARS:
        raise ConfigError(
            source, fields["title"][1], f"{where}.title", f"longer than {TITLE_CHARS} characters"
        )
    url = _scalar(fields["url"][0], source, f"{where}.url")
    file_id = file_id_from_url(url)
    if file_id is None:
        raise ConfigError(
            source,
            fields["url"][1],
            f"{where}.url",
            "expected a Google Drive or Docs link (https://docs.google.com/.../d/<id>/...)",
        )
    return DocumentRef(file_id=file_id, url=url, title=title)


def parse_standing_context(
    text: str, source: str = "<memory>", *, known_types: Collection[str] | None = None
) -> StandingContext:
    import yaml

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(source, line, "(file)", "not valid YAML") from None
    if root is None:
        return EMPTY
    top = {k: (v, line) for k, v, line in _mapping(root, source, "")}
    for key in top.keys() - {"version", "standing_context"}:
        raise ConfigError(source, top[key][1], key, "unknown key (version, standing_context)")
    if "version" in top and not _scalar(top["version"][0], source, "version").isdigit():
        raise ConfigError(source, top["version"][1], "version", "expected a whole number")
    if "standing_context" not in top:
        return EMPTY
    node, _ = top["standing_context"]
    by_type: dict[str, tuple[DocumentRef, ...]] = {}
    for meeting_type, entries, line in _mapping(node, source, "standing_context"):
        where = f"standing_context.{meeting_type}"
        if known_types is not None and meeting_type not in known_types:
            raise ConfigError(source, line, where, "not a meeting type of the rules")
        if not isinstance(entries, yaml.SequenceNode) or not entries.value:
            raise ConfigError(source, line, where, "expected a list of documents")
        if len(entries.value) > MAX_PER_TYPE:
            raise ConfigError(source, line, where, f"at most {MAX_PER_TYPE} documents per type")
        by_type[meeting_type] = tuple(
            _entry(e, source, f"{where}[{i}]") for i, e in enumerate(entries.value)
        )
    return StandingContext(by_type)


def load_standing_context(
    path: Path, *, known_types: Collection[str] | None = None
) -> StandingContext:
    """The file's standing context; no file means none (it is optional)."""
    if not path.is_file():
        return EMPTY
    return parse_standing_context(
        path.read_text(encoding="utf-8"), str(path), known_types=known_types
    )
