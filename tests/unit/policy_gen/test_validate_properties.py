"""Property-based: every valid render validates cleanly; each breakage is caught
with the right code, whatever the partition, region, account and log groups."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from policy_gen.partitions import PARTITIONS, Partition
from policy_gen.render import ENCRYPTION_CONTEXT_KEY, render_policy
from policy_gen.validate import Target, validate

partitions = st.sampled_from(sorted(PARTITIONS.values(), key=lambda p: p.name))
accounts = st.from_regex(r"[0-9]{12}", fullmatch=True).filter(
    lambda a: a not in ("999988887777", "444455556666")
)
names = st.from_regex(r"/[A-Za-z0-9_.#-]{1,30}(/[A-Za-z0-9_.#-]{1,20}){0,2}", fullmatch=True)
groups = st.lists(names, min_size=1, max_size=4, unique=True)


@st.composite
def setups(draw: st.DrawFn) -> tuple[Partition, str, str, list[str]]:
    partition = draw(partitions)
    region = draw(st.sampled_from(sorted(partition.known_regions)))
    return partition, region, draw(accounts), draw(groups)


def codes(policy: dict[str, Any], setup: tuple[Partition, str, str, list[str]]) -> set[str]:
    partition, region, account, names_ = setup
    report = validate(policy, Target.checked(partition, region, account, names_))
    return {f.code for f in report.findings if f.severity == "error"} | {
        f.code for f in report.findings
    }


@settings(max_examples=60, deadline=None)
@given(setups())
def test_every_render_validates_cleanly(setup: tuple[Partition, str, str, list[str]]) -> None:
    partition, region, account, names_ = setup
    policy = render_policy(partition, region, account, names_)
    assert codes(policy, setup) == set()


@settings(max_examples=40, deadline=None)
@given(setups(), st.sampled_from(["kms:Encrypt*", "kms:Decrypt*", "kms:GenerateDataKey*"]))
def test_dropping_a_required_action_is_logs_denied(
    setup: tuple[Partition, str, str, list[str]], dropped: str
) -> None:
    policy = render_policy(*setup)
    statement = policy["Statement"][1]
    statement["Action"] = [a for a in statement["Action"] if a != dropped]
    assert "LOGS_DENIED" in codes(policy, setup)


@settings(max_examples=40, deadline=None)
@given(setups(), st.data())
def test_changing_the_principal_region_is_caught(
    setup: tuple[Partition, str, str, list[str]], data: st.DataObject
) -> None:
    partition, region, _, _ = setup
    other = data.draw(
        st.sampled_from(
            sorted(r for p in PARTITIONS.values() for r in p.known_regions if r != region)
        )
    )
    policy = render_policy(*setup)
    policy["Statement"][1]["Principal"] = {"Service": f"logs.{other}.{partition.principal_suffix}"}
    found = codes(policy, setup)
    assert {"WRONG_REGION_PRINCIPAL", "LOGS_DENIED"} <= found


@settings(max_examples=40, deadline=None)
@given(setups(), st.sampled_from(["*", "other"]))
def test_widening_the_condition_to_another_account_is_cross_account(
    setup: tuple[Partition, str, str, list[str]], how: str
) -> None:
    partition, region, account, names_ = setup
    policy = render_policy(*setup)
    statement = policy["Statement"][1]
    if how == "*":
        statement["Condition"] = {
            "ArnLike": {ENCRYPTION_CONTEXT_KEY: f"arn:{partition.name}:logs:{region}:*:log-group:*"}
        }
    else:
        arns = statement["Condition"]["ArnEquals"][ENCRYPTION_CONTEXT_KEY]
        arns = [arns] if isinstance(arns, str) else arns
        statement["Condition"]["ArnEquals"][ENCRYPTION_CONTEXT_KEY] = [
            *arns,
            f"arn:{partition.name}:logs:{region}:210987654321:log-group:{names_[0]}",
        ]
    if account != "210987654321" or how == "*":
        assert "CROSS_ACCOUNT" in codes(policy, setup)


@settings(max_examples=40, deadline=None)
@given(setups())
def test_removing_the_root_statement_is_lockout(
    setup: tuple[Partition, str, str, list[str]],
) -> None:
    policy = render_policy(*setup)
    del policy["Statement"][0]
    assert "LOCKOUT" in codes(policy, setup)
