"""The rehearsal's authorization and request-validation checks, on template.yaml as the real
translation gives it for each AuthMode; on the emulator both read the transformed template's
OpenAPI Body (moto does not import it: ``apigateway-body``). Each hand-broken copy must fail.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import boto3
import pytest

from deployment.checks import CHECKS, Check, run_check
from deployment.results import FAIL, PASS, TEMPLATE, CheckResult
from deployment.target import Target
from deployment.translate import load_sam_template, translate

ROOT = Path(__file__).resolve().parents[3]


def transformed(mode: str) -> dict[str, Any]:
    template = load_sam_template(ROOT / "template.yaml")
    template["Resources"]["ApiFunction"]["Properties"]["CodeUri"] = "s3://bucket/code.zip"
    return translate(template, region="us-east-1", parameter_values={"AuthMode": mode})


class EmulatedTarget(Target):
    def __init__(self, template: dict[str, Any], parameters: dict[str, str]) -> None:
        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        )
        super().__init__(session, "stack", emulated=True, transformed=template)
        self._parameters = parameters

    def parameters(self) -> dict[str, str]:
        return self._parameters

    def physical_id(self, logical_id: str) -> str:
        return f"{logical_id}-physical"


def _run(check_id: str, template: dict[str, Any], **parameters: str) -> CheckResult:
    check: Check = next(c for c in CHECKS if c.check_id == check_id)
    return run_check(check, EmulatedTarget(template, {"EnvironmentSuffix": "dev", **parameters}))


@pytest.mark.parametrize("mode", ["AWS_IAM", "COGNITO", "API_KEY_ONLY"])
def test_both_checks_pass_in_every_mode(mode: str) -> None:
    template = transformed(mode)
    for check_id in ("apigateway.authorization", "apigateway.request_validation"):
        result = _run(check_id, template, AuthMode=mode)
        assert (result.status, result.where, result.gap) == (PASS, TEMPLATE, "apigateway-body")
    assert f"AuthMode={mode}" in _run("apigateway.authorization", template, AuthMode=mode).detail


def test_the_default_mode_is_read_from_the_template_when_the_stack_omits_it() -> None:
    result = _run("apigateway.authorization", transformed("AWS_IAM"))
    assert result.status == PASS and "AuthMode=AWS_IAM" in result.detail


def test_an_unauthorized_method_fails() -> None:
    broken = copy.deepcopy(transformed("AWS_IAM"))
    body = broken["Resources"]["Api"]["Properties"]["Body"]
    body["paths"]["/echo"]["post"]["security"] = [{"api_key": []}]
    result = _run("apigateway.authorization", broken, AuthMode="AWS_IAM")
    assert result.status == FAIL
    assert "post /echo: NONE (expected AWS_IAM)".upper() in result.detail.upper()


def test_a_closed_health_route_fails() -> None:
    broken = copy.deepcopy(transformed("AWS_IAM"))
    policy = broken["Resources"]["Api"]["Properties"]["Body"]["x-amazon-apigateway-policy"]
    policy["Statement"] = [s for s in policy["Statement"] if s["Principal"] != "*"]
    result = _run("apigateway.authorization", broken, AuthMode="AWS_IAM")
    assert result.status == FAIL and "GET /health is not open" in result.detail


def test_a_mode_mismatch_fails() -> None:
    result = _run("apigateway.authorization", transformed("API_KEY_ONLY"), AuthMode="AWS_IAM")
    assert result.status == FAIL


def test_a_body_route_without_its_validator_fails() -> None:
    broken = copy.deepcopy(transformed("AWS_IAM"))
    post = broken["Resources"]["Api"]["Properties"]["Body"]["paths"]["/echo"]["post"]
    del post["x-amazon-apigateway-request-validator"]
    result = _run("apigateway.request_validation", broken, AuthMode="AWS_IAM")
    assert result.status == FAIL and "POST /echo" in result.detail
