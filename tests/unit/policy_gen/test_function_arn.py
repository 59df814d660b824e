"""A function's ``Arn`` is built from its name, so names derived from it are recognised.

CDK and hand-written templates name a function's log group from its ARN:
``!Select [6, !Split [":", !GetAtt Fn.Arn]]`` is the function's name (the unqualified ARN
is ``arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME``). check-template must see that
group as the function's own, and prove its key with the same stand-in as ``${Fn}``.
"""

from __future__ import annotations

from policy_gen.check_template import check_template
from policy_gen.partitions import get_partition
from policy_gen.template import Resolver, parse_template_text

TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
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
            Action: [kms:Encrypt*, kms:Decrypt*, kms:ReEncrypt*, kms:GenerateDataKey*]
            Resource: "*"
            Condition:
              ArnEquals:
                kms:EncryptionContext:aws:logs:arn: !Sub "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/${NAMED}"
  Fn:
    Type: AWS::Serverless::Function
    Properties: {Handler: a.b, Runtime: python3.13, CodeUri: .}
  Other:
    Type: AWS::Serverless::Function
    Properties:
      Handler: a.b
      Runtime: python3.13
      CodeUri: .
      LoggingConfig: {LogGroup: !Ref Group}
  Group:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: !Join ["", ["/aws/lambda/", !Select [6, !Split [":", !GetAtt Fn.Arn]]]]
      KmsKeyId: !GetAtt Key.Arn
      RetentionInDays: 7
"""


def codes(text: str) -> list[str]:
    template = parse_template_text(text)
    resolver = Resolver.for_template(
        template, {}, region="us-east-1", account="123456789012", partition="aws", stack_name="s"
    )
    report = check_template(template, resolver, get_partition("aws"))
    return [finding.code for _, finding in report.all_findings()]


def test_a_group_named_from_the_function_arn_is_the_functions_own() -> None:
    found = codes(TEMPLATE.replace("NAMED", "Fn"))
    assert "LAMBDA_AUTO_LOGGROUP" not in found and "LOGS_DENIED" not in found
    assert found == ["LOGGROUP_NAME_UNKNOWN"]  # a note: the name is known only at deploy


def test_a_policy_naming_another_functions_group_still_fails() -> None:
    assert "LOGS_DENIED" in codes(TEMPLATE.replace("NAMED", "Other"))


def test_a_literal_function_name_gives_the_literal_arn() -> None:
    template = parse_template_text(
        TEMPLATE.replace("CodeUri: .}", "CodeUri: ., FunctionName: orders}", 1)
    )
    resolver = Resolver.for_template(
        template, {}, region="eu-west-1", account="111122223333", partition="aws"
    )
    arn = resolver.resolve({"Fn::GetAtt": ["Fn", "Arn"]})
    assert arn == "arn:aws:lambda:eu-west-1:111122223333:function:orders"
    assert resolver.resolve({"Fn::GetAtt": ["Other", "Arn"]}).expression == "GetAtt Other.Arn"
