"""One check-template run over many paths: find the templates, check each, apply the
user's severities, print one report and return one exit code.

The pieces each have their own module: which files are templates
(:mod:`policy_gen.template_paths`), what one template's findings are
(:mod:`policy_gen.check_template`), which severities the user set
(:mod:`policy_gen.project_config`, :mod:`policy_gen.inline_suppressions`) and what they
make of each finding (:mod:`policy_gen.severity`). This module only runs them in order
and writes the report: text for people, JSON for scripts, SARIF for code scanning; all
three say the same things, including what was skipped, ignored or suppressed.

Exit code: 0 no errors, 1 errors (after severities), 2 bad input. A template that cannot
be read is reported on stderr and makes the exit code 2, while the report of the others
is still printed (JSON lists it under ``errors``, SARIF as a failed execution). A single
bad file and nothing else, or paths holding no template at all, is a plain bad-input
refusal: one line, nothing on stdout (with ``--skip-non-templates``, no template is an
empty, passing report: a commit may change no template).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from policy_gen.check_template import TemplateReport, check_template
from policy_gen.inline_suppressions import read_suppressions
from policy_gen.locations import Locator
from policy_gen.partitions import Partition, check_account, resolve_partition
from policy_gen.project_config import Settings, load_settings
from policy_gen.sarif import RULES, sarif_document, sarif_result
from policy_gen.severity import Assessed, Counts, Located, Suppression, assess, count
from policy_gen.template import MAX_TEMPLATE_BYTES, Resolver, parse_template_text
from policy_gen.template_paths import (
    Candidate,
    expand_paths,
    looks_like_template,
    mentions_template_keys,
    too_big,
)
from sam_project.documents import load_yaml, parse_json
from sam_project.errors import UserError
from sam_project.files import read_text_file
from sam_project.overrides import parse_parameter_overrides

KEY_WIDE_CHECKS: Final = "checked for MALFORMED, CROSS_ACCOUNT, LOCKOUT and PUBLIC"
# Skipped files listed by name in the text report; the rest are counted (JSON lists all).
MAX_SKIPPED_LISTED: Final = 10
NOT_A_TEMPLATE: Final = "not a CloudFormation template"


@dataclass
class Checked:
    """One template checked: where, as what stack, and its findings."""

    path: str
    text: str  # kept only for --format sarif (result lines)
    where: str  # "partition/region/account"
    report: TemplateReport
    suppressions: dict[str, list[Suppression]]
    located: list[Located]


@dataclass
class Run:
    settings: Settings
    checked: list[Checked] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    failed: list[UserError] = field(default_factory=list)
    assessed: list[Assessed] = field(default_factory=list)

    @property
    def counts(self) -> Counts:
        return count(self.assessed)

    @property
    def exit_code(self) -> int:
        return 2 if self.failed else self.counts.exit_code


def known_codes() -> list[str]:
    """Every finding code a user may name: the SARIF rule table lists them all."""
    return list(RULES)


# --- reading ----------------------------------------------------------------------------


def _document(text: str, label: str) -> object:
    """The text as data, for telling a broken template from a file that is no template."""
    try:
        if text.lstrip().startswith("{"):
            return parse_json(text, label)
        return load_yaml(text, label, short_tags=True)
    except UserError:
        return None


def _load(candidate: Candidate, run: Run) -> tuple[str, dict[str, Any]] | None:
    """The template's text and data; a skip (walked files) or a failure otherwise."""
    label = f"template {candidate.path!r}"
    if not candidate.explicit and too_big(candidate.path, MAX_TEMPLATE_BYTES):
        run.skipped.append(
            (candidate.path, f"larger than {MAX_TEMPLATE_BYTES} bytes, CloudFormation's limit")
        )
        return None
    try:
        text = read_text_file(
            candidate.path,
            limit=MAX_TEMPLATE_BYTES,
            what=label,
            expected="a SAM or CloudFormation template",
        )
    except UserError as error:
        if candidate.explicit:
            run.failed.append(error)
        else:
            run.skipped.append((candidate.path, f"cannot read: {error}"))
        return None
    if not candidate.explicit and not mentions_template_keys(text):
        run.skipped.append((candidate.path, NOT_A_TEMPLATE))
        return None
    try:
        return text, parse_template_text(text, label)
    except UserError as error:
        if candidate.explicit or looks_like_template(_document(text, label)):
            run.failed.append(error)  # a template we cannot read is never skipped quietly
        else:
            run.skipped.append((candidate.path, NOT_A_TEMPLATE))
        return None


