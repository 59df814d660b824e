"""The rehearsal evaluates the template's Rules itself (moto does not: gap ``rules``).

Probe: the rehearsal's stack.rendered_for_target checked the account/region assertion
alone, so a prod rehearsal with API_KEY_ONLY, 90-day retention, RetainLogs=Delete, no
alarm target or no web ACL deployed on the emulator and passed, where CloudFormation
refuses the deploy. The template is template.yaml as the real translation gives it, the
parameters samconfig's prod environment with the key policy rendered for the emulator.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from deployment.checks import CHECKS, run_check
from deployment.emulator import EMULATOR_ACCOUNT
from deployment.results import FAIL, PASS, CheckResult
from deployment.target import Target
from deployment.translate import load_sam_template, translate
from policy_gen.environment import render_environment
from sam_project.samconfig import load_environment

ROOT = Path(__file__).resolve().parents[3]
REGION = "us-east-1"


class EmulatedTarget(Target):
    def __init__(self, template: dict[str, Any], parameters: dict[str, str]) -> None:
        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        )
        super().__init__(session, "secure-api-prod", emulated=True, transformed=template)
        self._parameters = parameters

    def parameters(self) -> dict[str, str]:
        return self._parameters

    def account(self) -> str:
        return EMULATOR_ACCOUNT


@pytest.fixture(scope="module")
def prod() -> tuple[dict[str, Any], dict[str, str]]:
    config = ROOT / "samconfig.toml"
    values = dict(load_environment(config, "prod").parameter_overrides)
    rendered = render_environment(
        config_file=config, config_env="prod", account=EMULATOR_ACCOUNT, region=REGION
    )
    values.update(rendered.parameters)
    template = load_sam_template(ROOT / "template.yaml")
    template["Resources"]["ApiFunction"]["Properties"]["CodeUri"] = "s3://bucket/code.zip"
    translated = translate(
        template, region=REGION, account=EMULATOR_ACCOUNT, parameter_values=values
    )
    return translated, values


def _run(template: dict[str, Any], parameters: dict[str, str]) -> CheckResult:
    check = next(c for c in CHECKS if c.check_id == "stack.rendered_for_target")
    return run_check(check, EmulatedTarget(template, parameters))


def test_prod_as_configured_passes(prod: tuple[dict[str, Any], dict[str, str]]) -> None:
    template, values = prod
    assert "Rules" in template
    result = _run(template, values)
    assert result.status == PASS, result.detail


@pytest.mark.parametrize(
    ("change", "rule", "words"),
    [
        ({"AuthMode": "API_KEY_ONLY"}, "ProdRequiresAuthorization", "real authorization"),
        ({"LogRetentionInDays": "90"}, "ProdMeetsSecurityControls", "365 days"),
        ({"RetainLogs": "Delete"}, "ProdMeetsSecurityControls", "RetainLogs=Retain"),
        ({"AlarmEmail": ""}, "ProdMeetsSecurityControls", "notify someone"),
        ({"EnableWaf": "false"}, "ProdMeetsSecurityControls", "web ACL"),
        ({"EnableWafLogging": "false"}, "ProdMeetsSecurityControls", "EnableWafLogging=true"),
    ],
)
def test_prod_breaking_a_rule_fails_the_rehearsal(
    prod: tuple[dict[str, Any], dict[str, str]], change: dict[str, str], rule: str, words: str
) -> None:
    template, values = prod
    result = _run(template, {**values, **change})
    assert result.status == FAIL
    assert f"rule {rule} refuses" in result.detail and words in result.detail


def test_a_stack_name_other_than_the_rendered_one_is_still_judged(
    prod: tuple[dict[str, Any], dict[str, str]],
) -> None:
    template, values = prod
    renamed = {**values, "PolicyStackName": "another-name", "AuthMode": "API_KEY_ONLY"}
    result = _run(template, renamed)
    assert result.status == FAIL and "ProdRequiresAuthorization" in result.detail
