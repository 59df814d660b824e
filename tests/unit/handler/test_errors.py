"""Error paths beyond the sample events: 500s, body decoding, content types, limits."""

from __future__ import annotations

import base64
import importlib
import json
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

import pytest
from aws_lambda_powertools.event_handler.exceptions import BadRequestError, ServiceError

from .conftest import FakeLambdaContext, OutputCapture, body_of, header, load_event

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

Invoke = Callable[[dict[str, Any]], dict[str, Any]]
LoadCopy = Callable[[Mapping[str, str | None]], ModuleType]

INTERNAL_DETAIL = "boom: secret-internal-detail in /var/task/app.py"


def _raise_internal(*_args: object, **_kwargs: object) -> Any:
    raise RuntimeError(INTERNAL_DETAIL)


def _echo_with_body(body: str | None, *, b64: bool = False, **headers: str) -> dict[str, Any]:
    event = load_event("echo")
    event["body"] = body
    event["isBase64Encoded"] = b64
    for name, value in headers.items():
        key = name.replace("_", "-").title()
        event["headers"][key] = value
        event["multiValueHeaders"][key] = [value]
    return event


def _error(response: Mapping[str, Any]) -> dict[str, Any]:
    error: dict[str, Any] = body_of(response)["error"]
    return error


# --------------------------------------------------------------------------- 500


