"""check-template's own findings on small templates."""

from __future__ import annotations

import json

import pytest

from policy_gen.check_template import check_template
from policy_gen.partitions import get_partition
from policy_gen.render import render_policy
from policy_gen.template import Resolver, parse_template_text
from sam_project.errors import UserError

POLICY = json.dumps(render_policy(get_partition("aws"), "us-east-1", "123456789012", ["/s/fn"]))


def run(text: str, **overrides: str) -> dict[str, str]:
    template = parse_template_text(text)
    resolver = Resolver.for_template(
        template,
        overrides,
        region="us-east-1",
        account="123456789012",
        partition="aws",
        stack_name="s",
    )
    report = check_template(template, resolver, get_partition("aws"))
    return {f.code: resource for resource, f in report.all_findings()}


BASE = """
Parameters:
  KeyPolicy: {Type: String}
Resources:
  Key:
    Type: AWS::KMS::Key
    Properties: {KeyPolicy: !Ref KeyPolicy}
  Group:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: !Sub /${AWS::StackName}/fn
      KmsKeyId: !GetAtt Key.Arn
"""


def test_clean_template() -> None:
    assert run(BASE, KeyPolicy=POLICY) == {}


def test_ref_key_is_not_an_arn() -> None:
    assert run(BASE.replace("!GetAtt Key.Arn", "!Ref Key"), KeyPolicy=POLICY) == {
        "KMSKEYID_NOT_ARN": "Group"
    }


def test_unencrypted_group_and_auto_lambda_group() -> None:
    text = (
        BASE
        + """
  Plain:
    Type: AWS::Logs::LogGroup
    Properties: {LogGroupName: plain}
  Fn:
    Type: AWS::Serverless::Function
    Properties: {Handler: a.b, Runtime: python3.13, CodeUri: .}
"""
    )
    assert run(text, KeyPolicy=POLICY) == {
        "LOGGROUP_UNENCRYPTED": "Plain",
        "LAMBDA_AUTO_LOGGROUP": "Fn",
    }


def test_function_with_explicit_aws_lambda_group_is_fine() -> None:
    text = (
        BASE.replace("!Sub /${AWS::StackName}/fn", "!Sub /aws/lambda/${Fn}")
        + """
  Fn:
    Type: AWS::Lambda::Function
    Properties: {FunctionName: myfn, Handler: a.b, Runtime: python3.13, Code: {ZipFile: x}, Role: r}
"""
    )
    policy = json.dumps(
        render_policy(get_partition("aws"), "us-east-1", "123456789012", ["/aws/lambda/myfn"])
    )
    assert run(text, KeyPolicy=policy) == {}


def test_retained_group_with_deleted_key() -> None:
    text = BASE.replace(
        "  Group:\n    Type: AWS::Logs::LogGroup\n",
        "  Group:\n    Type: AWS::Logs::LogGroup\n    DeletionPolicy: Retain\n",
    )
    assert run(text, KeyPolicy=POLICY) == {"KEY_DELETION_MISMATCH": "Group"}


def test_inline_policy_with_intrinsics_is_validated() -> None:
    text = """
Resources:
  Key:
    Type: AWS::KMS::Key
    Properties:
      KeyPolicy:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {AWS: !Sub "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
            Action: kms:*
            Resource: "*"
          - Effect: Allow
            Principal: {Service: !Sub "logs.${AWS::Region}.amazonaws.com"}
            Action: [kms:Encrypt*, kms:Decrypt*, kms:GenerateDataKey*]
            Resource: "*"
  Group:
    Type: AWS::Logs::LogGroup
    Properties: {LogGroupName: g, KmsKeyId: !GetAtt Key.Arn}
"""
    assert run(text) == {"CROSS_ACCOUNT": "Key", "OVERBROAD": "Key"}


def test_missing_policy_parameter_value_is_input_error() -> None:
    with pytest.raises(UserError, match="--parameter-overrides"):
        run(BASE)
