"""The access line written by ``access_log.AccessLog`` is the line ``logger.info`` writes.

Each case writes the same fields both ways through one Powertools Logger (its own service
name and stream) and compares the two JSON documents: same keys in the same order, same
values, except the timestamp (same format, taken a moment apart) and the line number in
``location`` (two call sites). Then the cases the writer hands to ``logger.info``
(filters, a non-JSON formatter) and the level check.
"""

from __future__ import annotations

import importlib
import io
import json
import logging
import re
import uuid
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import BasePowertoolsFormatter

TRACE_HEADER = "Root=1-6955b902-9b2d7e4f1a3c4b5d8e6f7a8b;Parent=53995c3f42cd8ad8;Sampled=1"
FIELDS: dict[str, Any] = {
    "http_method": "POST",
    "path": "/echo",
    "status_code": 422,
    "error_code": "VALIDATION_FAILED",
}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}[+-]\d{4}$")


@pytest.fixture(scope="module")
def access_log(app_module: ModuleType) -> ModuleType:
    # Importable once app_module has put src/handler on sys.path.
    return importlib.import_module("access_log")


@pytest.fixture
def stream() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def logger(stream: io.StringIO) -> Iterator[Logger]:
    handler = logging.StreamHandler(stream)
    # A new service name each time: Powertools configures a named logger only once.
    logger = Logger(service=f"access-log-{uuid.uuid4().hex}", logger_handler=handler, level="INFO")
    logger.append_keys(function_name="fn", cold_start=False, sampling_rate=None)
    logger.set_correlation_id("req-1")
    yield logger
    logger.thread_safe_clear_keys()


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    stream.seek(0)
    stream.truncate()
    return lines


def _both(access_log: ModuleType, logger: Logger, stream: io.StringIO) -> list[dict[str, Any]]:
    access_log.AccessLog(logger).write(FIELDS)
    logger.info(access_log.MESSAGE, extra=FIELDS)
    return _lines(stream)


def _assert_same(ours: dict[str, Any], powertools: dict[str, Any]) -> None:
    assert list(ours) == list(powertools)
    for key in ("timestamp", "location"):
        ours_value, powertools_value = ours.pop(key), powertools.pop(key)
        if key == "timestamp":
            assert TIMESTAMP.match(ours_value) and TIMESTAMP.match(powertools_value)
        else:  # same function, different lines of this file
            assert ours_value.split(":")[0] == powertools_value.split(":")[0] == "_both"
    assert ours == powertools


def test_same_line_as_logger_info(
    access_log: ModuleType, logger: Logger, stream: io.StringIO
) -> None:
    ours, powertools = _both(access_log, logger, stream)
    _assert_same(ours, powertools)
    assert ours["message"] == "Request completed" and ours["correlation_id"] == "req-1"
    assert "sampling_rate" not in ours  # None values are dropped, as Powertools drops them


def test_same_line_with_a_trace_id_and_thread_keys(
    access_log: ModuleType, logger: Logger, stream: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("_X_AMZN_TRACE_ID", TRACE_HEADER)
    logger.thread_safe_append_keys(tenant="t-1", pid="%(process)d")
    logger.append_keys(thread_name="%(threadName)s")
    ours, powertools = _both(access_log, logger, stream)
    assert ours["xray_trace_id"] == "1-6955b902-9b2d7e4f1a3c4b5d8e6f7a8b"
    assert ours["tenant"] == "t-1"
    _assert_same(ours, powertools)


def test_none_fields_are_dropped_like_powertools(
    access_log: ModuleType, logger: Logger, stream: io.StringIO
) -> None:
    access_log.AccessLog(logger).write({**FIELDS, "error_code": None})
    assert "error_code" not in _lines(stream)[0]


def test_below_info_nothing_is_written(
    access_log: ModuleType, logger: Logger, stream: io.StringIO
) -> None:
    logger.setLevel("WARNING")
    access_log.AccessLog(logger).write(FIELDS)
    assert stream.getvalue() == ""


def test_a_filter_is_honoured_through_logger_info(
    access_log: ModuleType, logger: Logger, stream: io.StringIO
) -> None:
    seen: list[str] = []

    def keep(record: logging.LogRecord) -> bool:
        seen.append(record.getMessage())
        return True

    logger.addFilter(keep)
    try:
        access_log.AccessLog(logger).write(FIELDS)
    finally:
        logger.removeFilter(keep)
    assert seen == ["Request completed"]
    assert _lines(stream)[0]["status_code"] == 422


class _Plain(BasePowertoolsFormatter):
    def append_keys(self, **additional_keys: Any) -> None: ...

    def clear_state(self) -> None: ...

    def remove_keys(self, keys: Any) -> None: ...

    def format(self, record: logging.LogRecord) -> str:
        return f"PLAIN {record.getMessage()} {record.__dict__.get('status_code')}"


def test_another_formatter_gets_the_record_through_logger_info(
    access_log: ModuleType, stream: io.StringIO
) -> None:
    logger = Logger(
        service=f"access-log-{uuid.uuid4().hex}",
        logger_handler=logging.StreamHandler(stream),
        logger_formatter=_Plain(),
    )
    access_log.AccessLog(logger).write(FIELDS)
    assert stream.getvalue() == "PLAIN Request completed 422\n"
