"""check-template on templates as CloudFormation resolves them (issue 16, classes 1-7).

Each class has minimal templates written for it; every test can fail: each asserts the
exact findings, and the soundness tests assert that a stand-in never lets a broken
policy pass.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from policy_gen.check_template import check_template
from policy_gen.foreach import expand_language_extensions
from policy_gen.partitions import get_partition
from policy_gen.template import Resolver, parse_template_text
from sam_project.errors import UserError

from .test_check_template import report_of

ROOT = Path(__file__).resolve().parents[3]


def codes(text: str, **overrides: str) -> list[tuple[str, str, str]]:
    """(code, severity, resource) of every finding, in report order."""
    return [
        (f.code, f.severity, resource)
        for resource, f in report_of(text, **overrides).all_findings()
    ]


def key_with(*arns: str) -> str:
    """A key whose Logs statement names exactly these log-group ARN expressions."""
    listed = "\n".join(f"                  - {arn}" for arn in arns)
    return f"""
  Key:
    Type: AWS::KMS::Key
    Properties:
      KeyPolicy:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {{AWS: !Sub "arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:root"}}
            Action: kms:*
            Resource: "*"
          - Sid: Logs
            Effect: Allow
            Principal: {{Service: !Sub "logs.${{AWS::Region}}.amazonaws.com"}}
            Action: [kms:Encrypt*, kms:Decrypt*, kms:ReEncrypt*, kms:GenerateDataKey*]
            Resource: "*"
            Condition:
              ArnEquals:
                kms:EncryptionContext:aws:logs:arn:
{listed}
"""


def arn(name: str) -> str:
    return (
        f'!Sub "arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:{name}"'
    )


FUNCTION = """
  Fn:
    Type: AWS::Serverless::Function
    Properties: {Handler: a.b, Runtime: python3.13, CodeUri: .}
"""


def group(name: str, key: str = "!GetAtt Key.Arn", logical_id: str = "Group") -> str:
    return f"""
  {logical_id}:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: {name}
      KmsKeyId: {key}
