"""A deployment step as data, and how a plan of them is printed.

A step is a purpose plus a gcloud argv, with the little logic that makes a
re-run safe: a `probe` (describe) that decides between `argv` (create) and
`update`; `exists_ok` for creates whose "already exists" means done; checks on
the output (`expect`, `require_output`) for values that must match what the
plan assumed. Manual steps carry console instructions instead of a command.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field

Argv = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FileArtifact:
    """A file the plan writes before the step that reads it (lifecycle rules, manifest)."""

    path: str
    content: str


@dataclass(frozen=True, slots=True)
class Step:
    section: str
    purpose: str
    argv: Argv = ()
    #: Run first; success means the resource exists, and then `update` runs instead of `argv`.
    probe: Argv | None = None
    #: What to run when the probe finds the resource (None: nothing to do).
    update: Argv | None = None
    #: `argv` failing with "already exists" counts as done.
    exists_ok: bool = False
    #: The command's output must contain each of these.
    expect: tuple[str, ...] = ()
    #: The command's output must not be empty.
    require_output: bool = False
    #: Said when the step fails: what to do about it.
    hint: str = ""
    #: IAM is eventually consistent: a fresh service account can be briefly unknown.
    attempts: int = 1
    files: tuple[FileArtifact, ...] = ()
    #: Console instructions for what gcloud cannot do; such a step runs nothing.
    manual: str = ""
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if bool(self.argv) == bool(self.manual):
            raise ValueError("a step is either a command or manual instructions")
        if self.update is not None and self.probe is None:
            raise ValueError("an update needs a probe to decide on it")

    @property
    def is_check(self) -> bool:
        return bool(self.expect) or self.require_output


def render_step(number: int, total: int, step: Step) -> str:
    lines = [f"# [{number}/{total}] {step.section}: {step.purpose}"]
    lines += [f"#   {note}" for note in step.notes]
    if step.manual:
        lines += [f"#   {line}" if line else "#" for line in step.manual.splitlines()]
        return "\n".join(lines)
    if step.probe is not None:
        lines.append(f"#   exists if: {shlex.join(step.probe)}")
        if step.update is not None:
            lines.append(f"#   then instead: {shlex.join(step.update)}")
        else:
            lines.append("#   then nothing to do")
    if step.exists_ok:
        lines.append('#   an "already exists" answer counts as done')
    if step.expect:
        lines.append(f"#   output must contain: {', '.join(step.expect)}")
    if step.require_output:
        lines.append("#   output must not be empty")
    for artifact in step.files:
        lines.append(f"#   writes {artifact.path} first (shown at the end)")
    lines.append(shlex.join(step.argv))
    return "\n".join(lines)


def render(steps: Sequence[Step]) -> str:
    total = len(steps)
    return "\n\n".join(render_step(n, total, s) for n, s in enumerate(steps, start=1))
