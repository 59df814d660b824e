"""A stand-in proves an Allow for every deployed value, never a Deny.

The probe: the key allows Logs for ``/aws/lambda/*`` and denies ``/aws/lambda/s*``; the
function's generated name in stack ``s`` starts with ``s-``, so CloudWatch Logs is
denied for the real group, while the stand-in matches neither pattern. check-template
must not call that key proven for the group.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
ARN = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/"
ROOT_ARN = "arn:aws:iam::123456789012:root"


def template(*extra: dict[str, Any], allow_condition: dict[str, Any] | None = None) -> str:
    statements = [
        {"Effect": "Allow", "Principal": {"AWS": ROOT_ARN}, "Action": "kms:*", "Resource": "*"},
        {
            "Effect": "Allow",
            "Principal": {"Service": "logs.us-east-1.amazonaws.com"},
            "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*"],
            "Resource": "*",
            "Condition": allow_condition
            or {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"{ARN}*"}},
        },
        *extra,
    ]
    return json.dumps(
        {
            "Transform": "AWS::Serverless-2016-10-31",
            "Resources": {
                "Key": {
                    "Type": "AWS::KMS::Key",
                    "Properties": {"KeyPolicy": {"Version": "2012-10-17", "Statement": statements}},
                },
                "Fn": {
                    "Type": "AWS::Serverless::Function",
                    "Properties": {
                        "Handler": "a.b",
                        "Runtime": "python3.13",
                        "CodeUri": ".",
                        "LoggingConfig": {"LogGroup": {"Ref": "Group"}},
                    },
                },
                "Group": {
                    "Type": "AWS::Logs::LogGroup",
                    "Properties": {
                        "LogGroupName": {"Fn::Sub": "/aws/lambda/${Fn}"},
                        "KmsKeyId": {"Fn::GetAtt": ["Key", "Arn"]},
                        "RetentionInDays": 7,
                    },
                },
            },
        }
    )


def check(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "policy_gen", "check-template", str(path), *args]
    return subprocess.run(
        [*command, "--stack-name", "s", "--no-config"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def codes(tmp_path: Path, text: str) -> tuple[int, list[tuple[str, str]]]:
    path = tmp_path / "template.json"
    path.write_text(text, encoding="utf-8")
    result = check(path, "--format", "json")
    data = json.loads(result.stdout)
    return result.returncode, [(f["code"], f["severity"]) for f in data["findings"]]


DENY_PREFIX = {
    "Effect": "Deny",
    "Principal": "*",
    "Action": "kms:*",
    "Resource": "*",
    "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"{ARN}s*"}},
}


def test_a_deny_that_may_match_the_deployed_name_is_not_called_proven(tmp_path: Path) -> None:
    code, found = codes(tmp_path, template(DENY_PREFIX))
    assert ("STAND_IN_UNDECIDED", "warning") in found
    assert code == 0  # a warning: --strict fails it
    strict = tmp_path / "strict"
    strict.mkdir()
    path = strict / "template.json"
    path.write_text(template(DENY_PREFIX), encoding="utf-8")
    result = check(path, "--strict")
    assert result.returncode == 1 and "STAND_IN_UNDECIDED" in result.stdout


@pytest.mark.parametrize(
    "condition",
    [
        {"ArnNotLike": {"kms:EncryptionContext:aws:logs:arn": f"{ARN}s*"}},
        {"StringNotEquals": {"kms:EncryptionContext:aws:logs:arn": f"{ARN}x"}},
    ],
)
def test_a_negated_operator_in_the_allow_is_not_decided_by_a_stand_in(
    tmp_path: Path, condition: dict[str, Any]
) -> None:
    _, found = codes(tmp_path, template(allow_condition=condition))
    assert ("STAND_IN_UNDECIDED", "warning") in found


def test_a_deny_on_other_keys_and_plain_allows_stay_proven(tmp_path: Path) -> None:
    other_account = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "kms:*",
        "Resource": "*",
        "Condition": {"StringNotEquals": {"kms:CallerAccount": "123456789012"}},
    }
    _, found = codes(tmp_path, template(other_account))
    assert "STAND_IN_UNDECIDED" not in {c for c, _ in found}
    _, found = codes(tmp_path, template())
    assert "STAND_IN_UNDECIDED" not in {c for c, _ in found}
