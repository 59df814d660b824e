"""Which accounts and regions an organization audit covers, decided without AWS.

The AWS edge (``org_aws``) asks Organizations for the accounts and each account for
its regions; the choices made from those answers live here, as pure functions:

* the ``--organization`` options, validated before any call;
* the accounts to audit (``ListAccounts`` narrowed by ``--accounts`` and
  ``--exclude-accounts``; only ACTIVE ones are audited);
* the regions to audit in one account (``DescribeRegions`` with ``AllRegions``: a
  region is enabled when its ``OptInStatus`` is ``opt-in-not-required`` or
  ``opted-in``, EC2 API reference, DescribeRegions / Region);
* the role ARN to assume and a ``RoleSessionName`` that names the auditor, so the
  member account's CloudTrail says who read it.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policy_gen.audit.org_model import AUDITED, REGIONS_UNREADABLE, Account, AccountPlan
from policy_gen.partitions import ACCOUNT_PATTERN, Partition, partition_for_region
from sam_project.errors import UserError

ALL_REGIONS = "all"
# DescribeRegions' OptInStatus values of a region the account can use.
ENABLED_OPT_IN = frozenset({"opt-in-not-required", "opted-in"})
# IAM: a role name is 1-64 of [\w+=,.@-], optionally under a path of such segments.
ROLE_NAME_PATTERN = re.compile(r"(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}", re.ASCII)
# STS AssumeRole: ExternalId is 2-1224 of [\w+=,.@:/-].
EXTERNAL_ID_PATTERN = re.compile(r"[\w+=,.@:/-]{2,1224}", re.ASCII)
# STS AssumeRole: RoleSessionName is 2-64 of [\w+=,.@-].
SESSION_NAME_CHARS = re.compile(r"[^\w+=,.@-]", re.ASCII)
SESSION_NAME_PREFIX = "policy-gen-audit"
MAX_SESSION_NAME = 64


@dataclass(frozen=True)
class OrgOptions:
    """The ``--organization`` part of the command line, validated.

    ``regions`` is None for ``--region all`` (each account's enabled regions);
    otherwise the regions the single-account options resolved.
    """

    role_name: str
    external_id: str | None = None
    all_regions: bool = False
    accounts: tuple[str, ...] = ()
    exclude_accounts: tuple[str, ...] = ()
    state: Path | None = None


def check_org_options(options: OrgOptions) -> OrgOptions:
    """Refuse bad ``--organization`` input before any call is made."""
    if not ROLE_NAME_PATTERN.fullmatch(options.role_name):
        raise UserError(
            f"invalid --role-name {options.role_name!r}: expected an IAM role name "
            "(1-64 of a-z A-Z 0-9 + = , . @ _ -), optionally after a path such as audit/"
        )
    if options.external_id is not None and not EXTERNAL_ID_PATTERN.fullmatch(options.external_id):
        # The value may be a shared secret: say what is wrong, not what it is.
        raise UserError(
            f"invalid --external-id ({len(options.external_id)} characters): expected 2-1224 "
            "of a-z A-Z 0-9 + = , . @ : / _ -"
        )
    for flag, ids in (
        ("--accounts", options.accounts),
        ("--exclude-accounts", options.exclude_accounts),
    ):
        for account in ids:
            if not ACCOUNT_PATTERN.fullmatch(account):
                raise UserError(f"invalid {flag} {account!r}: expected 12-digit account ids")
    both = sorted(set(options.accounts) & set(options.exclude_accounts))
    if both:
        raise UserError(f"invalid --accounts/--exclude-accounts: {', '.join(both)} is in both")
    return OrgOptions(
        role_name=options.role_name,
        external_id=options.external_id,
        all_regions=options.all_regions,
        accounts=tuple(dict.fromkeys(options.accounts)),
        exclude_accounts=tuple(dict.fromkeys(options.exclude_accounts)),
        state=options.state,
    )


def split_regions(regions: Sequence[str]) -> tuple[bool, tuple[str, ...]]:
    """``--region all`` (alone) or region names: (all_regions, the names)."""
    if ALL_REGIONS not in regions:
        return False, tuple(regions)
    if len(set(regions)) > 1:
        raise UserError(
            f"invalid --region {' '.join(regions)}: 'all' means every enabled region, give it alone"
        )
    return True, ()


def account_from_api(item: Mapping[str, Any]) -> Account:
    """A ListAccounts entry. ``State`` replaces the deprecated ``Status`` (Organizations
    API reference, Account); either is read, ``State`` first."""
    state = item.get("State") or item.get("Status") or "UNKNOWN"
    return Account(str(item["Id"]), str(item.get("Name") or ""), str(state))


def select_accounts(listed: Iterable[Account], options: OrgOptions) -> list[Account]:
    """The organization's accounts narrowed by ``--accounts``/``--exclude-accounts``,
    by id. An id in either list that is not in the organization is bad input: a typo
    there would audit, or skip, the wrong account without a word."""
    by_id = {account.id: account for account in listed}
    for flag, ids in (
        ("--accounts", options.accounts),
        ("--exclude-accounts", options.exclude_accounts),
    ):
        unknown = [account for account in ids if account not in by_id]
        if unknown:
            raise UserError(
                f"invalid {flag} {', '.join(unknown)}: not an account of the organization "
                f"(ListAccounts lists {len(by_id)})"
            )
    wanted = set(options.accounts) or set(by_id)
    wanted -= set(options.exclude_accounts)
    return [by_id[account] for account in sorted(wanted)]


def _partition_of(region: str) -> Partition | None:
    with contextlib.suppress(UserError):
        return partition_for_region(region)
    return None


def plan_regions(
    account: str,
    partition: Partition,
    requested: Sequence[str] | None,
    answer: Mapping[str, str] | None,
    error: str | None = None,
) -> AccountPlan:
    """The regions to audit in ``account`` from its DescribeRegions ``answer``
    (region -> OptInStatus), or from ``error`` when that call failed.

    ``requested`` None means every enabled region of the caller's partition. Named
    regions the account has not enabled become REGION_NOT_ENABLED units. When the
    account cannot say (``error``), named regions are audited anyway (the audit of
    each will tell), but "every enabled region" cannot be known: REGIONS_UNREADABLE.
    """
    if answer is None:
        if requested is None:
            return AccountPlan(account, REGIONS_UNREADABLE, f"cannot list its regions ({error})")
        return AccountPlan(
            account,
            AUDITED,
            f"cannot list its regions ({error}): the named regions are audited without "
            "knowing whether they are enabled",
            tuple(requested),
        )
    enabled = sorted(
        region
        for region, status in answer.items()
        if status in ENABLED_OPT_IN and _partition_of(region) is partition
    )
    if requested is None:
        return AccountPlan(account, AUDITED, regions=tuple(enabled))
    return AccountPlan(
        account,
        AUDITED,
        regions=tuple(region for region in requested if region in enabled),
        not_enabled=tuple(
            (region, _not_enabled_message(answer.get(region)))
            for region in requested
            if region not in enabled
        ),
    )


def _not_enabled_message(status: str | None) -> str:
    if status is None:
        return "not among the regions this account reports (DescribeRegions)"
    return f"not enabled in this account (DescribeRegions: OptInStatus {status})"


def role_arn(partition: Partition, account: str, role_name: str) -> str:
    return f"arn:{partition.name}:iam::{account}:role/{role_name}"


def session_name(caller_arn: str) -> str:
    """``policy-gen-audit.<who>``: the auditing user, or the session name of an assumed
    role (usually the person or pipeline behind it), so each member account's
    CloudTrail names who audited it. At most 64 characters, STS's alphabet."""
    resource = caller_arn.split(":", 5)[-1]
    parts = resource.split("/")
    if (parts[0] == "assumed-role" and len(parts) >= 3) or (
        parts[0] in ("user", "federated-user") and len(parts) >= 2
    ):
        who = parts[-1]
    else:
        who = parts[0] or "unknown"
    name = f"{SESSION_NAME_PREFIX}.{SESSION_NAME_CHARS.sub('-', who)}"
    return name[:MAX_SESSION_NAME]


def fingerprint(
    options: OrgOptions, regions: Sequence[str], prefix: str | None, caller_account: str
) -> dict[str, Any]:
    """What must be the same for a ``--state`` file to be resumed: the same caller,
    role, regions, accounts and prefix. The external id is a shared secret: only its
    digest is kept."""
    digest = (
        hashlib.sha256(options.external_id.encode()).hexdigest()
        if options.external_id is not None
        else None
    )
    return {
        "caller_account": caller_account,
        "role_name": options.role_name,
        "external_id_sha256": digest,
        "regions": ALL_REGIONS if options.all_regions else list(regions),
        "accounts": sorted(options.accounts),
        "exclude_accounts": sorted(options.exclude_accounts),
        "log_group_prefix": prefix,
    }
