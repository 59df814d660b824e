"""What an audit works with and reports: statuses, log groups, key facts, verdicts.

Plain data and the few pure functions that read AWS identifiers (KMS ARNs, a
DescribeLogGroups entry), shared by the judging, the fix advice, the AWS edge and the
output; nothing here calls AWS.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from policy_gen.partitions import partition_for_region
from policy_gen.validate import Finding

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
# The only kind of key CloudWatch Logs can use.
SYMMETRIC_SPEC = "SYMMETRIC_DEFAULT"
ENCRYPT_DECRYPT = "ENCRYPT_DECRYPT"


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
