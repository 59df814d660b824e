"""Progress output: the only place that writes the rehearsal to the terminal,
and the timing of each step (``step``: any error ends it as failed with its reason).
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from typing import TextIO

from deployment.results import CheckResult, Report, StepFailed, StepResult


class Console:
    """Progress lines with timings: the only place that writes to the terminal."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def line(self, text: str = "") -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def step_start(self, name: str) -> None:
        self.stream.write(f"==> {name} ...")
        self.stream.flush()

    def step_end(self, step: StepResult) -> None:
        label = {"ok": "ok", "failed": "FAILED", "skipped": "skipped"}[step.status]
        first, *rest = step.detail.splitlines() or [""]
        self.line(f" {label} ({step.seconds:.1f}s) {first}")
        for extra in rest:
            self.line(f"      {extra}")

    def check(self, result: CheckResult) -> None:
        self.line(
            f"    {result.check_id:<30} {result.status:<7} {result.where or '-':<20} "
            f"({result.seconds:.2f}s)"
        )


@contextlib.contextmanager
def step(report: Report, console: Console, name: str) -> Iterator[list[str]]:
    """Time one step; the body appends detail lines. Any error ends the step as
    failed with its reason (and is re-raised as StepFailed to stop the rest)."""
    details: list[str] = []
    console.step_start(name)
    started = time.monotonic()
    try:
        yield details
    except StepFailed as error:
        _fail_step(report, console, name, started, str(error))
        raise
    except Exception as error:
        why = f"{type(error).__name__}: {error}"
        _fail_step(report, console, name, started, why)
        raise StepFailed(why) from error
    result = StepResult(name, "ok", time.monotonic() - started, "\n".join(details))
    report.steps.append(result)
    console.step_end(result)


def _fail_step(report: Report, console: Console, name: str, started: float, why: str) -> None:
    result = StepResult(name, "failed", time.monotonic() - started, why)
    report.steps.append(result)
    report.failed_step = name
    console.step_end(result)


def skipped_step(report: Report, console: Console, name: str, why: str) -> None:
    console.step_start(name)
    result = StepResult(name, "skipped", 0.0, why)
    report.steps.append(result)
    console.step_end(result)
