"""``policy_gen audit``: which log groups in an account have a KMS key that blocks Logs.

A log group encrypted with a KMS key depends on that key for every event written and
read. When the key is disabled, scheduled for deletion, asymmetric, in another region,
gone, or its policy does not let the region's CloudWatch Logs principal use it for
that log group, events are lost on ingestion and stored ones cannot be read, and
nothing in the console says so until someone looks. This module answers that for a
whole account, read-only.

Layout (pure logic in the middle, I/O at the edges, so the decisions are unit-tested
without AWS):

* ``AwsFacts``: the only code that talks to AWS. It lists log groups
  (``DescribeLogGroups``), looks up each *distinct* key once (``DescribeKey`` and
  ``GetKeyPolicy``) with bounded concurrency, and records every operation it makes.
  It calls nothing but Describe/Get/List operations: an audit must never change the
  account it audits.
* ``audit()``: log groups plus key facts in, one ``GroupResult`` per log group out.
  Whether Logs may use a key is decided by the policy simulator
  (``policy_gen.evaluate``) with the request Logs makes (``validate.logs_context``),
  never by reading the policy text; the other policy checks (``OVERBROAD``,
  ``CROSS_ACCOUNT``, ``PUBLIC``, ``LOCKOUT`` ...) come from ``policy_gen.validate``.
* ``suggest_fixes()``: the Logs statement ``render_policy`` would write for exactly the
  affected log groups, plus advice where no policy statement can help.
* ``write_text`` / ``audit_json`` / ``write_csv``: the three output formats.

What the tool does not know it says, instead of guessing: a key it could not read is
``KEY_UNREADABLE`` with the error AWS returned, never "probably fine".
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import json
import os
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any, Literal, TextIO

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    ProfileNotFound,
)

from policy_gen.errors import InputError
from policy_gen.evaluate import Policy, PolicyError, Request, evaluate, parse_policy
from policy_gen.partitions import (
    LOG_GROUP_PATTERN,
    Partition,
    check_log_group_name,
    logs_principal,
    partition_for_region,
)
from policy_gen.render import LOGS_SID, render_policy
from policy_gen.validate import REQUIRED_LOGS_ACTIONS, Finding, Target, logs_context, validate

# --- statuses ------------------------------------------------------------------------

OK = "OK"
KEY_NOT_FOUND = "KEY_NOT_FOUND"
KEY_OTHER_REGION = "KEY_OTHER_REGION"
KEY_PENDING_DELETION = "KEY_PENDING_DELETION"
KEY_DISABLED = "KEY_DISABLED"
KEY_NOT_SYMMETRIC = "KEY_NOT_SYMMETRIC"
LOGS_DENIED = "LOGS_DENIED"
KEY_UNREADABLE = "KEY_UNREADABLE"

# A log group can have several problems; its status is the first of them in this
# order. Definite, key-wide breakage comes first; "we could not tell" comes last, so
# that a key we know is disabled is reported as disabled even if its policy was
# unreadable.
STATUS_ORDER = (
    KEY_NOT_FOUND,
    KEY_OTHER_REGION,
    KEY_PENDING_DELETION,
    KEY_DISABLED,
    KEY_NOT_SYMMETRIC,
    LOGS_DENIED,
    KEY_UNREADABLE,
)
ALL_STATUSES = (OK, *STATUS_ORDER)

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
SYMMETRIC_SPEC = "SYMMETRIC_DEFAULT"
ENCRYPT_DECRYPT = "ENCRYPT_DECRYPT"
# Actions whose denial stops Logs from storing new events, and from reading old ones.
WRITE_ACTIONS = frozenset({"kms:GenerateDataKey", "kms:Encrypt"})
READ_ACTIONS = frozenset({"kms:Decrypt"})
# validate() codes that are per-log-group statuses here (computed with the real key
# ARN by _logs_access), not key findings.
STATUS_FINDINGS = frozenset({LOGS_DENIED})

DEFAULT_CONCURRENCY = 8
MAX_CONCURRENCY = 64
# botocore's adaptive mode: exponential backoff with jitter on throttling errors plus
# a client-side rate limiter that slows down after throttles, shared by the threads.
RETRY_CONFIG = Config(retries={"max_attempts": 10, "mode": "adaptive"})
# The identity check runs first and only once: fail fast on a wrong endpoint or
# rejected credentials instead of backing off for a minute.
IDENTITY_CONFIG = Config(
    retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=10, read_timeout=30
)
# The only operations an audit may make (asserted by the tests).
READ_ONLY_PREFIXES = ("Describe", "Get", "List")


# --- data ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogGroup:
    """One encrypted log group as DescribeLogGroups reports it."""

    name: str
    region: str
    account: str
    arn: str  # without the trailing ":*": the ARN Logs puts in the encryption context
    kms_key_id: str  # as the log group names its key (an ARN on real AWS)


@dataclass(frozen=True)
class KeyFacts:
    """What DescribeKey and GetKeyPolicy told us about one key (or how they failed)."""

    ref: str  # the kmsKeyId the log groups use
    arn: str | None = None
    region: str | None = None
    state: str | None = None
    spec: str | None = None
    usage: str | None = None
    deletion_date: str | None = None
    policy: object | None = None  # the parsed policy document
    not_found: str | None = None  # why we believe the key does not exist
    errors: tuple[str, ...] = ()  # one line per failed call: "DescribeKey: Code: message"

    @property
    def readable(self) -> bool:
        return self.not_found is None and not self.errors


@dataclass(frozen=True)
class Issue:
    """One reason a log group's key blocks (or may block) CloudWatch Logs."""

    code: str
    message: str


