"""Fixtures for the handler tests: environment, a fake LambdaContext, events, log capture.

The handler is a Lambda "top-level module" (``app.lambda_handler`` with ``src/handler`` as
the code root), so it is imported the same way here: ``src/handler`` goes on ``sys.path``.
Module-level configuration is read at import, so the environment is set *before* the import;
tests that need another configuration load an isolated copy with :func:`load_app_copy`.
Nothing here outlives this test package: environment, ``sys.path`` and ``sys.modules`` are
restored, so other suites in the same session are unaffected.
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import io
import json
import logging
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
HANDLER_DIR = REPO_ROOT / "src" / "handler"
EVENTS_DIR = REPO_ROOT / "events"

# What the unit tests run with: tracing off (no X-Ray daemon here), and nothing that could
# make Powertools print events.
BASE_ENV: dict[str, str] = {
    "POWERTOOLS_SERVICE_NAME": "secure-api-test",
    "POWERTOOLS_METRICS_NAMESPACE": "SecureApiTest",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOGGER_LOG_EVENT": "false",
    "POWERTOOLS_DEV": "false",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "APP_VERSION": "9.9.9-test",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}
# Variables that would change the handler's behaviour if inherited from the shell.
UNSET_ENV = (
    "CORS_ALLOW_ORIGIN",
    "MAX_BODY_BYTES",
    "LAMBDA_TASK_ROOT",
    "AWS_SAM_LOCAL",
    "POWERTOOLS_DEBUG",
    "POWERTOOLS_METRICS_DISABLED",
)

# The dummy credentials the files in events/ carry; the hygiene tests hunt for them in logs.
EVENT_NAMES = (
    "health",
    "root",
    "echo",
    "echo_invalid_json",
    "unknown_route",
    "wrong_method",
    "echo_too_large",
    "echo_validation_error",
    "echo_unsupported_media_type",
)


@dataclass
class FakeLambdaContext:
    """The parts of ``LambdaContext`` that Powertools reads (logger keys, cold-start metric)."""

    function_name: str = "secure-api-handler-test"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = (
        "arn:aws:lambda:us-east-1:123456789012:function:secure-api-handler-test"
    )
    aws_request_id: str = "00000000-1111-4222-8333-444444444444"
    log_group_name: str = "/aws/lambda/secure-api-handler-test"
    log_stream_name: str = "2026/01/01/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def _apply_env(mp: pytest.MonkeyPatch, overrides: Mapping[str, str | None]) -> None:
    for name in UNSET_ENV:
        mp.delenv(name, raising=False)
    for name, value in {**BASE_ENV, **overrides}.items():
        if value is None:
            mp.delenv(name, raising=False)
        else:
            mp.setenv(name, value)


def _handler_module_names() -> list[str]:
    """Top-level module and package names of src/handler (``app``, ``routes``, ...)."""
    return sorted(
        path.stem
        for path in HANDLER_DIR.iterdir()
        if (path.suffix == ".py" or (path / "__init__.py").exists())
        and not path.name.startswith("_")
    )


def _is_handler_module(name: str) -> bool:
    return name.split(".", 1)[0] in _handler_module_names()


def _loaded_handler_modules() -> dict[str, ModuleType]:
    return {name: mod for name, mod in sys.modules.items() if _is_handler_module(name)}


@pytest.fixture(scope="package")
def app_module() -> Iterator[ModuleType]:
    """The handler module, imported as Lambda imports it (top-level ``app``).

    Package-scoped and fully undone afterwards (``sys.path``, ``sys.modules``, environment),
    so the rest of the test session never sees this module or these variables.
    """
    for name, existing in _loaded_handler_modules().items():
        if HANDLER_DIR not in Path(existing.__file__ or "/").resolve().parents:
            pytest.fail(f"another module named {name!r} is already imported: {existing!r}")
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(HANDLER_DIR))
        with pytest.MonkeyPatch.context() as env:
            _apply_env(env, {})  # read at import; restored right after it
            module = importlib.import_module("app")
        yield module
        for name in _loaded_handler_modules():
            sys.modules.pop(name, None)


@pytest.fixture(autouse=True)
def handler_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same environment at run time as at import (Powertools reads some variables late)."""
    _apply_env(monkeypatch, {})