"""


def template(*parts: str, header: str = "") -> str:
    return header + "Resources:" + "".join(parts)


# --- class 1: names known only at deploy ------------------------------------------------


def test_a_function_group_named_after_a_generated_name_is_proven_with_a_stand_in() -> None:
    text = template(key_with(arn("/aws/lambda/${Fn}")), FUNCTION, group("!Sub /aws/lambda/${Fn}"))
    report = report_of(text)
    assert [(f.code, f.severity) for _, f in report.all_findings()] == [
        ("LOGGROUP_NAME_UNKNOWN", "note")
    ]
    assert report.valid and report.keys[0].report is not None and report.keys[0].report.valid
    assert report.keys[0].log_groups == ["/aws/lambda/<Ref Fn>"]


@pytest.mark.parametrize(
    "policy_names",
    [
        ["/aws/lambda/${Other}"],  # another function's generated name
        ["/aws/lambda/fn"],  # a literal that is not the generated name
        ["/aws/lambda/${Env}"],  # a parameter without value
    ],
)
def test_a_stand_in_never_lets_a_policy_for_another_group_pass(policy_names: list[str]) -> None:
    other = FUNCTION.replace("Fn:", "Other:")
    text = template(
        key_with(*(arn(name) for name in policy_names)),
        FUNCTION,
        other,
        group("!Sub /aws/lambda/${Fn}"),
        header="Parameters:\n  Env: {Type: String}\n",
    )
    found = codes(text)
    assert ("LOGS_DENIED", "error", "Key") in found
    # Other has no explicit group: that is its own finding, not the point here.
    assert ("LAMBDA_AUTO_LOGGROUP", "error", "Other") in found


def test_a_parameter_without_default_in_the_name_asks_for_an_override() -> None:
    text = template(
        key_with(arn("/app/${Env}/api")),
        group("!Sub /app/${Env}/api"),
        header="Parameters:\n  Env: {Type: String}\n",
    )
    report = report_of(text)
    ((resource, finding),) = report.all_findings()
    assert (finding.code, finding.severity, resource) == ("LOGGROUP_NAME_UNKNOWN", "note", "Group")
    assert "--parameter-overrides Env=..." in finding.message
    assert "LogGroupName" not in finding.message.split("(")[0]
    # With the override the name is known: no note at all.
    assert codes(text, Env="prod") == []


def test_an_unnamed_group_is_simulated_with_its_generated_name() -> None:
    text = template(key_with(arn("/app/x")), group("!Ref AWS::NoValue"))
    text = text.replace("      LogGroupName: !Ref AWS::NoValue\n", "")
    assert codes(text) == [
        ("LOGGROUP_NAME_UNKNOWN", "note", "Group"),
        ("LOGS_DENIED", "error", "Key"),
        ("OVERBROAD", "warning", "Key"),  # /app/x is none of the template's groups
    ]


def test_an_apigateway_access_group_named_after_the_api_id() -> None:
    text = template(
        key_with(arn("/aws/apigateway/${Api}")),
        "\n  Api:\n    Type: AWS::ApiGateway::RestApi\n    Properties: {Name: a}\n",
        group("!Sub /aws/apigateway/${Api}"),
    )
    assert codes(text) == [("LOGGROUP_NAME_UNKNOWN", "note", "Group")]


# --- class 2: a function's own group ---------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "!Sub /aws/lambda/${Fn}",
        "!Join ['', ['/aws/lambda/', !Ref Fn]]",
        '!Join ["/", ["", aws, lambda, !Ref Fn]]',
    ],
)
def test_sub_and_join_with_ref_fn_name_the_functions_own_group(name: str) -> None:
    text = template(key_with(arn("/aws/lambda/${Fn}")), FUNCTION, group(name))
    assert ("LAMBDA_AUTO_LOGGROUP", "error", "Fn") not in codes(text)


def test_a_group_of_another_function_does_not_cover_this_one() -> None:
    other = FUNCTION.replace("Fn:", "Other:")
    text = template(key_with(arn("/aws/lambda/${Other}")), FUNCTION, other)
    text += group("!Sub /aws/lambda/${Other}")
    assert ("LAMBDA_AUTO_LOGGROUP", "error", "Fn") in codes(text)


# --- class 3: conditional encryption ---------------------------------------------------

CONDITIONAL = """Parameters:
  EnableKms: {Type: String, Default: "true", AllowedValues: ["true", "false"]}
Conditions:
  UseKms: !Equals [!Ref EnableKms, "true"]
