"""Warm pools: reuse, Timeout enforcement, crash replacement, bounded waiting, clean close."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from localapi import worker as protocol
from localapi.http_guard import MAX_INVOKE_PAYLOAD_BYTES, InvokePayloadTooLarge
from localapi.runner import InvokeOutcome, ProcessLambdaRuntime, WorkerPool, WorkerStartError

from .conftest import ListSink, api_event, make_spec, pid_alive

PoolFactory = Callable[..., WorkerPool]


def body(outcome: InvokeOutcome) -> Any:
    assert outcome.payload is not None, outcome
    return json.loads(json.loads(outcome.payload)["body"])


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def test_workers_are_started_eagerly_and_reused(pool_factory: PoolFactory) -> None:
    pool = pool_factory(size=2)
    pids = pool.pids()
    assert len(pids) == 2  # before any request
    seen = {body(pool.invoke(api_event("/pid")))["pid"] for _ in range(6)}
    assert seen <= set(pids)
    assert pool.pids() == pids


def test_timeout_kills_the_worker_and_a_replacement_serves_the_next_request(
    pool_factory: PoolFactory, sink: ListSink
) -> None:
    pool = pool_factory(size=1, timeout_s=1.0)
    (victim,) = pool.pids()
    started = time.monotonic()
    outcome = pool.invoke(api_event("/sleep", query={"seconds": "10"}), request_id="slow-1")
    elapsed = time.monotonic() - started
    assert outcome.status == "timeout"
    assert outcome.payload is None  # nothing on stdout -> SAM answers 502
    assert 0.9 < elapsed < 3.0
    assert not pid_alive(victim)
    assert any("slow-1 Task timed out after 1.00 seconds" in line for line in sink.lines)
    after = pool.invoke(api_event("/pid"))
    assert after.status == "ok"
    assert body(after)["pid"] != victim
    assert pool.stats.timeouts == 1


@pytest.mark.parametrize(
    ("path", "how"),
    [
        ("/exit", "exited with code 3"),
        ("/sysexit", "exited with code 4"),
        ("/segv", "killed by SIGSEGV"),
    ],
)
def test_a_crash_answers_without_payload_and_the_worker_is_replaced(
    pool_factory: PoolFactory, path: str, how: str
) -> None:
    pool = pool_factory(size=1)
    (victim,) = pool.pids()
    outcome = pool.invoke(api_event(path))
    assert outcome.status == "crash"
    assert outcome.payload is None
    assert how in outcome.detail
    assert not pid_alive(victim)
    follow_up = pool.invoke(api_event("/pid"))
    assert follow_up.status == "ok"
    assert body(follow_up)["pid"] != victim
    assert pool.stats.crashes == 1
    wait_for(lambda: pool.stats.replaced == 1)


def test_a_handler_exception_is_not_a_crash(pool_factory: PoolFactory) -> None:
    pool = pool_factory(size=1)
    (pid,) = pool.pids()
    outcome = pool.invoke(api_event("/raise"))
    assert outcome.status == "error"
    assert json.loads(outcome.payload or "")["errorType"] == "ValueError"
    assert pool.pids() == [pid]  # same warm worker keeps serving
    assert body(pool.invoke(api_event("/pid")))["pid"] == pid


def test_requests_beyond_the_pool_wait_for_a_worker(pool_factory: PoolFactory) -> None:
    pool = pool_factory(size=2)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=6) as executor:
        outcomes = list(
            executor.map(
                lambda _: pool.invoke(api_event("/sleep", query={"seconds": "0.4"})), range(6)
            )
        )
    elapsed = time.monotonic() - started
    assert [o.status for o in outcomes] == ["ok"] * 6
    assert elapsed >= 1.1  # 6 requests, 2 workers, 0.4 s each: three rounds
    assert len({o.worker_pid for o in outcomes}) == 2


def test_waiting_is_bounded(pool_factory: PoolFactory) -> None:
    pool = pool_factory(size=1, timeout_s=5.0, acquire_timeout_s=0.3)
    slow = threading.Thread(
        target=pool.invoke, args=(api_event("/sleep", query={"seconds": "1.5"}),)
    )
    slow.start()
    time.sleep(0.2)
    started = time.monotonic()
    outcome = pool.invoke(api_event("/pid"))
    assert outcome.status == "busy"
    assert outcome.payload is None
    assert time.monotonic() - started < 1.0
    slow.join()
    assert pool.invoke(api_event("/pid")).status == "ok"


def test_close_kills_idle_and_busy_workers_by_pid(pool_factory: PoolFactory) -> None:
    pool = pool_factory(size=2, timeout_s=30.0)
    pids = pool.pids()
    busy = threading.Thread(
        target=pool.invoke, args=(api_event("/sleep", query={"seconds": "30"}),)
    )
    busy.start()
    time.sleep(0.3)
    started = time.monotonic()
    pool.close()
    busy.join(timeout=10)
    assert not busy.is_alive()
    assert time.monotonic() - started < 5
    for pid in pids:
        assert not pid_alive(pid)
    assert pool.invoke(api_event("/pid")).status == "shutdown"


def test_a_handler_that_kills_its_process_at_import_fails_startup(
    interpreter: Path, tmp_path: Path, sink: ListSink
) -> None:
    (tmp_path / "app.py").write_text("import os\nos._exit(9)\n")
    pool = WorkerPool(make_spec(interpreter, code_dir=tmp_path), 2, sink)
    with pytest.raises(WorkerStartError, match="exited with code 9 during init"):
        pool.start()
    assert pool.pids() == []


def test_init_that_outlives_the_init_timeout_fails_startup(
    interpreter: Path, tmp_path: Path, sink: ListSink
) -> None:
    (tmp_path / "app.py").write_text("import time\ntime.sleep(30)\n")
    pool = WorkerPool(make_spec(interpreter, code_dir=tmp_path, init_timeout_s=0.5), 1, sink)
    with pytest.raises(WorkerStartError, match="did not finish init within"):
        pool.start()


def test_an_import_error_keeps_workers_that_answer_with_the_init_error(
    interpreter: Path, tmp_path: Path, sink: ListSink
) -> None:
    (tmp_path / "app.py").write_text("import not_installed_anywhere\n")
    pool = WorkerPool(make_spec(interpreter, code_dir=tmp_path), 1, sink)
    pool.start()
    try:
        assert pool.init_error is not None
        assert pool.init_error["errorType"] == "Runtime.ImportModuleError"
        outcome = pool.invoke(api_event("/"), request_id="rid-9")
        assert outcome.status == "error"
        error = json.loads(outcome.payload or "")
        assert error["requestId"] == "rid-9"
        assert "not_installed_anywhere" in error["errorMessage"]
    finally:
        pool.close()


class RecordingWriter:
    """Stands in for SAM's StreamWriter around the per-request StringIO."""

    def __init__(self) -> None:
        self.written: list[str] = []

    def write_str(self, text: str) -> None:
        self.written.append(text)

    def flush(self) -> None:
        pass


