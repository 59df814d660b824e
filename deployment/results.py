"""The rehearsal's vocabulary of verdicts: a check is PASS, FAIL or NOT RUN and
says where it ran; a step is ok, failed or skipped; the report holds both and
is written as JSON (atomically).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from deployment.emulator import EMULATOR_GAPS
from sam_project.files import write_atomically

Status = Literal["PASS", "FAIL", "NOT RUN"]
Where = Literal["emulator", "transformed template", "aws"]
PASS: Status = "PASS"  # noqa: S105 -- a check status, not a password
FAIL: Status = "FAIL"
NOT_RUN: Status = "NOT RUN"
EMULATOR: Where = "emulator"
TEMPLATE: Where = "transformed template"
AWS: Where = "aws"


@dataclass(frozen=True)
class CheckResult:
    """One check's verdict. ``where`` is None exactly when it did not run."""

    check_id: str
    title: str
    status: Status
    where: Where | None
    detail: str
    seconds: float = 0.0
    gap: str | None = None

    def __post_init__(self) -> None:
        if (self.status == NOT_RUN) != (self.where is None):
            raise ValueError("a check says where it ran exactly when it ran")

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.check_id,
            "title": self.title,
            "status": self.status,
            "where": self.where,
            "detail": self.detail,
            "seconds": round(self.seconds, 3),
            "emulator_gap": self.gap,
            "gap_description": EMULATOR_GAPS.get(self.gap) if self.gap else None,
        }


@dataclass(frozen=True)
class StepResult:
    name: str
    status: Literal["ok", "failed", "skipped"]
    seconds: float
    detail: str

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "seconds": round(self.seconds, 3),
            "detail": self.detail,
        }


@dataclass
class Report:
    """Everything the rehearsal did, in the shape ``--report`` writes."""

    mode: Literal["emulator", "aws"]
    stack_name: str
    region: str | None = None
    account: str | None = None
    endpoint_url: str | None = None
    steps: list[StepResult] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    failed_step: str | None = None
    emulator: dict[str, Any] = field(default_factory=dict)
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    seconds: float = 0.0
    work_dir: str | None = None

    def counts(self) -> dict[str, int]:
        return {
            status: sum(1 for check in self.checks if check.status == status)
            for status in (PASS, FAIL, NOT_RUN)
        }

    def where_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for check in self.checks:
            if check.where is not None:
                counts[check.where] = counts.get(check.where, 0) + 1
        return counts

    @property
    def ok(self) -> bool:
        """No step failed, at least one check ran, and every check that ran passed.

        NOT RUN is never a pass: a rehearsal in which nothing ran is not ok.
        """
        ran = [check for check in self.checks if check.status != NOT_RUN]
        return self.failed_step is None and bool(ran) and all(c.status == PASS for c in ran)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def as_json(self) -> dict[str, Any]:
        counts = self.counts()
        return {
            "schema": 1,
            "ok": self.ok,
            "exit_code": self.exit_code,
            "mode": self.mode,
            "stack_name": self.stack_name,
            "region": self.region,
            "account": self.account,
            "endpoint_url": self.endpoint_url,
            "started_at": self.started_at,
            "seconds": round(self.seconds, 3),
            "failed_step": self.failed_step,
            "summary": {
                "passed": counts[PASS],
                "failed": counts[FAIL],
                "not_run": counts[NOT_RUN],
                "ran_on": self.where_counts(),
            },
            "steps": [step.as_json() for step in self.steps],
            "checks": [check.as_json() for check in self.checks],
            "emulator": self.emulator or None,
            "work_dir": self.work_dir,
        }


def write_report(path: Path, report: Report) -> None:
    """Write the JSON report via a temp file and rename, so a reader (CI, a
    test waiting for it) never sees half a report."""
    write_atomically(path, json.dumps(report.as_json(), indent=2) + "\n")


class CheckFailed(Exception):
    """The check ran and found a problem (or the resource it needs is missing)."""


class CheckNotRun(Exception):
    """The check could not run; the message says why. Never counted as a pass."""


@dataclass(frozen=True)
class Outcome:
    """What a check function returns: verdict, where it looked, and what it saw."""

    passed: bool
    where: Where
    detail: str
    gap: str | None = None


class StepFailed(Exception):
    """A rehearsal step failed; the message is the reason shown to the user."""
