"""Production options of template.yaml, each off by default and checked on and off.

The real SAM translator produces the CloudFormation template; which resources a
given set of parameter values creates is decided by evaluating the template's
Conditions with policy_gen's resolver (CloudFormation's own rules for
Fn::Equals/And/Or/Not/If).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from policy_gen.check_template import check_template
from policy_gen.partitions import get_partition
from policy_gen.render import render_policy
from policy_gen.template import Resolver, Unresolved, encrypted_log_groups

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "scripts"))
from transform_template import transformed  # noqa: E402

NO_LAYER = "arn:aws:lambda:none:000000000000:layer:NoLayerKnown:0"
ACL_ARN = "arn:aws:wafv2:eu-west-1:111122223333:regional/webacl/shared/0a1b2c3d"
SECRET = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:api-config-AbCdEf"


@pytest.fixture(scope="module")
def cfn() -> dict[str, Any]:
    return transformed(ROOT / "template.yaml")


def resolver(cfn: dict[str, Any], region: str = "eu-west-1", **params: str) -> Resolver:
    # As policy_gen render writes it: the log groups are named after PolicyStackName.
    params = {"PolicyStackName": "stk", **params}
    return Resolver.for_template(
        cfn, params, region=region, account="111122223333", partition="aws", stack_name="stk"
    )


def created(cfn: dict[str, Any], r: Resolver) -> set[str]:
    return {k for k, v in cfn["Resources"].items() if r.resource_enabled(v)}


def value(r: Resolver, raw: Any) -> Any:
    """Resolve and drop AWS::NoValue entries, as CloudFormation does."""
    result = r.resolve(raw)
    if isinstance(result, list):
        return [
            v for v in result if not (isinstance(v, Unresolved) and v.expression == "AWS::NoValue")
        ]
    return result


OPTIONAL = {
    "WebAcl",
    "WebAclAssociation",
    "WafLogging",
    "ApiDomain",
    "ApiBasePathMapping",
    "ApiDnsRecord",
    "ApiGatewayCloudWatchRole",
    "ApiGatewayAccount",
}


def test_everything_optional_is_off_by_default(cfn: dict[str, Any]) -> None:
    r = resolver(cfn)
    assert created(cfn, r).isdisjoint(OPTIONAL)
    function = cfn["Resources"]["ApiFunction"]["Properties"]
    assert isinstance(value(r, function["Layers"]), Unresolved)  # NoValue: no layers
    policies = value(r, cfn["Resources"]["FunctionRole"]["Properties"]["Policies"])
    assert [p["PolicyName"] for p in policies] == ["write-own-log-group", "xray-tracing"]
    url = value(r, cfn["Outputs"]["ApiUrl"]["Value"])
    assert isinstance(url, Unresolved) and "execute-api" in url.expression


def test_waf_on_creates_acl_with_managed_rules_and_rate_limit(cfn: dict[str, Any]) -> None:
    r = resolver(cfn, EnableWaf="true", WafRateLimitPer5Min="500")
    assert {"WebAcl", "WebAclAssociation"} <= created(cfn, r)
    assert "WafLogging" not in created(cfn, r)
    acl = cfn["Resources"]["WebAcl"]["Properties"]
    assert acl["Scope"] == "REGIONAL"
    rules = {rule["Name"]: rule for rule in acl["Rules"]}
    assert {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"} <= set(rules)
    assert value(r, rules["RateLimitPerIp"]["Statement"]["RateBasedStatement"]["Limit"]) == "500"
    association = cfn["Resources"]["WebAclAssociation"]["Properties"]
    # The translator resolved Api.Stage to the stage it generates.
    assert "${ApiStage}" in association["ResourceArn"]["Fn::Sub"]
    assert association["WebACLArn"] == {
        "Fn::If": ["CreateWebAcl", {"Fn::GetAtt": ["WebAcl", "Arn"]}, {"Ref": "ExistingWebAclArn"}]
    }


def test_existing_acl_is_associated_not_created(cfn: dict[str, Any]) -> None:
    r = resolver(cfn, EnableWaf="true", ExistingWebAclArn=ACL_ARN)
    made = created(cfn, r)
    assert "WebAclAssociation" in made and "WebAcl" not in made
    assert value(r, cfn["Resources"]["WebAclAssociation"]["Properties"]["WebACLArn"]) == ACL_ARN


def test_waf_logging_group_is_encrypted_prefixed_and_covered_by_policy_gen(
    cfn: dict[str, Any],
) -> None:
    r = resolver(cfn, EnableWaf="true", EnableWafLogging="true")
    assert {"WafLogGroup", "WafLogging"} <= created(cfn, r)
    groups = {g.logical_id: g.name for g in encrypted_log_groups(cfn, r)}
    assert groups["WafLogGroup"] == "aws-waf-logs-stk"
    redacted = cfn["Resources"]["WafLogging"]["Properties"]["RedactedFields"]
    assert {f["SingleHeader"]["Name"] for f in redacted} == {"authorization", "x-api-key"}


def _check(cfn: dict[str, Any], log_groups: list[str], **params: str) -> dict[str, str]:
    topics = {"arn:aws:sns:eu-west-1:111122223333:stk-alarms": ("cloudwatch",)}
    policy = render_policy(
        get_partition("aws"), "eu-west-1", "111122223333", log_groups, topics=topics
    )
    r = resolver(cfn, KeyPolicy=json.dumps(policy), **params)
    report = check_template(cfn, r, get_partition("aws"))
    return {f.code: resource for resource, f in report.all_findings()}


def test_check_template_demands_the_waf_group_in_the_key_policy(cfn: dict[str, Any]) -> None:
    """The WAF group exists in every configuration (it shares RetainLogs with the key),
    so the key policy must name it whether WAF is on or off."""
    base = ["/stk/function", "/stk/api-access", "/stk/api-execution"]
    on = {"EnableWaf": "true", "EnableWafLogging": "true"}
    assert _check(cfn, [*base, "aws-waf-logs-stk"], **on) == {}
    assert _check(cfn, [*base, "aws-waf-logs-stk"]) == {}
    assert "LOGS_DENIED" in _check(cfn, base, **on)
    assert "LOGS_DENIED" in _check(cfn, base)


def test_custom_domain_with_latency_record(cfn: dict[str, Any]) -> None:
    domain = {
        "DomainName": "api.example.com",
        "CertificateArn": "arn:aws:acm:eu-west-1:111122223333:certificate/abc",
    }
    r = resolver(cfn, **domain)
    made = created(cfn, r)
    assert {"ApiDomain", "ApiBasePathMapping"} <= made and "ApiDnsRecord" not in made
    assert value(r, cfn["Outputs"]["ApiUrl"]["Value"]) == "https://api.example.com/"
    assert cfn["Resources"]["ApiDomain"]["Properties"]["SecurityPolicy"] == "TLS_1_2"
    assert cfn["Resources"]["ApiBasePathMapping"]["Properties"]["Stage"] == {"Ref": "ApiStage"}
    r = resolver(cfn, HostedZoneId="Z123EXAMPLE", **domain)
    assert "ApiDnsRecord" in created(cfn, r)
    record = cfn["Resources"]["ApiDnsRecord"]["Properties"]
    assert value(r, record["Region"]) == "eu-west-1"  # latency-based routing
    assert value(r, record["SetIdentifier"]) == "stk-eu-west-1"


def test_custom_domain_rule_requires_a_certificate(cfn: dict[str, Any]) -> None:
    rule = cfn["Rules"]["CustomDomainHasCertificate"]
    assert rule["RuleCondition"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "DomainName"}, ""]}]}
    assert "CertificateArn" in json.dumps(rule["Assertions"])


def test_lambda_insights_layer_from_table_and_override(cfn: dict[str, Any]) -> None:
    layers = cfn["Resources"]["ApiFunction"]["Properties"]["Layers"]
    r = resolver(cfn, region="eu-west-1", EnableLambdaInsights="true")
    (arn,) = value(r, layers)
    assert re.fullmatch(
        r"arn:aws:lambda:eu-west-1:\d{12}:layer:LambdaInsightsExtension-Arm64:\d+", arn
    )
    override = "arn:aws:lambda:eu-west-1:580247275435:layer:LambdaInsightsExtension-Arm64:99"
    r = resolver(cfn, EnableLambdaInsights="true", LambdaInsightsLayerArn=override)
    assert value(r, layers) == [override]
    names = [
        p["PolicyName"]
        for p in value(r, cfn["Resources"]["FunctionRole"]["Properties"]["Policies"])
    ]
    assert "lambda-insights" in names


def test_lambda_insights_rule_lists_exactly_the_regions_with_a_layer(cfn: dict[str, Any]) -> None:
    table = cfn["Mappings"]["LambdaInsightsArm64"]
    with_layer = {region for region, row in table.items() if row["LayerArn"] != NO_LAYER}
    assertion = cfn["Rules"]["LambdaInsightsLayerKnown"]["Assertions"][0]["Assert"]
    assert set(assertion["Fn::Contains"][0]) == with_layer
    for region, row in table.items():
        if row["LayerArn"] != NO_LAYER:
            assert f":lambda:{region}:" in row["LayerArn"]
    # Every region policy_gen knows has a row, so FindInMap never fails to resolve.
    from policy_gen.partitions import PARTITIONS

    assert {r for p in PARTITIONS.values() for r in p.known_regions} <= set(table)


def test_secret_is_read_with_least_privilege(cfn: dict[str, Any]) -> None:
    r = resolver(cfn, SecretArn=SECRET)
    policies = value(r, cfn["Resources"]["FunctionRole"]["Properties"]["Policies"])
    secret = next(p for p in policies if p["PolicyName"] == "read-configuration-secret")
    (statement,) = secret["PolicyDocument"]["Statement"]
    assert statement["Action"] == "secretsmanager:GetSecretValue"
    assert value(r, statement["Resource"]) == SECRET
    env = cfn["Resources"]["ApiFunction"]["Properties"]["Environment"]["Variables"]
    assert env["CONFIG_SECRET_ARN"] == {"Ref": "SecretArn"}