def _check(
    path: str,
    text: str,
    template: dict[str, Any],
    args: argparse.Namespace,
    place: Place,
    overrides: dict[str, str],
) -> Checked:
    region = args.region or overrides.get("PolicyRegion") or place.region
    account = check_account(args.account or overrides.get("PolicyAccountId") or place.account)
    partition: Partition = resolve_partition(args.partition, region, args.logs_principal)
    resolver = Resolver.for_template(
        template,
        overrides,
        region=region,
        account=account,
        partition=partition.name,
        stack_name=args.stack_name,
        symbolic=True,
    )
    report = check_template(
        template, resolver, partition, external_log_groups=args.external_log_group
    )
    suppressions, problems = read_suppressions(template, known_codes())
    located = [
        Located(path, resource, finding)
        for resource, finding in [*report.all_findings(), *problems]
    ]
    kept = text if args.format == "sarif" else ""  # for result lines; else not held on to
    return Checked(
        path, kept, f"{partition.name}/{region}/{account}", report, suppressions, located
    )


@dataclass(frozen=True)
class Place:
    """Region and account to check for when neither the command line nor the template's
    PolicyRegion/PolicyAccountId parameters say (the CLI's documented defaults)."""

    region: str
    account: str


def collect(args: argparse.Namespace, place: Place) -> Run:
    """Find, read and check every template of the command line; assess the findings."""
    settings = load_settings(
        severity_options=args.severity,
        config=args.config,
        no_config=args.no_config,
        known=known_codes(),
    )
    run = Run(settings)
    expansion = expand_paths(args.template)
    run.skipped.extend(expansion.skipped)
    candidates = expansion.candidates
    if args.skip_non_templates:  # named by a tool (pre-commit), not by the user
        candidates = [Candidate(candidate.path, explicit=False) for candidate in candidates]
    overrides = parse_parameter_overrides(args.parameter_overrides)
    declared: set[str] = set()
    for candidate in candidates:
        loaded = _load(candidate, run)
        if loaded is None:
            continue
        mine = overrides
        if len(candidates) > 1:
            # Each template gets the values of the parameters it declares; a value no
            # template declares is a typo, refused below.
            parameters = loaded[1].get("Parameters")
            names = set(parameters) if isinstance(parameters, dict) else set()
            declared |= names
            mine = {name: value for name, value in overrides.items() if name in names}
        try:
            run.checked.append(_check(candidate.path, *loaded, args, place, mine))
        except UserError as error:
            run.failed.append(error)
    unused = sorted(set(overrides) - declared) if len(candidates) > 1 and run.checked else []
    if unused:
        raise UserError(
            f"parameter override(s) {', '.join(map(repr, unused))} are parameters of none of "
            f"the {len(run.checked)} template(s) checked: expected a parameter one declares"
        )
    run.assessed = assess(
        [item for checked in run.checked for item in checked.located],
        settings.overrides,
        {
            (checked.path, resource): entries
            for checked in run.checked
            for resource, entries in checked.suppressions.items()
        },
        strict=args.strict,
    )
    return run


# --- writing ----------------------------------------------------------------------------


def _level_note(item: Assessed) -> str:
    if item.source is None:
        return ""
    return f" ({item.finding.severity} by default; {item.level} per {item.source})"


