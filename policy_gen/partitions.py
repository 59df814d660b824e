"""Partitions, regions, accounts and log-group names: the table and its validators.

Everything region- or partition-specific lives in ``PARTITIONS`` so that adding a
partition is a data change, not a new ``if``. The Logs service principal per
partition is *unverified* by any AWS document: the CloudWatch Logs user guide
("Encrypt log data in CloudWatch Logs using AWS KMS",
https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html)
gives the principal as ``logs.<region>.amazonaws.com``, and the per-partition
suffixes come from the CDK region-info table and Terraform's
``aws_service_principal`` data source, which is why ``Partition.principal_source``
says so and the CLI repeats it in its output.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass

from sam_project.errors import UserError


@dataclass(frozen=True)
class Partition:
    """One AWS partition and what a key policy for CloudWatch Logs needs from it."""

    name: str
    region_pattern: re.Pattern[str]
    # Service principal DNS suffix: logs.<region>.<suffix>.
    principal_suffix: str
    # Regions known when this table was written (botocore endpoints.json, 2026-10).
    # A region that matches the pattern but is not listed is accepted: AWS opens
    # regions faster than tables are updated.
    known_regions: frozenset[str]
    principal_source: str = "unverified: CDK region-info and Terraform aws_service_principal"


PARTITIONS: dict[str, Partition] = {
    p.name: p
    for p in (
        Partition(
            name="aws",
            region_pattern=re.compile(r"(us|eu|ap|sa|ca|me|af|il|mx)-[a-z]+-[0-9]{1,2}"),
            principal_suffix="amazonaws.com",
            known_regions=frozenset(
                [
                    "af-south-1",
                    "ap-east-1",
                    "ap-east-2",
                    "ap-northeast-1",
                    "ap-northeast-2",
                    "ap-northeast-3",
                    "ap-south-1",
                    "ap-south-2",
                    "ap-southeast-1",
                    "ap-southeast-2",
                    "ap-southeast-3",
                    "ap-southeast-4",
                    "ap-southeast-5",
                    "ap-southeast-6",
                    "ap-southeast-7",
                    "ca-central-1",
                    "ca-west-1",
                    "eu-central-1",
                    "eu-central-2",
                    "eu-north-1",
                    "eu-south-1",
                    "eu-south-2",
                    "eu-west-1",
                    "eu-west-2",
                    "eu-west-3",
                    "il-central-1",
                    "me-central-1",
                    "me-south-1",
                    "mx-central-1",
                    "sa-east-1",
                    "us-east-1",
                    "us-east-2",
                    "us-west-1",
                    "us-west-2",
                ]
            ),
            principal_source="documented: CloudWatch Logs user guide, encrypt-log-data-kms",
        ),
        Partition(
            name="aws-cn",
            region_pattern=re.compile(r"cn-[a-z]+-[0-9]{1,2}"),
            principal_suffix="amazonaws.com.cn",
            known_regions=frozenset({"cn-north-1", "cn-northwest-1"}),
        ),
        Partition(
            name="aws-us-gov",
            region_pattern=re.compile(r"us-gov-[a-z]+-[0-9]{1,2}"),
            principal_suffix="amazonaws.com",
            known_regions=frozenset({"us-gov-east-1", "us-gov-west-1"}),
        ),
        Partition(
            name="aws-iso",
            region_pattern=re.compile(r"us-iso-[a-z]+-[0-9]{1,2}"),
            principal_suffix="c2s.ic.gov",
            known_regions=frozenset({"us-iso-east-1", "us-iso-west-1"}),
        ),
        Partition(
            name="aws-iso-b",
            region_pattern=re.compile(r"us-isob-[a-z]+-[0-9]{1,2}"),
            principal_suffix="sc2s.sgov.gov",
            known_regions=frozenset({"us-isob-east-1", "us-isob-west-1"}),
        ),
    )
}

ACCOUNT_PATTERN = re.compile(r"[0-9]{12}")
# CloudWatch Logs CreateLogGroup: 1-512 characters of a-z, A-Z, 0-9, '_', '-', '/', '.', '#'.
LOG_GROUP_PATTERN = re.compile(r"[\w./#-]{1,512}", re.ASCII)
# Any partition's region, for recognising regional principals in someone else's policy.
ANY_REGION_PATTERN = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}")


def get_partition(name: str) -> Partition:
    """The partition called ``name``, or an UserError listing the ones we know."""
    try:
        return PARTITIONS[name]
    except KeyError:
        known = ", ".join(sorted(PARTITIONS))
        raise UserError(
            f"unknown partition {name!r}: expected one of {known} "
            "(for another partition pass the Logs principal explicitly)"
        ) from None


def partition_for_region(region: str) -> Partition:
    """Which partition a well-formed region belongs to (the most specific match)."""
    # aws's pattern would not match us-gov-*/us-iso-* (their middle part has a dash),
    # so at most one partition matches; the loop keeps the table the only source.
    for partition in PARTITIONS.values():
        if partition.region_pattern.fullmatch(region):
            return partition
    raise UserError(
        f"invalid region {region!r}: expected a region name such as us-east-1, "
        "cn-north-1 or us-gov-west-1"
    )


def check_region(partition: Partition, region: str) -> str:
    """Return ``region`` if it is a well-formed region of ``partition``."""
    if not partition.region_pattern.fullmatch(region):
        owner = None
        with contextlib.suppress(UserError):
            owner = partition_for_region(region)
        if owner is not None:
            raise UserError(
                f"region {region!r} belongs to partition {owner.name!r}, not {partition.name!r}"
            )
        raise UserError(
            f"invalid region {region!r} for partition {partition.name!r}: expected a name "
            f"matching {partition.region_pattern.pattern}"
        )
    return region


def check_account(account: str) -> str:
    """Return ``account`` if it is a 12-digit AWS account id."""
    if not ACCOUNT_PATTERN.fullmatch(account):
        raise UserError(f"invalid account {account!r}: expected exactly 12 digits")
    return account


def check_log_group_name(name: str) -> str:
    """Return ``name`` if CloudWatch Logs would accept it as a log group name."""
    if not LOG_GROUP_PATTERN.fullmatch(name):
        if len(name) > 512:
            raise UserError(
                f"invalid log group name {name[:40]!r}... ({len(name)} characters): "
                "expected at most 512"
            )
        raise UserError(
            f"invalid log group name {name!r}: expected 1-512 characters of a-z A-Z 0-9 _ - / . #"
        )
    if name.startswith("aws/"):
        raise UserError(f"invalid log group name {name!r}: names starting with 'aws/' are reserved")
    return name


def logs_principal(partition: Partition, region: str) -> str:
    """The regional CloudWatch Logs service principal, e.g. ``logs.eu-west-1.amazonaws.com``."""
    return f"logs.{region}.{partition.principal_suffix}"


def log_group_arn(partition: Partition, region: str, account: str, name: str) -> str:
    """The log group ARN as Logs puts it in the encryption context (no trailing ``:*``)."""
    return f"arn:{partition.name}:logs:{region}:{account}:log-group:{name}"


def root_arn(partition: Partition, account: str) -> str:
    """The account principal that keeps the account in control of the key."""
    return f"arn:{partition.name}:iam::{account}:root"


def resolve_partition(name: str | None, region: str, logs_principal: str | None) -> Partition:
    """The partition for ``region``: named, inferred from the region, or ad hoc.

    An unknown partition is accepted only with an explicit Logs principal, because the
    principal's DNS suffix is the one fact about it this table would otherwise supply.
    """
    if name is None:
        return partition_for_region(region)
    try:
        return get_partition(name)
    except UserError:
        if logs_principal is None:
            raise
    prefix = f"logs.{region}."
    if not logs_principal.startswith(prefix):
        raise UserError(
            f"invalid --logs-principal {logs_principal!r}: expected logs.{region}.<dns suffix>"
        )
    return Partition(
        name=name,
        region_pattern=ANY_REGION_PATTERN,
        principal_suffix=logs_principal[len(prefix) :],
        known_regions=frozenset(),
        principal_source="given on the command line",
    )