def test_unhandled_exception_is_opaque_and_logged(
    app_module: ModuleType,
    invoke: Invoke,
    output: OutputCapture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(importlib.import_module("request_body"), "validate_object", _raise_internal)
    event = load_event("echo")

    response = invoke(event)
    captured = output.read()

    assert response["statusCode"] == 500
    assert header(response, "Content-Type") == "application/json"
    assert header(response, "Cache-Control") == "no-store"
    assert body_of(response) == {
        "error": {
            "code": "INTERNAL_ERROR",
            "message": "An internal error occurred. Quote the request_id when reporting it.",
            "request_id": event["requestContext"]["requestId"],
        }
    }
    for leak in ("boom", "Traceback", "RuntimeError", "/var/task", ".py", "File "):
        assert leak not in response["body"]

    records = captured.logger_records()
    errors = [r for r in records if r["level"] == "ERROR"]
    assert len(errors) == 1
    assert errors[0]["message"] == "Unhandled error while handling the request"
    assert INTERNAL_DETAIL in errors[0]["exception"]
    assert errors[0]["exception_name"] == "RuntimeError"
    assert errors[0]["correlation_id"] == event["requestContext"]["requestId"]
    # A ServerErrors metric is emitted for alarms (the 500 hides the failure from Lambda's
    # own Errors metric, because the invocation itself succeeds).
    emf = [json.loads(line) for line in captured.stdout.splitlines() if '"_aws"' in line]
    assert any(blob.get("ServerErrors") == [1.0] for blob in emf)


def test_failure_outside_routes_still_answers_the_standard_500(
    invoke: Invoke, output: OutputCapture
) -> None:
    event = load_event("health")
    del event["httpMethod"]  # Powertools fails before any route or exception handler runs

    response = invoke(event)

    assert response["statusCode"] == 500
    assert _error(response) == {
        "code": "INTERNAL_ERROR",
        "message": "An internal error occurred. Quote the request_id when reporting it.",
        "request_id": event["requestContext"]["requestId"],
    }
    assert header(response, "X-Content-Type-Options") == "nosniff"
    records = output.read().logger_records()
    assert any(
        r["level"] == "ERROR" and r["message"] == "Request failed outside the route handlers"
        for r in records
    )


def test_failing_error_handler_falls_back_to_opaque_500(
    app_module: ModuleType, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app_module, "error_body", _raise_internal)
    response = invoke(load_event("unknown_route"))
    assert response["statusCode"] == 500
    assert "boom" not in response["body"]
    assert _error(response)["code"] == "INTERNAL_ERROR"


def test_500_is_opaque_even_in_powertools_debug_mode(
    load_app_copy: LoadCopy,
    lambda_context: FakeLambdaContext,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    debug_app = load_app_copy({"POWERTOOLS_DEV": "true", "POWERTOOLS_LOGGER_LOG_EVENT": "true"})
    assert debug_app.settings.debug is True
    monkeypatch.setattr(
        debug_app.HANDLER_MODULES["request_body"], "validate_object", _raise_internal
    )

    response = debug_app.lambda_handler(load_event("echo"), lambda_context)
    capsys.readouterr()

    assert response["statusCode"] == 500
    assert "Traceback" not in response["body"]
    assert _error(response)["code"] == "INTERNAL_ERROR"


def test_powertools_service_errors_keep_the_standard_shape(
    load_app_copy: LoadCopy, lambda_context: FakeLambdaContext
) -> None:
    copy_app = load_app_copy({})

    def _bad() -> None:
        raise BadRequestError("Missing thing.")

    def _server() -> None:
        raise ServiceError(503, "upstream said: secret-upstream-detail")

    copy_app.app.get("/bad")(_bad)
    copy_app.app.get("/gone-wrong")(_server)

    event = load_event("health")
    event["path"] = "/bad"
    response = copy_app.lambda_handler(event, lambda_context)
    assert response["statusCode"] == 400
    assert _error(response)["code"] == "BAD_REQUEST"
    assert _error(response)["message"] == "Missing thing."

    event["path"] = "/gone-wrong"
    response = copy_app.lambda_handler(event, lambda_context)
    assert response["statusCode"] == 500
    assert _error(response)["code"] == "INTERNAL_ERROR"
    assert "secret-upstream-detail" not in response["body"]


# --------------------------------------------------------------------------- body decoding


def test_base64_body_is_decoded(invoke: Invoke) -> None:
    payload = json.dumps({"message": "via base64", "tags": ["b64"]}).encode()
    event = _echo_with_body(base64.b64encode(payload).decode(), b64=True)
    response = invoke(event)
    assert response["statusCode"] == 200
    assert body_of(response)["message"] == "via base64"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("%%%not base64%%%", "INVALID_ENCODING"),
        ("QUJD\n", "INVALID_ENCODING"),  # whitespace is not part of the alphabet
        ("QUJ", "INVALID_ENCODING"),  # bad padding
        ("ü", "INVALID_ENCODING"),  # not even ASCII
        (base64.b64encode(b"\xff\xfe\x00garbage\x80\x81").decode(), "INVALID_ENCODING"),
        (base64.b64encode(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR").decode(), "INVALID_ENCODING"),
        (base64.b64encode(b"not json at all").decode(), "MALFORMED_JSON"),
    ],
)
def test_binary_garbage_is_400(body: str, code: str, invoke: Invoke) -> None:
    response = invoke(_echo_with_body(body, b64=True))
    assert response["statusCode"] == 400
    assert _error(response)["code"] == code


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (None, "empty"),
        ("", "empty"),
        ("   \n", "empty"),
        ('{"message": "a", "message": "b"}', "repeats"),
        ('{"message": NaN}', "not valid JSON"),
        ('{"message": Infinity}', "not valid JSON"),
        ('{"message": "x"} trailing', "not valid JSON"),
        ("\ufeff{}", "not valid JSON"),  # a BOM is not JSON text
    ],
)
def test_malformed_json_is_400(body: str | None, fragment: str, invoke: Invoke) -> None:
    response = invoke(_echo_with_body(body))
    assert response["statusCode"] == 400
    error = _error(response)
    assert error["code"] == "MALFORMED_JSON"
    assert fragment in error["message"]


@pytest.mark.parametrize("depth", [1000, 5000])
def test_deep_nesting_never_fails_the_request(depth: int, invoke: Invoke) -> None:
    # Whether the parser recurses too deeply depends on the Python version (3.11: yes at
    # 5000); either way the client gets a documented 4xx, never a 500.
    body = '{"message": ' + "[" * depth + "]" * depth + "}"
    response = invoke(_echo_with_body(body))
    assert response["statusCode"] in {400, 422}
    assert _error(response)["code"] in {"MALFORMED_JSON", "VALIDATION_FAILED"}