@dataclass(frozen=True)
class GroupResult:
    """The verdict for one log group."""

    group: LogGroup
    key: KeyFacts
    issues: tuple[Issue, ...]
    findings: tuple[Finding, ...] = ()
    denied_actions: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        return self.issues[0].code if self.issues else OK

    @property
    def broken(self) -> bool:
        """Not OK, or the key policy has an error (public, cross-account, lockout):
        warnings alone (e.g. OVERBROAD) do not make a log group broken."""
        return bool(self.issues) or any(f.severity == "error" for f in self.findings)


@dataclass(frozen=True)
class Fix:
    """What would repair one key for a set of log groups. ``statement`` is the Logs
    statement render_policy writes for exactly those log groups, when a policy change
    is (part of) the fix; ``advice`` is what no policy statement can do."""

    key: str
    region: str
    log_groups: tuple[str, ...]
    statement: dict[str, Any] | None
    advice: tuple[str, ...]


@dataclass
class AuditReport:
    """Everything one audit found, plus how it was found (for the summary and bench)."""

    account: str
    regions: tuple[str, ...]
    results: list[GroupResult]
    keys: dict[str, KeyFacts]
    unencrypted: int = 0
    calls: Counter[str] = field(default_factory=Counter)
    timings: dict[str, float] = field(default_factory=dict)
    fixes: list[Fix] | None = None

    def counts(self) -> dict[str, int]:
        """Log groups per status, every status listed (zeros included)."""
        counted = Counter(result.status for result in self.results)
        return {status: counted.get(status, 0) for status in ALL_STATUSES}

    @property
    def broken(self) -> list[GroupResult]:
        return [result for result in self.results if result.broken]

    @property
    def exit_code(self) -> int:
        return 1 if self.broken else 0


# --- pure logic ------------------------------------------------------------------------


def kms_arn_parts(text: str) -> tuple[str, str, str, str] | None:
    """(partition, region, account, resource) of a KMS ARN, else None."""
    parts = text.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "kms":
        return None
    return parts[1], parts[3], parts[4], parts[5]


def key_region(facts: KeyFacts) -> str | None:
    """The key's region: from DescribeKey's ARN, else from the ARN the log group names."""
    for text in (facts.arn, facts.ref):
        parts = kms_arn_parts(text) if text else None
        if parts and parts[1]:
            return parts[1]
    return facts.region


