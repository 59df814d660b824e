"""Request bodies, the Authorization header and the API key never reach the logs.

"Logs" means everything the function writes: the Powertools Logger stream, anything printed
to stdout/stderr (EMF metrics, warnings, Powertools debug prints) and standard logging.
A positive control proves the capture would see a leak if there were one.
"""

from __future__ import annotations

import base64
import importlib
import json
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

import pytest

from .conftest import EVENT_NAMES, FakeLambdaContext, OutputCapture, load_event

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

Invoke = Callable[[dict[str, Any]], dict[str, Any]]
LoadCopy = Callable[[Mapping[str, str | None]], ModuleType]

CANARY = "canary-body-value-7f3a9c"


def _string_leaves(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _string_leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _string_leaves(item)]
    return []


def secrets_of(event: Mapping[str, Any]) -> list[str]:
    """Values that must not be logged: credentials, the raw body and its distinctive strings."""
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    found = [headers["authorization"], headers["x-api-key"]]
    found.append(event["requestContext"]["identity"]["apiKey"])
    body = event.get("body")
    if body:
        found.append(body)
        if event.get("isBase64Encoded"):
            body = base64.b64decode(body).decode("utf-8", "replace")
            found.append(body)
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        # Long enough to be distinctive ("ok" could legitimately appear in a log line).
        found.extend(leaf for leaf in _string_leaves(parsed) if len(leaf) >= 6)
    assert all(found), found
    return found


def assert_not_logged(secrets: list[str], text: str) -> None:
    for secret in secrets:
        assert secret not in text, f"leaked into logs: {secret[:40]!r}"


@pytest.mark.parametrize("name", EVENT_NAMES)
def test_sample_events_leave_no_secrets_in_logs(
    name: str, invoke: Invoke, output: OutputCapture
) -> None:
    event = load_event(name)
    invoke(event)
    captured = output.read()

    assert_not_logged(secrets_of(event), captured.everything)
    # The capture really saw the function's log line for this request.
    records = captured.logger_records()
    assert records, "no Logger output captured"
    assert records[-1]["message"] == "Request completed"
    assert records[-1]["correlation_id"] == event["requestContext"]["requestId"]


@pytest.mark.parametrize("name", EVENT_NAMES)
def test_any_body_on_any_route_stays_out_of_logs(
    name: str, invoke: Invoke, output: OutputCapture
) -> None:
    event = load_event(name)
    event["body"] = json.dumps({"message": CANARY, "tags": [CANARY + "-tag"]})
    invoke(event)
    assert_not_logged([*secrets_of(event), CANARY], output.read().everything)


def test_base64_body_stays_out_of_logs(invoke: Invoke, output: OutputCapture) -> None:
    event = load_event("echo")
    event["body"] = base64.b64encode(json.dumps({"message": CANARY}).encode()).decode()
    event["isBase64Encoded"] = True
    assert invoke(event)["statusCode"] == 200
    assert_not_logged([*secrets_of(event), CANARY], output.read().everything)


def test_500_path_logs_the_exception_but_no_secrets(
    app_module: ModuleType,
    invoke: Invoke,
    output: OutputCapture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def explode(*_args: object) -> Any:
        raise RuntimeError("database unavailable")

    monkeypatch.setattr(importlib.import_module("request_body"), "validate_object", explode)
    event = load_event("echo")
    event["body"] = json.dumps({"message": CANARY})

    assert invoke(event)["statusCode"] == 500
    captured = output.read()

    assert "database unavailable" in captured.logger  # operators do get the exception
    assert_not_logged([*secrets_of(event), CANARY], captured.everything)


def test_powertools_verbose_mode_alone_does_not_dump_events(
    load_app_copy: LoadCopy, lambda_context: FakeLambdaContext, output: OutputCapture
) -> None:
    verbose = load_app_copy({"POWERTOOLS_DEV": "true"})
    assert verbose.settings.debug is False
    event = load_event("echo")
    verbose.lambda_handler(event, lambda_context)
    assert_not_logged(secrets_of(event), output.read().everything)


def test_positive_control_explicit_event_logging_is_visible(
    load_app_copy: LoadCopy, lambda_context: FakeLambdaContext, output: OutputCapture
) -> None:
    """POWERTOOLS_LOGGER_LOG_EVENT=true is the one documented way to get events logged.

    It also shows the capture works: the API key does show up when logging is asked for.
    """
    loud = load_app_copy({"POWERTOOLS_LOGGER_LOG_EVENT": "true"})
    event = load_event("echo")
    loud.lambda_handler(event, lambda_context)
    assert event["headers"]["X-Api-Key"] in output.read().everything
