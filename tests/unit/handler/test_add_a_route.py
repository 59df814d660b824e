"""The README's "Add a route" example works exactly as the README shows it.

The two files are read from the README section itself, so the documentation cannot drift
from what is tested. They are written into a copy of src/handler, ``make generate``'s two
scripts run against the copy, and the copy's ``app.lambda_handler`` answers requests in a
fresh interpreter (the copy's modules share names with the handler the other tests import).
Proven here: valid bodies pass (``{"quantity": 3}`` included), each kind of invalid field
is reported with its own problem, the validator agrees with the JSON Schema it came from,
openapi.json documents the route from the same file, and the error contract holds.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from .conftest import BASE_ENV, HANDLER_DIR, REPO_ROOT, UNSET_ENV, load_event

README = REPO_ROOT / "README.md"
FILE_BLOCK = re.compile(r"\*\*`(src/handler/[^`]+)`\*\*\n\n```\w+\n(.*?)```", re.DOTALL)
SCHEMA_FILE = "src/handler/schemas/item_request.json"
ROUTE_FILE = "src/handler/routes/items.py"

RUNNER = """
import json, sys
import app

class Context:
    function_name = "fn"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:fn"
    aws_request_id = "00000000-0000-4000-8000-000000000000"
    def get_remaining_time_in_millis(self):
        return 1000

with open(sys.argv[1], encoding="utf-8") as handle:
    events = json.load(handle)
responses = [app.lambda_handler(event, Context()) for event in events]
with open(sys.argv[2], "w", encoding="utf-8") as handle:
    json.dump(responses, handle)
"""

VALID: dict[str, Any] = {
    "name": "pen",
    "quantity": 3,
    "gift": True,
    "dimensions": {"width_cm": 1.5, "height_cm": 14},
    "parts": [{"sku": "CAP-1", "count": 1}, {"sku": "INK-9", "count": 2}],
}


def readme_files() -> dict[str, str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Add a route\n", 1)[1].split("\n## ", 1)[0]
    files = dict(FILE_BLOCK.findall(section))
    assert set(files) == {SCHEMA_FILE, ROUTE_FILE}, sorted(files)
    return files


@dataclass
class Example:
    handler: Path
    openapi: dict[str, Any]
    schema: dict[str, Any]
    work: Path

    def call(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each event through the copy's ``lambda_handler``; the responses, body decoded."""
        events_file = self.work / "events.json"
        responses_file = self.work / "responses.json"
        events_file.write_text(json.dumps(events), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if k not in UNSET_ENV}
        env.update(BASE_ENV)
        env["PYTHONPATH"] = str(self.handler)
        result = subprocess.run(
            [sys.executable, "-c", RUNNER, str(events_file), str(responses_file)],
            cwd=self.handler,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        responses: list[dict[str, Any]] = json.loads(responses_file.read_text(encoding="utf-8"))
        for response in responses:
            response["json"] = json.loads(response["body"])
        return responses


def _run_script(name: str, *args: str) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / name), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO_ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Example:
    work = tmp_path_factory.mktemp("add-a-route")
    handler = work / "handler"
    shutil.copytree(HANDLER_DIR, handler, ignore=shutil.ignore_patterns("__pycache__"))
    for relative, content in readme_files().items():
        target = handler / relative.removeprefix("src/handler/")
        assert not target.exists(), f"{relative} must not ship: it is the README's example"
        target.write_text(content, encoding="utf-8")
    # `make generate`, against the copy.
    _run_script("body_schemas.py", "--handler-dir", str(handler))
    _run_script("openapi.py", "--handler-dir", str(handler), "--output", str(work / "openapi.json"))
    return Example(
        handler=handler,
        openapi=json.loads((work / "openapi.json").read_text(encoding="utf-8")),
        schema=json.loads(readme_files()[SCHEMA_FILE]),
        work=work,
    )


