"""Run a plan step by step; stop at the first failure; make a re-run safe.

Each step is one gcloud call (plus a describe probe where a resource may
already exist), so a failure points at one command with its own stderr and a
hint. Re-running after a fix starts from the top: probes turn creates into
updates, "already exists" answers count as done, and the rest of gcloud's
commands here (`services enable`, `deploy`, `add-iam-policy-binding`,
`ttls update`) are idempotent by nature.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from deploy.plan import Plan
from deploy.steps import Step
from functions.config import REPO_ROOT

_ALREADY_EXISTS = re.compile(r"already[ _]exists", re.IGNORECASE)
#: Between attempts of a step marked retryable (IAM propagation takes seconds).
RETRY_DELAY_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.code == 0


Run = Callable[[Sequence[str]], Result]


def run_gcloud(argv: Sequence[str]) -> Result:
    """Run one command from the repository root (`--source=.`), never prompting."""
    env = {**os.environ, "CLOUDSDK_CORE_DISABLE_PROMPTS": "1"}
    try:
        done = subprocess.run(  # noqa: S603 - argv built by the plan, no shell
            list(argv), cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        return Result(127, "", f"{argv[0]} not found on PATH: install the Google Cloud CLI")
    return Result(done.returncode, done.stdout, done.stderr)


class StepFailed(Exception):
    def __init__(self, step: Step, result: Result, reason: str) -> None:
        super().__init__(reason)
        self.step = step
        self.result = result
        self.reason = reason


class Applier:
    def __init__(
        self,
        plan: Plan,
        *,
        run: Run = run_gcloud,
        out: TextIO,
        sleep: Callable[[float], None] = time.sleep,
        retry_delay: float = RETRY_DELAY_SECONDS,
    ) -> None:
        self.plan = plan
        self.run = run
        self.out = out
        self.sleep = sleep
        self.retry_delay = retry_delay

    def write_files(self, step: Step) -> None:
        for artifact in step.files:
            path = Path(artifact.path)
            path = path if path.is_absolute() else REPO_ROOT / path
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(artifact.content, encoding="utf-8")

    def attempt(self, step: Step, argv: Sequence[str]) -> Result:
        result = self.run(argv)
        for _ in range(step.attempts - 1):
            if result.ok:
                break
            self.sleep(self.retry_delay)
            result = self.run(argv)
        return result

    def execute(self, step: Step) -> str:
        """Run one step; returns what happened, raises StepFailed."""
        if step.manual:
            return "manual: see the instructions above"
        self.write_files(step)
        if step.probe is not None and self.run(step.probe).ok:
            if step.update is None:
                return "exists"
            result = self.attempt(step, step.update)
            if not result.ok:
                raise StepFailed(step, result, "update failed")
            return "updated"
        result = self.attempt(step, step.argv)
        if not result.ok:
            if step.exists_ok and _ALREADY_EXISTS.search(result.stderr + result.stdout):
                return "exists"
            raise StepFailed(step, result, f"exit status {result.code}")
        missing = [text for text in step.expect if text not in result.stdout]
        if missing:
            raise StepFailed(step, result, f"output lacks {', '.join(missing)}")
        if step.require_output and not result.stdout.strip():
            raise StepFailed(step, result, "no output")
        return "ok"

    def apply(self) -> int:
        steps = self.plan.steps
        for number, step in enumerate(steps, start=1):
            print(f"[{number}/{len(steps)}] {step.section}: {step.purpose}", file=self.out)
            if step.manual:
                for line in step.manual.splitlines():
                    print(f"    {line}", file=self.out)
            try:
                outcome = self.execute(step)
            except StepFailed as failed:
                self._report(number, failed)
                return 1
            print(f"    -> {outcome}", file=self.out, flush=True)
        print(f"Done: {len(steps)} steps.", file=self.out)
        return 0

    def _report(self, number: int, failed: StepFailed) -> None:
        print(f"    -> FAILED ({failed.reason})", file=self.out)
        print(f"Stopped at step {number}: {failed.step.purpose}", file=self.out)
        detail = (failed.result.stderr or failed.result.stdout).strip()
        if detail:
            tail = detail.splitlines()[-15:]
            print("gcloud said:\n" + "\n".join(f"    {line}" for line in tail), file=self.out)
        if failed.step.hint:
            print(failed.step.hint, file=self.out)
        print(
            "Fix it and run the same command again: finished steps are safe to repeat.",
            file=self.out,
        )
