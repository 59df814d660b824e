"""The echo schema file: what openapi.json gets from it, and the validator agreeing with it."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import body_of, load_event

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

Invoke = Callable[[dict[str, Any]], dict[str, Any]]

# Shared fixtures are session/function scoped and stateless per call, so reusing them
# across generated examples is safe.
HYPOTHESIS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

EXPECTED_JSON_SCHEMA = {
    "title": "EchoRequest",
    "type": "object",
    "properties": {
        "message": {
            "type": "string",
            "minLength": 1,
            "maxLength": 1024,
            "description": "Text to echo back.",
        },
        "tags": {
            "type": "array",
            "maxItems": 10,
            "items": {"type": "string", "minLength": 1, "maxLength": 64},
            "description": "Optional labels echoed back unchanged.",
        },
    },
    "required": ["message"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module")
def schema_module(app_module: ModuleType) -> ModuleType:
    # Importable once app_module has put src/handler on sys.path.
    return importlib.import_module("body_schema")


def test_json_schema_rendering(schema_module: ModuleType) -> None:
    assert schema_module.json_schema(schema_module.load("echo_request")) == EXPECTED_JSON_SCHEMA


def test_problem_list_is_bounded(schema_module: ModuleType) -> None:
    payload = {f"unknown_{i}": i for i in range(500)}
    problems = schema_module.validate_object(schema_module.load("echo_request"), payload)
    assert len(problems) == schema_module.MAX_REPORTED_PROBLEMS


def test_unknown_field_names_are_truncated(schema_module: ModuleType) -> None:
    problems = schema_module.validate_object(
        schema_module.load("echo_request"), {"message": "ok", "k" * 5000: 1}
    )
    assert problems == [{"field": "$." + "k" * 64 + "...", "problem": "field is not allowed"}]


def test_too_many_tags_reports_the_count_once(schema_module: ModuleType) -> None:
    problems = schema_module.validate_object(
        schema_module.load("echo_request"), {"message": "ok", "tags": ["t"] * 11}
    )
    assert problems == [{"field": "$.tags", "problem": "array must have at most 10 items (got 11)"}]


@pytest.mark.parametrize("value", [True, None, 1, 1.5, {"a": "b"}, ["x"]])
def test_message_must_be_a_string(schema_module: ModuleType, value: object) -> None:
    problems = schema_module.validate_object(schema_module.load("echo_request"), {"message": value})
    assert problems == [{"field": "$.message", "problem": "value must be a string"}]


valid_text = st.text(min_size=1, max_size=1024)
valid_tags = st.lists(st.text(min_size=1, max_size=64), max_size=10)
valid_payloads = st.fixed_dictionaries({"message": valid_text}, optional={"tags": valid_tags})

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=70)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=12)
        | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)
near_miss_payloads = st.dictionaries(
    st.sampled_from(["message", "tags", "extra"]) | st.text(max_size=8),
    json_values | st.lists(st.text(max_size=70), max_size=12),
    max_size=4,
)


@HYPOTHESIS
@given(payload=valid_payloads)
def test_valid_payloads_are_echoed(invoke: Invoke, payload: dict[str, Any]) -> None:
    event = load_event("echo")
    event["body"] = json.dumps(payload)
    response = invoke(event)
    assert response["statusCode"] == 200
    body = body_of(response)
    assert body["message"] == payload["message"]
    assert body["tags"] == payload.get("tags", [])
    assert body["length"] == len(payload["message"])


@HYPOTHESIS
@given(payload=near_miss_payloads | json_values)
def test_validator_agrees_with_its_json_schema(schema_module: ModuleType, payload: object) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(
        schema_module.json_schema(schema_module.load("echo_request"))
    )
    ours = schema_module.validate_object(schema_module.load("echo_request"), payload)
    assert (ours == []) == validator.is_valid(payload)


@HYPOTHESIS
@given(payload=near_miss_payloads | json_values)
def test_any_json_body_gets_a_documented_answer(invoke: Invoke, payload: object) -> None:
    event = load_event("echo")
    event["body"] = json.dumps(payload)
    response = invoke(event)
    assert response["statusCode"] in {200, 413, 422}
    if response["statusCode"] != 200:
        assert set(body_of(response)) == {"error"}


@HYPOTHESIS
@given(raw=st.binary(max_size=300))
def test_any_base64_bytes_get_a_documented_answer(invoke: Invoke, raw: bytes) -> None:
    import base64

    event = load_event("echo")
    event["body"] = base64.b64encode(raw).decode()
    event["isBase64Encoded"] = True
    assert invoke(event)["statusCode"] in {200, 400, 422}