def _finding_line(item: Assessed) -> str:
    where = f" [{item.resource}]" if item.resource else ""
    statement = f" (statement {item.finding.statement})" if item.finding.statement else ""
    subject = f"{item.finding.code}{where}{statement}"
    if item.suppressed is not None:
        why = f"(reason: {item.suppressed.justification})"
        return f"  SUPPRESSED {subject} {why}: {item.finding.message}"
    return f"  {item.level.upper():<7} {subject}{_level_note(item)}: {item.finding.message}"


def summary(counts: Counts) -> str:
    verdict = "VALID" if counts.errors == 0 else "INVALID"
    parts = [f"{counts.errors} error(s)", f"{counts.warnings} warning(s)"]
    if counts.notes:
        parts.append(f"{counts.notes} note(s)")
    line = f"{verdict} ({', '.join(parts)})"
    if counts.ignored:
        line += f"; {counts.ignored} finding(s) ignored by configuration"
    if counts.suppressed:
        line += f"; {counts.suppressed} finding(s) suppressed in the template"
    return line


def _key_lines(report: TemplateReport) -> list[str]:
    lines = []
    for key in report.keys:
        groups = ", ".join(key.log_groups) or "no log groups"
        if key.topics:
            groups += f"; SNS topics {', '.join(key.topics)} (for their publishers)"
        status = (
            f"not checked ({key.why_unchecked})"
            if key.report is None
            else ("valid" if key.report.valid else "INVALID")
        )
        scope = "" if key.log_groups or key.report is None else f" ({KEY_WIDE_CHECKS})"
        lines.append(f"  key {key.logical_id}: encrypts {groups}: policy {status}{scope}")
    return lines


def render_text(run: Run, stack_name: str) -> str:
    lines = []
    if run.settings.overrides:
        chosen = ", ".join(
            f"{code}={o.level} ({o.source})" for code, o in sorted(run.settings.overrides.items())
        )
        lines.append(f"Severities set: {chosen}")
    by_file: dict[str | None, list[Assessed]] = {}
    for item in run.assessed:
        by_file.setdefault(item.file, []).append(item)
    for checked in run.checked:
        mine = by_file.get(checked.path, [])
        lines.append(f"Template {checked.path} as stack {stack_name} in {checked.where}")
        lines.extend(_key_lines(checked.report))
        lines.append("Findings:")
        shown = [
            item for item in mine if item.suppressed is None or item.suppressed.kind == "inSource"
        ]
        lines.extend([_finding_line(item) for item in shown] or ["  none"])
        ignored = Counter(
            (item.finding.code, item.source)
            for item in mine
            if item.suppressed is not None and item.suppressed.kind == "external"
        )
        for (code, source), number in sorted(ignored.items(), key=str):
            lines.append(f"  IGNORED {code} x{number} (off per {source})")
        lines.append(f"Result: {summary(count(mine))}")
    if run.skipped:
        reasons = Counter(reason.split(":")[0] for _, reason in run.skipped)
        lines.append(
            f"Skipped {len(run.skipped)} file(s): "
            + ", ".join(f"{number} {reason}" for reason, number in reasons.most_common())
        )
        lines.extend(f"  {path}: {reason}" for path, reason in run.skipped[:MAX_SKIPPED_LISTED])
        if len(run.skipped) > MAX_SKIPPED_LISTED:
            lines.append(
                f"  ... and {len(run.skipped) - MAX_SKIPPED_LISTED} more (--format json lists all)"
            )
    if len(run.checked) != 1 or run.failed:
        failed = f", {len(run.failed)} could not be read" if run.failed else ""
        lines.append(f"Total: {len(run.checked)} template(s){failed}: {summary(run.counts)}")
    return "\n".join(lines)


