"""What the emulator (moto server on localhost) does with the stack-name guard.

The template's key and log groups (from the real SAM translator's output) are created
with CloudFormation's CreateStack on moto, with the parameter file ``policy_gen render``
writes. Three facts, each a reason for how the guard is built and tested:

* a stack under a name of one's own gets the log groups the policy names;
* a second stack with the same parameter file is refused: the log-group names already
  exist (moto refuses the CreateStack call itself with ResourceAlreadyExistsException;
  CloudFormation fails the log-group resource with "already exists" and rolls back);
* moto ignores the ``Rules`` section: a file rendered for another account deploys.
  That is why ``check-template`` evaluates the Rules itself (test_stack_name_guard in
  tests/unit/template) and the rehearsal's ``stack.rendered_for_target`` check reads them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError

from deployment.emulator import EMULATOR_ACCOUNT, EMULATOR_REGION, emulator_session
from deployment.moto_server import MotoServer
from policy_gen.environment import render_environment

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from transform_template import transformed  # noqa: E402

RENDERED_FOR = "secure-api-dev"
KEPT = ("LogsKey", "FunctionLogGroup", "AccessLogGroup")


@pytest.fixture(scope="module")
def cloudformation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with MotoServer(tmp_path_factory.mktemp("moto") / "moto.log") as server:
        yield emulator_session(EMULATOR_REGION).client(
            "cloudformation", endpoint_url=server.endpoint_url
        )


def _template() -> str:
    """The key and the two log groups as CloudFormation receives them, with every
    parameter and rule of the transformed template (tags dropped: moto's KMS tag gap)."""
    cfn = transformed(ROOT / "template.yaml")
    resources = {name: json.loads(json.dumps(cfn["Resources"][name])) for name in KEPT}
    for resource in resources.values():
        resource["Properties"].pop("Tags", None)
    return json.dumps(
        {"Parameters": cfn["Parameters"], "Rules": cfn["Rules"], "Resources": resources}
    )


def _parameters(
    stack_name: str = RENDERED_FOR, account: str = EMULATOR_ACCOUNT
) -> list[dict[str, str]]:
    """The parameter file ``policy_gen render`` writes for ``stack_name``, as CreateStack takes it."""
    rendered = render_environment(
        config_file=ROOT / "samconfig.toml",
        stack_name=stack_name,
        region=EMULATOR_REGION,
        account=account,
    )
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in rendered.parameters.items()]


def _log_groups(cloudformation: Any, stack: str) -> set[str]:
    resources = cloudformation.describe_stack_resources(StackName=stack)["StackResources"]
    return {
        r["PhysicalResourceId"] for r in resources if r["ResourceType"] == "AWS::Logs::LogGroup"
    }


def test_another_stack_name_gets_the_log_groups_the_policy_names(
    cloudformation: Any,
) -> None:
    cloudformation.create_stack(
        StackName="my-own-name", TemplateBody=_template(), Parameters=_parameters()
    )
    stack = cloudformation.describe_stacks(StackName="my-own-name")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert _log_groups(cloudformation, "my-own-name") == {
        f"/{RENDERED_FOR}/function",
        f"/{RENDERED_FOR}/api-access",
    }


def test_a_second_stack_with_the_same_parameter_file_is_refused(
    cloudformation: Any,
) -> None:
    body, parameters = _template(), _parameters("rendered-once")
    cloudformation.create_stack(StackName="first-copy", TemplateBody=body, Parameters=parameters)
    # moto answers with a bare JSON error that botocore cannot parse as CloudFormation's
    # XML; the text is moto's ResourceAlreadyExistsException either way.
    with pytest.raises((ClientError, ResponseParserError)) as refused:
        cloudformation.create_stack(
            StackName="second-copy", TemplateBody=body, Parameters=parameters
        )
    assert "already exists" in str(refused.value)


def test_the_emulator_ignores_rules(cloudformation: Any) -> None:
    """A file rendered for another account: CloudFormation's KeyPolicyRenderedForThisDeployment
    rule refuses it; moto creates the stack anyway (its documented gap "rules")."""
    parameters = _parameters("rules-probe", account="999988887777")
    assert {"ParameterKey": "PolicyAccountId", "ParameterValue": "999988887777"} in parameters
    cloudformation.create_stack(
        StackName="rules-probe", TemplateBody=_template(), Parameters=parameters
    )
    stack = cloudformation.describe_stacks(StackName="rules-probe")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