"""


def test_a_condition_true_for_the_defaults_encrypts() -> None:
    text = template(
        key_with(arn("/app/x")),
        group("/app/x", "!If [UseKms, !GetAtt Key.Arn, !Ref AWS::NoValue]"),
        header=CONDITIONAL,
    )
    assert codes(text) == []


def test_a_condition_false_for_the_overrides_is_unencrypted_and_says_which() -> None:
    text = template(
        key_with(arn("/app/x")),
        group("/app/x", "!If [UseKms, !GetAtt Key.Arn, !Ref AWS::NoValue]"),
        header=CONDITIONAL,
    )
    report = report_of(text, EnableKms="false")
    (finding,) = [f for _, f in report.all_findings() if f.code == "LOGGROUP_UNENCRYPTED"]
    assert "condition UseKms is false for EnableKms=false" in finding.message
    assert not report.valid


def test_an_undecidable_condition_says_the_group_is_unencrypted_when_it_is_false() -> None:
    header = CONDITIONAL.replace('Default: "true", ', "")
    text = template(
        key_with(arn("/app/x")),
        group("/app/x", "!If [UseKms, !GetAtt Key.Arn, !Ref AWS::NoValue]"),
        header=header,
    )
    report = report_of(text)
    ((resource, finding),) = report.all_findings()
    assert resource == "Group"
    assert (finding.code, finding.severity) == ("LOGGROUP_ENCRYPTION_CONDITIONAL", "warning")
    assert "when condition UseKms is false" in finding.message
    assert "--parameter-overrides EnableKms=..." in finding.message
    # The encrypted configuration is still proven.
    assert report.keys[0].log_groups == ["/app/x"] and report.keys[0].report is not None


def test_an_undecidable_resource_condition_is_checked_as_if_created() -> None:
    header = "Parameters:\n  Env: {Type: String}\nConditions:\n  Prod: !Equals [!Ref Env, prod]\n"
    text = template(key_with(arn("/app/x")), group("/app/x"), header=header)
    text = text.replace(
        "  Group:\n    Type: AWS::Logs::LogGroup\n",
        "  Group:\n    Type: AWS::Logs::LogGroup\n    Condition: Prod\n",
    )
    assert codes(text) == [("CONDITION_UNDECIDED", "note", "Group")]


# --- class 4: LoggingConfig.LogGroup not created here -----------------------------------

LOGGING_TO = """
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: a.b
      Runtime: python3.13
      CodeUri: .
      LoggingConfig: {LogGroup: TARGET}
