"""validate: each finding code, backed by a simulated decision."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from policy_gen.partitions import get_partition
from policy_gen.render import ENCRYPTION_CONTEXT_KEY, render_policy
from policy_gen.validate import Report, Target, validate

ACCOUNT = "111122223333"
REGION = "eu-west-1"
GROUPS = ("/stack/function", "/stack/api-access")


def target(groups: tuple[str, ...] = GROUPS) -> Target:
    return Target.checked(get_partition("aws"), REGION, ACCOUNT, groups)


def good() -> dict[str, Any]:
    return render_policy(get_partition("aws"), REGION, ACCOUNT, GROUPS)


def codes(report: Report) -> dict[str, str]:
    return {f.code: f.severity for f in report.findings}


def logs_statement(policy: dict[str, Any]) -> dict[str, Any]:
    return policy["Statement"][1]  # type: ignore[no-any-return]


def test_rendered_policy_is_clean_and_every_simulation_as_expected() -> None:
    report = validate(good(), target())
    assert report.findings == []
    assert report.valid
    assert report.simulations and all(s.as_expected for s in report.simulations)
    # Logs x 3 actions x 2 groups allowed; the root keeps PutKeyPolicy.
    allowed = {
        (s.request.principal, s.request.action)
        for s in report.simulations
        if s.result.decision == "Allow"
    }
    assert ("logs.eu-west-1.amazonaws.com", "kms:GenerateDataKey") in allowed
    assert (f"arn:aws:iam::{ACCOUNT}:root", "kms:PutKeyPolicy") in allowed


def test_original_design_policy_is_valid_with_overbroad_warning() -> None:
    policy = good()
    logs_statement(policy)["Condition"] = {
        "ArnLike": {
            ENCRYPTION_CONTEXT_KEY: f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/*"
        }
    }
    report = validate(policy, target(("/aws/lambda/api-fn",)))
    assert codes(report) == {"OVERBROAD": "warning"}
    assert report.valid
    assert not report.strict().valid


def test_missing_decrypt_is_logs_denied_naming_the_action() -> None:
    policy = good()
    logs_statement(policy)["Action"] = ["kms:Encrypt*", "kms:GenerateDataKey*"]
    report = validate(policy, target())
    denied = [f for f in report.findings if f.code == "LOGS_DENIED"]
    assert len(denied) == 2 and all("kms:Decrypt" in f.message for f in denied)
    assert "kms:GenerateDataKey" not in denied[0].message.split("call ")[1].split(" for")[0]


def test_no_condition_and_wildcard_account_is_cross_account() -> None:
    policy = good()
    del logs_statement(policy)["Condition"]
    assert codes(validate(policy, target()))["CROSS_ACCOUNT"] == "error"
    policy = good()
    logs_statement(policy)["Condition"] = {
        "ArnLike": {ENCRYPTION_CONTEXT_KEY: f"arn:aws:logs:{REGION}:*:log-group:/stack/*"}
    }
    found = codes(validate(policy, target()))
    assert found["CROSS_ACCOUNT"] == "error"


def test_condition_naming_another_account_is_cross_account() -> None:
    policy = good()
    arns = logs_statement(policy)["Condition"]["ArnEquals"][ENCRYPTION_CONTEXT_KEY]
    arns.append(f"arn:aws:logs:{REGION}:444455556666:log-group:/their/group")
    report = validate(policy, target())
    messages = [f.message for f in report.findings if f.code == "CROSS_ACCOUNT"]
    assert any("444455556666" in m for m in messages)


@pytest.mark.parametrize("account_pattern", ["44445555666*", "4444555?6666", "4*6"])
def test_account_wildcard_far_from_ours_and_the_stand_ins_is_cross_account(
    account_pattern: str,
) -> None:
    # Probe: these patterns admit neither our account, nor a one-digit neighbour of it, nor
    # the first stand-in outsider; they still let other accounts' log groups use the key.
    policy = good()
    statement = logs_statement(policy)
    arns = statement["Condition"].pop("ArnEquals")[ENCRYPTION_CONTEXT_KEY]
    arns.append(f"arn:aws:logs:{REGION}:{account_pattern}:log-group:/stack/function")
    statement["Condition"]["ArnLike"] = {ENCRYPTION_CONTEXT_KEY: arns}
    report = validate(policy, target())
    assert codes(report).get("CROSS_ACCOUNT") == "error"
    assert not report.valid


def test_explicit_deny_on_logs_is_reported_with_the_statement() -> None:
    policy = good()
    policy["Statement"].append(
        {
            "Sid": "NoDecrypt",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "kms:Decrypt",
            "Resource": "*",
        }
    )
    report = validate(policy, target())
    denied = [f for f in report.findings if f.code == "LOGS_DENIED"]
    assert denied and denied[0].statement == "NoDecrypt"
    assert "LOCKOUT" not in codes(report)


def test_root_statement_removed_is_lockout() -> None:
    policy = good()
    del policy["Statement"][0]
    assert codes(validate(policy, target()))["LOCKOUT"] == "error"


def test_account_id_principal_keeps_control() -> None:
    policy = good()
    policy["Statement"][0]["Principal"] = {"AWS": ACCOUNT}
    assert "LOCKOUT" not in codes(validate(policy, target()))


@pytest.mark.parametrize(
    "statement",
    [
        {"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"},
        {
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "kms:*",
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:EncryptionContext:team": "a"}},
        },
        {
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "kms:Encrypt",
            "Resource": "*",
            "Condition": {"StringNotEquals": {"aws:PrincipalAccount": "444455556666"}},
        },
        {
            "Effect": "Allow",
            "NotPrincipal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/x"},
            "Action": "kms:Encrypt",
            "Resource": "*",
        },
    ],
)
def test_public_statements(statement: dict[str, Any]) -> None:
    policy = good()
    policy["Statement"].append(statement)
    assert codes(validate(policy, target()))["PUBLIC"] == "error"


@pytest.mark.parametrize(
    "condition",
    [
        {"StringEquals": {"kms:CallerAccount": ACCOUNT}},
        {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}},
        {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/*"}},
    ],
)
def test_wildcard_principal_pinned_to_our_account_is_not_public(condition: dict[str, Any]) -> None:
    policy = good()
    policy["Statement"].append(
        {
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": condition,
        }
    )
    assert "PUBLIC" not in codes(validate(policy, target()))


def test_other_region_principal_is_wrong_region_and_logs_denied() -> None:
    policy = good()
    logs_statement(policy)["Principal"] = {"Service": "logs.us-east-1.amazonaws.com"}
    found = codes(validate(policy, target()))
    assert found["WRONG_REGION_PRINCIPAL"] == "error"
    assert found["LOGS_DENIED"] == "error"


def test_global_principal_is_warned_and_denied_for_regional_requests() -> None:
    policy = good()
    logs_statement(policy)["Principal"] = {
        "Service": ["logs.eu-west-1.amazonaws.com", "logs.amazonaws.com"]
    }
    found = codes(validate(policy, target()))
    assert found == {"GLOBAL_PRINCIPAL": "warning"}


def test_malformed_and_unknown_action() -> None:
    policy = good()
    policy["Statement"].append(
        {
            "Effect": "Allow",
            "Principal": {"AWS": ACCOUNT},
            "Action": "kms:Frobnicate",
            "Resource": "*",
        }
    )
    policy["Statement"].append(
        {"Effect": "Maybe", "Principal": {"AWS": ACCOUNT}, "Action": "kms:Decrypt", "Resource": "*"}
    )
    found = codes(validate(policy, target()))
    assert found["UNKNOWN_ACTION"] == "warning"
    assert found["MALFORMED"] == "error"


def test_unknown_version_is_malformed() -> None:
    policy = good()
    policy["Version"] = "2020-01-01"
    assert codes(validate(policy, target()))["MALFORMED"] == "error"


def test_validation_does_not_mutate_the_policy() -> None:
    policy = good()
    before = copy.deepcopy(policy)
    validate(policy, target())
    assert policy == before


def test_the_outsider_is_an_account_the_policy_does_not_mention() -> None:
    """A stand-in outsider the policy names (here only in its Id) would make a
    legitimate grant look cross-account: the next stand-in is used instead."""
    policy = good()
    policy["Id"] = "key-for-999988887777"
    report = validate(policy, target())
    assert report.findings == []
    texts = [str(s.as_json()) for s in report.simulations]
    assert not any("999988887777" in text for text in texts)
    assert any("444455556666" in text for text in texts)


def test_a_broken_statement_is_still_checked_for_what_it_names() -> None:
    """MALFORMED, and the validator still reports its unknown action and its
    other-region Logs principal, naming it by its position among the statements."""
    policy = good()
    policy["Statement"].append(
        {
            "Effect": "Allow",
            "Principal": {"Service": ["logs.us-east-1.amazonaws.com", 7]},
            "Action": ["kms:Frobnicate", 5],
            "Resource": "*",
        }
    )
    found = {(f.code, f.statement) for f in validate(policy, target()).findings}
    assert {("MALFORMED", "2"), ("UNKNOWN_ACTION", "2"), ("WRONG_REGION_PRINCIPAL", "2")} <= found
