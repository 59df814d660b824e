"""Effective severities: a pure layer over the findings every check produced.

The checks decide *what* is wrong and how bad it is by default; the user decides which
of those they accept (``--severity``, the config file of :mod:`policy_gen.project_config`,
a suppression in the resource's ``Metadata``, read by
:mod:`policy_gen.inline_suppressions`). Keeping that decision out of the checks means it
works the same for every finding code, including codes added later, and the checks stay
testable without any configuration.

No change is ever silent: a finding turned ``off`` or suppressed is kept, marked with
why (the config file and code, or the template's reason), counted in the summary and
listed in JSON and SARIF. A suppression that matched nothing is a note of its own
(``SUPPRESSION_UNUSED``), so a stale or misplaced one is seen.

Order: a suppression in the template wins over the level (it carries a reason); the
command line's level wins over the config file's (:mod:`policy_gen.project_config`
merges them); ``--strict`` then makes every remaining warning an error. Notes never fail
a run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from policy_gen.project_config import Level, Override
from policy_gen.validate import Finding

SUPPRESSION_UNUSED: Final = "SUPPRESSION_UNUSED"


@dataclass(frozen=True)
class Located:
    """A finding as a check produced it, with the file and resource it concerns."""

    file: str | None
    resource: str | None
    finding: Finding


@dataclass(frozen=True)
class Suppression:
    """One entry of a resource's ``Metadata.policy-gen.suppress``."""

    code: str
    reason: str


@dataclass(frozen=True)
class Suppressed:
    """Why a finding does not count: SARIF's suppression kinds."""

    kind: Literal["inSource", "external"]
    justification: str


@dataclass(frozen=True)
class Assessed:
    """A finding with the severity it has for this run."""

    file: str | None
    resource: str | None
    finding: Finding
    level: Level
    source: str | None = None  # where the level was set; None: the check's default
    suppressed: Suppressed | None = None

    @property
    def counts(self) -> bool:
        """Whether it is reported as an error, warning or note (not ignored/suppressed)."""
        return self.suppressed is None

    def as_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            **self.finding.as_json(),
            "severity": self.level,
            "default_severity": self.finding.severity,
            "resource": self.resource,
            "file": self.file,
        }
        if self.source is not None:
            data["severity_set_by"] = self.source
        if self.suppressed is not None:
            data["suppression"] = {
                "kind": self.suppressed.kind,
                "justification": self.suppressed.justification,
            }
        return data


@dataclass(frozen=True)
class Counts:
    errors: int
    warnings: int
    notes: int
    ignored: int  # turned off by configuration
    suppressed: int  # suppressed in the template

    @property
    def exit_code(self) -> int:
        return 1 if self.errors else 0


SuppressionMap = Mapping[tuple[str | None, str], Sequence[Suppression]]


def _level(finding: Finding, override: Override | None, strict: bool) -> tuple[Level, str | None]:
    level: Level = override.level if override is not None else finding.severity
    source = override.source if override is not None else None
    if strict and level == "warning":
        return "error", "--strict" if source is None else f"{source}, then --strict"
    return level, source


def _judged(
    item: Located, overrides: Mapping[str, Override], strict: bool, reason: str | None
) -> Assessed:
    """One finding's effective level, and why it does not count if it does not."""
    finding = item.finding
    level, source = _level(finding, overrides.get(finding.code), strict)
    suppressed = None
    if reason is not None:
        suppressed = Suppressed("inSource", reason)
    elif level == "off":
        suppressed = Suppressed("external", f"{finding.code} is turned off in {source}")
    if level == "off":
        level = finding.severity  # what it would have been: SARIF keeps the real level
    return Assessed(item.file, item.resource, finding, level, source, suppressed)


def assess(
    located: Sequence[Located],
    overrides: Mapping[str, Override],
    suppressions: SuppressionMap,
    *,
    strict: bool = False,
) -> list[Assessed]:
    """Every finding with its effective severity, plus one note per unused suppression.

    ``suppressions`` maps (file, resource) to that resource's suppressions.
    """
    used: set[tuple[str | None, str, str]] = set()
    assessed = []
    for item in located:
        code = item.finding.code
        reason = None
        if item.resource is not None:
            entries = suppressions.get((item.file, item.resource), ())
            reason = next((entry.reason for entry in entries if entry.code == code), None)
            if reason is not None:
                used.add((item.file, item.resource, code))
        assessed.append(_judged(item, overrides, strict, reason))
    for (file, resource), entries in suppressions.items():
        for entry in entries:
            if (file, resource, entry.code) in used:
                continue
            unused = Finding(
                SUPPRESSION_UNUSED,
                "note",
                f"{resource} suppresses {entry.code}, but no {entry.code} was found for it "
                "in this run: remove the suppression, or check its resource",
            )
            assessed.append(_judged(Located(file, resource, unused), overrides, strict, None))
    return assessed


def count(assessed: Sequence[Assessed]) -> Counts:
    counted = [item.level for item in assessed if item.counts]
    return Counts(
        errors=counted.count("error"),
        warnings=counted.count("warning"),
        notes=counted.count("note"),
        ignored=sum(1 for i in assessed if i.suppressed and i.suppressed.kind == "external"),
        suppressed=sum(1 for i in assessed if i.suppressed and i.suppressed.kind == "inSource"),
    )