"""


def test_a_log_group_the_template_does_not_create_is_reported() -> None:
    text = template(LOGGING_TO.replace("TARGET", "/shared/app-logs"))
    ((resource, finding),) = report_of(text).all_findings()
    assert (finding.code, finding.severity, resource) == (
        "LAMBDA_LOGGROUP_NOT_CREATED",
        "error",
        "Fn",
    )
    assert "Lambda developer guide" in finding.message


def test_an_external_log_group_is_a_not_checked_note() -> None:
    text = template(LOGGING_TO.replace("TARGET", "/shared/app-logs"))
    parsed = parse_template_text(text)
    resolver = Resolver.for_template(
        parsed, {}, region="us-east-1", account="123456789012", partition="aws", symbolic=True
    )
    report = check_template(
        parsed, resolver, get_partition("aws"), external_log_groups=["/shared/app-logs"]
    )
    ((_, finding),) = report.all_findings()
    assert (finding.code, finding.severity) == ("EXTERNAL_LOGGROUP", "note")
    assert "not checked" in finding.message


@pytest.mark.parametrize("target", ["!Ref Group", "/app/x", "!Sub /app/x"])
def test_a_log_group_of_the_template_by_ref_or_by_name_is_fine(target: str) -> None:
    text = template(key_with(arn("/app/x")), group("/app/x"), LOGGING_TO.replace("TARGET", target))
    assert codes(text) == []


# --- class 5: key references -------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        '!Sub "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/${Key}"',
        "!Join ['', ['arn:', !Ref AWS::Partition, ':kms:', !Ref AWS::Region, ':', "
        "!Ref AWS::AccountId, ':key/', !Ref Key]]",
        "!Sub ${Key.Arn}",
    ],
)
def test_a_computed_key_arn_links_the_key_and_its_broken_policy_is_found(key: str) -> None:
    good = template(key_with(arn("/app/x")), group("/app/x", key))
    assert codes(good) == []
    broken = template(key_with(arn("/app/other")), group("/app/x", key))
    assert ("LOGS_DENIED", "error", "Key") in codes(broken)


@pytest.mark.parametrize(
    "literal", ["alias/my-key", "1234abcd-12ab-34cd-56ef-1234567890ab", "mrk-1234abcd"]
)
def test_a_literal_alias_or_key_id_is_not_an_arn(literal: str) -> None:
    text = template(group("/app/x", literal))
    ((resource, finding),) = report_of(text).all_findings()
    assert (finding.code, resource) == ("KMSKEYID_NOT_ARN", "Group")
    assert "AWS::Logs::LogGroup" in finding.message


@pytest.mark.parametrize(
    ("key", "header"),
    [
        ("arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", ""),
        ("!Ref KeyArn", "Parameters:\n  KeyArn: {Type: String}\n"),
        ("!ImportValue shared-key-arn", ""),
    ],
)
def test_a_key_from_outside_the_template_is_a_note(key: str, header: str) -> None:
    ((_, finding),) = report_of(template(group("/app/x", key), header=header)).all_findings()
    assert (finding.code, finding.severity) == ("KEY_OUTSIDE_TEMPLATE", "note")


# --- class 6: a key without KeyPolicy ------------------------------------------------------


def test_a_key_without_policy_is_a_finding_and_other_findings_still_come() -> None:
    text = template(
        "\n  Key:\n    Type: AWS::KMS::Key\n",
        group("/app/x"),
        group("/app/y", "!Ref Key", "ById"),
        FUNCTION,
    )
    found = codes(text)
    assert ("KEY_DEFAULT_POLICY", "error", "Key") in found
    assert ("LOGS_DENIED", "error", "Key") in found  # simulated on KMS's default policy
    assert ("KMSKEYID_NOT_ARN", "error", "ById") in found
    assert ("LAMBDA_AUTO_LOGGROUP", "error", "Fn") in found


# --- class 7: notes ----------------------------------------------------------------------


def test_a_dynamic_reference_name_is_resolved_at_deploy_not_rejected() -> None:
    name = '"{{resolve:ssm:/app/log-group}}"'
    text = template(key_with(arn("/app/x")), group(name))
    found = codes(text)
    assert ("DYNAMIC_REFERENCE", "note", "Group") in found
    # The policy does not name the SSM value's stand-in: still denied.
    assert ("LOGS_DENIED", "error", "Key") in found


def test_nested_stacks_and_include_get_a_line_each() -> None:
    text = template(
        "\n  Child:\n    Type: AWS::CloudFormation::Stack\n"
        "    Properties: {TemplateURL: https://example.com/child.yaml}\n"
        "\n  App:\n    Type: AWS::Serverless::Application\n"
        "    Properties: {Location: {ApplicationId: arn:aws:serverlessrepo:x, SemanticVersion: 1.0.0}}\n"
        "\n  Fn::Transform:\n    Name: AWS::Include\n    Parameters: {Location: s3://b/k.yaml}\n"
    )
    assert codes(text) == [
        ("TRANSFORM_NOT_CHECKED", "note", "Fn::Transform"),
        ("NESTED_STACK_NOT_CHECKED", "note", "Child"),
        ("NESTED_STACK_NOT_CHECKED", "note", "App"),
    ]


FOREACH = """Transform: AWS::LanguageExtensions
Parameters:
  Services: {Type: CommaDelimitedList, Default: "orders,pay-ments"}
Resources:
  Fn::ForEach::Groups:
    - Service
    - !Ref Services
    - "&{Service}Logs":
        Type: AWS::Logs::LogGroup
        Properties:
          LogGroupName: !Sub /svc/${Service}
          KmsKeyId: !GetAtt Key.Arn
