"""prod meets retention, deletion, WAF and alarm-notification controls, or is refused.

The samconfig environments are evaluated as SAM CLI reads them (sam_project.samconfig),
with the key policy rendered for them in process (policy_gen.environment), and the
template's Rules and DeletionPolicy evaluated the way CloudFormation would.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from deployment.translate import TranslationError, resolve_resource_policies, translate
from policy_gen.check_template import check_template
from policy_gen.environment import render_environment
from policy_gen.partitions import get_partition
from policy_gen.rules import refused_assertions
from policy_gen.template import (
    Resolver,
    deletion_retained,
    encrypted_log_groups,
    load_template,
    parse_template_text,
)
from sam_project.samconfig import load_environment

ROOT = Path(__file__).resolve().parents[3]
ACCOUNT = "123456789012"
ENCRYPTED = ("LogsKey", "FunctionLogGroup", "AccessLogGroup", "ExecutionLogGroup", "WafLogGroup")


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(ROOT / "template.yaml")


def environment(env: str) -> dict[str, str]:
    """The parameter values samconfig gives ``env``, plus the rendered key policy."""
    config = ROOT / "samconfig.toml"
    rendered = render_environment(config_file=config, config_env=env, account=ACCOUNT)
    values = dict(load_environment(config, env).parameter_overrides)
    values.update(rendered.parameters)
    return values


def resolver_for(template: dict[str, Any], values: dict[str, str]) -> Resolver:
    return Resolver.for_template(
        template, values, region="us-east-1", account=ACCOUNT, partition="aws"
    )


@pytest.mark.parametrize("env", ["prod", "prod-us-east-1"])
def test_prod_settings_pass_the_rules_and_check_template(
    template: dict[str, Any], env: str
) -> None:
    values = environment(env)
    assert values["LogRetentionInDays"] == "365" and values["RetainLogs"] == "Retain"
    assert values["EnableWaf"] == values["EnableWafLogging"] == "true"
    r = resolver_for(template, values)
    assert refused_assertions(template, r) == []
    report = check_template(template, r, get_partition("aws"))
    assert report.all_findings() == []


def test_dev_stays_cheap_and_deletable(template: dict[str, Any]) -> None:
    values = environment("default")
    r = resolver_for(template, values)
    assert refused_assertions(template, r) == []
    assert not any(deletion_retained(template["Resources"][k], r) for k in ENCRYPTED)
    assert not r.condition("CreateWebAcl")


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ({"LogRetentionInDays": "90"}, "at least 365 days"),
        ({"RetainLogs": "Delete"}, "RetainLogs=Retain"),
        ({"AlarmEmail": ""}, "notify someone"),
        ({"EnableWaf": "false"}, "web ACL"),
        # Probe: WAF.11 passes in the table only because samconfig sets it; a prod deploy
        # that turns logging off was accepted.
        ({"EnableWafLogging": "false"}, "EnableWafLogging=true"),
    ],
)
def test_prod_without_a_control_is_refused(
    template: dict[str, Any], change: dict[str, str], refusal: str
) -> None:
    values = {**environment("prod"), **change}
    refused = refused_assertions(template, resolver_for(template, values))
    assert [a.rule for a in refused] == ["ProdMeetsSecurityControls"]
    assert refusal in refused[0].description


def test_prod_with_an_existing_web_acl_leaves_its_logging_to_its_owner(
    template: dict[str, Any],
) -> None:
    acl = "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/theirs/abc"
    values = {
        **environment("prod"),
        "EnableWaf": "false",
        "EnableWafLogging": "false",
        "ExistingWebAclArn": acl,
    }
    assert refused_assertions(template, resolver_for(template, values)) == []


def test_prod_accepts_a_topic_of_ones_own_instead_of_an_email(template: dict[str, Any]) -> None:
    own = "arn:aws:sns:us-east-1:123456789012:on-call"
    values = {**environment("prod"), "AlarmEmail": "", "AlarmTopicArn": own}
    assert refused_assertions(template, resolver_for(template, values)) == []


def test_key_and_log_groups_are_retained_together(template: dict[str, Any]) -> None:
    """One parameter decides for the key and every group it encrypts: no group
    ever outlives its key (the README's deletion control)."""
    for retain in ("Retain", "Delete"):
        values = {**environment("prod"), "RetainLogs": retain}
        r = resolver_for(template, values)
        decided = {k: deletion_retained(template["Resources"][k], r) for k in ENCRYPTED}
        assert set(decided.values()) == {retain == "Retain"}
        groups = encrypted_log_groups(template, r)
        assert {g.retained for g in groups} == {retain == "Retain"}


RETAIN = """
Parameters:
  KeyPolicy: {Type: String}
  RetainLogs: {Type: String, Default: Delete}
Resources:
  Key:
    Type: AWS::KMS::Key
    DeletionPolicy: !Ref RetainLogs
    Properties: {KeyPolicy: !Ref KeyPolicy}
  Group:
    Type: AWS::Logs::LogGroup
    DeletionPolicy: Retain
    Properties:
      LogGroupName: /s/fn
      KmsKeyId: !GetAtt Key.Arn
"""


@pytest.mark.parametrize(
    ("retain", "codes"), [("Retain", []), ("Delete", ["KEY_DELETION_MISMATCH"])]
)
def test_a_key_policy_by_parameter_is_resolved_before_the_mismatch_check(
    retain: str, codes: list[str]
) -> None:
    from policy_gen.render import render_policy

    policy = json.dumps(render_policy(get_partition("aws"), "us-east-1", ACCOUNT, ["/s/fn"]))
    parsed = parse_template_text(RETAIN)
    r = resolver_for(parsed, {"KeyPolicy": policy, "RetainLogs": retain})
    report = check_template(parsed, r, get_partition("aws"))
    assert [f.code for _, f in report.all_findings()] == codes


def test_language_extensions_policies_resolve_like_cloudformation() -> None:
    source = {
        "Transform": ["AWS::LanguageExtensions", "AWS::Serverless-2016-10-31"],
        "Parameters": {"RetainLogs": {"Type": "String", "Default": "Delete"}},
        "Resources": {
            "Key": {
                "Type": "AWS::KMS::Key",
                "DeletionPolicy": {"Ref": "RetainLogs"},
                "UpdateReplacePolicy": {"Ref": "RetainLogs"},
                "Properties": {},
            }
        },
    }
    assert resolve_resource_policies(source, {})["Resources"]["Key"]["DeletionPolicy"] == "Delete"
    given = resolve_resource_policies(source, {"RetainLogs": "Retain"})["Resources"]["Key"]
    assert given["DeletionPolicy"] == given["UpdateReplacePolicy"] == "Retain"
    translated = translate(source, region="us-east-1", parameter_values={"RetainLogs": "Retain"})
    assert translated["Resources"]["Key"]["DeletionPolicy"] == "Retain"
    assert "Transform" not in translated
    source["Resources"]["Key"]["DeletionPolicy"] = {"Fn::If": ["X", "Retain", "Delete"]}
    with pytest.raises(TranslationError, match="Key DeletionPolicy"):
        resolve_resource_policies(source, {})