def render_json(run: Run) -> dict[str, Any]:
    counts = run.counts
    return {
        "valid": counts.errors == 0 and not run.failed,
        "findings": [item.as_json() for item in run.assessed if item.suppressed is None],
        "suppressed": [item.as_json() for item in run.assessed if item.suppressed is not None],
        "keys": [
            {
                "key": key.logical_id,
                "log_groups": key.log_groups,
                "topics": key.topics,
                "valid": key.report.valid if key.report else None,
                **({"not_checked": key.why_unchecked} if key.report is None else {}),
                "file": checked.path,
            }
            for checked in run.checked
            for key in checked.report.keys
        ],
        "templates": [checked.path for checked in run.checked],
        "skipped": [{"file": path, "reason": reason} for path, reason in run.skipped],
        "errors": [str(error) for error in run.failed],
        "summary": {
            "errors": counts.errors,
            "warnings": counts.warnings,
            "notes": counts.notes,
            "ignored_by_configuration": counts.ignored,
            "suppressed_in_template": counts.suppressed,
        },
        "severities": {
            code: {"severity": override.level, "set_by": override.source}
            for code, override in sorted(run.settings.overrides.items())
        },
    }


def render_sarif(run: Run) -> dict[str, Any]:
    locators = {checked.path: Locator.of_text(checked.text) for checked in run.checked}
    results = []
    for item in run.assessed:
        locator = locators.get(item.file or "")
        line = (
            locator.template_finding(item.resource, item.finding.statement)
            if locator is not None and item.resource is not None
            else None
        )
        suppression = (
            (item.suppressed.kind, item.suppressed.justification) if item.suppressed else None
        )
        results.append(
            sarif_result(
                item.resource, item.finding, item.file, line, level=item.level,
                suppression=suppression,
            )
        )  # fmt: skip
    notifications: list[tuple[str, str, str | None]] = [
        ("note", f"skipped {path}: {reason}", path) for path, reason in run.skipped
    ]
    notifications += [("error", str(error), None) for error in run.failed]
    return sarif_document(
        results,
        overrides=[(code, o.level) for code, o in sorted(run.settings.overrides.items())],
        notifications=notifications,
        successful=not run.failed,
    )


# What a report must not write as it is: a lone surrogate (a UTF-8 stdout cannot encode it)
# and control characters other than newline and tab (a template's text could move the
# cursor, recolour or erase what the terminal shows: an escape-sequence injection).
UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def run_check_template(args: argparse.Namespace, place: Place) -> int:
    """The check-template command: see the module docstring for the exit codes."""
    run = collect(args, place)
    if not run.checked and len(run.failed) == 1:
        raise run.failed[0]  # one bad file and nothing else: a plain refusal
    if not run.checked and not run.failed and not args.skip_non_templates:
        kinds = Counter(reason.split(":")[0] for _, reason in run.skipped)
        raise UserError(
            f"found no CloudFormation template in {', '.join(map(repr, args.template))} "
            f"({', '.join(f'{n} {kind}' for kind, n in kinds.most_common())}): expected "
            "templates (Resources with Type entries, AWSTemplateFormatVersion or Transform)"
        )
    for error in run.failed:
        sys.stderr.write(f"policy_gen check-template: error: {error}\n")
    printers: dict[str, Callable[[], str]] = {
        "json": lambda: json.dumps(render_json(run), indent=2),
        "sarif": lambda: json.dumps(render_sarif(run), indent=2),
        "text": lambda: render_text(run, args.stack_name),
    }
    print(printable(printers[args.format]()))
    return run.exit_code


def printable(text: str) -> str:
    """``text`` with each lone surrogate shown as U+FFFD and each control character other
    than newline and tab as ``\\xNN``.

    Why: Python reads a file name that is not UTF-8 with lone surrogates (PEP 383) and a
    JSON template can spell one (an escaped ``\\ud800``); a UTF-8 stdout refuses to
    encode them, and the report must print, not end in a traceback. A template is
    untrusted input: text it supplies (a suppression's reason, a name) must not reach
    the terminal as escape sequences.
    """
    return UNPRINTABLE.sub(
        lambda m: "\ufffd" if m.group(0) >= "\ud800" else f"\\x{ord(m.group(0)):02x}", text
    )