@pytest.fixture
def load_app_copy(
    app_module: ModuleType,
) -> Iterator[Callable[[Mapping[str, str | None]], ModuleType]]:
    """Load an independent copy of ``app.py`` under other environment variables.

    The copy imports its own fresh copies of the other handler modules (settings, routes,
    request_body, ...), so it has its own resolver, settings, routers and Powertools objects:
    configuration read at import (CORS, limits, debug) can be tested without disturbing the
    shared module. They are reachable as ``copy.HANDLER_MODULES[name]``.
    """
    counter = 0
    with pytest.MonkeyPatch.context() as mp:

        def load(overrides: Mapping[str, str | None]) -> ModuleType:
            nonlocal counter
            counter += 1
            _apply_env(mp, overrides)
            name = f"app_copy_{counter}"
            spec = importlib.util.spec_from_file_location(name, HANDLER_DIR / "app.py")
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            mp.setitem(sys.modules, name, module)  # dataclasses look their module up there
            shared = _loaded_handler_modules()
            for shared_name in shared:
                del sys.modules[shared_name]
            try:
                spec.loader.exec_module(module)
                module.HANDLER_MODULES = _loaded_handler_modules()
            finally:
                for fresh_name in _loaded_handler_modules():
                    del sys.modules[fresh_name]
                sys.modules.update(shared)
            return module

        yield load
    # The copies registered handlers on their own resolvers only; nothing global to undo
    # except Powertools' class-level "current event", which the next resolve() overwrites.


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


def load_event(name: str) -> dict[str, Any]:
    """A fresh copy of ``events/<name>.json`` (tests may mutate it)."""
    with (EVENTS_DIR / f"{name}.json").open(encoding="utf-8") as handle:
        return copy.deepcopy(json.load(handle))


@pytest.fixture
def event() -> Callable[[str], dict[str, Any]]:
    return load_event


@dataclass
class Captured:
    """Everything the function wrote: Logger output, stdout/stderr (EMF), std logging."""

    logger: str
    stdout: str
    stderr: str
    std_logging: str

    @property
    def everything(self) -> str:
        return "\n".join((self.logger, self.stdout, self.stderr, self.std_logging))

    def logger_records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.logger.splitlines() if line.strip()]


class OutputCapture:
    """Redirects the Powertools Logger's stream and reads pytest's captures on demand.

    The Logger's handler keeps the ``sys.stdout`` it saw at import, which pytest's
    ``capsys`` does not swap, so the stream is pointed at a buffer for the test.
    """

    def __init__(
        self,
        handler: logging.StreamHandler[Any],
        capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        self._handler = handler
        self._capsys = capsys
        self._caplog = caplog
        self._buffer = io.StringIO()
        self._previous = handler.setStream(self._buffer)

    def read(self) -> Captured:
        out, err = self._capsys.readouterr()
        logger_text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        std_logging = self._caplog.text
        self._caplog.clear()
        return Captured(logger=logger_text, stdout=out, stderr=err, std_logging=std_logging)

    def close(self) -> None:
        if self._previous is not None:
            self._handler.setStream(self._previous)


@pytest.fixture
def output(
    app_module: ModuleType,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> Iterator[OutputCapture]:
    caplog.set_level(logging.DEBUG)
    handler = app_module.logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    capture = OutputCapture(handler, capsys, caplog)
    yield capture
    capture.close()


@pytest.fixture
def invoke(
    app_module: ModuleType, lambda_context: FakeLambdaContext
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Call ``app.lambda_handler`` and JSON-decode the body for convenience (``_json``)."""

    def call(event: dict[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = app_module.lambda_handler(event, lambda_context)
        return response

    return call


def body_of(response: Mapping[str, Any]) -> Any:
    assert response["isBase64Encoded"] is False
    return json.loads(response["body"])


def header(response: Mapping[str, Any], name: str) -> str | None:
    """One response header, case-insensitively, from the REST ``multiValueHeaders`` shape."""
    for key, values in response.get("multiValueHeaders", {}).items():
        if key.lower() == name.lower():
            assert isinstance(values, list) and len(values) == 1, (key, values)
            value: str = values[0]
            return value
    return None
