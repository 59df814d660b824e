"""Shared fixtures for localapi's unit tests.

Workers are real processes. They run on the real python3.13 when this machine
has one (as the served function would) and otherwise on the test interpreter:
the worker script is written for every Python 3 Lambda runtime, so the
protocol, timeout and crash behaviour do not depend on which one runs it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from localapi.runner import LogSink, WorkerPool, WorkerSpec
from localapi.runtime import RuntimeNotFoundError, cached_interpreter

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "tests" / "fixtures" / "localapi"
FIXTURE_TEMPLATE = FIXTURES / "template.yaml"
FIXTURE_CODE = FIXTURES / "fn"

os.environ.setdefault("SAM_CLI_TELEMETRY", "0")


@pytest.fixture(scope="session")
def interpreter() -> Path:
    """python3.13 when present, else this interpreter (see module docstring)."""
    try:
        return cached_interpreter("python3.13").path
    except RuntimeNotFoundError:
        return Path(sys.executable)


class ListSink(LogSink):
    """A LogSink that keeps lines for assertions (and still prints them for -s runs)."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def line(self, prefix: str, text: str) -> None:
        self.lines.append(f"[{prefix}] {text.rstrip()}")


@pytest.fixture
def sink() -> ListSink:
    return ListSink()


def make_spec(
    interpreter: Path,
    *,
    timeout_s: float = 2.0,
    code_dir: Path = FIXTURE_CODE,
    handler: str = "app.handler",
    env: dict[str, str] | None = None,
    init_timeout_s: float = 10.0,
) -> WorkerSpec:
    base = {
        "PATH": "/usr/bin:/bin",
        "AWS_LAMBDA_FUNCTION_NAME": "FixtureFunction",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_REGION": "eu-west-1",
    }
    return WorkerSpec(
        function_name="FixtureFunction",
        full_path="FixtureFunction",
        handler=handler,
        code_dir=code_dir,
        interpreter=interpreter,
        timeout_s=timeout_s,
        env={**base, **(env or {})},
        init_timeout_s=init_timeout_s,
    )


@pytest.fixture
def pool_factory(interpreter: Path, sink: ListSink) -> Iterator[object]:
    """Build pools that are always closed (and their processes reaped) after the test."""
    pools: list[WorkerPool] = []

    def factory(size: int = 1, **spec_kwargs: object) -> WorkerPool:
        acquire = spec_kwargs.pop("acquire_timeout_s", None)
        spec = make_spec(interpreter, **spec_kwargs)  # type: ignore[arg-type]
        pool = WorkerPool(spec, size, sink, acquire_timeout_s=acquire)  # type: ignore[arg-type]
        pools.append(pool)
        pool.start()
        return pool

    yield factory
    for pool in pools:
        pool.close()


def api_event(path: str, method: str = "GET", query: dict[str, str] | None = None) -> str:
    """A minimal REST proxy event (the fixture handler reads path and query only)."""
    import json

    return json.dumps(
        {
            "path": path,
            "httpMethod": method,
            "queryStringParameters": query,
            "requestContext": {"requestId": "req-1"},
        }
    )


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still "exists" for kill(0); /proc tells the truth on Linux.
    status = Path(f"/proc/{pid}/status")
    if status.exists():
        try:
            return "\nState:\tZ" not in status.read_text()
        except OSError:
            return False
    return True
