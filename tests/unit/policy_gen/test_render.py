"""render_policy: region-, partition- and account-specific, exact log-group ARNs."""

from __future__ import annotations

import pytest

from policy_gen.partitions import PARTITIONS, get_partition, partition_for_region
from policy_gen.render import ENCRYPTION_CONTEXT_KEY, LOGS_ACTIONS, render_policy
from sam_project.errors import UserError

CASES = [
    ("aws", "us-east-1", "logs.us-east-1.amazonaws.com"),
    ("aws", "ap-southeast-1", "logs.ap-southeast-1.amazonaws.com"),
    ("aws", "il-central-1", "logs.il-central-1.amazonaws.com"),
    ("aws-cn", "cn-north-1", "logs.cn-north-1.amazonaws.com.cn"),
    ("aws-us-gov", "us-gov-west-1", "logs.us-gov-west-1.amazonaws.com"),
    ("aws-iso", "us-iso-east-1", "logs.us-iso-east-1.c2s.ic.gov"),
    ("aws-iso-b", "us-isob-east-1", "logs.us-isob-east-1.sc2s.sgov.gov"),
]


@pytest.mark.parametrize(("partition", "region", "principal"), CASES)
def test_principal_root_and_arns_follow_partition_and_region(
    partition: str, region: str, principal: str
) -> None:
    policy = render_policy(
        get_partition(partition), region, "111122223333", ["/app/function", "/app/access"]
    )
    root, logs = policy["Statement"]
    assert root["Principal"] == {"AWS": f"arn:{partition}:iam::111122223333:root"}
    assert root["Action"] == "kms:*"
    assert logs["Principal"] == {"Service": principal}
    assert logs["Action"] == list(LOGS_ACTIONS)
    assert logs["Condition"] == {
        "ArnEquals": {
            ENCRYPTION_CONTEXT_KEY: [
                f"arn:{partition}:logs:{region}:111122223333:log-group:/app/access",
                f"arn:{partition}:logs:{region}:111122223333:log-group:/app/function",
            ]
        }
    }


def test_single_log_group_is_a_plain_string_condition() -> None:
    policy = render_policy(get_partition("aws"), "eu-west-1", "012345678901", ["/x/y"])
    condition = policy["Statement"][1]["Condition"]["ArnEquals"][ENCRYPTION_CONTEXT_KEY]
    assert condition == "arn:aws:logs:eu-west-1:012345678901:log-group:/x/y"


def test_every_partition_in_the_table_renders() -> None:
    for partition in PARTITIONS.values():
        region = sorted(partition.known_regions)[0]
        assert partition_for_region(region) is partition
        policy = render_policy(partition, region, "111122223333", ["/a"])
        assert policy["Statement"][1]["Principal"]["Service"].startswith(f"logs.{region}.")


@pytest.mark.parametrize(
    ("partition", "region", "account", "names", "fragment"),
    [
        ("aws", "ap-southeast-99x", "111122223333", ["/a"], "ap-southeast-99x"),
        ("aws", "cn-north-1", "111122223333", ["/a"], "belongs to partition 'aws-cn'"),
        ("aws", "us-east-1", "11112222333", ["/a"], "12 digits"),
        ("aws", "us-east-1", "1111222233334", ["/a"], "12 digits"),
        ("aws", "us-east-1", "111122223333", ["/bad name"], "/bad name"),
        ("aws", "us-east-1", "111122223333", ["a" * 513], "513 characters"),
        ("aws", "us-east-1", "111122223333", ["aws/reserved"], "reserved"),
    ],
)
def test_bad_input_is_a_one_line_input_error(
    partition: str, region: str, account: str, names: list[str], fragment: str
) -> None:
    with pytest.raises(UserError) as caught:
        render_policy(get_partition(partition), region, account, names)
    assert fragment in str(caught.value)
    assert "\n" not in str(caught.value)


def test_unknown_partition_names_the_known_ones() -> None:
    with pytest.raises(UserError, match="unknown partition 'aws-mars'.*aws-cn"):
        get_partition("aws-mars")


def test_explicit_principal_overrides_the_table() -> None:
    policy = render_policy(
        get_partition("aws"),
        "us-east-1",
        "111122223333",
        ["/a"],
        principal="logs.us-east-1.example.internal",
    )
    assert policy["Statement"][1]["Principal"] == {"Service": "logs.us-east-1.example.internal"}