def log_group_from_api(item: Mapping[str, Any], region: str, account: str) -> LogGroup | None:
    """A DescribeLogGroups entry as a LogGroup, or None when it has no KMS key.

    The account comes from the log group's own ARN when present (it is the account
    Logs pins in the encryption context), else from the caller's identity.
    """
    key = item.get("kmsKeyId")
    if not key:
        return None
    name = str(item["logGroupName"])
    arn = str(item.get("logGroupArn") or str(item.get("arn") or "").removesuffix(":*"))
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[4]:
        account = parts[4]
    else:
        partition = partition_for_region(region)
        arn = f"arn:{partition.name}:logs:{region}:{account}:log-group:{name}"
    return LogGroup(name, region, account, arn, str(key))


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
    document: object,
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
    try:
        report = validate(document, target)
    except PolicyError:
        return []  # _audit_key already reports the policy as unusable
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
                        facts.policy,
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
    except InputError:
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


# --- AWS edge --------------------------------------------------------------------------


def _error_line(operation: str, error: Exception) -> str:
    """A failed call as one line: ``Operation: Code: message``."""
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code = details.get("Code") or "Error"
        message = " ".join(str(details.get("Message") or "").split())
        return f"{operation}: {code}" + (f": {message}" if message else "")
    return f"{operation}: {type(error).__name__}: {' '.join(str(error).split())}"


def _error_code(error: Exception) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code") or "")
    return ""


class AwsFacts:
    """Reads log groups and keys from AWS; the audit's only I/O with the account.

    Clients are created up front in the calling thread (a boto3 session is not
    thread-safe, its clients are) and share one retry policy: adaptive retries with
    backoff for throttling. Every operation made is counted in ``calls``.
    """

    def __init__(
        self,
        session: boto3.session.Session,
        endpoint_url: str | None = None,
        *,
        config: Config = RETRY_CONFIG,
    ) -> None:
        self._session = session
        self._endpoint_url = endpoint_url
        self._config = config
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()

    def _client(self, service: str, region: str) -> Any:
        client = self._clients.get((service, region))
        if client is None:
            client = self._session.client(
                service,  # type: ignore[call-overload]
                region_name=region,
                endpoint_url=self._endpoint_url,
                config=IDENTITY_CONFIG if service == "sts" else self._config,
            )
            client.meta.events.register("before-parameter-build", self._count)
            self._clients[(service, region)] = client
        return client

    def _count(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.calls[str(model.name)] += 1

    def account(self, region: str) -> str:
        """The caller's account (STS GetCallerIdentity); bad credentials are bad input."""
        try:
            identity = self._client("sts", region).get_caller_identity()
        except NoCredentialsError:
            raise InputError(_NO_CREDENTIALS) from None
        except ClientError as error:
            raise InputError(
                f"AWS rejected the credentials ({_error_line('GetCallerIdentity', error)})"
            ) from None
        except BotoCoreError as error:
            raise InputError(f"cannot reach AWS STS in {region}: {error}") from None
        return str(identity["Account"])

    def log_groups(
        self,
        region: str,
        account: str,
        prefix: str | None = None,
        on_page: Callable[[int], None] | None = None,
    ) -> tuple[list[LogGroup], int]:
        """Every log group with a KMS key in ``region`` (paginated), and how many without."""
        paginator = self._client("logs", region).get_paginator("describe_log_groups")
        kwargs = {"logGroupNamePrefix": prefix} if prefix else {}
        groups: list[LogGroup] = []
        unencrypted = seen = 0
        try:
            for page in paginator.paginate(**kwargs):
                for item in page.get("logGroups", []):
                    seen += 1
                    group = log_group_from_api(item, region, account)
                    if group is None:
                        unencrypted += 1
                    else:
                        groups.append(group)
                if on_page is not None:
                    on_page(seen)
        except (ClientError, BotoCoreError) as error:
            raise InputError(
                f"cannot list log groups in {region} ({_error_line('DescribeLogGroups', error)})"
            ) from None
        return groups, unencrypted

    def key_facts(self, ref: str, default_region: str) -> KeyFacts:
        """DescribeKey then GetKeyPolicy (policy name "default") for one key, in the
        key's own region (KMS answers NotFound for another region's key ARN)."""
        region = _call_region(ref, default_region)
        try:
            kms = self._client("kms", region)
        except (BotoCoreError, ValueError) as error:  # e.g. a malformed region in the ARN
            return KeyFacts(ref, region=region, errors=(_error_line("DescribeKey", error),))
        errors: list[str] = []
        facts: dict[str, Any] = {"region": region}
        try:
            meta = kms.describe_key(KeyId=ref)["KeyMetadata"]
        except (ClientError, BotoCoreError) as error:
            if _error_code(error) == "NotFoundException":
                return KeyFacts(ref, region=region, not_found=_error_line("DescribeKey", error))
            errors.append(_error_line("DescribeKey", error))
        else:
            deletion = meta.get("DeletionDate")
            facts.update(
                arn=meta.get("Arn"),
                state=meta.get("KeyState"),
                spec=meta.get("KeySpec") or meta.get("CustomerMasterKeySpec"),
                usage=meta.get("KeyUsage"),
                deletion_date=deletion.isoformat() if hasattr(deletion, "isoformat") else None,
            )
        try:
            # GetKeyPolicy takes a key id or key ARN, not an alias: use DescribeKey's ARN.
            text = kms.get_key_policy(KeyId=facts.get("arn") or ref, PolicyName="default")["Policy"]
            facts["policy"] = json.loads(text)
        except (ClientError, BotoCoreError) as error:
            errors.append(_error_line("GetKeyPolicy", error))
        except (TypeError, ValueError) as error:
            errors.append(f"GetKeyPolicy: the policy is not JSON ({error})")
        return KeyFacts(ref, errors=tuple(errors), **facts)

    def fetch_keys(
        self,
        refs: Mapping[str, str],
        concurrency: int = DEFAULT_CONCURRENCY,
        on_done: Callable[[int, int], None] | None = None,
    ) -> dict[str, KeyFacts]:
        """``key_facts`` for every key (ref -> the region to ask when ref is no ARN),
        ``concurrency`` at a time. Each key is looked up exactly once."""
        # Create the clients here, in one thread: a boto3 session is not thread-safe.
        for ref, default_region in refs.items():
            with contextlib.suppress(BotoCoreError, ValueError):  # key_facts reports it
                self._client("kms", _call_region(ref, default_region))
        results: dict[str, KeyFacts] = {}
        executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="audit-key")
        try:
            futures: dict[Future[KeyFacts], str] = {
                executor.submit(self.key_facts, ref, region): ref for ref, region in refs.items()
            }
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                if on_done is not None:
                    on_done(len(results), len(refs))
        finally:
            executor.shutdown(wait=True, cancel_futures=True)
        return results


