"""An unquoted ``Version: 2012-10-17`` is the string CloudFormation reads, not a date.

Templates written by hand often leave the policy version unquoted; YAML 1.1 would make
it a timestamp, CloudFormation (no timestamp type) keeps the text. check-template must
prove such a key policy as CloudFormation will deploy it, not call its Version unknown.
"""

from __future__ import annotations

import yaml

from policy_gen.partitions import get_partition
from policy_gen.render import render_policy

from .test_check_template import report_of


def template_with_inline_policy(policy: object) -> str:
    key_policy = yaml.safe_dump({"KeyPolicy": policy}, sort_keys=False)
    unquoted = key_policy.replace("'2012-10-17'", "2012-10-17")
    assert "Version: 2012-10-17\n" in unquoted  # the shape under test
    indented = "".join(f"      {line}\n" for line in unquoted.splitlines())
    return (
        "AWSTemplateFormatVersion: 2010-09-09\n"
        "Resources:\n"
        "  Key:\n"
        "    Type: AWS::KMS::Key\n"
        "    Properties:\n"
        f"{indented}"
        "  Group:\n"
        "    Type: AWS::Logs::LogGroup\n"
        "    Properties:\n"
        "      LogGroupName: !Sub /${AWS::StackName}/fn\n"
        "      KmsKeyId: !GetAtt Key.Arn\n"
    )


def findings(text: str) -> list[tuple[str, str]]:
    return [(finding.code, finding.message) for _, finding in report_of(text).all_findings()]


def codes(text: str) -> list[str]:
    return [code for code, _ in findings(text)]


def test_an_unquoted_policy_version_is_proven_as_written() -> None:
    policy = render_policy(get_partition("aws"), "us-east-1", "123456789012", ["/s/fn"])
    assert codes(template_with_inline_policy(policy)) == []


def test_an_unquoted_wrong_date_is_still_an_unknown_version() -> None:
    policy = render_policy(get_partition("aws"), "us-east-1", "123456789012", ["/s/fn"])
    text = template_with_inline_policy(policy).replace("Version: 2012-10-17", "Version: 2012-10-18")
    [(code, message)] = findings(text)
    assert code == "MALFORMED"
    assert "unknown Version '2012-10-18'" in message
