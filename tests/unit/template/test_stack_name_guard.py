"""The stack-name guard, by construction: a key policy rendered for one stack name covers
its log groups under any other stack name, and account and region are refused by Rules.

The template is the one CloudFormation sees (the real SAM translator's output); the
parameter file is the one ``policy_gen render`` writes; names and Rules are evaluated
with policy_gen's resolver; ``check-template`` must agree. A control template with the
pre-guard names (``/${AWS::StackName}/...``) shows each test can fail. What the emulator
does with the same template (Rules ignored, a second stack refused) is in
tests/integration/test_stack_name_guard.py; the full deploy under another name is the
rehearsal's (tests/integration/test_rehearsal.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from policy_gen.check_template import check_template
from policy_gen.environment import RenderedEnvironment, render_environment
from policy_gen.partitions import get_partition
from policy_gen.rules import refused_assertions
from policy_gen.template import Resolver, encrypted_log_groups

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "scripts"))
from transform_template import transformed  # noqa: E402

ACCOUNT, REGION = "111122223333", "eu-west-1"
RENDERED_FOR = "secure-api-dev"
# A name of one's own, as `sam deploy --guided` lets anyone type.
DEPLOYED_AS = "my-own-stack-name"


@pytest.fixture(scope="module")
def cfn() -> dict[str, Any]:
    return transformed(ROOT / "template.yaml")


def render(template: Path, stack_name: str = RENDERED_FOR) -> RenderedEnvironment:
    rendered = render_environment(
        config_file=ROOT / "samconfig.toml",
        config_env="default",
        template=template,
        stack_name=stack_name,
        region=REGION,
        account=ACCOUNT,
    )
    assert rendered.valid
    return rendered


def deployed(
    cfn: dict[str, Any],
    rendered: RenderedEnvironment,
    *,
    stack_name: str = DEPLOYED_AS,
    account: str = ACCOUNT,
    region: str = REGION,
) -> Resolver:
    """The values CloudFormation would see: the rendered parameter file, deployed as
    ``stack_name`` in ``account``/``region``."""
    return Resolver.for_template(
        cfn,
        rendered.parameters,
        region=region,
        account=account,
        partition="aws",
        stack_name=stack_name,
    )


def findings(cfn: dict[str, Any], resolver: Resolver) -> set[str]:
    report = check_template(cfn, resolver, get_partition("aws"))
    return {finding.code for _, finding in report.all_findings()}


def test_the_parameter_file_names_the_stack_it_was_rendered_for() -> None:
    rendered = render(ROOT / "template.yaml")
    assert rendered.parameters["PolicyStackName"] == RENDERED_FOR
    assert rendered.log_groups == (
        f"/{RENDERED_FOR}/function",
        f"/{RENDERED_FOR}/api-access",
        f"/{RENDERED_FOR}/api-execution",
        f"aws-waf-logs-{RENDERED_FOR}",
    )


@pytest.mark.parametrize("stack_name", [RENDERED_FOR, DEPLOYED_AS, "x", "A" * 128])
def test_any_stack_name_creates_exactly_the_log_groups_the_policy_names(
    cfn: dict[str, Any], stack_name: str
) -> None:
    rendered = render(ROOT / "template.yaml")
    resolver = deployed(cfn, rendered, stack_name=stack_name)
    names = sorted(str(group.name) for group in encrypted_log_groups(cfn, resolver))
    assert names == sorted(rendered.log_groups)
    assert findings(cfn, resolver) == set()
    assert refused_assertions(cfn, resolver) == []


@pytest.mark.parametrize(
    ("where", "description"),
    [
        ({"account": "999988887777"}, "another account"),
        ({"region": "us-west-2"}, "another region"),
    ],
)
def test_another_account_or_region_is_refused_by_the_rules_before_any_resource(
    cfn: dict[str, Any], where: dict[str, str], description: str
) -> None:
    """What cannot be constructed is refused: the Rules, evaluated as CloudFormation
    does before it creates anything (moto ignores them: see the integration test)."""
    rendered = render(ROOT / "template.yaml")
    resolver = deployed(cfn, rendered, **where)
    (refused,) = refused_assertions(cfn, resolver)
    assert refused.rule == "KeyPolicyRenderedForThisDeployment"
    assert description in refused.description
    assert "RULE_REFUSED" in findings(cfn, resolver)


def test_control_names_from_the_stack_name_are_not_covered(
    cfn: dict[str, Any], tmp_path: Path
) -> None:
    """The pre-guard template named its log groups after AWS::StackName: the same
    render deployed under another name leaves Logs denied. The checks above can fail."""
    source = (ROOT / "template.yaml").read_text()
    # Four log groups (function, access, execution, WAF) and the alarm topic.
    assert source.count("${PolicyStackName}") == 5
    old_style = tmp_path / "template.yaml"
    old_style.write_text(source.replace("${PolicyStackName}", "${AWS::StackName}"))
    old_cfn = transformed(old_style)
    rendered = render(old_style)
    assert findings(old_cfn, deployed(old_cfn, rendered, stack_name=RENDERED_FOR)) == set()
    moved = findings(old_cfn, deployed(old_cfn, rendered, stack_name=DEPLOYED_AS))
    assert "LOGS_DENIED" in moved


def test_check_template_agrees_on_the_command_line(tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    render(ROOT / "template.yaml").write(params)
    assert yaml.safe_load(params.read_text())["PolicyStackName"] == RENDERED_FOR

    def check(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "policy_gen", "check-template", "template.yaml",
             "--parameter-overrides", f"file://{params}", "--format", "json", *extra],
            cwd=ROOT, capture_output=True, text=True, check=False,
        )  # fmt: skip

    covered = check("--stack-name", DEPLOYED_AS)
    assert covered.returncode == 0, covered.stdout + covered.stderr
    assert json.loads(covered.stdout)["keys"][0]["log_groups"] == [
        f"/{RENDERED_FOR}/function",
        f"/{RENDERED_FOR}/api-access",
        f"/{RENDERED_FOR}/api-execution",
        f"aws-waf-logs-{RENDERED_FOR}",
    ]
    assert json.loads(covered.stdout)["keys"][0]["topics"] == [f"{RENDERED_FOR}-alarms"]
    refused = check("--stack-name", DEPLOYED_AS, "--account", "999988887777")
    assert refused.returncode == 1
    codes = {finding["code"] for finding in json.loads(refused.stdout)["findings"]}
    assert "RULE_REFUSED" in codes


def test_rules_with_a_false_condition_or_unknowable_functions_refuse_nothing() -> None:
    template: dict[str, Any] = {
        "Parameters": {
            "Env": {"Type": "String"},
            # As in CDK's bootstrap-version rule: the value is read from SSM at deploy time.
            "Bootstrap": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/cdk/v"},
        },
        "Rules": {
            "FromSsm": {
                "Assertions": [{"Assert": {"Fn::Contains": [["6"], {"Ref": "Bootstrap"}]}}]
            },
            "OnlyInProd": {
                "RuleCondition": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
                "Assertions": [{"Assert": {"Fn::Equals": ["a", "b"]}}],
            },
            "Subnets": {
                "Assertions": [
                    {"Assert": {"Fn::EachMemberIn": [{"Fn::RefAll": "AWS::EC2::VPC::Id"}, []]}}
                ]
            },
            "Region": {
                "Assertions": [
                    {
                        "Assert": {"Fn::Contains": [["eu-west-1"], {"Ref": "AWS::Region"}]},
                        "AssertDescription": "eu-west-1 only",
                    }
                ]
            },
        },
        "Resources": {"T": {"Type": "AWS::SNS::Topic"}},
    }
    dev = Resolver.for_template(template, {"Env": "dev"}, region="eu-west-1")
    assert refused_assertions(template, dev) == []
    prod = Resolver.for_template(template, {"Env": "prod"}, region="us-east-1")
    assert [(r.rule, r.description) for r in refused_assertions(template, prod)] == [
        ("OnlyInProd", "an assertion is false"),
        ("Region", "eu-west-1 only"),
    ]
