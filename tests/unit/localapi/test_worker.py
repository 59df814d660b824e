"""The worker protocol: frames, the handler call, Lambda's error document, the context."""

from __future__ import annotations

import decimal
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from localapi import worker
from localapi.runner import Worker

from .conftest import FIXTURE_CODE, ListSink, api_event, make_spec


def test_frames_round_trip_through_a_pipe() -> None:
    read_fd, write_fd = os.pipe()
    try:
        message = {"type": "invoke", "id": "x", "event": json.dumps({"a": "é" * 1000})}
        worker.write_all(write_fd, worker.encode_frame(message))
        assert worker.read_frame(read_fd) == message
    finally:
        os.close(read_fd)
        os.close(write_fd)


def test_a_closed_pipe_is_a_protocol_error_not_a_hang() -> None:
    read_fd, write_fd = os.pipe()
    os.close(write_fd)
    with pytest.raises(worker.ProtocolError, match="pipe closed"):
        worker.read_frame(read_fd)
    os.close(read_fd)


def test_garbage_is_a_protocol_error() -> None:
    with pytest.raises(worker.ProtocolError):
        worker.decode_body(b"[1, 2]")
    with pytest.raises(worker.ProtocolError):
        worker.decode_body(b"\xff")


def request(event: dict[str, Any], deadline_s: float = 3.0) -> dict[str, Any]:
    return {
        "type": "invoke",
        "id": "req-42",
        "event": json.dumps(event),
        "deadline_ms": int((time.time() + deadline_s) * 1000),
        "tenant_id": None,
    }


def test_invoke_returns_the_handler_result_as_json() -> None:
    reply = worker.invoke(lambda e, c: {"statusCode": 200, "body": e["x"]}, request({"x": "hi"}))
    assert reply == {
        "type": "result",
        "id": "req-42",
        "payload": json.dumps({"statusCode": 200, "body": "hi"}),
        "error": False,
    }


def test_a_handler_exception_is_lambdas_error_document(capsys: pytest.CaptureFixture[str]) -> None:
    def handler(event: Any, context: Any) -> Any:
        raise KeyError("missing")

    reply = worker.invoke(handler, request({}))
    assert reply["error"] is True
    error = json.loads(reply["payload"])
    assert set(error) == {"errorMessage", "errorType", "requestId", "stackTrace"}
    assert error["errorType"] == "KeyError"
    assert error["requestId"] == "req-42"
    assert any("raise KeyError" in frame for frame in error["stackTrace"])
    assert not any("localapi/worker.py" in frame for frame in error["stackTrace"])
    assert "[ERROR] KeyError" in capsys.readouterr().out  # logged, like the runtime does


def test_unserialisable_results_are_a_marshal_error() -> None:
    reply = worker.invoke(lambda e, c: {"body": object()}, request({}))
    assert json.loads(reply["payload"])["errorType"] == "Runtime.MarshalError"


def test_decimals_serialise_like_the_lambda_marshaller() -> None:
    result = {"a": decimal.Decimal("3"), "b": decimal.Decimal("1.5")}
    reply = worker.invoke(lambda e, c: result, request({}))
    assert json.loads(reply["payload"]) == {"a": 3, "b": 1.5}


def test_oversized_responses_fail_like_lambda() -> None:
    reply = worker.invoke(lambda e, c: "x" * (worker.MAX_RESPONSE_BYTES + 1), request({}))
    assert json.loads(reply["payload"])["errorType"] == "Function.ResponseSizeTooLarge"


def test_sys_exit_is_not_swallowed() -> None:
    """sys.exit in a handler must end the worker (the server treats it as a crash)."""

    def handler(event: Any, context: Any) -> Any:
        raise SystemExit(4)

    with pytest.raises(SystemExit):
        worker.invoke(handler, request({}))


def test_context_counts_down_to_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "ApiFunction")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    deadline = int(time.time() * 1000) + 1500
    context = worker.LambdaContext("rid", deadline, None)
    assert context.function_name == "ApiFunction"
    assert context.memory_limit_in_mb == 256
    assert context.aws_request_id == "rid"
    assert (
        context.invoked_function_arn == "arn:aws:lambda:eu-west-1:123456789012:function:ApiFunction"
    )
    first = context.get_remaining_time_in_millis()
    assert 1000 < first <= 1500
    time.sleep(0.05)
    assert context.get_remaining_time_in_millis() < first
    assert worker.LambdaContext("r", 0, None).get_remaining_time_in_millis() == 0


@pytest.mark.parametrize(
    ("handler", "error_type"),
    [
        ("nomodule.handler", "Runtime.ImportModuleError"),
        ("json.nothing", "Runtime.HandlerNotFound"),
        ("nodot", "Runtime.MalformedHandlerName"),
    ],
)
def test_handler_load_errors_carry_lambdas_error_types(handler: str, error_type: str) -> None:
    with pytest.raises(worker.InitError) as info:
        worker.load_handler(handler)
    assert info.value.error_type == error_type


def test_a_real_worker_process_serves_invocations_over_its_pipes(interpreter: Path) -> None:
    sink = ListSink()
    proc = Worker(make_spec(interpreter), sink)
    try:
        proc.wait_ready()
        assert proc.init_ms is not None
        outcome = proc.invoke(api_event("/print"), "rid-1", None)
        assert outcome.status == "ok"
        assert json.loads(json.loads(outcome.payload or "")["body"]) == {"printed": True}
        assert outcome.cold is True
        second = proc.invoke(api_event("/pid"), "rid-2", None)
        assert json.loads(json.loads(second.payload or "")["body"])["pid"] == proc.pid
        assert second.cold is False
    finally:
        proc.stop()
    time.sleep(0.2)  # log pump threads drain after exit
    # Logs went to the terminal stream with the function prefix, never into the result.
    assert "[FixtureFunction] to-stdout from the handler" in sink.lines
    assert "[FixtureFunction] to-stderr from the handler" in sink.lines
    assert any(
        line.startswith("[FixtureFunction] REPORT RequestId: rid-1") and "Init Duration" in line
        for line in sink.lines
    )
    assert proc.proc.returncode is not None


def test_worker_runs_with_code_dir_first_on_sys_path_and_as_cwd(interpreter: Path) -> None:
    proc = Worker(make_spec(interpreter), ListSink())
    try:
        proc.wait_ready()
        body = json.loads(
            json.loads(proc.invoke(api_event("/env"), "r", None).payload or "")["body"]
        )
    finally:
        proc.stop()
    assert body["sys_path0"] == str(FIXTURE_CODE)
    assert body["cwd"] == str(FIXTURE_CODE)
    assert Path(body["executable"]).resolve() == interpreter.resolve()
    # Only the spec's environment: nothing of the test process leaks in.
    assert "PYTEST_CURRENT_TEST" not in body["env"]
