"""The README's Security Hub conformance table: computed from the template, kept current.

Each verdict comes from deployment.conformance on the template as the SAM translator
produces it for one samconfig environment; these tests prove that the table in README.md
is the computed one, that prod has no unrecorded failure, and that each rule flips when
the template does.
"""

from __future__ import annotations

import copy
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from deployment.conformance import (
    ACCEPTED,
    FAIL,
    PASS,
    Context,
    conformance_contexts,
    environment_context,
    verdict,
)
from deployment.controls import CONTROLS
from sam_project.errors import UserError

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "scripts"))
import conformance as generator  # noqa: E402

BY_ID = {control.control_id: control for control in CONTROLS}


@pytest.fixture(scope="module", autouse=True)
def _region() -> Any:
    patch = pytest.MonkeyPatch()
    patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    yield
    patch.undo()


@pytest.fixture(scope="module")
def contexts() -> dict[str, Context]:
    return conformance_contexts(ROOT)


def status(ctx: Context, control_id: str) -> str:
    return verdict(BY_ID[control_id], ctx).status


def test_the_readme_table_is_the_computed_one() -> None:
    """Fails when a verdict changes without README.md changing (run `make generate`)."""
    assert generator.render(ROOT) == (ROOT / "README.md").read_text(encoding="utf-8")
    assert generator.main(["--check"]) == 0


def test_prod_passes_every_applicable_control_or_records_why_not(
    contexts: dict[str, Context],
) -> None:
    prod = contexts["prod"]
    verdicts = {c.control_id: verdict(c, prod) for c in CONTROLS}
    assert [c for c, v in verdicts.items() if v.status == FAIL] == []
    accepted = {c for c, v in verdicts.items() if v.status == ACCEPTED}
    assert accepted == {"APIGateway.2", "Lambda.3"}
    assert all(verdicts[c].reasons for c in accepted)
    for control in ("APIGateway.1", "APIGateway.4", "CloudWatch.15", "CloudWatch.16", "WAF.11"):
        assert verdicts[control].status == PASS, control


def test_dev_failures_are_recorded_for_dev_only(contexts: dict[str, Context]) -> None:
    dev = contexts["dev"]
    assert status(dev, "CloudWatch.16") == ACCEPTED
    assert status(dev, "APIGateway.4") == ACCEPTED
    # The same failure in prod is not covered by a dev-only acceptance.
    prod = copy.deepcopy(contexts["prod"])
    prod.resolver.parameters["EnableWaf"] = "false"
    prod.resolver.parameters["LogRetentionInDays"] = "90"
    assert status(prod, "APIGateway.4") == FAIL
    assert status(prod, "CloudWatch.16") == FAIL


def test_without_its_accepted_risk_a_failure_is_a_failure(contexts: dict[str, Context]) -> None:
    ctx = copy.deepcopy(contexts["prod"])
    ctx.source["Resources"]["ApiFunction"]["Metadata"]["AcceptedRisks"] = []
    result = verdict(BY_ID["Lambda.3"], ctx)
    assert result.status == FAIL and result.failing == ("ApiFunction",)


def test_execution_logging_off_fails_apigateway_1(tmp_path: Path) -> None:
    shutil.copy(ROOT / "samconfig.toml", tmp_path / "samconfig.toml")
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    old = "          LoggingLevel: !Ref ExecutionLogLevel\n"
    assert text.count(old) == 1
    (tmp_path / "template.yaml").write_text(text.replace(old, '          LoggingLevel: "OFF"\n'))
    ctx = environment_context(tmp_path, "prod")
    assert status(ctx, "APIGateway.1") == FAIL


def test_public_function_permission_and_broad_decrypt_are_found(
    contexts: dict[str, Context],
) -> None:
    ctx = copy.deepcopy(contexts["prod"])
    resources = ctx.cfn["Resources"]
    assert status(ctx, "Lambda.1") == PASS and status(ctx, "KMS.2") == PASS
    resources["Anyone"] = {
        "Type": "AWS::Lambda::Permission",
        "Properties": {
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Ref": "ApiFunction"},
            "Principal": "*",
        },
    }
    assert verdict(BY_ID["Lambda.1"], ctx).failing == ("ApiFunction",)
    role = resources["FunctionRole"]["Properties"]["Policies"]
    role.append(
        {
            "PolicyName": "too-broad",
            "PolicyDocument": {
                "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]
            },
        }
    )
    assert verdict(BY_ID["KMS.2"], ctx).failing == ("FunctionRole",)


def test_alarms_without_actions_and_unencrypted_topic(contexts: dict[str, Context]) -> None:
    ctx = copy.deepcopy(contexts["dev"])
    for resource in ctx.cfn["Resources"].values():
        if resource["Type"] == "AWS::CloudWatch::Alarm":
            del resource["Properties"]["AlarmActions"]
        if resource["Type"] == "AWS::SNS::Topic":
            del resource["Properties"]["KmsMasterKeyId"]
    assert status(ctx, "CloudWatch.15") == FAIL
    assert status(ctx, "SNS.1") == FAIL


def test_the_markers_must_be_there_once() -> None:
    with pytest.raises(UserError, match="README.md must hold the marker lines"):
        generator.with_table("no markers", "| table |\n")
    backwards = f"a\n{generator.END}\nold\n{generator.BEGIN}\nb\n"
    with pytest.raises(UserError, match="comes before"):
        generator.with_table(backwards, "new\n")
    both = f"a\n{generator.BEGIN}\nold\n{generator.END}\nb\n"
    assert generator.with_table(both, "new\n") == f"a\n{generator.BEGIN}\nnew\n{generator.END}\nb\n"


def test_the_stacks_own_user_pool_enforces_threat_protection(tmp_path: Path) -> None:
    """Cognito.1 is n/a in dev and prod (AuthMode AWS_IAM); with AuthMode=COGNITO the stack
    creates a pool, which passes, and fails once its threat protection is off."""
    shutil.copy(ROOT / "template.yaml", tmp_path / "template.yaml")
    config = (ROOT / "samconfig.toml").read_text(encoding="utf-8")
    old = '    "AuthMode=AWS_IAM",\n'
    assert old in config
    (tmp_path / "samconfig.toml").write_text(config.replace(old, '    "AuthMode=COGNITO",\n'))
    ctx = environment_context(tmp_path, "prod")
    assert status(ctx, "Cognito.1") == PASS
    for resource in ctx.cfn["Resources"].values():
        if resource["Type"] == "AWS::Cognito::UserPool":
            resource["Properties"]["UserPoolAddOns"]["AdvancedSecurityMode"] = "AUDIT"
    result = verdict(BY_ID["Cognito.1"], ctx)
    assert result.status == FAIL and result.failing == ("UserPool",)
