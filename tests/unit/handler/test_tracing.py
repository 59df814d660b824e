"""The Tracer is built only where it can trace, and then traces without copying request data.

Each case runs the handler in a fresh interpreter, because "is aws-xray-sdk imported?" is a
per-process question and the shared test module was imported with tracing off. The traced
case points the X-Ray SDK at a local UDP socket (what the X-Ray daemon would be) and reads
the segments it emits.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import BASE_ENV, EVENTS_DIR, HANDLER_DIR, UNSET_ENV, load_event

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

statuses = []
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as handle:
        statuses.append(app.lambda_handler(json.load(handle), Context())["statusCode"])
sys.stderr.write("RESULT " + json.dumps({
    "statuses": statuses,
    "tracer": app.tracer is not None,
    "xray_imported": "aws_xray_sdk" in sys.modules,
}) + "\\n")
"""


def _run(env_overrides: dict[str, str], *event_names: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k not in UNSET_ENV}
    env.update(BASE_ENV)
    env.update(env_overrides)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HANDLER_DIR), env.get("PYTHONPATH")]))
    paths = [str(EVENTS_DIR / f"{name}.json") for name in event_names]
    completed = subprocess.run(
        [sys.executable, "-c", RUNNER, *paths],
        cwd=HANDLER_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    line = next(x for x in completed.stderr.splitlines() if x.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    return result


def test_tracing_disabled_never_imports_xray_sdk() -> None:
    result = _run({"POWERTOOLS_TRACE_DISABLED": "true"}, "health", "echo", "echo_too_large")
    assert result == {"statuses": [200, 200, 413], "tracer": False, "xray_imported": False}


def test_outside_lambda_never_imports_xray_sdk() -> None:
    result = _run({"POWERTOOLS_TRACE_DISABLED": "false"}, "health")
    assert result["xray_imported"] is False


@pytest.fixture
def fake_daemon() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.5)
    yield sock
    sock.close()


def _segments(sock: socket.socket) -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = []
    while True:
        try:
            datagram = sock.recv(65_535).decode()
        except TimeoutError:
            return documents
        # Each datagram is a header line then the segment document.
        _header, _, document = datagram.partition("\n")
        documents.append(json.loads(document))


def test_in_lambda_the_tracer_traces_without_request_data(fake_daemon: socket.socket) -> None:
    port = fake_daemon.getsockname()[1]
    result = _run(
        {
            "POWERTOOLS_TRACE_DISABLED": "false",
            "LAMBDA_TASK_ROOT": str(HANDLER_DIR),
            "AWS_LAMBDA_FUNCTION_NAME": "fn",
            "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{port}",
            "_X_AMZN_TRACE_ID": (
                "Root=1-6955b902-9b2d7e4f1a3c4b5d8e6f7a8b;Parent=53995c3f42cd8ad8;Sampled=1"
            ),
        },
        "echo",
        "echo_validation_error",
        "health",
    )
    assert result == {"statuses": [200, 422, 200], "tracer": True, "xray_imported": True}

    segments = _segments(fake_daemon)
    names = [s["name"] for s in segments]
    assert names.count("## handle_request") == 3
    # Every route gets its subsegment from the resolver (routing.RestApi), not a decorator.
    assert "## routes.echo.echo" in names
    assert "## routes.health.health" in names
    handler_annotations = [s["annotations"] for s in segments if s["name"] == "## handle_request"]
    assert handler_annotations[0]["StatusCode"] == 200
    assert handler_annotations[1]["StatusCode"] == 422
    assert handler_annotations[1]["ErrorCode"] == "VALIDATION_FAILED"

    raw = json.dumps(segments)
    event = load_event("echo")
    for secret in (
        "Hello, API!",
        event["headers"]["X-Api-Key"],
        event["headers"]["Authorization"],
    ):
        assert secret not in raw