"""


def test_foreach_is_expanded_and_its_groups_checked() -> None:
    text = FOREACH + key_with(arn("/svc/orders"), arn("/svc/pay-ments"))
    report = report_of(text)
    assert [(f.code, r) for r, f in report.all_findings()] == [
        ("FOREACH_EXPANDED", "Fn::ForEach::Groups")
    ]
    assert report.keys[0].log_groups == ["/svc/orders", "/svc/pay-ments"]
    parsed = parse_template_text(text)
    assert {"ordersLogs", "paymentsLogs"} <= set(parsed["Resources"])
    broken = FOREACH + key_with(arn("/svc/orders"))
    assert ("LOGS_DENIED", "error", "Key") in codes(broken)


def test_foreach_rules() -> None:
    data = {
        "Transform": ["AWS::LanguageExtensions"],
        "Resources": {
            "Fn::ForEach::Outer": [
                "A",
                ["x", "y"],
                {
                    "Fn::ForEach::Inner": [
                        "B",
                        ["1", "2"],
                        {"R${A}${B}": {"Type": "T", "Properties": {"P": {"Ref": "A"}}}},
                    ]
                },
            ]
        },
    }
    expanded = expand_language_extensions(data, "t")
    assert list(expanded["Resources"]) == ["Rx1", "Rx2", "Ry1", "Ry2"]
    assert expanded["Resources"]["Ry2"]["Properties"]["P"] == "y"
    with pytest.raises(UserError, match="without the AWS::LanguageExtensions transform"):
        expand_language_extensions({"Resources": data["Resources"]}, "t")
    twice = {"Transform": "AWS::LanguageExtensions", "Resources": {
        "Fn::ForEach::L": ["A", ["x", "x"], {"R": {"Type": "T"}}]}}  # fmt: skip
    with pytest.raises(UserError, match="twice"):
        expand_language_extensions(twice, "t")


def test_foreach_over_a_parameter_without_default_is_a_note_not_an_error() -> None:
    text = FOREACH.replace(', Default: "orders,pay-ments"', "") + key_with(arn("/x"))
    found = codes(text)
    assert found[0] == ("FOREACH_EXPANDED", "note", "Fn::ForEach::Groups")
    assert "not expanded" in report_of(text).all_findings()[0][1].message


def test_a_key_policy_parameter_with_a_dynamic_reference() -> None:
    text = template(
        "\n  Key:\n    Type: AWS::KMS::Key\n    Properties:\n"
        "      KeyPolicy: '{{resolve:ssm:/key/policy}}'\n",
        group("/app/x"),
    )
    found = codes(text)
    assert ("DYNAMIC_REFERENCE", "note", "Key") in found


# --- through the real CLI ---------------------------------------------------------------


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "policy_gen", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def test_json_bad_input_prints_a_json_error_object(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "Resources:\n  G:\n    Type: AWS::Logs::LogGroup\n    Properties: {LogGroupName: !Ref Nope}\n"
    )
    result = cli("check-template", str(bad), "--format", "json")
    assert result.returncode == 2
    assert json.loads(result.stdout) == {
        "error": "Ref to 'Nope': no such parameter or resource in the template",
        "exit_code": 2,
    }
    assert result.stderr.startswith("policy_gen check-template: error:")


def test_external_log_group_flag_and_notes_in_sarif(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(template(LOGGING_TO.replace("TARGET", "/shared/logs")))
    assert cli("check-template", str(path)).returncode == 1
    result = cli(
        "check-template", str(path), "--external-log-group", "/shared/logs", "--format", "sarif"
    )
    assert result.returncode == 0, result.stderr
    (sarif_result,) = json.loads(result.stdout)["runs"][0]["results"]
    assert (sarif_result["ruleId"], sarif_result["level"]) == ("EXTERNAL_LOGGROUP", "note")
    text = cli("check-template", str(path), "--external-log-group", "/shared/logs")
    assert "NOTE    EXTERNAL_LOGGROUP [Fn]" in text.stdout
    assert "1 note(s)" in text.stdout


def test_strict_promotes_warnings_but_not_notes(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        template(key_with(arn("/aws/lambda/${Fn}")), FUNCTION, group("!Sub /aws/lambda/${Fn}"))
    )
    result = cli("check-template", str(path), "--strict", "--format", "json")
    assert result.returncode == 0, result.stdout
    (finding,) = json.loads(result.stdout)["findings"]
    assert finding["severity"] == "note"


def test_a_foreach_bomb_is_refused_in_bounded_time() -> None:
    """Five nested loops of 40 items would be 40**5 resources: the expansion budget
    (CloudFormation's own template quota applies to the expanded template) stops it."""
    items = [f"i{n}" for n in range(40)]
    fragment: dict[str, object] = {"R${A0}${A1}${A2}${A3}${A4}": {"Type": "AWS::SNS::Topic"}}
    for level in reversed(range(5)):
        fragment = {f"Fn::ForEach::L{level}": [f"A{level}", items, fragment]}
    data = {"Transform": "AWS::LanguageExtensions", "Resources": fragment}
    with pytest.raises(UserError, match="quotas"):
        expand_language_extensions(data, "t")


def test_json_usage_error_prints_a_json_error_object() -> None:
    result = cli("check-template", "template.yaml", "--format", "json", "--no-such-flag")
    assert result.returncode == 2
    error = json.loads(result.stdout)
    assert error["exit_code"] == 2 and "--no-such-flag" in error["error"]
    assert "--no-such-flag" in result.stderr and len(result.stderr.splitlines()) == 1
    plain = cli("check-template", "template.yaml", "--no-such-flag")
    assert plain.returncode == 2 and plain.stdout == ""


def test_a_template_cannot_spell_a_stand_in_to_pass() -> None:
    """Tokens are salted per run: a literal written to look like the stand-in of
    ``Ref Fn`` (as an unsalted scheme would make it) is just another name, denied."""
    import hashlib

    digest = hashlib.sha256(b"Ref Fn").hexdigest()[:10]
    forged = f"/aws/lambda/#Ref-Fn.{digest}#"
    text = template(key_with(arn(forged)), FUNCTION, group("!Sub /aws/lambda/${Fn}"))
    assert ("LOGS_DENIED", "error", "Key") in codes(text)
    symbols_seen = report_of(text).keys[0].log_groups
    assert symbols_seen == ["/aws/lambda/<Ref Fn>"]  # output never shows the salted token


GENERATED_ROLE = """
  Other:
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
            Principal: {AWS: !GetAtt FnRole.Arn}
            Action: kms:Decrypt
            Resource: "*"
"""


def test_a_sam_generated_logical_id_is_known_only_at_deploy_not_bad_input() -> None:
    sam = "Transform: AWS::Serverless-2016-10-31\n" + template(GENERATED_ROLE, FUNCTION)
    assert codes(sam) == [("LAMBDA_AUTO_LOGGROUP", "error", "Fn")]
    # Without a transform nothing generates FnRole: CloudFormation rejects the template.
    with pytest.raises(UserError, match="FnRole"):
        codes(template(GENERATED_ROLE, FUNCTION))


def test_a_nested_condition_on_a_parameter_without_value_stays_undecided() -> None:
    header = (
        "Parameters:\n  Stage: {Type: String}\n"
        "Conditions:\n  Prod: !Equals [!Ref Stage, prod]\n"
        "  Encrypt: !Or [!Condition Prod, !Equals [!Ref Stage, staging]]\n"
    )
    text = template(
        key_with(arn("/app/x")),
        group("/app/x", "!If [Encrypt, !GetAtt Key.Arn, !Ref AWS::NoValue]"),
        header=header,
    )
    ((_, finding),) = report_of(text).all_findings()
    assert finding.code == "LOGGROUP_ENCRYPTION_CONDITIONAL"
    assert "which reads Stage without a value" in finding.message
    assert codes(text, Stage="staging") == []
    assert codes(text, Stage="dev")[0][:2] == ("LOGGROUP_UNENCRYPTED", "error")


@pytest.mark.parametrize("name", ['"my app logs"', "aws/reserved", "x" * 513])
def test_a_name_cloudwatch_logs_refuses_is_a_finding_not_bad_input(name: str) -> None:
    text = template(key_with(arn("/app/x")), group(name), group("/app/x", logical_id="Good"))
    found = codes(text)
    assert ("LOGGROUP_NAME_INVALID", "error", "Group") in found
    assert report_of(text).keys[0].log_groups == ["/app/x"]  # the valid group is still proven
