"""The organization audit's one report: text by account and region, JSON and CSV.

Each log group is reported as in a single-account audit (the same row builders), with
the account it belongs to: an ``account_id`` field in JSON, an ``account_id`` first
column in CSV. An account or account-region that was not audited is part of the
report too, with its status and why, so a script reading the CSV sees the gaps.
The text lists the log groups that need a look (broken, or with warnings) and counts
the others, since an organization has too many fine ones to read; JSON and CSV list
every one.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any, TextIO

from policy_gen.audit.model import ALL_STATUSES, GroupResult
from policy_gen.audit.org_model import (
    AUDITED,
    INCOMPLETE,
    Account,
    OrgReport,
    UnitResult,
    key_id,
)
from policy_gen.audit.output import (
    CSV_COLUMNS,
    csv_row,
    fix_json,
    fixes_by_group,
    group_json,
    key_json,
    principal_lines,
    write_fix,
    write_result,
)

ORG_CSV_COLUMNS = ("account_id", *CSV_COLUMNS)


def _counted(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{n} {status}" for status, n in counts.items() if n)


def _account_message(report: OrgReport, account: Account) -> str:
    if not account.active:
        return f"its state is {account.state}: not audited"
    plan = report.plans.get(account.id)
    return plan.message if plan else ""


def _units_by_account(report: OrgReport) -> dict[str, list[UnitResult]]:
    units: dict[str, list[UnitResult]] = defaultdict(list)
    for unit in report.units:
        units[unit.account].append(unit)
    return units


def summary_line(report: OrgReport) -> str:
    """Accounts, account-regions and log groups by status; broken; what was skipped."""
    results = report.results()
    warned = sum(
        1 for r in results if not r.broken and any(f.severity == "warning" for f in r.findings)
    )
    resumed = f"; {report.from_state} account-region(s) from --state" if report.from_state else ""
    return (
        f"Summary: {len(report.accounts)} account(s): {_counted(report.account_counts())}; "
        f"{len(report.units)} account-region(s): {_counted(report.unit_counts()) or 'none'}; "
        f"log groups: {_counted(report.counts()) or 'no encrypted log groups'}; "
        f"{len(report.broken)} broken, {warned} OK with warnings only ({len(results)} "
        f"encrypted log group(s), {report.key_count()} key(s), {report.unencrypted()} log "
        f"group(s) without a KMS key skipped){resumed}"
    )


def _worth_reading(result: GroupResult) -> bool:
    return result.broken or bool(result.findings)


def _region_line(unit: UnitResult) -> str:
    if unit.status != AUDITED:
        return f"  {unit.region}: {unit.status}: {unit.message}"
    counts = Counter(result.status for result in unit.results)
    in_order = {status: counts[status] for status in ALL_STATUSES}
    found = (
        f"{len(unit.results)} encrypted log group(s) ({_counted(in_order)})"
        if unit.results
        else "no encrypted log groups"
    )
    return f"  {unit.region}: {found}, {unit.unencrypted} without a KMS key"


def write_text(report: OrgReport, out: TextIO) -> None:
    """By account, then region: the status of each, and the log groups that need a
    look (broken or warned) with their issues and findings under them."""
    out.write(
        f"CloudWatch Logs KMS audit of organization {report.organization} by "
        f"{report.caller}, role {report.role_name} in each account, region(s) "
        f"{', '.join(report.regions)} (read-only)\n"
    )
    audited = sorted({u.region for u in report.units if u.status == AUDITED})
    if audited:
        out.write("Logs principal simulated per region:\n")
        out.write("\n".join(principal_lines(audited)) + "\n")
    units = _units_by_account(report)
    for account in report.accounts:
        status = report.account_status(account)
        message = _account_message(report, account)
        name = f" ({account.name})" if account.name else ""
        out.write(f"\nAccount {account.id}{name}: {status}" + (f": {message}" if message else ""))
        out.write("\n")
        for unit in units.get(account.id, []):
            out.write(_region_line(unit) + "\n")
            for result in unit.results:
                if _worth_reading(result):
                    write_result(result, out, indent="    ")
    if report.suggest_fix:
        out.write("\nSuggested fixes (nothing was changed in any account):\n")
        fixes = [(unit.account, fix) for unit in report.units for fix in unit.fixes]
        if not fixes:
            out.write("  none needed\n")
        shown = None
        for account_id, fix in fixes:
            if account_id != shown:
                out.write(f"  account {account_id}:\n")
                shown = account_id
            write_fix(fix, out, indent="  ")
    out.write("\n" + summary_line(report) + "\n")
    if not any(_worth_reading(r) for r in report.results()):
        out.write("(no log group needs a look; --format json or csv lists every one)\n")
    calls = ", ".join(f"{op} {n}" for op, n in sorted(report.calls.items()))
    out.write(f"API calls: {calls or 'none'}\n")


def _keys_json(units: Iterable[UnitResult]) -> list[dict[str, Any]]:
    """Each key once per account whose log groups use it."""
    seen: dict[tuple[str, Any], dict[str, Any]] = {}
    for unit in units:
        for result in unit.results:
            wanted = (unit.account, key_id(result.group))
            if wanted not in seen:
                seen[wanted] = {"account_id": unit.account, **key_json(result.key)}
    return sorted(seen.values(), key=lambda k: (k["account_id"], k["ref"]))


def audit_json(report: OrgReport) -> dict[str, Any]:
    """The report for scripts; the field names are part of the CLI contract."""
    units = _units_by_account(report)
    accounts = []
    for account in report.accounts:
        regions = []
        for unit in units.get(account.id, []):
            counts: dict[str, int] = defaultdict(int)
            for result in unit.results:
                counts[result.status] += 1
            regions.append(
                {
                    "region": unit.region,
                    "status": unit.status,
                    "message": unit.message,
                    "statuses": dict(sorted(counts.items())),
                    "log_groups": len(unit.results),
                    "broken": len(unit.broken),
                    "unencrypted_skipped": unit.unencrypted,
                }
            )
        accounts.append(
            {
                "account_id": account.id,
                "name": account.name,
                "state": account.state,
                "status": report.account_status(account),
                "message": _account_message(report, account),
                "regions": regions,
            }
        )
    data: dict[str, Any] = {
        "organization": report.organization,
        "caller": report.caller,
        "role_name": report.role_name,
        "regions": list(report.regions),
        "accounts": accounts,
        "log_groups": [
            {"account_id": unit.account, **group_json(result)}
            for unit in report.units
            for result in unit.results
        ],
        "keys": _keys_json(report.units),
        "summary": {
            "accounts": report.account_counts(),
            "account_regions": report.unit_counts(),
            "statuses": report.counts(),
            "log_groups": len(report.results()),
            "keys": report.key_count(),
            "broken": len(report.broken),
            "incomplete": report.incomplete,
            "unencrypted_skipped": report.unencrypted(),
            "from_state": report.from_state,
            "api_calls": dict(sorted(report.calls.items())),
        },
    }
    if report.suggest_fix:
        data["fixes"] = [
            {"account_id": unit.account, **fix_json(fix)}
            for unit in report.units
            for fix in unit.fixes
        ]
    return data


def _gap_row(account: str, region: str, status: str, message: str, width: int) -> list[str]:
    """A CSV row for an account or account-region that was not audited."""
    row = [account, region, "", status, "yes" if status in INCOMPLETE else "no", "", "", "", ""]
    row.append(message)
    return row + [""] * (width - len(row))


def write_csv(report: OrgReport, out: TextIO) -> None:
    """One row per log group with its ``account_id``, plus one row per account or
    account-region not audited (empty log_group, its status, why in ``detail``)."""
    columns = [*ORG_CSV_COLUMNS, *(["fix_statement"] if report.suggest_fix else [])]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    units = _units_by_account(report)
    for account in report.accounts:
        status = report.account_status(account)
        if status != AUDITED:
            message = _account_message(report, account)
            writer.writerow(_gap_row(account.id, "", status, message, len(columns)))
            continue
        for unit in units.get(account.id, []):
            if unit.status != AUDITED:
                writer.writerow(
                    _gap_row(account.id, unit.region, unit.status, unit.message, len(columns))
                )
                continue
            fixes = fixes_by_group(unit.fixes) if report.suggest_fix else None
            for result in unit.results:
                writer.writerow([account.id, *csv_row(result, fixes)])
