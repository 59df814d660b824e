"""Hostile request bodies against ``POST /echo``: each probe a test, each answer documented.

Deep nesting, huge arrays, wrong types at every level, thousands of unknown keys, keys of
10,000 characters, lone surrogates, numbers that overflow. Whatever is sent, the answer is
a documented 4xx in the one error shape (never a 5xx, never a traceback), small (the
problem list is capped, names truncated), and never quotes the values that were sent.
Nested positions (objects in objects, arrays of objects) are probed on the README's
``POST /items`` example in test_add_a_route.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from .conftest import body_of, load_event

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

Invoke = Callable[[dict[str, Any]], dict[str, Any]]
MAX_ANSWER_BYTES = 4_096  # 20 problems with truncated names fit well within this


def _send(invoke: Invoke, raw: str) -> dict[str, Any]:
    event = load_event("echo")
    event["body"] = raw
    response = invoke(event)
    assert response["statusCode"] in (400, 413, 422), response["body"][:500]
    assert len(response["body"]) <= MAX_ANSWER_BYTES, len(response["body"])
    assert "Traceback" not in response["body"]
    error: dict[str, Any] = body_of(response)["error"]
    assert error["request_id"] == event["requestContext"]["requestId"]
    assert set(error) <= {"code", "message", "request_id", "details"}
    return error


def _details(invoke: Invoke, payload: Any) -> list[dict[str, str]]:
    error = _send(invoke, json.dumps(payload))
    assert error["code"] == "VALIDATION_FAILED"
    details: list[dict[str, str]] = error["details"]
    return details


# --------------------------------------------------------------------------- deep nesting


@pytest.mark.parametrize("depth", [100, 900, 5000])
@pytest.mark.parametrize(
    "template",
    [
        '{{"message": {open}{close}}}',  # in a string field
        '{{"message": "ok", "tags": {open}{close}}}',  # in the array field
        '{{"message": "ok", "tags": ["a", {open}{close}]}}',  # in an array item
        '{{"message": "ok", "deep": {open}{close}}}',  # under an unknown key
        "{open}{close}",  # the body itself
    ],
)
def test_deep_nesting_anywhere(invoke: Invoke, depth: int, template: str) -> None:
    raw = template.format(open="[" * depth, close="]" * depth)
    error = _send(invoke, raw)
    # Too deep for the parser: 400; parsed: the schema stops at its own depth.
    assert error["code"] in ("MALFORMED_JSON", "VALIDATION_FAILED")
    if error["code"] == "VALIDATION_FAILED":
        assert 1 <= len(error["details"]) <= 2


def test_deep_objects_under_an_unknown_key(invoke: Invoke) -> None:
    depth = 900
    raw = '{"message": "ok", "x": ' + '{"a": ' * depth + "1" + "}" * depth + "}"
    assert _send(invoke, raw)["details"] == [{"field": "$.x", "problem": "field is not allowed"}]


# --------------------------------------------------------------------------- huge arrays


def test_huge_array_is_one_problem_and_not_walked(invoke: Invoke) -> None:
    assert _details(invoke, {"message": "ok", "tags": ["a"] * 2_000}) == [
        {"field": "$.tags", "problem": "array must have at most 10 items (got 2000)"}
    ]


def test_huge_array_of_wrong_items_reports_only_the_first_max_items(invoke: Invoke) -> None:
    details = _details(invoke, {"message": "ok", "tags": [7] * 2_000})
    assert details[0] == {
        "field": "$.tags",
        "problem": "array must have at most 10 items (got 2000)",
    }
    assert details[1:] == [
        {"field": f"$.tags[{i}]", "problem": "item must be a string"} for i in range(10)
    ]


def test_huge_array_as_the_body(invoke: Invoke) -> None:
    assert _details(invoke, [0] * 3_000) == [
        {"field": "$", "problem": "body must be a JSON object"}
    ]


# --------------------------------------------------------------------------- wrong types

JSON_VALUES: list[Any] = [None, True, False, 0, -1, 1.5, 1e300, "", "s", [], ["x"], {}, {"a": 1}]


@pytest.mark.parametrize("value", [v for v in JSON_VALUES if not isinstance(v, dict)], ids=repr)
def test_wrong_type_for_the_body(invoke: Invoke, value: Any) -> None:
    assert _details(invoke, value) == [{"field": "$", "problem": "body must be a JSON object"}]


@pytest.mark.parametrize("value", [v for v in JSON_VALUES if not isinstance(v, str)], ids=repr)
def test_wrong_type_for_a_string_field(invoke: Invoke, value: Any) -> None:
    assert _details(invoke, {"message": value}) == [
        {"field": "$.message", "problem": "value must be a string"}
    ]


@pytest.mark.parametrize("value", [v for v in JSON_VALUES if not isinstance(v, list)], ids=repr)
def test_wrong_type_for_an_array_field(invoke: Invoke, value: Any) -> None:
    assert _details(invoke, {"message": "ok", "tags": value}) == [
        {"field": "$.tags", "problem": "value must be an array of strings"}
    ]


@pytest.mark.parametrize("value", [v for v in JSON_VALUES if not isinstance(v, str)], ids=repr)
def test_wrong_type_for_an_array_item(invoke: Invoke, value: Any) -> None:
    assert _details(invoke, {"message": "ok", "tags": ["fine", value]}) == [
        {"field": "$.tags[1]", "problem": "item must be a string"}
    ]


def test_wrong_types_everywhere_at_once(invoke: Invoke) -> None:
    assert _details(invoke, {"message": {}, "tags": [1, None, "ok", []], "x": 1}) == [
        {"field": "$.message", "problem": "value must be a string"},
        {"field": "$.tags[0]", "problem": "item must be a string"},
        {"field": "$.tags[1]", "problem": "item must be a string"},
        {"field": "$.tags[3]", "problem": "item must be a string"},
        {"field": "$.x", "problem": "field is not allowed"},
    ]


@pytest.mark.parametrize("raw", ["1e999", "-1e999", "1" + "0" * 400])
def test_numbers_that_overflow(invoke: Invoke, raw: str) -> None:
    assert _send(invoke, '{"message": ' + raw + "}")["details"] == [
        {"field": "$.message", "problem": "value must be a string"}
    ]


def test_integer_beyond_the_parsers_digit_limit_is_malformed(invoke: Invoke) -> None:
    assert _send(invoke, '{"message": ' + "9" * 5_000 + "}")["code"] == "MALFORMED_JSON"


# --------------------------------------------------------------------------- unknown keys


def test_a_ten_thousand_character_key_is_truncated(invoke: Invoke) -> None:
    key = "k" * 10_000
    details = _details(invoke, {"message": "ok", key: 1})
    assert details == [{"field": "$." + "k" * 64 + "...", "problem": "field is not allowed"}]


def test_thousands_of_unknown_keys_are_capped(invoke: Invoke) -> None:
    payload: dict[str, Any] = {f"k{i}": i for i in range(700)}  # just under 10 KB
    details = _details(invoke, payload)
    assert len(details) == 20
    assert details[0] == {"field": "$.message", "problem": "field is required"}
    assert details[1:] == [
        {"field": f"$.k{i}", "problem": "field is not allowed"} for i in range(19)
    ]


def test_unknown_keys_that_look_like_paths_or_prototypes(invoke: Invoke) -> None:
    payload = {"message": "ok", "__proto__": {}, "constructor": 1, "$.message": 2, "tags[0]": 3}
    assert [d["field"] for d in _details(invoke, payload)] == [
        "$.__proto__",
        "$.constructor",
        "$.$.message",
        "$.tags[0]",
    ]


# --------------------------------------------------------------------------- surrogates


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('{"message": "\\ud800"}', "$.message"),
        ('{"message": "ok \\udfff"}', "$.message"),
        ('{"message": "\\ude00\\ud83d"}', "$.message"),  # a pair in the wrong order
        ('{"message": "ok", "tags": ["a", "\\udbff"]}', "$.tags[1]"),
    ],
)
def test_lone_surrogates_are_refused(invoke: Invoke, raw: str, field: str) -> None:
    assert _send(invoke, raw)["details"] == [
        {
            "field": field,
            "problem": "value must be valid Unicode text"
            if field == "$.message"
            else "item must be valid Unicode text",
        }
    ]


def test_a_surrogate_pair_is_a_character(invoke: Invoke) -> None:
    event = load_event("echo")
    event["body"] = '{"message": "\\ud83d\\ude00"}'
    response = invoke(event)
    assert response["statusCode"] == 200
    assert body_of(response)["length"] == 1


def test_a_lone_surrogate_in_an_unknown_key_is_reported_as_valid_json(invoke: Invoke) -> None:
    error = _send(invoke, '{"message": "ok", "\\ud800": 1}')
    assert error["details"] == [{"field": "$.\ud800", "problem": "field is not allowed"}]


def test_a_raw_lone_surrogate_in_the_event_body_is_not_utf8(invoke: Invoke) -> None:
    assert _send(invoke, '{"message": "\ud800"}')["code"] == "INVALID_ENCODING"


# --------------------------------------------------------------------------- values never echoed


def test_no_value_is_ever_echoed(invoke: Invoke) -> None:
    canary = "CANARY<script>"
    payload = {"message": [canary], "tags": [canary * 10, {"k": canary}, 31337], "x": canary}
    error = _send(invoke, json.dumps(payload))
    text = json.dumps(error)
    assert "CANARY" not in text and "31337" not in text
