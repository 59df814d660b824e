"""An organization audit as plain data: accounts, account-regions, their statuses.

``audit --organization`` audits many (account, region) pairs. Each pair is one unit
of work with its own outcome: audited (its log groups judged as in a single-account
audit), not enabled in that account, or failed; each account has one too (its role
assumed or not, active or not). Nothing here calls AWS: the report is built from
these records, and ``org_state`` writes and reads them to resume a run.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from policy_gen.audit.model import ALL_STATUSES, Fix, GroupResult, LogGroup, kms_arn_parts

# --- account statuses ------------------------------------------------------------------

AUDITED = "AUDITED"
ROLE_NOT_ASSUMABLE = "ROLE_NOT_ASSUMABLE"
ACCOUNT_NOT_ACTIVE = "ACCOUNT_NOT_ACTIVE"
REGIONS_UNREADABLE = "REGIONS_UNREADABLE"
ACCOUNT_STATUSES = (AUDITED, ROLE_NOT_ASSUMABLE, REGIONS_UNREADABLE, ACCOUNT_NOT_ACTIVE)

# --- account-region statuses ---------------------------------------------------------

REGION_NOT_ENABLED = "REGION_NOT_ENABLED"
REGION_FAILED = "REGION_FAILED"
UNIT_STATUSES = (AUDITED, REGION_FAILED, REGION_NOT_ENABLED)

# Outcomes that leave part of the organization unaudited: the run cannot say
# "nothing is broken" there, so they make the exit code 1 like a broken log group
# (an unreadable key does too). An inactive account or a region the account has not
# enabled holds nothing CloudWatch Logs can write to: reported, not a failure.
INCOMPLETE = frozenset({ROLE_NOT_ASSUMABLE, REGIONS_UNREADABLE, REGION_FAILED})


KeyId = str | tuple[str, str, str]  # a key ARN, or (account, region, ref) for a bare id


def key_id(group: LogGroup) -> KeyId:
    """Which key a log group uses, across the organization: a key ARN names one key
    everywhere; a bare key id or alias only in its account and region."""
    ref = group.kms_key_id
    return ref if kms_arn_parts(ref) else (group.account, group.region, ref)


@dataclass(frozen=True)
class Account:
    """One account as Organizations' ListAccounts reports it."""

    id: str
    name: str
    state: str  # ACTIVE, SUSPENDED, PENDING_CLOSURE, CLOSED ...

    @property
    def active(self) -> bool:
        return self.state == "ACTIVE"


@dataclass(frozen=True)
class AccountPlan:
    """What the account said before its regions were audited: its status and the
    regions to audit. ``not_enabled``: (region, why) for each requested region the
    account has not enabled."""

    account: str
    status: str
    message: str = ""
    regions: tuple[str, ...] = ()
    not_enabled: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class UnitResult:
    """The outcome of one (account, region): its verdicts when it was audited.

    ``fixes`` are always computed (``--suggest-fix`` only decides whether they are
    printed), so a resumed run can print them for pairs audited before.
    """

    account: str
    region: str
    status: str
    message: str = ""
    results: tuple[GroupResult, ...] = ()
    unencrypted: int = 0
    fixes: tuple[Fix, ...] = ()

    @property
    def broken(self) -> list[GroupResult]:
        return [result for result in self.results if result.broken]


@dataclass
class OrgReport:
    """Everything one organization audit found, ordered by account and region."""

    organization: str
    caller: str  # the auditing principal's ARN
    role_name: str
    regions: tuple[str, ...]  # as requested: ("all",) or region names
    accounts: list[Account]
    plans: dict[str, AccountPlan]
    units: list[UnitResult]
    calls: Counter[str] = field(default_factory=Counter)
    from_state: int = 0  # account-regions taken from --state, not audited in this run
    suggest_fix: bool = False

    def account_status(self, account: Account) -> str:
        if not account.active:
            return ACCOUNT_NOT_ACTIVE
        plan = self.plans.get(account.id)
        return plan.status if plan else AUDITED

    def results(self) -> list[GroupResult]:
        return [result for unit in self.units for result in unit.results]

    def key_count(self) -> int:
        """Distinct keys used by the log groups found."""
        return len({key_id(result.group) for result in self.results()})

    def unencrypted(self) -> int:
        return sum(unit.unencrypted for unit in self.units)

    def counts(self) -> dict[str, int]:
        """Log groups per status, every status listed (zeros included)."""
        counted = Counter(result.status for result in self.results())
        return {status: counted.get(status, 0) for status in ALL_STATUSES}

    def account_counts(self) -> dict[str, int]:
        counted = Counter(self.account_status(account) for account in self.accounts)
        return {status: counted.get(status, 0) for status in ACCOUNT_STATUSES}

    def unit_counts(self) -> dict[str, int]:
        counted = Counter(unit.status for unit in self.units)
        return {status: counted.get(status, 0) for status in UNIT_STATUSES}

    @property
    def broken(self) -> list[GroupResult]:
        return [result for result in self.results() if result.broken]

    @property
    def incomplete(self) -> bool:
        """Some account or account-region could not be audited."""
        return any(self.account_status(a) in INCOMPLETE for a in self.accounts) or any(
            unit.status in INCOMPLETE for unit in self.units
        )

    @property
    def exit_code(self) -> int:
        return 1 if self.broken or self.incomplete else 0
