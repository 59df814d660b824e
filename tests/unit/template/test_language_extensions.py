"""template.yaml passes SAM CLI's own AWS::LanguageExtensions expansion, as written.

`sam build`, `sam validate` and `sam local` (samconfig.toml's language_extensions) run
SAM CLI's implementation of the transform on the template before anything else. In SAM
CLI 1.170 it refuses a parameter-driven DeletionPolicy/UpdateReplacePolicy on a resource
whose Condition is false ("AWS::NoValue is not supported for DeletionPolicy"), so every
configuration a user can choose must get through it. The expansion is called directly,
on the raw template: the kit's own translation resolves the policies first and would
hide the failure.
"""

from __future__ import annotations

import copy
import itertools
from pathlib import Path
from typing import Any

import pytest
from samcli.lib.cfn_language_extensions.sam_integration import process_template_for_sam_cli

from policy_gen.template import load_template
from sam_project.samconfig import load_environment

ROOT = Path(__file__).resolve().parents[3]
ENVIRONMENTS = ("default", "prod", "prod-us-east-1", "prod-eu-west-1")
# Each switch that decides a resource's Condition, both ways.
SWITCHES = {
    "EnableWaf": ("true", "false"),
    "EnableWafLogging": ("true", "false"),
    "AuthMode": ("AWS_IAM", "COGNITO", "API_KEY_ONLY"),
    "AlarmTopicArn": ("", "arn:aws:sns:us-east-1:123456789012:mine"),
    "CreateApiGatewayAccountRole": ("true", "false"),
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(ROOT / "template.yaml")


def expand(template: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    defaults = {
        name: spec["Default"] for name, spec in template["Parameters"].items() if "Default" in spec
    }
    result: dict[str, Any] = process_template_for_sam_cli(
        copy.deepcopy(template), parameter_values={**defaults, **values}
    )
    return result


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_samconfig_environment_expands(template: dict[str, Any], env: str) -> None:
    overrides = load_environment(ROOT / "samconfig.toml", env).parameter_overrides
    expanded = expand(template, dict(overrides))
    policies = {
        resource["DeletionPolicy"]
        for resource in expanded["Resources"].values()
        if resource["Type"] in ("AWS::KMS::Key", "AWS::Logs::LogGroup")
    }
    assert policies == ({"Retain"} if env.startswith("prod") else {"Delete"})


@pytest.mark.parametrize("combination", list(itertools.product(*SWITCHES.values())))
def test_every_switch_combination_expands(
    template: dict[str, Any], combination: tuple[str, ...]
) -> None:
    values = dict(zip(SWITCHES, combination, strict=True))
    for retain in ("Delete", "Retain"):
        expand(template, {**values, "RetainLogs": retain})
