"""``openapi.json`` is current, covers every route, and documents every answer the handler gives.

* Freshness: ``scripts/openapi.py`` is run (in its own interpreter, so the handler is
  imported under the generator's environment rather than this suite's) and its output must
  equal the committed file byte for byte.
* Coverage: every route in the resolver's route table is an operation of the document.
* Completeness, both ways: every sample event in ``events/`` plus crafted events (invalid
  base64, a route that raises) is sent through the handler; each answer's status must be
  documented for its operation (or, for requests that match no route, under
  ``x-unmatched-request-responses``), its body must validate against the documented
  schema and its headers against the documented ones; and every error code the document
  lists for an operation must actually be produced by one of those events.

The helpers at the top are the document "oracle" the property tests use as well.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest

from .conftest import EVENT_NAMES, REPO_ROOT, FakeLambdaContext, body_of, header, load_event

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

Invoke = Callable[[dict[str, Any]], dict[str, Any]]

OPENAPI = REPO_ROOT / "openapi.json"
GENERATOR = REPO_ROOT / "scripts" / "openapi.py"
UNMATCHED = "x-unmatched-request-responses"
# Answered by API Gateway, never by the function: not expected from the handler.
GATEWAY_STATUSES = frozenset({403, 429})


# --------------------------------------------------------------------------- the oracle


@cache
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(OPENAPI.read_text(encoding="utf-8"))
    return loaded


def _deref(node: Mapping[str, Any]) -> dict[str, Any]:
    """Follow local ``$ref``s (``#/components/...``) until a real object."""
    while "$ref" in node:
        target: Any = document()
        for part in str(node["$ref"]).removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return dict(node)


def operation_for(method: str, path: str) -> dict[str, Any] | None:
    """The documented operation a request reaches (Powertools ignores trailing slashes)."""
    normalized = path.rstrip("/") or "/"
    item = document()["paths"].get(normalized)
    if item is None:
        return None
    operation: dict[str, Any] | None = item.get(method.lower())
    return operation


def path_is_documented(path: str) -> bool:
    return (path.rstrip("/") or "/") in document()["paths"]


def documented_responses(method: str, path: str) -> dict[int, dict[str, Any]]:
    """Status -> response object for this request, matched operation or unmatched answers."""
    operation = operation_for(method, path)
    responses = operation["responses"] if operation else document()[UNMATCHED]
    return {int(status): _deref(response) for status, response in responses.items()}


def documented_codes(response: Mapping[str, Any]) -> set[str]:
    examples = response.get("content", {}).get("application/json", {}).get("examples", {})
    return set(examples)


@cache
def _validator(schema_text: str) -> jsonschema.Draft202012Validator:
    """A validator for one documented schema (cached: the property tests call this a lot)."""
    schema = {**json.loads(schema_text), "components": document()["components"]}
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def check_against_document(method: str, path: str, response: Mapping[str, Any]) -> None:
    """Status documented for this request; body and headers conform to what is documented."""
    status = int(response["statusCode"])
    responses = documented_responses(method, path)
    assert status in responses, (method, path, status, sorted(responses))
    if operation_for(method, path) is None:
        # Unmatched: 405 only where the path exists under other methods, else 404.
        assert status == (405 if path_is_documented(path) else 404), (method, path, status)
    documented = responses[status]
    body = body_of(response)
    schema_text = json.dumps(documented["content"]["application/json"]["schema"], sort_keys=True)
    errors = sorted(_validator(schema_text).iter_errors(body), key=str)
    assert not errors, (method, path, status, [e.message for e in errors[:3]])
    for name, ref in documented.get("headers", {}).items():
        spec = _deref(ref)
        value = header(response, name)
        if spec.get("required"):
            assert value is not None, (method, path, status, name)
        if value is not None and "const" in spec["schema"]:
            assert value == spec["schema"]["const"], (name, value)
    if status >= 400:
        assert body["error"]["code"] in documented_codes(documented), (status, body)


# --------------------------------------------------------------------------- freshness


def test_committed_document_is_what_the_generator_writes(tmp_path: Path) -> None:
    fresh = tmp_path / "openapi.json"
    result = subprocess.run(
        [sys.executable, str(GENERATOR), "--output", str(fresh)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert OPENAPI.exists(), "openapi.json is missing: run `python scripts/openapi.py`"
    assert fresh.read_text(encoding="utf-8") == OPENAPI.read_text(encoding="utf-8"), (
        "openapi.json is stale: run `python scripts/openapi.py` and commit the result"
    )


def test_check_mode_fails_on_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "openapi.json"
    stale.write_text("{}\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(GENERATOR), "--check", "--output", str(stale)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "stale" in result.stderr
    assert stale.read_text(encoding="utf-8") == "{}\n"  # --check never writes


# --------------------------------------------------------------------------- coverage


def test_every_route_of_the_resolver_is_an_operation(app_module: ModuleType) -> None:
    routes = {(op.method, op.openapi_path) for op in app_module.app.operations}
    assert routes, "the resolver has no routes"
    operations = {
        (method.upper(), path)
        for path, item in document()["paths"].items()
        for method in item
        if method in {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
    }
    assert routes == operations


def test_the_document_is_valid_openapi_31() -> None:
    doc = document()
    assert doc["openapi"] == "3.1.0"
    assert doc["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
        "description": doc["components"]["securitySchemes"]["ApiKey"]["description"],
    }
    assert doc["security"] == [{"ApiKey": []}]
    assert doc["paths"]["/health"]["get"]["security"] == []  # public, like the template says
    assert "security" not in doc["paths"]["/echo"]["post"]
    body = doc["paths"]["/echo"]["post"]["requestBody"]
    assert body["required"] is True
    schema_ref = body["content"]["application/json"]["schema"]["$ref"]
    assert _deref({"$ref": schema_ref})["title"] == "EchoRequest"
    for schema in doc["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)


def test_request_body_schema_is_the_one_the_handler_validates_with(
    app_module: ModuleType,
) -> None:
    import body_schema  # the handler's own module, on sys.path through app_module

    (echo,) = [op for op in app_module.app.operations if op.path == "/echo"]
    assert echo.body is not None and echo.body.schema is not None
    assert document()["components"]["schemas"]["EchoRequest"] == body_schema.json_schema(
        echo.body.schema
    )


# --------------------------------------------------------------------------- completeness


def _invalid_base64_event() -> dict[str, Any]:
    event = load_event("echo")
    event["body"] = "not base64 at all!"
    event["isBase64Encoded"] = True
    return event


@pytest.fixture
def observed(
    invoke: Invoke,
    load_app_copy: Callable[[Mapping[str, str | None]], ModuleType],
    lambda_context: FakeLambdaContext,
) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, response) for every sample event, the crafted ones and a raising route."""
    events = [load_event(name) for name in EVENT_NAMES] + [_invalid_base64_event()]
    results = [(e["httpMethod"], e["path"], invoke(e)) for e in events]

    # A bug in every route: a copy of the handler whose routes all run a raising middleware
    # (Powertools builds a route's middleware stack on its first request, so before that
    # `use` reaches every route).
    def boom(_app: Any, _next_middleware: Any) -> Any:
        raise RuntimeError("a bug in a route")

    broken = load_app_copy({})
    broken.app.use(middlewares=[boom])
    for op in broken.app.operations:
        event = load_event("echo" if op.method == "POST" else "root")
        event["httpMethod"] = op.method
        event["path"] = op.path
        results.append((op.method, op.path, broken.lambda_handler(event, lambda_context)))
    return results


def test_every_answer_is_documented_and_conforms(
    observed: list[tuple[str, str, dict[str, Any]]],
) -> None:
    assert len(observed) >= len(EVENT_NAMES) + 2
    for method, path, response in observed:
        check_against_document(method, path, response)


def test_every_documented_error_code_is_produced(
    observed: list[tuple[str, str, dict[str, Any]]],
) -> None:
    seen: dict[tuple[str, str] | str, set[str]] = {}
    for method, path, response in observed:
        if response["statusCode"] < 400:
            continue
        code = body_of(response)["error"]["code"]
        key: tuple[str, str] | str = (
            (method.lower(), path.rstrip("/") or "/") if operation_for(method, path) else UNMATCHED
        )
        seen.setdefault(key, set()).add(code)
    doc = document()
    expected: dict[tuple[str, str] | str, set[str]] = {}
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            codes = {
                code
                for status, response in operation["responses"].items()
                if int(status) not in GATEWAY_STATUSES
                for code in documented_codes(_deref(response))
            }
            expected[(method, path)] = codes
    expected[UNMATCHED] = {
        code for response in doc[UNMATCHED].values() for code in documented_codes(_deref(response))
    }
    assert {key: seen.get(key, set()) for key in expected} == expected


def test_gateway_answers_are_documented_only_where_they_apply() -> None:
    doc = document()
    assert "403" not in doc["paths"]["/health"]["get"]["responses"]  # no API key needed
    assert "403" in doc["paths"]["/echo"]["post"]["responses"]
    for item in doc["paths"].values():
        for operation in item.values():
            assert "429" in operation["responses"]


def test_methods_api_gateway_does_not_route_are_documented_as_its_403() -> None:
    """TRACE, CONNECT, QUERY, ...: API Gateway answers them itself (no resource has them),
    on every path, and OpenAPI 3.1 can name none but TRACE, so they are documented with
    the other answers for requests no operation describes, not as operations."""
    doc = document()
    unrouted = _deref(doc[UNMATCHED]["403"])
    content = unrouted["content"]["application/json"]
    assert content["example"] == {"message": "Missing Authentication Token"}
    jsonschema.validate(content["example"], content["schema"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"message": "Forbidden"}, content["schema"])
    routed = {"delete", "get", "head", "options", "patch", "post", "put"}
    assert {method for item in doc["paths"].values() for method in item} <= routed


def test_error_examples_are_valid_errors() -> None:
    doc = document()
    error_schema = {"$ref": "#/components/schemas/Error", "components": doc["components"]}
    validator = jsonschema.Draft202012Validator(error_schema)
    responses = [
        _deref(response)
        for item in doc["paths"].values()
        for operation in item.values()
        for response in operation["responses"].values()
    ] + [_deref(response) for response in doc[UNMATCHED].values()]
    count = 0
    for response in responses:
        for code, example in (
            response.get("content", {}).get("application/json", {}).get("examples", {}).items()
        ):
            validator.validate(example["value"])
            assert example["value"]["error"]["code"] == code
            count += 1
    assert count >= 8


def test_a_response_missing_a_security_header_would_fail(invoke: Invoke) -> None:
    """Positive control for check_against_document: it does catch a deviation."""
    response = invoke(load_event("health"))
    for key in list(response["multiValueHeaders"]):
        if key.lower() == "x-frame-options":
            del response["multiValueHeaders"][key]
    with pytest.raises(AssertionError):
        check_against_document("GET", "/health", response)
    wrong = invoke(load_event("health"))
    wrong["statusCode"] = 418
    with pytest.raises(AssertionError):
        check_against_document("GET", "/health", wrong)
