"""The access matrix: who may do what with the key, for which log group.

A validator's findings say what is wrong; the matrix shows the whole picture,
so a reviewer can confirm at a glance that only Logs, only for our log groups,
and the account's own administrators can use the key.
"""

from __future__ import annotations

from dataclasses import dataclass

from policy_gen.evaluate import Policy, Request, evaluate
from policy_gen.partitions import root_arn
from policy_gen.validate import LOOKALIKE_SUFFIX, Target, logs_context

MATRIX_ACTIONS = (
    "kms:GenerateDataKey",
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:DescribeKey",
    "kms:PutKeyPolicy",
)
SYMBOL = {"Allow": "ALLOW", "ImplicitDeny": "-", "ExplicitDeny": "DENY"}


@dataclass(frozen=True)
class Row:
    principal_label: str
    principal: str
    log_group_label: str
    log_group_arn: str
    decisions: tuple[str, ...]


def principals(target: Target) -> list[tuple[str, str]]:
    """(label, principal) pairs worth showing for a log-group key."""
    outsider = target.outsider_account()
    partition = target.partition.name
    return [
        ("Logs (regional)", target.logs_principal),
        ("Logs (global)", f"logs.{target.partition.principal_suffix}"),
        ("account root", root_arn(target.partition, target.account)),
        ("role in account", f"arn:{partition}:iam::{target.account}:role/app"),
        ("role elsewhere", f"arn:{partition}:iam::{outsider}:role/outsider"),
        ("anonymous", "*"),
    ]


def log_groups(target: Target) -> list[tuple[str, str]]:
    """The named log groups, plus a look-alike here and a same-name one elsewhere."""
    first = target.log_groups[0]
    return [
        *((name, target.log_group_arn(name)) for name in target.log_groups),
        (f"{first}{LOOKALIKE_SUFFIX} (ours)", target.log_group_arn(first + LOOKALIKE_SUFFIX)),
        (
            f"{first} (acct {target.outsider_account()})",
            target.log_group_arn(first, target.outsider_account()),
        ),
    ]


def access_matrix(policy: Policy, target: Target) -> list[Row]:
    rows = []
    for principal_label, principal in principals(target):
        for group_label, arn in log_groups(target):
            decisions = tuple(
                evaluate(
                    policy, Request(principal, action, logs_context(arn), target.key_arn)
                ).decision
                for action in MATRIX_ACTIONS
            )
            rows.append(Row(principal_label, principal, group_label, arn, decisions))
    return rows


def render_table(rows: list[Row]) -> str:
    """A plain-text table: one line per principal and log group, one column per action."""
    headers = ["principal", "log group", *(a.removeprefix("kms:") for a in MATRIX_ACTIONS)]
    body = [
        [row.principal_label, row.log_group_label, *(SYMBOL[d] for d in row.decisions)]
        for row in rows
    ]
    widths = [max(len(line[i]) for line in [headers, *body]) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))

    out = [line(headers), line(["-" * w for w in widths])]
    previous = None
    for cells in body:
        shown = list(cells)
        if cells[0] == previous:
            shown[0] = ""
        previous = cells[0]
        out.append(line(shown).rstrip())
    out.append("")
    out.append("ALLOW = allowed, DENY = explicitly denied, - = not allowed (implicit deny)")
    return "\n".join(out)
