"""The rehearsal's X-Ray checks, on template.yaml as the real SAM translator transforms it.

The function bundles no tracing SDK (issue 12), so a deployed request shows up in X-Ray as
API Gateway -> Lambda only if the function has active tracing and the stage has X-Ray
on. On the emulator both are checked on the transformed template (moto keeps neither:
``lambda-tracing-config``, ``apigateway-stage``); here each check runs on the real
translation and on a copy with the setting switched off, which must fail.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import boto3
import pytest

from deployment import checks
from deployment.checks import CHECKS, Check, run_check
from deployment.results import FAIL, PASS, TEMPLATE, CheckResult
from deployment.target import Target
from deployment.translate import load_sam_template, translate

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def transformed() -> dict[str, Any]:
    template = load_sam_template(ROOT / "template.yaml")
    template["Resources"]["ApiFunction"]["Properties"]["CodeUri"] = "s3://bucket/code.zip"
    return translate(template, region="us-east-1")


class EmulatedTarget(Target):
    """An emulated stack whose live reads return what moto returns for these properties."""

    def __init__(self, transformed: dict[str, Any]) -> None:
        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        )
        super().__init__(session, "stack", emulated=True, transformed=transformed)

    def parameters(self) -> dict[str, str]:
        return {"EnvironmentSuffix": "dev"}

    def physical_id(self, logical_id: str) -> str:
        return f"{logical_id}-physical"

    def function_configuration(self) -> dict[str, Any]:
        return {"FunctionName": "fn", "TracingConfig": {"Mode": "PassThrough"}}


def _run(check_id: str, transformed: dict[str, Any]) -> CheckResult:
    check: Check = next(c for c in CHECKS if c.check_id == check_id)
    return run_check(check, EmulatedTarget(transformed))


def _stage(transformed: dict[str, Any]) -> dict[str, Any]:
    return next(
        resource["Properties"]
        for resource in transformed["Resources"].values()
        if resource["Type"] == "AWS::ApiGateway::Stage"
    )


def test_both_tracing_checks_are_in_the_rehearsal() -> None:
    ids = [check.check_id for check in CHECKS]
    assert {"lambda.tracing", "apigateway.stage_tracing"} <= set(ids)
    assert checks.check_function_tracing in [c.run for c in CHECKS]


def test_function_tracing_passes_on_the_template(transformed: dict[str, Any]) -> None:
    result = _run("lambda.tracing", transformed)
    assert (result.status, result.where, result.gap) == (PASS, TEMPLATE, "lambda-tracing-config")
    assert "Mode=Active" in result.detail and "says PassThrough" in result.detail


def test_function_tracing_fails_without_active_tracing(transformed: dict[str, Any]) -> None:
    broken = copy.deepcopy(transformed)
    broken["Resources"]["ApiFunction"]["Properties"]["TracingConfig"] = {"Mode": "PassThrough"}
    assert _run("lambda.tracing", broken).status == FAIL
    del broken["Resources"]["ApiFunction"]["Properties"]["TracingConfig"]
    assert _run("lambda.tracing", broken).status == FAIL


def test_stage_tracing_passes_on_the_template(transformed: dict[str, Any]) -> None:
    result = _run("apigateway.stage_tracing", transformed)
    assert (result.status, result.where, result.gap) == (PASS, TEMPLATE, "apigateway-stage")


def test_stage_tracing_fails_when_the_stage_has_x_ray_off(transformed: dict[str, Any]) -> None:
    broken = copy.deepcopy(transformed)
    _stage(broken)["TracingEnabled"] = False
    assert _run("apigateway.stage_tracing", broken).status == FAIL
    del _stage(broken)["TracingEnabled"]
    assert _run("apigateway.stage_tracing", broken).status == FAIL
