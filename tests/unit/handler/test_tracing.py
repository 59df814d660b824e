"""Tracing is the services' (Lambda ``Tracing: Active``, API Gateway stage tracing), not an SDK's.

The function bundles no tracing SDK (issue 12): in no configuration does it import
aws-xray-sdk, wrapt or an OpenTelemetry SDK, nor botocore's client machinery (which the
X-Ray SDK's patching loaded), and in Lambda with active tracing it sends nothing to the X-Ray
daemon address (Lambda itself records the function's segment), yet every log line carries
the request's X-Ray trace id, so logs and traces still join up. Each case runs the handler
in a fresh interpreter, because "is a module imported?" is a per-process question. The
traced case listens where the X-Ray daemon would be (a local UDP socket) and reads
whatever the process sends there.
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
    "sdk_imported": sorted(
        name for name in ("aws_xray_sdk", "wrapt", "opentelemetry", "botocore.client")
        if name in sys.modules
    ),
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
    documents = [json.loads(x) for x in completed.stdout.splitlines() if x.startswith("{")]
    result["log_lines"] = [doc for doc in documents if "level" in doc]
    return result


def test_tracing_disabled_imports_no_tracing_sdk() -> None:
    result = _run({"POWERTOOLS_TRACE_DISABLED": "true"}, "health", "echo", "echo_too_large")
    assert result["statuses"] == [200, 200, 413]
    assert result["sdk_imported"] == []


def test_outside_lambda_imports_no_tracing_sdk() -> None:
    result = _run({"POWERTOOLS_TRACE_DISABLED": "false"}, "health")
    assert result["statuses"] == [200]
    assert result["sdk_imported"] == []


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


TRACE_ROOT = "1-6955b902-9b2d7e4f1a3c4b5d8e6f7a8b"


def test_in_lambda_with_active_tracing_the_function_sends_nothing_itself(
    fake_daemon: socket.socket,
) -> None:
    """What Lambda sets for a sampled request under ``Tracing: Active``: the function imports
    no SDK and sends no segment (Lambda records it), and its log lines carry the trace id."""
    port = fake_daemon.getsockname()[1]
    result = _run(
        {
            "POWERTOOLS_TRACE_DISABLED": "false",
            "LAMBDA_TASK_ROOT": str(HANDLER_DIR),
            "AWS_LAMBDA_FUNCTION_NAME": "fn",
            "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{port}",
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "_X_AMZN_TRACE_ID": f"Root={TRACE_ROOT};Parent=53995c3f42cd8ad8;Sampled=1",
        },
        "echo",
        "echo_validation_error",
        "health",
    )
    assert result["statuses"] == [200, 422, 200]
    assert result["sdk_imported"] == []
    assert _segments(fake_daemon) == []

    completed = [line for line in result["log_lines"] if line["message"] == "Request completed"]
    assert [line["status_code"] for line in completed] == [200, 422, 200]
    assert {line["xray_trace_id"] for line in completed} == {TRACE_ROOT}
    assert completed[1]["error_code"] == "VALIDATION_FAILED"
    raw = json.dumps(result["log_lines"])
    event = load_event("echo")
    for secret in (
        "Hello, API!",
        event["headers"]["X-Api-Key"],
        event["headers"]["Authorization"],
    ):
        assert secret not in raw