def test_parser_recursion_error_is_400(
    app_module: ModuleType, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    def too_deep(*_args: object, **_kwargs: object) -> Any:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(importlib.import_module("request_body"), "parse_json", too_deep)
    response = invoke(_echo_with_body('{"message": "hi"}'))
    assert response["statusCode"] == 400
    assert _error(response)["code"] == "MALFORMED_JSON"


def test_lone_surrogate_escape_is_rejected_as_invalid_text(invoke: Invoke) -> None:
    response = invoke(_echo_with_body('{"message": "\\ud800"}'))
    assert response["statusCode"] == 422
    assert _error(response)["details"] == [
        {"field": "$.message", "problem": "value must be valid Unicode text"}
    ]


def test_non_object_json_is_422(invoke: Invoke) -> None:
    response = invoke(_echo_with_body('["message"]'))
    assert response["statusCode"] == 422
    assert _error(response)["details"] == [{"field": "$", "problem": "body must be a JSON object"}]


# --------------------------------------------------------------------------- size limit


def _body_of_size(size: int) -> str:
    body = json.dumps({"message": ""})
    return body.replace('""', '"' + "a" * (size - len(body)) + '"')


def test_body_at_the_limit_is_accepted_then_validated(invoke: Invoke) -> None:
    response = invoke(_echo_with_body(_body_of_size(10_240)))
    assert response["statusCode"] == 422  # size is fine; the message is too long


def test_body_one_byte_over_the_limit_is_413(invoke: Invoke) -> None:
    response = invoke(_echo_with_body(_body_of_size(10_241)))
    assert response["statusCode"] == 413


def test_limit_counts_utf8_bytes_not_characters(invoke: Invoke) -> None:
    # 4000 "é" are 4000 characters but 8000 bytes; 6000 of them exceed 10240 bytes.
    assert invoke(_echo_with_body('{"message":"' + "é" * 4000 + '"}'))["statusCode"] == 422
    assert invoke(_echo_with_body('{"message":"' + "é" * 6000 + '"}'))["statusCode"] == 413


def test_limit_applies_to_decoded_base64(invoke: Invoke) -> None:
    over = base64.b64encode(_body_of_size(10_241).encode()).decode()
    at = base64.b64encode(_body_of_size(10_240).encode()).decode()
    assert invoke(_echo_with_body(over, b64=True))["statusCode"] == 413
    assert invoke(_echo_with_body(at, b64=True))["statusCode"] == 422


def test_max_body_bytes_is_configurable(
    load_app_copy: LoadCopy, lambda_context: FakeLambdaContext
) -> None:
    small = load_app_copy({"MAX_BODY_BYTES": "32"})
    assert small.settings.max_body_bytes == 32
    response = small.lambda_handler(_echo_with_body(_body_of_size(33)), lambda_context)
    assert response["statusCode"] == 413
    assert "32 bytes" in _error(response)["message"]
    ok = small.lambda_handler(_echo_with_body('{"message": "fits"}'), lambda_context)
    assert ok["statusCode"] == 200


# --------------------------------------------------------------------------- content type


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "Application/JSON",
        "application/json; charset=utf-8",
        'application/json;charset="UTF-8"',
    ],
)
def test_json_content_types_are_accepted(content_type: str, invoke: Invoke) -> None:
    event = _echo_with_body('{"message": "hi"}', content_type=content_type)
    assert invoke(event)["statusCode"] == 200


def test_missing_content_type_is_accepted(invoke: Invoke) -> None:
    event = _echo_with_body('{"message": "hi"}')
    del event["headers"]["Content-Type"]
    del event["multiValueHeaders"]["Content-Type"]
    assert invoke(event)["statusCode"] == 200


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/json-patch+json",
        "application/json; charset=latin-1",
        "",
        "multipart/form-data; boundary=x",
    ],
)
def test_other_content_types_are_415(content_type: str, invoke: Invoke) -> None:
    event = _echo_with_body('{"message": "hi"}', content_type=content_type)
    response = invoke(event)
    assert response["statusCode"] == 415
    assert _error(response)["code"] == "UNSUPPORTED_MEDIA_TYPE"


def test_only_catalogued_codes_are_emitted(app_module: ModuleType) -> None:
    """The codes the handler can produce on its own are exactly the documented catalogue."""
    api_errors = importlib.import_module("api_errors")
    assert set(api_errors.ERROR_CATALOG) == {
        "MALFORMED_JSON",
        "INVALID_ENCODING",
        "NOT_FOUND",
        "METHOD_NOT_ALLOWED",
        "PAYLOAD_TOO_LARGE",
        "UNSUPPORTED_MEDIA_TYPE",
        "VALIDATION_FAILED",
        "INTERNAL_ERROR",
    }
    for code, spec in api_errors.ERROR_CATALOG.items():
        assert api_errors.ApiError(code).status == int(spec.status)
