"""What the emulator does with AuthMode=COGNITO's user pool and app client: nothing.

moto 5.2.5 has no CloudFormation support for AWS::Cognito::UserPool or UserPoolClient:
a stack holding them completes, and no pool exists (ListStackResources shows entries
without a logical id). So the rehearsal (default AuthMode=AWS_IAM, where both are
"condition false") cannot deploy them; a COGNITO rehearsal would list them under "not
created by the emulator". Their properties are checked on the translated template
instead (tests/unit/template/test_authorization.py), the Cognito calls the integration
tests make against moto's Cognito API (tests/unit/deployment/test_api_client.py). This
test fails when moto starts creating them: then let the rehearsal deploy and check them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deployment.emulator import emulator_session
from deployment.moto_server import MotoServer
from deployment.translate import load_sam_template, translate

ROOT = Path(__file__).resolve().parents[2]
STACK = "cognito-rehearsal"


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with MotoServer(tmp_path_factory.mktemp("moto-cognito") / "moto.log") as server:
        yield server.endpoint_url


def cognito_part(template: dict[str, Any]) -> dict[str, Any]:
    """The translated template's Cognito resources, with the parameters and conditions
    they use."""
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {
            name: template["Parameters"][name]
            for name in ("AuthMode", "CognitoUserPoolArn", "EnvironmentSuffix")
        },
        "Conditions": {
            name: template["Conditions"][name] for name in ("AuthByCognito", "CreateUserPool")
        },
        "Resources": {name: template["Resources"][name] for name in ("UserPool", "UserPoolClient")},
    }


def test_the_emulator_creates_no_user_pool_from_the_template(endpoint: str) -> None:
    source = load_sam_template(ROOT / "template.yaml")
    source["Resources"]["ApiFunction"]["Properties"]["CodeUri"] = "s3://bucket/code.zip"
    translated = translate(source, region="us-east-1", parameter_values={"AuthMode": "COGNITO"})
    session = emulator_session()
    cloudformation = session.client("cloudformation", endpoint_url=endpoint)
    cloudformation.create_stack(
        StackName=STACK,
        TemplateBody=json.dumps(cognito_part(translated)),
        Parameters=[{"ParameterKey": "AuthMode", "ParameterValue": "COGNITO"}],
    )
    deadline = time.monotonic() + 60
    while True:
        stack = cloudformation.describe_stacks(StackName=STACK)["Stacks"][0]
        if not stack["StackStatus"].endswith("IN_PROGRESS") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    pools = session.client("cognito-idp", endpoint_url=endpoint).list_user_pools(MaxResults=60)
    assert pools["UserPools"] == [], (
        "moto now creates Cognito user pools from CloudFormation: rehearse AuthMode=COGNITO "
        "and check the pool and client on the emulator"
    )
    logical = {
        r["LogicalResourceId"]
        for r in cloudformation.list_stack_resources(StackName=STACK)["StackResourceSummaries"]
    }
    assert "UserPool" not in logical and "UserPoolClient" not in logical
