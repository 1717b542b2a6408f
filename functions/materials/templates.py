"""Per-meeting-type prep templates from `config/prep_templates.yaml`.

Templates are trusted configuration (written by admins), so unlike meeting
text they are given to the model as instructions. Their version is the
declared `version` plus a hash of the file, so editing a template changes the
cache key and the next generation writes fresh materials.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

DEFAULT_TEMPLATE = "default"

_Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class AgendaStep(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    item: _Line
    minutes: int = Field(ge=1, le=240)


class PrepTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    focus: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    objectives: tuple[_Line, ...] = Field(default=(), max_length=8)
    agenda: tuple[AgendaStep, ...] = Field(min_length=1, max_length=12)
    questions: tuple[_Line, ...] = Field(default=(), max_length=10)
    talking_points: tuple[_Line, ...] = Field(default=(), max_length=10)


class _TemplateFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1)
    templates: dict[str, PrepTemplate]


class TemplateError(ValueError):
    """The templates file is wrong; the message names the file and the field."""


class TemplateSet:
    """All templates of one file; unknown types fall back to `default`."""

    def __init__(self, templates: Mapping[str, PrepTemplate], version: str, source: str) -> None:
        if DEFAULT_TEMPLATE not in templates:
            raise TemplateError(f"{source}: templates: a `default` template is required")
        self._templates = dict(templates)
        self.version = version
        self.source = source

    def for_type(self, meeting_type: str) -> PrepTemplate:
        return self._templates.get(meeting_type, self._templates[DEFAULT_TEMPLATE])

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._templates)


def parse_templates(text: str, source: str = "<memory>") -> TemplateSet:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TemplateError(f"{source}: not valid YAML ({type(exc).__name__})") from None
    try:
        parsed = _TemplateFile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(file)"
        raise TemplateError(f"{source}: {where}: {first['msg']}") from None
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    return TemplateSet(parsed.templates, f"{parsed.version}-{digest}", source)


def load_templates(path: Path) -> TemplateSet:
    return parse_templates(path.read_text(encoding="utf-8"), str(path))
