"""Every route and documented error, driven by the sample events in ``events/``.

The same files are what ``sam local invoke -e events/<name>.json`` uses, so these tests also
prove the samples stay valid.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

import pytest
from aws_lambda_powertools.event_handler.api_gateway import Router

from .conftest import EVENT_NAMES, FakeLambdaContext, body_of, header, load_event

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

Invoke = Callable[[dict[str, Any]], dict[str, Any]]

EXPECTED_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
}

# event file -> (status, error code or None for success)
CONTRACT: dict[str, tuple[int, str | None]] = {
    "health": (200, None),
    "root": (200, None),
    "echo": (200, None),
    "echo_invalid_json": (400, "MALFORMED_JSON"),
    "unknown_route": (404, "NOT_FOUND"),
    "wrong_method": (405, "METHOD_NOT_ALLOWED"),
    "echo_too_large": (413, "PAYLOAD_TOO_LARGE"),
    "echo_unsupported_media_type": (415, "UNSUPPORTED_MEDIA_TYPE"),
    "echo_validation_error": (422, "VALIDATION_FAILED"),
}


def test_contract_covers_every_event_file() -> None:
    assert set(CONTRACT) == set(EVENT_NAMES)


@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_status_headers_and_shape(name: str, invoke: Invoke) -> None:
    event = load_event(name)
    status, code = CONTRACT[name]

    response = invoke(event)

    assert response["statusCode"] == status
    assert header(response, "Content-Type") == "application/json"
    for key, value in EXPECTED_SECURITY_HEADERS.items():
        assert header(response, key) == value
    # CORS is off unless CORS_ALLOW_ORIGIN is set.
    assert header(response, "Access-Control-Allow-Origin") is None
    body = body_of(response)
    if code is None:
        assert "error" not in body
    else:
        assert set(body) == {"error"}
        error = body["error"]
        assert error["code"] == code
        assert error["request_id"] == event["requestContext"]["requestId"]
        assert isinstance(error["message"], str) and error["message"]
        assert set(error) <= {"code", "message", "request_id", "details"}


def test_health(invoke: Invoke) -> None:
    assert body_of(invoke(load_event("health"))) == {"status": "ok"}


def test_health_ignores_trailing_slash(invoke: Invoke) -> None:
    event = load_event("health")
    event["path"] = "/health/"
    assert invoke(event)["statusCode"] == 200


def test_root_reports_service_version_and_request_id(invoke: Invoke) -> None:
    event = load_event("root")
    assert body_of(invoke(event)) == {
        "service": "secure-api-test",
        "version": "9.9.9-test",
        "request_id": event["requestContext"]["requestId"],
        "config_source": "none",
        "config_entries": 0,
    }


def test_echo(invoke: Invoke) -> None:
    event = load_event("echo")
    assert body_of(invoke(event)) == {
        "message": "Hello, API!",
        "tags": ["demo", "sam"],
        "length": len("Hello, API!"),
        "request_id": event["requestContext"]["requestId"],
    }


def test_echo_without_tags_returns_empty_list(invoke: Invoke) -> None:
    event = load_event("echo")
    event["body"] = '{"message": "h\\u00e9llo \\ud83d\\ude00"}'
    body = body_of(invoke(event))
    assert body["message"] == "h\u00e9llo \U0001f600"
    assert body["tags"] == []
    assert body["length"] == 7  # code points, not UTF-8 bytes


def test_wrong_method_lists_allowed_methods(invoke: Invoke) -> None:
    response = invoke(load_event("wrong_method"))
    assert header(response, "Allow") == "POST"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("POST", "/health", "GET"),
        ("DELETE", "/", "GET"),
        ("PUT", "/echo/", "POST"),
        ("OPTIONS", "/echo", "POST"),  # no CORS configured: preflight is just another method
    ],
)
def test_405_on_every_known_path(method: str, path: str, allow: str, invoke: Invoke) -> None:
    event = load_event("wrong_method")
    event["httpMethod"] = method
    event["path"] = path
    response = invoke(event)
    assert response["statusCode"] == 405
    assert header(response, "Allow") == allow


def test_404_has_no_allow_header(invoke: Invoke) -> None:
    response = invoke(load_event("unknown_route"))
    assert header(response, "Allow") is None


def test_validation_details_name_each_field(invoke: Invoke) -> None:
    details = body_of(invoke(load_event("echo_validation_error")))["error"]["details"]
    assert [d["field"] for d in details] == ["$.message", "$.tags[1]", "$.tags[2]", "$.priority"]
    assert all(isinstance(d["problem"], str) and d["problem"] for d in details)
    assert all(set(d) == {"field", "problem"} for d in details)


def test_validation_details_never_quote_values(invoke: Invoke) -> None:
    event = load_event("echo")
    event["body"] = '{"message": 12345678, "tags": ["<script>alert(1)</script>' + "x" * 64 + '"]}'
    text = invoke(event)["body"]
    assert "12345678" not in text
    assert "<script>" not in text


def test_too_large_message_states_the_limit(invoke: Invoke) -> None:
    error = body_of(invoke(load_event("echo_too_large")))["error"]
    assert "10240" in error["message"]


# --------------------------------------------------------------------------- any route


def test_a_route_declared_the_powertools_way_gets_everything(
    load_app_copy: Callable[[Mapping[str, str | None]], ModuleType],
    lambda_context: FakeLambdaContext,
) -> None:
    """A new Router, routes declared plainly as Powertools' documentation shows them: 405
    with Allow, the body rules, strict JSON and the security headers come without asking."""
    handler = load_app_copy({})
    router = Router()

    @router.get("/things")
    def list_things() -> dict[str, Any]:
        return {"things": []}

    @router.post("/things")
    def add_thing() -> dict[str, Any]:
        return {"got": router.current_event.json_body}

    @router.get("/things/<thing_id>")
    def get_thing(thing_id: str) -> dict[str, Any]:
        return {"id": thing_id}

    handler.app.include_router(router)

    def call(method: str, path: str, body: str | None = None, **headers: str) -> dict[str, Any]:
        event = load_event("health")
        event["httpMethod"], event["path"], event["body"] = method, path, body
        event["headers"] = {k.replace("_", "-"): v for k, v in headers.items()}
        event["multiValueHeaders"] = {k: [v] for k, v in event["headers"].items()}
        response: dict[str, Any] = handler.lambda_handler(event, lambda_context)
        for name, value in EXPECTED_SECURITY_HEADERS.items():
            assert header(response, name) == value, (method, path, name)
        return response

    assert body_of(call("GET", "/things")) == {"things": []}
    assert body_of(call("GET", "/things/42/")) == {"id": "42"}
    not_allowed = call("DELETE", "/things")
    assert not_allowed["statusCode"] == 405
    assert header(not_allowed, "Allow") == "GET, POST"
    assert header(call("PUT", "/things/42"), "Allow") == "GET"
    assert call("GET", "/things/42/parts")["statusCode"] == 404
    assert body_of(call("POST", "/things", '{"a": 1}', content_type="application/json")) == {
        "got": {"a": 1}
    }
    assert call("POST", "/things", '{"a": 1}', content_type="text/plain")["statusCode"] == 415
    repeated = call("POST", "/things", '{"a": 1, "a": 2}')
    assert repeated["statusCode"] == 400
    assert body_of(repeated)["error"]["code"] == "MALFORMED_JSON"
    assert call("POST", "/things", "x" * 20_000)["statusCode"] == 413
    # A body is optional for a route that declares no schema.
    assert body_of(call("POST", "/things")) == {"got": None}
