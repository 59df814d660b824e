"""Globals as SAM applies them, checked against the real SAM translator.

Each case is a function in one SAM template; the translator turns it into the
AWS::Lambda::Function CloudFormation deploys, whose properties are the oracle for
``deployed_property``. A change on either side fails here.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from samtranslator.translator.transform import transform

from sam_project.sam_globals import deployed_property, merge

GLOBAL_LOGGING = {"LogGroup": "/global/group", "LogFormat": "JSON", "ApplicationLogLevel": "INFO"}
CODE = {"CodeUri": "s3://bucket/code.zip", "Handler": "app.handler", "Runtime": "python3.13"}


def serverless(properties: dict[str, Any] | None = None, **attributes: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::Serverless::Function",
        "Properties": {**CODE, **(properties or {})},
        **attributes,
    }


TEMPLATE: dict[str, Any] = {
    "Transform": "AWS::Serverless-2016-10-31",
    "Globals": {
        "Function": {
            "LoggingConfig": GLOBAL_LOGGING,
            "Layers": ["arn:aws:lambda:us-east-1:123456789012:layer:global:1"],
            "Architectures": ["arm64"],
        }
    },
    "Resources": {
        "Inherits": serverless(),
        "MergesItsOwn": serverless({"LoggingConfig": {"LogFormat": "Text"}}),
        "OverridesTheGroup": serverless({"LoggingConfig": {"LogGroup": "/own/group"}}),
        "IgnoresAll": serverless(IgnoreGlobals="*"),
        "IgnoresLogging": serverless(
            {"LoggingConfig": {"LogFormat": "Text"}}, IgnoreGlobals=["LoggingConfig"]
        ),
        "ConcatenatesLists": serverless(
            {"Layers": ["arn:aws:lambda:us-east-1:123456789012:layer:own:1"]}
        ),
        "ReplacesArchitectures": serverless({"Architectures": ["x86_64"]}),
        "Plain": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Handler": "app.handler",
                "Runtime": "python3.13",
                "Role": "arn:aws:iam::123456789012:role/r",
                "Code": {"ZipFile": "x"},
            },
        },
    },
}


class _NoManagedPolicies:
    def load(self) -> dict[str, str]:
        return {}


@pytest.fixture(scope="module")
def deployed() -> dict[str, Any]:
    patch = pytest.MonkeyPatch()
    patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    try:
        output = transform(copy.deepcopy(TEMPLATE), {}, _NoManagedPolicies())
    finally:
        patch.undo()
    return dict(output["Resources"])


@pytest.mark.parametrize("logical_id", list(TEMPLATE["Resources"]))
@pytest.mark.parametrize("name", ["LoggingConfig", "Layers", "Architectures"])
def test_deployed_property_is_what_the_translator_deploys(
    deployed: dict[str, Any], logical_id: str, name: str
) -> None:
    function = deployed[logical_id]
    assert function["Type"] == "AWS::Lambda::Function"
    expected = function["Properties"].get(name)
    ours = deployed_property(TEMPLATE, TEMPLATE["Resources"][logical_id], name)
    assert ours == expected


def test_the_cases_differ_where_the_bugs_were(deployed: dict[str, Any]) -> None:
    """The oracle itself: a plain function gets no global LoggingConfig, and a function's
    own LoggingConfig keeps the global LogGroup."""
    assert "LoggingConfig" not in deployed["Plain"]["Properties"]
    assert deployed["MergesItsOwn"]["Properties"]["LoggingConfig"] == {
        **GLOBAL_LOGGING,
        "LogFormat": "Text",
    }


def test_intrinsics_and_mismatched_kinds_take_the_resource_value() -> None:
    own_if = {"Fn::If": ["C", {"LogGroup": "a"}, {"LogGroup": "b"}]}
    assert merge({"LogGroup": "g"}, own_if) == own_if
    assert merge(["a"], {"k": 1}) == {"k": 1}
    assert merge({"a": {"b": [1]}}, {"a": {"b": [2], "c": 3}}) == {"a": {"b": [1, 2], "c": 3}}