def items_event(
    body: object, *, raw: str | None = None, method: str = "POST", **headers: str
) -> dict[str, Any]:
    event = load_event("echo")
    event["httpMethod"] = method
    event["path"] = "/items"
    event["body"] = raw if raw is not None else json.dumps(body)
    for name, value in headers.items():
        key = name.replace("_", "-").title()
        event["headers"][key] = value
        event["multiValueHeaders"][key] = [value]
    return event


def changed(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    body = copy.deepcopy(VALID)
    change(body)
    return body


def _set(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = body
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if value is DELETE:
            del target[last]
        elif isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value

    return change


DELETE = object()


# --------------------------------------------------------------------------- validation


def test_the_example_is_not_shipped() -> None:
    for relative in readme_files():
        assert not (REPO_ROOT / relative).exists(), relative


@pytest.mark.parametrize(
    "body",
    [
        {"name": "pen", "quantity": 3},
        VALID,
        {**VALID, "quantity": 3.0},  # JSON Schema: 3.0 is an integer
        {**VALID, "parts": []},
        {"name": "x" * 80, "quantity": 1000, "gift": False},
    ],
)
def test_valid_bodies_are_accepted(example: Example, body: dict[str, Any]) -> None:
    (response,) = example.call([items_event(body)])
    assert response["statusCode"] == 200, response["body"]
    assert response["json"]["item"] == body


INVALID: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    # (what, change to the valid body, field, problem)
    ("missing string", _set("name", DELETE), "$.name", "field is required"),
    ("empty string", _set("name", ""), "$.name", "value must be 1 to 80 characters long (got 0)"),
    ("long string", _set("name", "n" * 81), "$.name", "value must be 1 to 80 characters long (got 81)"),
    ("string type", _set("name", 5), "$.name", "value must be a string"),
    ("lone surrogate", _set("name", "\ud800"), "$.name", "value must be valid Unicode text"),
    ("missing integer", _set("quantity", DELETE), "$.quantity", "field is required"),
    ("integer as text", _set("quantity", "3"), "$.quantity", "value must be an integer"),
    ("fraction", _set("quantity", 1.5), "$.quantity", "value must be an integer"),
    ("boolean for integer", _set("quantity", True), "$.quantity", "value must be an integer"),
    ("integer too small", _set("quantity", 0), "$.quantity", "value must be at least 1 and at most 1000"),
    ("integer too big", _set("quantity", 10**30), "$.quantity", "value must be at least 1 and at most 1000"),
    ("boolean type", _set("gift", "yes"), "$.gift", "value must be a boolean (true or false)"),
    ("number for boolean", _set("gift", 1), "$.gift", "value must be a boolean (true or false)"),
    ("object type", _set("dimensions", [1, 2]), "$.dimensions", "value must be an object"),
    ("nested required", _set("dimensions.height_cm", DELETE), "$.dimensions.height_cm", "field is required"),
    ("nested number type", _set("dimensions.width_cm", "2"), "$.dimensions.width_cm", "value must be a number"),
    ("nested exclusive bound", _set("dimensions.width_cm", 0), "$.dimensions.width_cm", "value must be greater than 0 and at most 500"),
    ("nested unknown key", _set("dimensions.depth_cm", 3), "$.dimensions.depth_cm", "field is not allowed"),
    ("array type", _set("parts", {"sku": "A"}), "$.parts", "value must be an array of objects"),
    ("array too long", _set("parts", [{"sku": "A", "count": 1}] * 21), "$.parts", "array must have at most 20 items (got 21)"),
    ("item type", _set("parts.1", "INK-9"), "$.parts[1]", "item must be an object"),
    ("item required", _set("parts.0.count", DELETE), "$.parts[0].count", "field is required"),
    ("item pattern", _set("parts.0.sku", "cap 1"), "$.parts[0].sku", "value must match the pattern ^[A-Z0-9-]+$"),
    ("item bound", _set("parts.1.count", 100), "$.parts[1].count", "value must be at least 1 and at most 99"),
    ("item unknown key", _set("parts.0.colour", "red"), "$.parts[0].colour", "field is not allowed"),
    ("unknown key", _set("colour", "red"), "$.colour", "field is not allowed"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [case[1:] for case in INVALID],
    ids=[case[0] for case in INVALID],
)
def test_each_kind_of_invalid_field_is_reported(
    example: Example, change: Callable[[dict[str, Any]], None], field: str, problem: str
) -> None:
    (response,) = example.call([items_event(changed(change))])
    assert response["statusCode"] == 422, response["body"]
    error = response["json"]["error"]
    assert error["code"] == "VALIDATION_FAILED"
    assert error["details"] == [{"field": field, "problem": problem}]


def test_every_problem_at_once_in_the_schema_order(example: Example) -> None:
    """The README's example answer, exactly."""
    body = {
        "name": "pen",
        "quantity": "3",
        "dimensions": {"width_cm": 2},
        "parts": [{"sku": "a b", "count": 1}, "x"],
        "colour": "red",
    }
    (response,) = example.call([items_event(body)])
    assert response["json"]["error"]["details"] == [
        {"field": "$.quantity", "problem": "value must be an integer"},
        {"field": "$.dimensions.height_cm", "problem": "field is required"},
        {"field": "$.parts[0].sku", "problem": "value must match the pattern ^[A-Z0-9-]+$"},
        {"field": "$.parts[1]", "problem": "item must be an object"},
        {"field": "$.colour", "problem": "field is not allowed"},
    ]


def test_problems_never_quote_values_and_are_capped(example: Example) -> None:
    canary = "<script>CANARY</script>"
    body = {
        "name": canary * 10,
        "quantity": canary,
        "gift": canary,
        "dimensions": {"width_cm": canary, "height_cm": -7777},
        "parts": [{"sku": canary, "count": 4242}, canary],
        **{f"extra_{i}": canary for i in range(30)},
    }
    (response,) = example.call([items_event(body)])
    details = response["json"]["error"]["details"]
    assert len(details) == 20
    assert "CANARY" not in response["body"]
    assert "7777" not in response["body"] and "4242" not in response["body"]


def test_the_validator_agrees_with_the_schema_file(example: Example) -> None:
    validator = jsonschema.Draft202012Validator(example.schema)
    bodies: list[object] = [VALID, {"name": "pen", "quantity": 3}, [], None, "x", 3]
    # Not the lone surrogate: the function refuses it in every string, JSON Schema does not.
    bodies += [changed(change) for what, change, _, _ in INVALID if what != "lone surrogate"]
    responses = example.call([items_event(body) for body in bodies])
    for body, response in zip(bodies, responses, strict=True):
        assert (response["statusCode"] == 200) == validator.is_valid(body), (body, response)
        assert response["statusCode"] in (200, 422)


# --------------------------------------------------------------------------- openapi


def test_openapi_documents_the_route_from_the_same_file(example: Example) -> None:
    doc = example.openapi
    operation = doc["paths"]["/items"]["post"]
    assert operation["summary"] == "Create an item"
    assert "security" not in operation  # the API key is required, as everywhere
    body = operation["requestBody"]
    assert body["required"] is True
    assert body["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ItemRequest"
    }
    assert doc["components"]["schemas"]["ItemRequest"] == example.schema
    responses = operation["responses"]
    assert set(responses) == {"200", "400", "403", "413", "415", "422", "429", "500"}
    assert set(responses["400"]["content"]["application/json"]["examples"]) == {
        "INVALID_ENCODING",
        "MALFORMED_JSON",
    }
    assert set(responses["422"]["content"]["application/json"]["examples"]) == {"VALIDATION_FAILED"}
    for status, response in responses.items():
        if status not in ("403", "429"):  # API Gateway's own answers carry no function headers
            assert "X-Content-Type-Options" in response["headers"], status
    # The rest of the document is unchanged by the new route.
    committed = json.loads((REPO_ROOT / "openapi.json").read_text(encoding="utf-8"))
    assert {p: v for p, v in doc["paths"].items() if p != "/items"} == committed["paths"]
    for schema in doc["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)


def test_answers_conform_to_the_generated_document(example: Example) -> None:
    doc = example.openapi
    responses = example.call(
        [items_event(VALID), items_event({"name": ""}), items_event(None, raw="{")]
    )
    documented = doc["paths"]["/items"]["post"]["responses"]
    for response in responses:
        schema = documented[str(response["statusCode"])]["content"]["application/json"]["schema"]
        validator = jsonschema.Draft202012Validator({**schema, "components": doc["components"]})
        assert not list(validator.iter_errors(response["json"])), response["body"]


# --------------------------------------------------------------------------- error contract


def test_the_error_contract_holds(example: Example) -> None:
    cases = [
        (items_event(VALID, content_type="text/plain"), 415, "UNSUPPORTED_MEDIA_TYPE"),
        (items_event(None, raw='{"name": "a", "name": "b"}'), 400, "MALFORMED_JSON"),
        (items_event(None, raw='{"name": "pen", "quantity": NaN}'), 400, "MALFORMED_JSON"),
        (items_event(None, raw=""), 400, "MALFORMED_JSON"),
        (items_event(None, raw=json.dumps({"name": "n" * 20_000})), 413, "PAYLOAD_TOO_LARGE"),
        (items_event(VALID, method="GET"), 405, "METHOD_NOT_ALLOWED"),
        (items_event([VALID]), 422, "VALIDATION_FAILED"),
    ]
    responses = example.call([event for event, _, _ in cases])
    for (event, status, code), response in zip(cases, responses, strict=True):
        assert response["statusCode"] == status, (code, response["body"])
        error = response["json"]["error"]
        assert error["code"] == code
        assert error["request_id"] == event["requestContext"]["requestId"]
        assert set(error) <= {"code", "message", "request_id", "details"}
        headers = {k.lower(): v for k, v in response["multiValueHeaders"].items()}
        assert headers["x-content-type-options"] == ["nosniff"]
        assert headers["cache-control"] == ["no-store"]
        if status == 405:
            assert headers["allow"] == ["POST"]


def test_the_existing_routes_still_answer(example: Example) -> None:
    responses = example.call([load_event(name) for name in ("health", "root", "echo")])
    assert [r["statusCode"] for r in responses] == [200, 200, 200]


# --------------------------------------------------------------------------- hostile bodies


def test_hostile_bodies_in_nested_positions(example: Example) -> None:
    """Deep nesting, huge arrays, wrong types, long keys and overflow, below the top level."""
    deep = "[" * 900 + "]" * 900
    deep_object = '{"a": ' * 900 + "1" + "}" * 900
    base = '"name": "pen", "quantity": 1'
    probes: list[tuple[str, list[dict[str, str]]]] = [
        (
            f'{{{base}, "dimensions": {{"width_cm": {deep}, "height_cm": 1}}}}',
            [{"field": "$.dimensions.width_cm", "problem": "value must be a number"}],
        ),
        (
            f'{{{base}, "parts": [{deep}]}}',
            [{"field": "$.parts[0]", "problem": "item must be an object"}],
        ),
        (
            f'{{{base}, "dimensions": {{"width_cm": 1, "height_cm": 1, "z": {deep_object}}}}}',
            [{"field": "$.dimensions.z", "problem": "field is not allowed"}],
        ),
        (
            f'{{{base}, "dimensions": {{"width_cm": 1e999, "height_cm": -1e999}}}}',
            [
                {
                    "field": "$.dimensions.width_cm",
                    "problem": "value must be greater than 0 and at most 500",
                },
                {
                    "field": "$.dimensions.height_cm",
                    "problem": "value must be greater than 0 and at most 500",
                },
            ],
        ),
        (
            json.dumps({"name": "pen", "quantity": 1, "dimensions": {"k" * 10_000: 1}}),
            [
                {"field": "$.dimensions.width_cm", "problem": "field is required"},
                {"field": "$.dimensions.height_cm", "problem": "field is required"},
                {"field": "$.dimensions." + "k" * 64 + "...", "problem": "field is not allowed"},
            ],
        ),
        (
            json.dumps(
                {
                    "name": [],
                    "quantity": {},
                    "gift": None,
                    "dimensions": {"width_cm": True, "height_cm": "1"},
                    "parts": [{"sku": 1, "count": "1"}, {"sku": "\ud800", "count": 1}],
                }
            ),
            [
                {"field": "$.name", "problem": "value must be a string"},
                {"field": "$.quantity", "problem": "value must be an integer"},
                {"field": "$.gift", "problem": "value must be a boolean (true or false)"},
                {"field": "$.dimensions.width_cm", "problem": "value must be a number"},
                {"field": "$.dimensions.height_cm", "problem": "value must be a number"},
                {"field": "$.parts[0].sku", "problem": "value must be a string"},
                {"field": "$.parts[0].count", "problem": "value must be an integer"},
                {
                    "field": "$.parts[1].sku",
                    "problem": "value must match the pattern ^[A-Z0-9-]+$",
                },
            ],
        ),
    ]
    huge = json.dumps({"name": "pen", "quantity": 1, "parts": [{}] * 2_000})  # about 8 KB
    responses = example.call(
        [items_event(None, raw=raw) for raw, _ in probes] + [items_event(None, raw=huge)]
    )
    for (raw, expected), response in zip(probes, responses[:-1], strict=True):
        assert response["statusCode"] == 422, (raw[:80], response["body"][:300])
        assert response["json"]["error"]["details"] == expected, raw[:80]
    huge_details = responses[-1]["json"]["error"]["details"]
    assert huge_details[0] == {
        "field": "$.parts",
        "problem": "array must have at most 20 items (got 2000)",
    }
    assert len(huge_details) == 20
    assert all(len(r["body"]) < 4_096 for r in responses)


# --------------------------------------------------------------------------- gateway model


def test_the_gateway_model_agrees_with_the_function(example: Example) -> None:
    """scripts/api_models.py on the copy: an explicit POST /items event with the draft 4
    model of the same file, an ANY beside it, and a model that accepts exactly the bodies
    the function accepts (the lone surrogate aside: JSON Schema has no rule for it)."""
    from policy_gen.template import load_template

    template = example.work / "template.yaml"
    shutil.copyfile(REPO_ROOT / "template.yaml", template)
    _run_script("api_models.py", "--handler-dir", str(example.handler), "--template", str(template))
    document = load_template(template)
    events = document["Resources"]["ApiFunction"]["Properties"]["Events"]
    assert events["PostItems"]["Properties"]["RequestModel"] == {
        "Model": "ItemRequest",
        "Required": True,
        "ValidateBody": True,
    }
    assert events["AnyItems"]["Properties"]["Method"] == "ANY"
    assert "RequestModel" not in events["AnyItems"]["Properties"]
    model = document["Resources"]["Api"]["Properties"]["Models"]["ItemRequest"]
    assert model["$schema"] == "http://json-schema.org/draft-04/schema#"
    jsonschema.Draft4Validator.check_schema(model)
    # exclusiveMinimum: 0 (2020-12) became minimum 0 + exclusiveMinimum true (draft 4).
    width = model["properties"]["dimensions"]["properties"]["width_cm"]
    assert width["minimum"] == 0 and width["exclusiveMinimum"] is True
    gateway = jsonschema.Draft4Validator(model)
    bodies: list[object] = [VALID, {"name": "pen", "quantity": 3}, [], None, "x", 3]
    bodies += [changed(change) for what, change, _, _ in INVALID if what != "lone surrogate"]
    bodies.append(changed(_set("dimensions.width_cm", 0)))  # the exclusive bound itself
    # Probe: integers written as 3.0 or 1e2 pass the function (2020-12); a draft 4
    # "integer" refused them at the gateway.
    bodies += [{**VALID, "quantity": 3.0}, {**VALID, "quantity": 1e2}]
    bodies.append(changed(_set("parts.0.count", 2.0)))
    responses = example.call([items_event(body) for body in bodies])
    for body, response in zip(bodies, responses, strict=True):
        assert (response["statusCode"] == 200) == gateway.is_valid(body), (body, response)
