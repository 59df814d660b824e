"""The ``audit`` command: check the options, collect from AWS, judge, print.

Orchestration only: the AWS calls are in ``aws`` (and ``org_aws``), the decisions in
``judge`` and ``fixes``, the formats in ``output`` (and ``org_output``); an
organization audit is run by ``org_run``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TextIO, TypeVar

import boto3

from policy_gen.audit import aws, org_output
from policy_gen.audit.aws import AuditOptions, AwsFacts, check_options
from policy_gen.audit.fixes import suggest_fixes
from policy_gen.audit.judge import audit
from policy_gen.audit.model import AuditReport, LogGroup
from policy_gen.audit.org_run import collect_org
from policy_gen.audit.org_scope import OrgOptions, split_regions
from policy_gen.audit.output import audit_json, summary_line, write_csv, write_text
from policy_gen.audit.progress import Progress
from sam_project.errors import UserError

R = TypeVar("R")


def collect(
    options: AuditOptions, session: boto3.session.Session, progress: Progress | None = None
) -> AuditReport:
    """List, look up and judge: the whole audit, returned as data (the bench uses it)."""
    progress = progress or Progress(sys.stderr, "off")
    options = check_options(options, session)
    facts = AwsFacts(session, options.endpoint_url)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    account = facts.account(options.regions[0])
    groups: list[LogGroup] = []
    unencrypted = 0
    for region in options.regions:

        def listed(count: int, region: str = region) -> None:
            progress.listed(region, count)

        found, skipped = facts.log_groups(region, account, options.prefix, listed)
        progress.listed(region, len(found) + skipped, done=True)
        groups.extend(found)
        unencrypted += skipped
    timings["list"] = time.perf_counter() - started
    refs: dict[str, str] = {}
    for group in groups:
        refs.setdefault(group.kms_key_id, group.region)
    started = time.perf_counter()
    keys = facts.fetch_keys(refs, options.concurrency, progress.keys) if refs else {}
    progress.finish()
    timings["keys"] = time.perf_counter() - started
    started = time.perf_counter()
    results = audit(groups, keys)
    fixes = suggest_fixes(results) if options.suggest_fix else None
    timings["evaluate"] = time.perf_counter() - started
    return AuditReport(
        account, options.regions, results, keys, unencrypted, facts.calls, timings, fixes
    )


@dataclass(frozen=True)
class Formats(Generic[R]):
    """How one kind of report is written in each ``--format``."""

    json: Callable[[R], dict[str, Any]]
    csv: Callable[[R, TextIO], None]
    text: Callable[[R, TextIO], None]
    summary: Callable[[R], str]


ACCOUNT_FORMATS = Formats(audit_json, write_csv, write_text, summary_line)
ORG_FORMATS = Formats(
    org_output.audit_json, org_output.write_csv, org_output.write_text, org_output.summary_line
)


def write_report(
    report: R, output_format: str, formats: Formats[R], stdout: TextIO, stderr: TextIO
) -> None:
    """The report on stdout; with CSV the summary goes to stderr, so stdout stays CSV."""
    if output_format == "json":
        stdout.write(json.dumps(formats.json(report), indent=2) + "\n")
    elif output_format == "csv":
        formats.csv(report, stdout)
        stderr.write(formats.summary(report) + "\n")
    else:
        formats.text(report, stdout)


def run(
    options: AuditOptions,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """The audit command: collect, print in the chosen format, exit 1 if anything is broken."""
    stderr = stderr or sys.stderr
    # Looked up in ``aws`` at call time: the tests replace it to watch the calls.
    session = aws.new_session(options.profile)
    report = collect(options, session, Progress.for_output(stderr, options.output_format))
    write_report(report, options.output_format, ACCOUNT_FORMATS, stdout or sys.stdout, stderr)
    return report.exit_code


def run_org(
    options: AuditOptions,
    org: OrgOptions,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """``audit --organization``: every member account and region, one report."""
    stderr = stderr or sys.stderr
    session = aws.new_session(options.profile)
    progress = Progress.for_output(stderr, options.output_format)
    report = collect_org(options, org, session, progress)
    write_report(report, options.output_format, ORG_FORMATS, stdout or sys.stdout, stderr)
    return report.exit_code


# Flags that only mean something with --organization (name -> argparse dest).
ORG_ONLY = {
    "--role-name": "role_name",
    "--external-id": "external_id",
    "--accounts": "accounts",
    "--exclude-accounts": "exclude_accounts",
    "--state": "state",
}


def run_cli(args: argparse.Namespace) -> int:
    """Entry point for ``policy_gen.cli``'s ``audit`` subcommand."""
    regions = tuple(args.region or ())
    options = AuditOptions(
        regions=regions,
        profile=args.profile,
        prefix=args.log_group_prefix,
        output_format=args.format,
        suggest_fix=args.suggest_fix,
        concurrency=args.concurrency,
        endpoint_url=args.endpoint_url,
    )
    if not args.organization:
        given = [flag for flag, dest in ORG_ONLY.items() if getattr(args, dest) is not None]
        if given:
            raise UserError(f"{', '.join(given)} needs --organization")
        return run(options)
    if args.role_name is None:
        raise UserError(
            "--organization needs --role-name ROLE: the role to assume in each member "
            "account (audit-role/member-role.yaml creates it)"
        )
    all_regions, named = split_regions(regions)
    org = OrgOptions(
        role_name=args.role_name,
        external_id=args.external_id,
        all_regions=all_regions,
        accounts=tuple(args.accounts or ()),
        exclude_accounts=tuple(args.exclude_accounts or ()),
        state=Path(args.state) if args.state is not None else None,
    )
    return run_org(dataclasses.replace(options, regions=named), org)