def _call_region(ref: str, default_region: str) -> str:
    """Where to ask KMS about a key: its ARN's region, else the log group's."""
    parts = kms_arn_parts(ref)
    return parts[1] if parts and parts[1] else default_region


_NO_CREDENTIALS = (
    "no AWS credentials found: pass --profile, set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
    "or AWS_PROFILE, or run where an instance/container role is available"
)


# --- progress --------------------------------------------------------------------------


class Progress:
    """Progress on stderr: a bar on a terminal, a line every few seconds otherwise, or
    nothing (``--format json`` off a terminal).

    Stdout carries the report, so progress never goes there.
    """

    # Plain lines at most this often (plus the final count): a log, not a flood.
    LINE_INTERVAL_S = 2.0

    def __init__(self, stream: TextIO, mode: Literal["bar", "lines", "off"]) -> None:
        self.stream = stream
        self.mode = mode
        self._last_line = time.monotonic()
        self._drawn = False

    @classmethod
    def for_output(cls, stream: TextIO, output_format: str) -> Progress:
        if stream.isatty():
            return cls(stream, "bar")
        return cls(stream, "off" if output_format == "json" else "lines")

    def listed(self, region: str, count: int, done: bool = False) -> None:
        if self.mode == "bar":
            self._draw(f"listing log groups in {region}: {count}")
        elif self.mode == "lines" and done:
            self._line(f"audit: {region}: listed {count} log group(s)")

    def keys(self, done: int, total: int) -> None:
        if self.mode == "bar":
            width = 30
            filled = width * done // max(total, 1)
            self._draw(f"keys [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        elif self.mode == "lines":
            now = time.monotonic()
            if done == total or now - self._last_line >= self.LINE_INTERVAL_S:
                self._last_line = now
                self._line(f"audit: looked up {done}/{total} key(s)")

    def finish(self) -> None:
        if self.mode == "bar" and self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = False

    def _draw(self, text: str) -> None:
        self.stream.write(f"\r\x1b[K{text}")
        self.stream.flush()
        self._drawn = True

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()


# --- running an audit ------------------------------------------------------------------


@dataclass(frozen=True)
class AuditOptions:
    """The command line, validated."""

    regions: tuple[str, ...] = ()
    profile: str | None = None
    prefix: str | None = None
    output_format: Literal["text", "json", "csv"] = "text"
    suggest_fix: bool = False
    concurrency: int = DEFAULT_CONCURRENCY
    endpoint_url: str | None = None


def new_session(profile: str | None) -> boto3.session.Session:
    """The boto3 session for ``--profile`` (tests replace this to watch the calls)."""
    try:
        return boto3.session.Session(profile_name=profile)
    except ProfileNotFound:
        raise InputError(f"unknown AWS profile {profile!r}: see ~/.aws/config") from None
    except BotoCoreError as error:
        raise InputError(f"cannot load AWS configuration: {error}") from None


def check_options(options: AuditOptions, session: boto3.session.Session) -> AuditOptions:
    """Fill in the default region and refuse bad input before any call is made."""
    if not 1 <= options.concurrency <= MAX_CONCURRENCY:
        raise InputError(
            f"invalid --concurrency {options.concurrency}: expected 1 to {MAX_CONCURRENCY}"
        )
    if options.prefix is not None and not LOG_GROUP_PATTERN.fullmatch(options.prefix):
        raise InputError(
            f"invalid --log-group-prefix {options.prefix!r}: expected 1-512 characters of "
            "a-z A-Z 0-9 _ - / . #"
        )
    regions = tuple(dict.fromkeys(options.regions))
    if not regions:
        # botocore reads AWS_DEFAULT_REGION and the profile; AWS_REGION is what the other
        # SDKs (and the render command) read, so honour it first.
        default = os.environ.get("AWS_REGION") or session.region_name
        if not default:
            raise InputError(
                "no region: pass --region, or set AWS_REGION/AWS_DEFAULT_REGION or a region "
                "in the profile"
            )
        regions = (default,)
    for region in regions:
        partition_for_region(region)  # raises the one-line error
    endpoint = options.endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
    if endpoint is not None and not endpoint.startswith(("http://", "https://")):
        raise InputError(f"invalid --endpoint-url {endpoint!r}: expected http(s)://host[:port]")
    if session.get_credentials() is None:
        raise InputError(_NO_CREDENTIALS)
    return dataclasses.replace(options, regions=regions, endpoint_url=endpoint)


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


def run(
    options: AuditOptions,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """The audit command: collect, print in the chosen format, exit 1 if anything is broken."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    session = new_session(options.profile)
    report = collect(options, session, Progress.for_output(stderr, options.output_format))
    if options.output_format == "json":
        stdout.write(json.dumps(audit_json(report), indent=2) + "\n")
    elif options.output_format == "csv":
        write_csv(report, stdout)
        stderr.write(summary_line(report) + "\n")
    else:
        write_text(report, stdout)
    return report.exit_code


def run_cli(args: argparse.Namespace) -> int:
    """Entry point for ``policy_gen.cli``'s ``audit`` subcommand."""
    options = AuditOptions(
        regions=tuple(args.region or ()),
        profile=args.profile,
        prefix=args.log_group_prefix,
        output_format=args.format,
        suggest_fix=args.suggest_fix,
        concurrency=args.concurrency,
        endpoint_url=args.endpoint_url,
    )
    return run(options)


# --- output ----------------------------------------------------------------------------


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
