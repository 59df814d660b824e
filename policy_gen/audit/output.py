"""The audit report in its three formats: text for people, JSON and CSV for scripts.

The JSON field names and CSV columns are part of the CLI contract.
"""

from __future__ import annotations

import csv
import json
from typing import Any, TextIO

from policy_gen.audit.model import ALL_STATUSES, AuditReport, Fix, KeyFacts, key_region
from policy_gen.partitions import logs_principal, partition_for_region
from policy_gen.validate import Finding


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


def _principal_lines(report: AuditReport) -> list[str]:
    lines = []
    for region in report.regions:
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
    out.write("\n".join(_principal_lines(report)) + "\n\n")
    width = max((len(s) for s in ALL_STATUSES), default=0)
    for result in report.results:
        group = result.group
        out.write(
            f"{result.status:<{width}}  {group.region}  {group.name}  key {_key_label(result.key)}\n"
        )
        for issue in result.issues:
            out.write(f"    {issue.code}: {issue.message}\n")
        for finding in result.findings:
            statement = f" (statement {finding.statement})" if finding.statement else ""
            out.write(
                f"    {finding.severity.upper()} {finding.code}{statement}: {finding.message}\n"
            )
    if report.fixes is not None:
        out.write("\nSuggested fixes (nothing was changed in the account):\n")
        if not report.fixes:
            out.write("  none needed\n")
        for fix in report.fixes:
            out.write(f"  key {fix.key} ({fix.region}) for {', '.join(fix.log_groups)}:\n")
            for advice in fix.advice:
                out.write(f"    - {advice}\n")
            if fix.statement is not None:
                text = json.dumps(fix.statement, indent=2)
                out.write("\n".join(f"      {line}" for line in text.splitlines()) + "\n")
    out.write("\n" + summary_line(report) + "\n")
    calls = ", ".join(f"{op} {n}" for op, n in sorted(report.calls.items()))
    out.write(f"API calls: {calls or 'none'}\n")


def _finding_json(finding: Finding) -> dict[str, Any]:
    return finding.as_json()


def audit_json(report: AuditReport) -> dict[str, Any]:
    """The report for scripts; the field names are part of the CLI contract."""
    data: dict[str, Any] = {
        "account": report.account,
        "regions": list(report.regions),
        "log_groups": [
            {
                "name": r.group.name,
                "region": r.group.region,
                "arn": r.group.arn,
                "kms_key_id": r.group.kms_key_id,
                "status": r.status,
                "broken": r.broken,
                "denied_actions": list(r.denied_actions),
                "issues": [{"code": i.code, "message": i.message} for i in r.issues],
                "findings": [_finding_json(f) for f in r.findings],
            }
            for r in report.results
        ],
        "keys": [
            {
                "ref": facts.ref,
                "arn": facts.arn,
                "region": key_region(facts),
                "state": facts.state,
                "key_spec": facts.spec,
                "key_usage": facts.usage,
                "not_found": facts.not_found,
                "errors": list(facts.errors),
            }
            for facts in sorted(report.keys.values(), key=lambda f: f.ref)
        ],
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
        data["fixes"] = [
            {
                "key": fix.key,
                "region": fix.region,
                "log_groups": list(fix.log_groups),
                "statement": fix.statement,
                "advice": list(fix.advice),
            }
            for fix in report.fixes
        ]
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


def write_csv(report: AuditReport, out: TextIO) -> None:
    """One row per log group; with --suggest-fix a ``fix_statement`` column (compact JSON)."""
    fixes: dict[tuple[str, str], Fix] = {}
    for fix in report.fixes or []:
        for name in fix.log_groups:
            fixes[(fix.region, name)] = fix
    columns = [*CSV_COLUMNS, *(["fix_statement"] if report.fixes is not None else [])]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for r in report.results:
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
        if report.fixes is not None:
            found = fixes.get((r.group.region, r.group.name))
            statement = found.statement if found else None
            row.append(json.dumps(statement, separators=(",", ":")) if statement else "")
        writer.writerow(row)
