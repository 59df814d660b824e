"""Policy fidelity (issue 17): what KMS refuses is an error, what is legal but risky is a
warning, and every finding that rests on a model of Logs says which model.

Each test fails if the check it names is removed or weakened: they were written against
the small deliberate bugs that the older tests let through (one extra log group, an
anonymous or service caller, a neighbouring region).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from policy_gen.partitions import get_partition
from policy_gen.render import ENCRYPTION_CONTEXT_KEY, render_policy
from policy_gen.validate import Finding, Report, Target, validate
from sam_project.documents import parse_json

ROOT = Path(__file__).resolve().parents[3]
ACCOUNT = "111122223333"
REGION = "us-east-1"
GROUP = "/stack/function"
ROOT_ARN = f"arn:aws:iam::{ACCOUNT}:root"


def target(region: str = REGION) -> Target:
    return Target.checked(get_partition("aws"), region, ACCOUNT, [GROUP])


def good() -> dict[str, Any]:
    return render_policy(get_partition("aws"), REGION, ACCOUNT, [GROUP])


def findings(report: Report, code: str) -> list[Finding]:
    return [finding for finding in report.findings if finding.code == code]


def codes(report: Report) -> dict[str, str]:
    return {finding.code: finding.severity for finding in report.findings}


def with_statement(statement: dict[str, Any]) -> dict[str, Any]:
    policy = good()
    policy["Statement"].append(statement)
    return policy


def arn(name: str, account: str = ACCOUNT) -> str:
    return f"arn:aws:logs:{REGION}:{account}:log-group:{name}"


# --- item 9: repeated keys and NaN/Infinity ------------------------------------------


@pytest.mark.parametrize(
    ("text", "key", "statement"),
    [
        ('{"Version": "2012-10-17", "Statement": [], "Statement": STATEMENTS}', "Statement", None),
        (
            '{"Version": "2012-10-17", "Statement": [{"Sid": "Dup", "Effect": "Deny", '
            '"Effect": "Allow", "Principal": {"AWS": "ROOT"}, "Action": "kms:*", '
            '"Resource": "*"}]}',
            "Effect",
            "Dup",
        ),
    ],
)
def test_a_repeated_json_key_is_malformed_naming_the_key(
    text: str, key: str, statement: str | None
) -> None:
    statements = json.dumps(good()["Statement"])
    document = parse_json(text.replace("STATEMENTS", statements).replace("ROOT", ROOT_ARN), "p")
    report = validate(document, target())
    (finding,) = [f for f in findings(report, "MALFORMED") if "duplicate key" in f.message]
    assert f"duplicate key {key!r}" in finding.message
    assert finding.severity == "error" and finding.statement == statement
    assert not report.valid


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_nan_and_infinity_are_malformed(constant: str) -> None:
    policy = good()
    policy["Statement"][1]["Condition"]["NumericLessThan"] = {"kms:GrantCount": "NUMBER"}
    text = json.dumps(policy).replace('"NUMBER"', constant)
    report = validate(parse_json(text, "p"), target())
    (finding,) = findings(report, "MALFORMED")
    assert "Statement[1].Condition.NumericLessThan.kms:GrantCount" in finding.message
    assert "not a JSON number" in finding.message
    assert finding.statement == "AllowCloudWatchLogsForTheseLogGroupsOnly"


def test_validate_reads_a_policy_file_with_repeats_as_malformed(tmp_path: Path) -> None:
    statements = json.dumps(good()["Statement"])
    path = tmp_path / "dup.json"
    path.write_text('{"Version": "2012-10-17", "Statement": [], "Statement": ' + statements + "}")
    result = subprocess.run(
        [sys.executable, "-m", "policy_gen", "validate", "--policy", str(path), "--region",
         REGION, "--account", ACCOUNT, "--log-group", GROUP, "--format", "json"],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert [f["code"] for f in report["findings"]] == ["MALFORMED"]
    assert "duplicate key 'Statement'" in report["findings"][0]["message"]


# --- item 11: set operators on kms:EncryptionContext:<key> -------------------------------


@pytest.mark.parametrize(
    "operator",
    ["ForAllValues:ArnEquals", "forallvalues:ArnLike", "ForAllValues:StringEqualsIfExists"],
)
def test_for_all_values_on_an_encryption_context_key_is_malformed(operator: str) -> None:
    policy = good()
    condition = policy["Statement"][1]["Condition"]
    condition[operator] = condition.pop("ArnEquals")
    report = validate(policy, target())
    (finding,) = findings(report, "MALFORMED")
    assert "OverlyPermissiveCondition" in finding.message and "ForAllValues" in finding.message
    assert finding.statement == "AllowCloudWatchLogsForTheseLogGroupsOnly"


def test_for_all_values_on_a_request_tag_is_malformed_too() -> None:
    # The KMS guide names aws:RequestTag/tag-key in the same sentence.
    statement = {
        "Sid": "Tagging",
        "Effect": "Allow",
        "Principal": {"AWS": ROOT_ARN},
        "Action": "kms:TagResource",
        "Resource": "*",
        "Condition": {"ForAllValues:StringEquals": {"aws:RequestTag/team": "a"}},
    }
    assert codes(validate(with_statement(statement), target()))["MALFORMED"] == "error"


def test_for_all_values_on_the_multi_valued_context_keys_is_fine() -> None:
    policy = good()
    policy["Statement"][1]["Condition"]["ForAllValues:StringEquals"] = {
        "kms:EncryptionContextKeys": "aws:logs:arn"
    }
    assert validate(policy, target()).findings == []


def test_for_any_value_on_an_encryption_context_key_is_a_warning() -> None:
    policy = good()
    condition = policy["Statement"][1]["Condition"]
    condition["ForAnyValue:ArnEquals"] = condition.pop("ArnEquals")
    report = validate(policy, target())
    assert codes(report) == {"SET_OPERATOR_SINGLE_VALUED": "warning"}
    assert report.valid and not report.strict().valid


# --- item 12: duplicate Sids -----------------------------------------------------------


def test_a_duplicate_sid_is_a_warning_that_strict_fails() -> None:
    policy = good()
    policy["Statement"][1]["Sid"] = policy["Statement"][0]["Sid"]
    report = validate(policy, target())
    assert codes(report) == {"DUPLICATE_SID": "warning"}
    assert report.valid and not report.strict().valid


# --- item 13: which model a finding rests on --------------------------------------------


def test_a_grant_to_the_global_principal_only_says_which_model_each_finding_uses() -> None:
    policy = good()
    logs = policy["Statement"][1]
    logs["Principal"] = {"Service": "logs.amazonaws.com"}
    del logs["Condition"]
    report = validate(policy, target())
    (denied,) = findings(report, "LOGS_DENIED")
    assert "regional principal the CloudWatch Logs guide documents" in denied.message
    assert "global logs.amazonaws.com is not counted" in denied.message
    crossing = findings(report, "CROSS_ACCOUNT")
    assert crossing and all("some CloudWatch Logs features use" in f.message for f in crossing)
    assert codes(report)["GLOBAL_PRINCIPAL"] == "warning"


def test_lockout_says_what_kms_checks_and_that_ours_is_stricter() -> None:
    policy = good()
    del policy["Statement"][0]
    (finding,) = findings(validate(policy, target()), "LOCKOUT")
    assert "BypassPolicyLockoutSafetyCheck" in finding.message
    assert "principal making the request" in finding.message
    assert "stricter on purpose" in finding.message


# --- tests that can fail -------------------------------------------------------------------


def test_exactly_one_extra_log_group_of_our_account_is_overbroad() -> None:
    policy = good()
    policy["Statement"][1]["Condition"] = {
        "ArnEquals": {ENCRYPTION_CONTEXT_KEY: [arn(GROUP), arn("/other/app")]}
    }
    report = validate(policy, target())
    (finding,) = findings(report, "OVERBROAD")
    assert arn("/other/app") in finding.message
    assert codes(report) == {"OVERBROAD": "warning"}


CREATE_GRANT_TO_ANYONE_WITHOUT_AN_ACCOUNT = {
    "Sid": "GrantsForOurAccount",
    "Effect": "Allow",
    "Principal": "*",
    "Action": "kms:CreateGrant",
    "Resource": "*",
    "Condition": {"StringEqualsIfExists": {"aws:PrincipalAccount": ACCOUNT}},
}


def test_if_exists_on_the_principal_account_lets_every_caller_without_one_in() -> None:
    report = validate(with_statement(CREATE_GRANT_TO_ANYONE_WITHOUT_AN_ACCOUNT), target())
    (finding,) = findings(report, "PUBLIC")
    assert finding.statement == "GrantsForOurAccount"
    assert "kms:CreateGrant" in finding.message


@pytest.mark.parametrize(
    ("extra", "who"),
    [
        # Services only: anonymous callers have no aws:PrincipalIsAWSService.
        ({"Bool": {"aws:PrincipalIsAWSService": "true"}}, "any AWS service principal"),
        # Anonymous only: a service caller has a service name.
        ({"Null": {"aws:PrincipalServiceName": "true"}}, "an anonymous caller"),
    ],
)
def test_public_tries_anonymous_and_service_callers_each(extra: dict[str, Any], who: str) -> None:
    statement = json.loads(json.dumps(CREATE_GRANT_TO_ANYONE_WITHOUT_AN_ACCOUNT))
    statement["Condition"].update(extra)
    (finding,) = findings(validate(with_statement(statement), target()), "PUBLIC")
    assert who in finding.message


def test_a_service_principal_pinned_by_source_account_is_not_public() -> None:
    statement = json.loads(json.dumps(CREATE_GRANT_TO_ANYONE_WITHOUT_AN_ACCOUNT))
    statement["Condition"] = {
        "Bool": {"aws:PrincipalIsAWSService": "true"},
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
    }
    assert "PUBLIC" not in codes(validate(with_statement(statement), target()))


def test_the_neighbouring_regions_logs_principal_is_wrong_region() -> None:
    policy = good()
    policy["Statement"][1]["Principal"] = {
        "Service": ["logs.us-east-1.amazonaws.com", "logs.us-east-2.amazonaws.com"]
    }
    report = validate(policy, target("us-east-1"))
    (finding,) = findings(report, "WRONG_REGION_PRINCIPAL")
    assert "logs.us-east-2.amazonaws.com" in finding.message and "us-east-2" in finding.message
    assert codes(report) == {"WRONG_REGION_PRINCIPAL": "error"}
