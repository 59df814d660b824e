"""Environment-driven configuration: defaults, bad values, CORS, tracing decision."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

import pytest

from .conftest import FakeLambdaContext, body_of, header, load_event

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

LoadCopy = Callable[[Mapping[str, str | None]], ModuleType]


def test_defaults(app_module: ModuleType) -> None:
    settings = app_module.Settings.from_env({})
    assert settings.service_name == "service_undefined"
    assert settings.metrics_namespace == "SecureServerlessApiKit"
    assert settings.app_version == "0.1.0"
    assert settings.max_body_bytes == 10_240
    assert settings.cors_allow_origins == ()
    assert settings.debug is False
    assert settings.problems == ()


@pytest.mark.parametrize("value", ["abc", "0", "-5", "1.5", "10KB"])
def test_invalid_body_limit_falls_back_and_is_reported(app_module: ModuleType, value: str) -> None:
    settings = app_module.Settings.from_env({"MAX_BODY_BYTES": value})
    assert settings.max_body_bytes == 10_240
    assert len(settings.problems) == 1
    assert "MAX_BODY_BYTES" in settings.problems[0]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"POWERTOOLS_DEV": "true"}, False),
        ({"POWERTOOLS_LOGGER_LOG_EVENT": "true"}, False),
        ({"POWERTOOLS_DEV": "1", "POWERTOOLS_LOGGER_LOG_EVENT": "yes"}, True),
        ({"POWERTOOLS_DEV": "true", "POWERTOOLS_LOGGER_LOG_EVENT": "false"}, False),
    ],
)
def test_resolver_debug_needs_both_opt_ins(
    app_module: ModuleType, env: dict[str, str], expected: bool
) -> None:
    assert app_module.Settings.from_env(env).debug is expected


# --------------------------------------------------------------------------- CORS

ORIGINS = "https://app.example.com, https://admin.example.com/"


def _with_origin(event: dict[str, Any], origin: str) -> dict[str, Any]:
    event["headers"]["Origin"] = origin
    event["multiValueHeaders"]["Origin"] = [origin]
    return event


@pytest.fixture
def cors_app(load_app_copy: LoadCopy) -> ModuleType:
    return load_app_copy({"CORS_ALLOW_ORIGIN": ORIGINS})


def test_cors_origins_are_parsed(cors_app: ModuleType) -> None:
    assert cors_app.settings.cors_allow_origins == (
        "https://app.example.com",
        "https://admin.example.com",
    )


@pytest.mark.parametrize("name", ["health", "echo", "unknown_route", "echo_validation_error"])
@pytest.mark.parametrize("origin", ["https://app.example.com", "https://admin.example.com"])
def test_cors_headers_for_allowed_origin(
    cors_app: ModuleType, lambda_context: FakeLambdaContext, name: str, origin: str
) -> None:
    response = cors_app.lambda_handler(_with_origin(load_event(name), origin), lambda_context)
    assert header(response, "Access-Control-Allow-Origin") == origin
    assert header(response, "Access-Control-Allow-Headers") == "Content-Type,X-Api-Key"
    assert header(response, "Vary") == "Origin"
    assert header(response, "Access-Control-Allow-Credentials") is None


def test_no_cors_headers_for_other_origin(
    cors_app: ModuleType, lambda_context: FakeLambdaContext
) -> None:
    event = _with_origin(load_event("health"), "https://evil.example.net")
    response = cors_app.lambda_handler(event, lambda_context)
    assert response["statusCode"] == 200
    assert header(response, "Access-Control-Allow-Origin") is None


def test_preflight_gets_security_headers_too(
    cors_app: ModuleType, lambda_context: FakeLambdaContext
) -> None:
    event = _with_origin(load_event("echo"), "https://app.example.com")
    event["httpMethod"] = "OPTIONS"
    event["body"] = None
    response = cors_app.lambda_handler(event, lambda_context)
    assert response["statusCode"] == 204
    assert header(response, "Access-Control-Allow-Origin") == "https://app.example.com"
    assert header(response, "Access-Control-Allow-Methods") == "GET,OPTIONS,POST"
    assert header(response, "X-Content-Type-Options") == "nosniff"
    assert header(response, "Cache-Control") == "no-store"
    assert header(response, "Content-Type") == "application/json"


def test_cors_does_not_change_bodies(
    cors_app: ModuleType, lambda_context: FakeLambdaContext
) -> None:
    event = _with_origin(load_event("health"), "https://app.example.com")
    assert body_of(cors_app.lambda_handler(event, lambda_context)) == {"status": "ok"}
