"""What would repair each broken key: a policy statement where one helps, advice where not.

``suggest_fixes()`` turns verdicts into fixes without touching AWS: the Logs
statement ``render_policy`` would write for exactly the affected log groups, plus
advice for what no key-policy statement can change (a disabled, deleted, asymmetric
or other-region key).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from policy_gen.audit.model import (
    KEY_DISABLED,
    KEY_NOT_FOUND,
    KEY_NOT_SYMMETRIC,
    KEY_OTHER_REGION,
    KEY_PENDING_DELETION,
    KEY_UNREADABLE,
    LOGS_DENIED,
    STATUS_ORDER,
    SYMMETRIC_SPEC,
    Fix,
    GroupResult,
    KeyFacts,
)
from policy_gen.partitions import check_log_group_name, partition_for_region
from policy_gen.render import LOGS_SID, render_policy
from sam_project.errors import UserError


def _statement_for(group_region: str, account: str, names: Sequence[str]) -> dict[str, Any] | None:
    """The Logs statement render_policy writes for exactly ``names``."""
    valid = [name for name in names if _renderable(name)]
    if not valid:
        return None
    policy = render_policy(partition_for_region(group_region), group_region, account, valid)
    statements: list[dict[str, Any]] = policy["Statement"]
    return next(s for s in statements if s.get("Sid") == LOGS_SID)


def _renderable(name: str) -> bool:
    try:
        check_log_group_name(name)
    except UserError:
        return False
    return True


def _existing_sids(policy: object) -> set[str]:
    if not isinstance(policy, Mapping):
        return set()
    statements = policy.get("Statement")
    if isinstance(statements, Mapping):
        statements = [statements]
    if not isinstance(statements, list):
        return set()
    return {str(s.get("Sid")) for s in statements if isinstance(s, Mapping) and s.get("Sid")}


def _key_advice(status: str, facts: KeyFacts, region: str, names: Sequence[str]) -> list[str]:
    """What to do for a key problem no key-policy statement can fix."""
    key = facts.arn or facts.ref
    groups = ", ".join(names)
    if status == KEY_NOT_FOUND:
        return [
            f"key {key} does not exist: associate an existing symmetric key in {region} with "
            f"{groups} (aws logs associate-kms-key); events encrypted with the missing key "
            "cannot be recovered"
        ]
    if status == KEY_OTHER_REGION:
        return [
            f"associate a symmetric key in {region} with {groups} (aws logs associate-kms-key "
            f"--region {region}); a key policy cannot make a key of another region usable"
        ]
    if status == KEY_PENDING_DELETION:
        return [
            f"cancel the deletion and enable the key: aws kms cancel-key-deletion --key-id "
            f"{key} && aws kms enable-key --key-id {key}"
        ]
    if status == KEY_DISABLED:
        return [f"enable the key (state {facts.state}): aws kms enable-key --key-id {key}"]
    if status == KEY_NOT_SYMMETRIC:
        return [
            f"associate a symmetric encryption key ({SYMMETRIC_SPEC}) with {groups} (aws logs "
            "associate-kms-key); the events already stored stay encrypted with this key"
        ]
    if status == KEY_UNREADABLE and not facts.errors:
        return [
            f"check the key's state {facts.state} (aws kms describe-key --key-id {key}) and "
            "re-run the audit once it is settled"
        ]
    if status == KEY_UNREADABLE:
        return [
            f"re-run with credentials allowed kms:DescribeKey and kms:GetKeyPolicy on {key}: "
            "the audit could not tell whether this key works"
        ]
    return []


def _unique_sid(taken: set[str]) -> str:
    """LOGS_SID, or LOGS_SID2, 3 ... when the policy already uses it (Sids are unique)."""
    if LOGS_SID not in taken:
        return LOGS_SID
    n = 2
    while f"{LOGS_SID}{n}" in taken:
        n += 1
    return f"{LOGS_SID}{n}"


def suggest_fixes(results: Sequence[GroupResult]) -> list[Fix]:
    """One Fix per broken key, region and account. Never touches AWS.

    * Logs denied: the Logs statement render_policy writes for exactly the denied log
      groups, to *add*: an extra Allow takes nothing from the log groups that work.
    * Policy errors only (cross-account, public ...): the statement for every log group
      seen using the key, to *replace* the statements the findings name.
    * Key state, spec, region, existence: advice, since no policy statement fixes them.
    """
    by_key: dict[tuple[str, str, str], list[GroupResult]] = defaultdict(list)
    users: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for result in results:
        group = result.group
        users[(group.kms_key_id, group.region, group.account)].append(group.name)
        if result.broken:
            by_key[(group.kms_key_id, group.region, group.account)].append(result)
    fixes: list[Fix] = []
    for (ref, region, account), broken in sorted(by_key.items()):
        facts = broken[0].key
        errors: dict[str, set[str]] = defaultdict(set)
        for result in broken:
            for finding in result.findings:
                if finding.severity == "error":
                    errors[finding.code].add(finding.statement or "?")
        advice: list[str] = []
        if "LOCKOUT" in errors:
            advice.append(
                "first restore the account's control of the key: the account root cannot "
                "call kms:PutKeyPolicy (grant arn:<partition>:iam::<account>:root kms:*)"
            )
        for status in STATUS_ORDER:
            affected = [r.group.name for r in broken if any(i.code == status for i in r.issues)]
            if affected and status != LOGS_DENIED:
                advice.extend(_key_advice(status, facts, region, affected))
        other_errors = sorted(code for code in errors if code != "LOCKOUT")
        culprits = ", ".join(sorted({sid for code in other_errors for sid in errors[code]}))
        denied = [r.group.name for r in broken if any(i.code == LOGS_DENIED for i in r.issues)]
        statement: dict[str, Any] | None = None
        if denied:
            statement = _statement_for(region, account, denied)
            sid = _unique_sid(_existing_sids(facts.policy))
            renamed = ""
            if statement is not None and sid != LOGS_SID:
                statement = {**statement, "Sid": sid}
                renamed = f" (Sid {sid}: the policy already has a statement {LOGS_SID})"
            advice.append(
                f"add this statement to the key policy{renamed} (aws kms get-key-policy, add "
                "it, aws kms put-key-policy): it lets CloudWatch Logs use the key for exactly "
                f"{', '.join(denied)} and takes nothing away from other log groups"
            )
            if other_errors:
                advice.append(
                    f"the key policy also has {', '.join(other_errors)} errors in statement(s) "
                    f"{culprits}: remove or narrow them"
                )
        elif other_errors:
            seen = users[(ref, region, account)]
            statement = _statement_for(region, account, seen)
            advice.append(
                f"the key policy has {', '.join(other_errors)} errors: replace statement(s) "
                f"{culprits} with this statement, which names exactly the log groups found "
                f"using the key ({', '.join(seen)}); add any other log group it must serve"
            )
        names = tuple(result.group.name for result in broken)
        fixes.append(Fix(facts.arn or ref, region, names, statement, tuple(advice)))
    return fixes