class FakeConfig:
    name = full_path = "FixtureFunction"


def test_runtime_writes_the_result_to_stdout_and_nothing_on_a_crash(interpreter: Path) -> None:
    runtime = ProcessLambdaRuntime(
        lambda config: make_spec(interpreter), workers=1, sink=ListSink()
    )
    try:
        ok, crashed = RecordingWriter(), RecordingWriter()
        runtime.invoke(FakeConfig(), api_event("/pid"), stdout=ok, stderr=None, debug_context=None)
        runtime.invoke(FakeConfig(), api_event("/exit"), stdout=crashed, stderr=None)
        assert len(ok.written) == 1
        assert json.loads(ok.written[0])["statusCode"] == 200
        assert crashed.written == []
        pool = runtime.pools["FixtureFunction"]
        pids = pool.pids()
    finally:
        runtime.close()
    for pid in pids:
        assert not pid_alive(pid)


def test_large_events_pass_through_the_pipe(pool_factory: PoolFactory) -> None:
    pool = pool_factory(size=1)
    event = json.loads(api_event("/echo"))
    event["body"] = "x" * (5 * 1024 * 1024)  # far beyond a pipe buffer
    outcome = pool.invoke(json.dumps(event))
    assert outcome.status == "ok"
    assert len(body(outcome)["body"]) == 5 * 1024 * 1024


def test_an_event_over_lambdas_invoke_limit_is_refused_before_any_worker(
    interpreter: Path,
) -> None:
    """Lambda refuses a synchronous payload over 6 MB; API Gateway then answers 413."""
    runtime = ProcessLambdaRuntime(
        lambda config: make_spec(interpreter), workers=1, sink=ListSink()
    )
    try:
        event = json.loads(api_event("/echo"))
        event["body"] = "\u00e9" * (MAX_INVOKE_PAYLOAD_BYTES // 6 + 1)  # escaped: 6 bytes each
        writer = RecordingWriter()
        with pytest.raises(InvokePayloadTooLarge):
            runtime.invoke(FakeConfig(), json.dumps(event), stdout=writer, stderr=None)
        assert writer.written == [] and runtime.pools == {}  # no worker was even started
        event["body"] = "x" * (MAX_INVOKE_PAYLOAD_BYTES - 1024)
        runtime.invoke(FakeConfig(), json.dumps(event), stdout=writer, stderr=None)
        assert json.loads(writer.written[0])["statusCode"] == 200
    finally:
        runtime.close()


def test_a_frame_too_big_for_the_protocol_is_an_error_not_a_traceback(
    pool_factory: PoolFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = pool_factory(size=1)
    (worker_pid,) = pool.pids()
    monkeypatch.setattr(protocol, "MAX_FRAME_BYTES", 1024)
    event = json.loads(api_event("/echo"))
    event["body"] = "x" * 2048
    outcome = pool.invoke(json.dumps(event))
    assert outcome.status == "error" and outcome.payload is None
    assert "exceeds" in outcome.detail
    monkeypatch.undo()
    assert pool.pids() == [worker_pid]  # the worker never saw it and keeps serving
    assert pool.invoke(api_event("/pid")).status == "ok"


def test_a_worker_that_stops_reading_cannot_block_the_request(pool_factory: PoolFactory) -> None:
    """SIGSTOP the worker, then send more than a pipe buffer holds: the write is bounded too."""
    import os
    import signal

    pool = pool_factory(size=1, timeout_s=1.0)
    (victim,) = pool.pids()
    os.kill(victim, signal.SIGSTOP)
    event = json.loads(api_event("/echo"))
    event["body"] = "x" * (1024 * 1024)
    started = time.monotonic()
    outcome = pool.invoke(json.dumps(event))
    assert outcome.status == "timeout"
    assert time.monotonic() - started < 3
    assert not pid_alive(victim)
    assert pool.invoke(api_event("/pid")).status == "ok"
