"""The audit report in its three formats: text for people, JSON and CSV for scripts.

The JSON field names and CSV columns are part of the CLI contract.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from policy_gen.audit.model import (
    ALL_STATUSES,
    AuditReport,
    Fix,
    GroupResult,
    KeyFacts,
    key_region,
)
from policy_gen.partitions import logs_principal, partition_for_region


def summary_line(report: AuditReport) -> str:
    """``Summary: 2 OK, 1 LOGS_DENIED, ...; 1 broken``: statuses with a non-zero count."""
    counts = ", ".join(f"{n} {status}" for status, n in report.counts().items() if n)
    broken = len(report.broken)
    warned = sum(
        1
        for r in report.results
        if not r.broken and any(f.severity == "warning" for f in r.findings)
    )
    return (
        f"Summary: {counts or 'no encrypted log groups'}; {broken} broken, {warned} OK with "
        f"warnings only ({len(report.results)} encrypted log group(s), {len(report.keys)} "
        f"key(s), {report.unencrypted} log group(s) without a KMS key skipped)"
    )


def _key_label(facts: KeyFacts) -> str:
    details = [d for d in (facts.state, facts.spec) if d]
    return f"{facts.arn or facts.ref}" + (f" ({', '.join(details)})" if details else "")


def principal_lines(regions: Sequence[str]) -> list[str]:
    """``  region: principal (source)`` for each region: which principal was simulated."""
    lines = []
    for region in regions:
        partition = partition_for_region(region)
        lines.append(
            f"  {region}: {logs_principal(partition, region)} ({partition.principal_source})"
        )
    return lines


def write_text(report: AuditReport, out: TextIO) -> None:
    """The report for people: one line per log group (by region and name), its issues
    and key-policy findings indented under it."""
    out.write(
        f"CloudWatch Logs KMS audit of account {report.account}, region(s) "
        f"{', '.join(report.regions)} (read-only)\n"
    )
    out.write("Logs principal simulated per region:\n")
    out.write("\n".join(principal_lines(report.regions)) + "\n\n")
    for result in report.results:
        write_result(result, out)
    if report.fixes is not None:
        out.write("\nSuggested fixes (nothing was changed in the account):\n")
        if not report.fixes:
            out.write("  none needed\n")
        for fix in report.fixes:
            write_fix(fix, out)
    out.write("\n" + summary_line(report) + "\n")
    calls = ", ".join(f"{op} {n}" for op, n in sorted(report.calls.items()))
    out.write(f"API calls: {calls or 'none'}\n")


STATUS_WIDTH = max(len(s) for s in ALL_STATUSES)


def write_result(result: GroupResult, out: TextIO, indent: str = "") -> None:
    """One log group's line, its issues and key-policy findings indented under it."""
    group = result.group
    out.write(
        f"{indent}{result.status:<{STATUS_WIDTH}}  {group.region}  {group.name}  "
        f"key {_key_label(result.key)}\n"
    )
    for issue in result.issues:
        out.write(f"{indent}    {issue.code}: {issue.message}\n")
    for finding in result.findings:
        statement = f" (statement {finding.statement})" if finding.statement else ""
        out.write(
            f"{indent}    {finding.severity.upper()} {finding.code}{statement}: {finding.message}\n"
        )


def write_fix(fix: Fix, out: TextIO, indent: str = "") -> None:
    """One suggested fix: the key, its log groups, the advice and the statement."""
    out.write(f"{indent}  key {fix.key} ({fix.region}) for {', '.join(fix.log_groups)}:\n")
    for advice in fix.advice:
        out.write(f"{indent}    - {advice}\n")
    if fix.statement is not None:
        text = json.dumps(fix.statement, indent=2)
        out.write("\n".join(f"{indent}      {line}" for line in text.splitlines()) + "\n")


def group_json(r: GroupResult) -> dict[str, Any]:
    """One log group's verdict for scripts (field names are part of the CLI contract)."""
    return {
        "name": r.group.name,
        "region": r.group.region,
        "arn": r.group.arn,
        "kms_key_id": r.group.kms_key_id,
        "status": r.status,
        "broken": r.broken,
        "denied_actions": list(r.denied_actions),
        "issues": [{"code": i.code, "message": i.message} for i in r.issues],
        "findings": [f.as_json() for f in r.findings],
    }


def key_json(facts: KeyFacts) -> dict[str, Any]:
    """What DescribeKey and GetKeyPolicy said about one key, for scripts."""
    return {
        "ref": facts.ref,
        "arn": facts.arn,
        "region": key_region(facts),
        "state": facts.state,
        "key_spec": facts.spec,
        "key_usage": facts.usage,
        "not_found": facts.not_found,
        "errors": list(facts.errors),
    }


def fix_json(fix: Fix) -> dict[str, Any]:
    return {
        "key": fix.key,
        "region": fix.region,
        "log_groups": list(fix.log_groups),
        "statement": fix.statement,
        "advice": list(fix.advice),
    }


def audit_json(report: AuditReport) -> dict[str, Any]:
    """The report for scripts; the field names are part of the CLI contract."""
    data: dict[str, Any] = {
        "account": report.account,
        "regions": list(report.regions),
        "log_groups": [group_json(r) for r in report.results],
        "keys": [key_json(facts) for facts in sorted(report.keys.values(), key=lambda f: f.ref)],
        "summary": {
            "statuses": report.counts(),
            "log_groups": len(report.results),
            "keys": len(report.keys),
            "broken": len(report.broken),
            "unencrypted_skipped": report.unencrypted,
            "api_calls": dict(sorted(report.calls.items())),
        },
    }
    if report.fixes is not None:
        data["fixes"] = [fix_json(fix) for fix in report.fixes]
    return data


CSV_COLUMNS = (
    "region",
    "log_group",
    "status",
    "broken",
    "kms_key_id",
    "key_state",
    "issues",
    "findings",
    "detail",
)


def fixes_by_group(fixes: Sequence[Fix]) -> dict[tuple[str, str], Fix]:
    """(region, log group) -> the fix that names it."""
    found: dict[tuple[str, str], Fix] = {}
    for fix in fixes:
        for name in fix.log_groups:
            found[(fix.region, name)] = fix
    return found


def csv_row(r: GroupResult, fixes: Mapping[tuple[str, str], Fix] | None) -> list[str]:
    """One log group's CSV row (CSV_COLUMNS, then fix_statement when ``fixes``)."""
    row = [
        r.group.region,
        r.group.name,
        r.status,
        "yes" if r.broken else "no",
        r.group.kms_key_id,
        r.key.state or "",
        ";".join(i.code for i in r.issues),
        ";".join(f"{f.severity}:{f.code}" for f in r.findings),
        " | ".join(i.message for i in r.issues),
    ]
    if fixes is not None:
        found = fixes.get((r.group.region, r.group.name))
        statement = found.statement if found else None
        row.append(json.dumps(statement, separators=(",", ":")) if statement else "")
    return row


def write_csv(report: AuditReport, out: TextIO) -> None:
    """One row per log group; with --suggest-fix a ``fix_statement`` column (compact JSON)."""
    fixes = fixes_by_group(report.fixes) if report.fixes is not None else None
    columns = [*CSV_COLUMNS, *(["fix_statement"] if fixes is not None else [])]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for r in report.results:
        writer.writerow(csv_row(r, fixes))
