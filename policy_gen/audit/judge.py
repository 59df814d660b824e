"""The verdict for every log group: pure, so each decision is unit-tested without AWS.

Log groups plus what AWS said about their keys in, one ``GroupResult`` per log group
out. Whether Logs may use a key is decided by the policy simulator
(``policy_gen.evaluate``) with the request Logs makes (``validate.logs_context``),
never by reading the policy text; the other policy checks (``OVERBROAD``,
``CROSS_ACCOUNT``, ``PUBLIC``, ``LOCKOUT`` ...) come from ``policy_gen.validate``.
What the tool does not know it says, instead of guessing: a key it could not read is
``KEY_UNREADABLE`` with the error AWS returned, never "probably fine".
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from policy_gen.audit.model import (
    ENCRYPT_DECRYPT,
    KEY_DISABLED,
    KEY_NOT_FOUND,
    KEY_NOT_SYMMETRIC,
    KEY_OTHER_REGION,
    KEY_PENDING_DELETION,
    KEY_UNREADABLE,
    LOGS_DENIED,
    STATUS_ORDER,
    SYMMETRIC_SPEC,
    GroupResult,
    Issue,
    KeyFacts,
    LogGroup,
    key_region,
    kms_arn_parts,
)
from policy_gen.evaluate import Policy, PolicyError, Request, evaluate, parse_policy
from policy_gen.partitions import (
    LOG_GROUP_PATTERN,
    Partition,
    logs_principal,
    partition_for_region,
)
from policy_gen.validate import REQUIRED_LOGS_ACTIONS, Finding, Target, logs_context, validate

# KeyState -> status, from the KMS developer guide "Key states of AWS KMS keys": only
# Enabled keys take part in cryptographic operations; Unavailable (custom key store
# disconnected), PendingImport (no key material) and Creating (replica not ready) fail
# them like Disabled. A state missing here (e.g. the transient "Updating" of a
# multi-Region key) is reported as unknown, not guessed.
KEY_STATE_STATUS: dict[str, str | None] = {
    "Enabled": None,
    "Disabled": KEY_DISABLED,
    "PendingImport": KEY_DISABLED,
    "Unavailable": KEY_DISABLED,
    "Creating": KEY_DISABLED,
    "PendingDeletion": KEY_PENDING_DELETION,
    "PendingReplicaDeletion": KEY_PENDING_DELETION,
}
# Actions whose denial stops Logs from storing new events, and from reading old ones.
WRITE_ACTIONS = frozenset({"kms:GenerateDataKey", "kms:Encrypt"})
READ_ACTIONS = frozenset({"kms:Decrypt"})
# validate() codes that are per-log-group statuses here (computed with the real key
# ARN by _logs_access), not key findings.
STATUS_FINDINGS = frozenset({LOGS_DENIED})


def _key_issues(facts: KeyFacts) -> list[Issue]:
    """Problems of the key itself, the same for every log group that uses it."""
    if facts.not_found is not None:
        return [
            Issue(
                KEY_NOT_FOUND,
                f"key {facts.ref} does not exist ({facts.not_found}): CloudWatch Logs cannot "
                "encrypt new events for this log group (they are being lost) and cannot "
                "decrypt the events it stored with the key",
            )
        ]
    issues: list[Issue] = []
    if facts.state is not None:
        status = KEY_STATE_STATUS.get(facts.state, KEY_UNREADABLE)
        if status == KEY_PENDING_DELETION:
            when = f" on {facts.deletion_date}" if facts.deletion_date else ""
            issues.append(
                Issue(
                    status,
                    f"the key is {facts.state} (scheduled for deletion{when}): CloudWatch Logs "
                    "cannot use it now (new events are being lost), and once it is deleted "
                    "the events encrypted with it can never be read again",
                )
            )
        elif status == KEY_DISABLED:
            issues.append(
                Issue(
                    status,
                    f"the key's state is {facts.state}, not Enabled: CloudWatch Logs cannot use "
                    "it, so new events are being lost and stored events cannot be read",
                )
            )
        elif status == KEY_UNREADABLE:
            issues.append(
                Issue(
                    status,
                    f"the key's state is {facts.state}, a state this tool does not classify: "
                    "whether CloudWatch Logs can use the key is unknown (not guessed)",
                )
            )
    if facts.spec is not None:
        # KMS allows only ENCRYPT_DECRYPT for SYMMETRIC_DEFAULT keys, so a missing
        # KeyUsage on such a key is not a guess (moto omits it unless it was given).
        usage = facts.usage or (ENCRYPT_DECRYPT if facts.spec == SYMMETRIC_SPEC else None)
        if facts.spec != SYMMETRIC_SPEC or usage != ENCRYPT_DECRYPT:
            issues.append(
                Issue(
                    KEY_NOT_SYMMETRIC,
                    f"the key is {facts.spec}/{usage or 'unknown usage'}: CloudWatch Logs needs a "
                    f"symmetric encryption key ({SYMMETRIC_SPEC}, {ENCRYPT_DECRYPT})",
                )
            )
    for error in facts.errors:
        checked = (
            "its state, key spec and region were not checked"
            if error.startswith("DescribeKey")
            else "whether its policy lets CloudWatch Logs use it is unknown"
        )
        issues.append(Issue(KEY_UNREADABLE, f"could not read the key ({error}): {checked}"))
    return issues


def _logs_access(
    policy: Policy, group: LogGroup, key_arn: str | None
) -> tuple[Issue | None, tuple[str, ...]]:
    """Simulate the requests Logs makes for ``group``; an Issue when any is denied."""
    partition = partition_for_region(group.region)
    principal = logs_principal(partition, group.region)
    denied: list[tuple[str, str, tuple[str, ...]]] = []
    for action in REQUIRED_LOGS_ACTIONS:
        result = evaluate(policy, Request(principal, action, logs_context(group.arn), key_arn))
        if result.decision != "Allow":
            denied.append((action, result.decision, result.matched))
    if not denied:
        return None, ()
    actions = tuple(action for action, _, _ in denied)
    explicit = sorted(
        {sid for _, decision, sids in denied if decision == "ExplicitDeny" for sid in sids}
    )
    how = (
        f"explicitly denied by statement {', '.join(explicit)}"
        if explicit
        else "no statement allows it"
    )
    effects = []
    if WRITE_ACTIONS & set(actions):
        effects.append(
            "new events cannot be encrypted, so CloudWatch Logs cannot store them (logs are "
            "being lost, or will be)"
        )
    if READ_ACTIONS & set(actions):
        effects.append("stored events cannot be decrypted, so they cannot be read")
    message = f"{principal} cannot call {', '.join(actions)} for {group.arn} ({how}): " + "; ".join(
        effects
    )
    return Issue(LOGS_DENIED, message), actions


@dataclass(frozen=True)
class _KeyTarget(Target):
    """validate()'s Target, but simulating requests against the real key ARN.

    Target.key_arn is a stand-in built from the target's account and region; a policy
    whose Resource names the key's actual ARN would then look broken. The audit knows
    the real ARN, so it uses it.
    """

    real_key_arn: str = ""

    @property
    def key_arn(self) -> str:
        return self.real_key_arn or super().key_arn


def _policy_findings(
    policy: Policy,
    partition: Partition,
    region: str,
    account: str,
    names: Sequence[str],
    key_arn: str | None,
) -> list[Finding]:
    """validate()'s findings about the key policy for these log groups, minus the
    per-log-group Logs decision (computed separately with the real key ARN)."""
    valid_names = [
        name for name in names if LOG_GROUP_PATTERN.fullmatch(name) and not name.startswith("aws/")
    ]
    if not valid_names:
        return []
    checked = Target.checked(partition, region, account, valid_names)
    # Copy every Target field by name, so a field added to Target later is kept.
    fields = {f.name: getattr(checked, f.name) for f in dataclasses.fields(checked)}
    target = _KeyTarget(**fields, real_key_arn=key_arn or "")
    report = validate(policy, target)
    return [finding for finding in report.findings if finding.code not in STATUS_FINDINGS]


def _sort_issues(issues: Iterable[Issue]) -> tuple[Issue, ...]:
    return tuple(sorted(issues, key=lambda issue: STATUS_ORDER.index(issue.code)))


def _audit_key(facts: KeyFacts, members: Sequence[LogGroup]) -> list[GroupResult]:
    """Every log group that uses one key."""
    key_issues = _key_issues(facts)
    if facts.not_found is not None:
        return [GroupResult(group, facts, tuple(key_issues)) for group in members]
    region = key_region(facts)
    key_arn = facts.arn or (facts.ref if kms_arn_parts(facts.ref) else None)
    parsed: Policy | None = None
    policy_problem: str | None = None
    if facts.policy is not None:
        try:
            parsed = parse_policy(facts.policy)
        except PolicyError as error:
            policy_problem = str(error)
    # validate() once per (region, account) bucket of log groups in the key's region.
    buckets: dict[tuple[str, str], list[LogGroup]] = defaultdict(list)
    for group in members:
        if region is None or group.region == region:
            buckets[(group.region, group.account)].append(group)
    findings: dict[tuple[str, str], tuple[Finding, ...]] = {}
    key_parts = kms_arn_parts(key_arn) if key_arn else None
    key_account = key_parts[2] if key_parts else None
    if parsed is not None:
        for (group_region, account), bucket in buckets.items():
            # LOCKOUT and PUBLIC are about the key's own account: only meaningful when
            # the log groups and the key share it.
            if key_account in (None, account):
                findings[(group_region, account)] = tuple(
                    _policy_findings(
                        parsed,
                        partition_for_region(group_region),
                        group_region,
                        account,
                        [group.name for group in bucket],
                        key_arn,
                    )
                )
    results: list[GroupResult] = []
    for group in members:
        issues = list(key_issues)
        denied: tuple[str, ...] = ()
        if region is not None and group.region != region:
            issues.append(
                Issue(
                    KEY_OTHER_REGION,
                    f"the key is in {region} and the log group in {group.region}: CloudWatch "
                    "Logs only uses a key in the log group's own region",
                )
            )
        elif policy_problem is not None:
            issues.append(
                Issue(
                    LOGS_DENIED,
                    f"the key policy cannot be evaluated ({policy_problem}): no statement "
                    "allows CloudWatch Logs to use the key",
                )
            )
            denied = tuple(REQUIRED_LOGS_ACTIONS)
        elif parsed is not None:
            issue, denied = _logs_access(parsed, group, key_arn)
            if issue is not None:
                issues.append(issue)
        results.append(
            GroupResult(
                group,
                facts,
                _sort_issues(issues),
                findings.get((group.region, group.account), ()),
                denied,
            )
        )
    return results


def audit(groups: Sequence[LogGroup], keys: Mapping[str, KeyFacts]) -> list[GroupResult]:
    """One result per log group, sorted by region and name.

    ``keys`` maps each kmsKeyId to what AWS said about it; a key missing from it is
    reported as unreadable (it was never looked up), never as fine.
    """
    by_key: dict[str, list[LogGroup]] = defaultdict(list)
    for group in groups:
        by_key[group.kms_key_id].append(group)
    results: list[GroupResult] = []
    for ref, members in by_key.items():
        facts = keys.get(ref) or KeyFacts(ref, errors=("DescribeKey: the key was not looked up",))
        results.extend(_audit_key(facts, members))
    results.sort(key=lambda result: (result.group.region, result.group.name))
    return results
