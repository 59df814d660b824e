"""The rehearsal's final table and one-line verdict."""

from __future__ import annotations

from collections.abc import Sequence

from deployment.emulator import EMULATOR_GAPS
from deployment.results import FAIL, NOT_RUN, PASS, TEMPLATE, CheckResult, Report


def format_table(checks: Sequence[CheckResult], width: int = 120) -> list[str]:
    """The final table: one line per check; below it the full detail of every
    check that did not pass, and why some ran on the transformed template."""
    id_width = max([len("CHECK"), *(len(c.check_id) for c in checks)])
    header = f"{'CHECK':<{id_width}}  {'STATUS':<7}  {'WHERE':<20}  DETAIL"
    lines = [header, "-" * max(len(header), min(width, 100))]
    room = max(20, width - id_width - 35)
    for check in checks:
        detail = check.detail if len(check.detail) <= room else check.detail[: room - 3] + "..."
        lines.append(
            f"{check.check_id:<{id_width}}  {check.status:<7}  {check.where or '-':<20}  {detail}"
        )
    problems = [check for check in checks if check.status != PASS]
    if problems:
        lines.append("")
        lines.extend(f"{check.status} {check.check_id}: {check.detail}" for check in problems)
    via_template = [check for check in checks if check.where == TEMPLATE]
    if via_template:
        lines.append("")
        lines.append("Checked on the transformed template, because the emulator does not keep it:")
        lines.extend(
            f"  {check.check_id}: {EMULATOR_GAPS.get(check.gap or '', 'no reason recorded')}"
            for check in via_template
        )
    return lines


def summary_line(report: Report) -> str:
    counts = report.counts()
    where = ", ".join(f"{n} on {w}" for w, n in sorted(report.where_counts().items()))
    failed = f"; step '{report.failed_step}' failed" if report.failed_step else ""
    return (
        f"RESULT: {'PASS' if report.ok else 'FAIL'}: {counts[PASS]} passed, "
        f"{counts[FAIL]} failed, {counts[NOT_RUN]} not run ({where or 'none ran'}){failed}; "
        f"{report.seconds:.1f}s"
    )
