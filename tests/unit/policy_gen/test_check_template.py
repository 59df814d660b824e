"""check-template's own findings on small templates."""

from __future__ import annotations

import json

import pytest

from policy_gen.check_template import TemplateReport, check_template
from policy_gen.partitions import get_partition
from policy_gen.render import render_policy
from policy_gen.template import Resolver, parse_template_text

POLICY = json.dumps(render_policy(get_partition("aws"), "us-east-1", "123456789012", ["/s/fn"]))


def report_of(text: str, **overrides: str) -> TemplateReport:
    """check-template's report for a template as stack ``s`` in us-east-1/123456789012."""
    template = parse_template_text(text)
    resolver = Resolver.for_template(
        template,
        overrides,
        region="us-east-1",
        account="123456789012",
        partition="aws",
        stack_name="s",
        symbolic=True,
    )
    return check_template(template, resolver, get_partition("aws"))


def pairs(text: str, **overrides: str) -> list[tuple[str, str]]:
    """(code, resource) of every finding, in report order."""
    return [(f.code, resource) for resource, f in report_of(text, **overrides).all_findings()]


def run(text: str, **overrides: str) -> dict[str, str]:
    return dict(pairs(text, **overrides))


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


def test_missing_policy_parameter_value_is_a_warning_naming_the_override() -> None:
    """CloudFormation accepts the template (the value comes at deploy): not bad input, but
    the key is reported as not checked, with the override that would check it."""
    template = parse_template_text(BASE)
    resolver = Resolver.for_template(
        template, {}, region="us-east-1", account="123456789012", partition="aws", stack_name="s"
    )
    report = check_template(template, resolver, get_partition("aws"))
    ((resource, finding),) = report.all_findings()
    assert (resource, finding.code, finding.severity) == ("Key", "KEY_POLICY_UNKNOWN", "warning")
    assert "--parameter-overrides KeyPolicy=..." in finding.message
    assert report.keys[0].report is None and "parameter KeyPolicy" in report.keys[0].why_unchecked


# --- every key is checked (issue 17, item 8) ----------------------------------------------

KEY_ONLY = """
Resources:
  Key:
    Type: AWS::KMS::Key
    Properties:
      KeyPolicy: POLICY
"""
ROOT_STATEMENT = (
    '{Effect: Allow, Principal: {AWS: !Sub "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"},'
    ' Action: "kms:*", Resource: "*"}'
)


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (
            '{Version: "2012-10-17", Statement: [{Effect: Allow, Principal: "*", '
            'Action: "kms:*", Resource: "*"}]}',
            {"PUBLIC": "Key", "CROSS_ACCOUNT": "Key"},
        ),
        (f"[{ROOT_STATEMENT}]", {"MALFORMED": "Key", "LOCKOUT": "Key"}),
        ('{Version: "2012-10-17", Statement: []}', {"MALFORMED": "Key", "LOCKOUT": "Key"}),
        (f'{{Version: "2012-10-17", Statement: [{ROOT_STATEMENT}]}}', {}),
    ],
)
def test_a_key_that_encrypts_no_log_group_is_still_checked(
    policy: str, expected: dict[str, str]
) -> None:
    assert run(KEY_ONLY.replace("POLICY", policy)) == expected


def test_a_key_without_policy_or_log_group_has_the_default_policy_and_is_not_checked() -> None:
    template = parse_template_text("Resources:\n  Key:\n    Type: AWS::KMS::Key\n")
    resolver = Resolver.for_template(
        template, {}, region="us-east-1", account="123456789012", partition="aws"
    )
    report = check_template(template, resolver, get_partition("aws"))
    assert report.valid and report.all_findings() == []
    assert report.keys[0].report is None and "default key policy" in report.keys[0].why_unchecked


def test_repeated_keys_in_an_inline_or_parameter_policy_are_malformed() -> None:
    inline = KEY_ONLY.replace(
        "POLICY", f'{{Version: "2012-10-17", Statement: [], Statement: [{ROOT_STATEMENT}]}}'
    )
    assert run(inline) == {"MALFORMED": "Key"}
    statements = json.dumps(json.loads(POLICY)["Statement"])
    repeated = '{"Version": "2012-10-17", "Statement": [], "Statement": ' + statements + "}"
    assert run(BASE, KeyPolicy=repeated) == {"MALFORMED": "Key"}
    as_json = json.dumps(
        {
            "Resources": {
                "Key": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": "PLACEHOLDER"}}
            }
        }
    ).replace('"PLACEHOLDER"', repeated)
    assert run(as_json) == {"MALFORMED": "Key"}


# --- template findings the mutation review found untested --------------------------------


def test_an_encrypted_log_group_without_a_name_is_a_note_and_still_proven() -> None:
    """The generated name is simulated with a stand-in: a policy naming another group is
    still denied, a policy whose ARN admits any group of the stack's account passes."""
    text = BASE.replace("      LogGroupName: !Sub /${AWS::StackName}/fn\n", "")
    found = pairs(text, KeyPolicy=POLICY)
    assert ("LOGGROUP_NAME_UNKNOWN", "Group") in found and ("LOGS_DENIED", "Key") in found
    wide = POLICY.replace("log-group:/s/fn", "log-group:*")
    assert run(text, KeyPolicy=wide) == {"LOGGROUP_NAME_UNKNOWN": "Group", "OVERBROAD": "Key"}


RETAINING = [
    ("DeletionPolicy", "Retain"),
    ("DeletionPolicy", "RetainExceptOnCreate"),
    ("UpdateReplacePolicy", "Retain"),
]


@pytest.mark.parametrize(("attribute", "value"), RETAINING)
def test_every_retaining_policy_on_the_group_needs_a_retained_key(
    attribute: str, value: str
) -> None:
    group = "  Group:\n    Type: AWS::Logs::LogGroup\n"
    retained_group = BASE.replace(group, f"{group}    {attribute}: {value}\n")
    assert run(retained_group, KeyPolicy=POLICY) == {"KEY_DELETION_MISMATCH": "Group"}
    key = "  Key:\n    Type: AWS::KMS::Key\n"
    both = retained_group.replace(key, f"{key}    {attribute}: {value}\n")
    assert run(both, KeyPolicy=POLICY) == {}


# --- SAM Globals, as SAM applies them ----------------------------------------------------

GLOBAL_LOGGING = """
Globals:
  Function:
    LoggingConfig:
      LogGroup: !Ref Group
      LogFormat: JSON
"""
FUNCTION = "{Handler: a.b, Runtime: python3.13, CodeUri: .}"


def test_globals_do_not_reach_a_plain_lambda_function() -> None:
    text = (
        GLOBAL_LOGGING
        + BASE
        + """
  Plain:
    Type: AWS::Lambda::Function
    Properties: {Handler: a.b, Runtime: python3.13, Code: {ZipFile: x}, Role: r}
  Sam:
    Type: AWS::Serverless::Function
    Properties: FUNCTION
""".replace("FUNCTION", FUNCTION)
    )
    assert pairs(text, KeyPolicy=POLICY) == [("LAMBDA_AUTO_LOGGROUP", "Plain")]


def test_a_functions_own_logging_config_is_merged_with_the_global_one() -> None:
    text = (
        GLOBAL_LOGGING
        + BASE
        + """
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: a.b
      Runtime: python3.13
      CodeUri: .
      LoggingConfig: {LogFormat: Text, ApplicationLogLevel: DEBUG}
  Ignoring:
    Type: AWS::Serverless::Function
    IgnoreGlobals: [LoggingConfig]
    Properties:
      Handler: a.b
      Runtime: python3.13
      CodeUri: .
      LoggingConfig: {LogFormat: Text}
"""
    )
    assert pairs(text, KeyPolicy=POLICY) == [("LAMBDA_AUTO_LOGGROUP", "Ignoring")]


def test_a_group_retained_through_a_parameter_needs_its_key_retained_too() -> None:
    """DeletionPolicy: !Ref P (AWS::LanguageExtensions) is resolved on the log group as on
    the key: a group retained by parameter with a key that is deleted is a mismatch."""
    text = "Transform: [AWS::LanguageExtensions]\n" + BASE.replace(
        "Parameters:\n",
        "Parameters:\n  KeepLogs: {Type: String, Default: Retain}\n",
    ).replace(
        "  Group:\n    Type: AWS::Logs::LogGroup\n",
        "  Group:\n    Type: AWS::Logs::LogGroup\n    DeletionPolicy: !Ref KeepLogs\n",
    )
    assert run(text, KeyPolicy=POLICY) == {"KEY_DELETION_MISMATCH": "Group"}
    assert run(text, KeyPolicy=POLICY, KeepLogs="Delete") == {}
