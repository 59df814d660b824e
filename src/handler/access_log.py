"""The one access-log line per request, the JSON line Powertools' Logger writes, for less.

:func:`app.handle_request` logs one line per request: "Request completed" with the method,
path, status and error code. Through ``logger.info`` that line cost about 30 us of a
90-120 us warm request (bench/README.md): two thirds in the Powertools formatter's
generic key extraction, the rest in the logging machinery (caller lookup, handler
dispatch). :class:`AccessLog` builds the same document from the same sources, through
public Powertools API: the formatter's ``log_format`` keys (``%(...)`` templates resolved
against a real ``LogRecord``, as the formatter does), the logger's thread-safe keys, the
formatter's own ``formatTime`` and ``serialize``, the X-Ray trace id Lambda sets; and
writes it to the logger's own handler stream. tests/unit/handler/test_access_log.py
compares the two lines key by key in several configurations.

Whatever it does not reproduce falls back to ``logger.info`` (same line, full cost): a
formatter that is not Powertools' JSON one, a handler that is not a stream, filters on
the logger or its handler, or log buffering. Below INFO nothing is written, as with
``logger.info``.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Mapping
from typing import Any, Final

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import RESERVED_LOG_ATTRS, LambdaPowertoolsFormatter
from aws_lambda_powertools.shared import constants as pt_constants

MESSAGE: Final = "Request completed"


def _trace_id(formatter: LambdaPowertoolsFormatter) -> str | None:
    """The request's X-Ray trace id (``Root=``) from ``_X_AMZN_TRACE_ID``, as Powertools reads it."""
    if formatter.log_format.get("xray_trace_id", "") is None:  # explicitly disabled
        return None
    header = os.environ.get(pt_constants.XRAY_TRACE_ID_ENV)
    return header.split(";")[0].replace("Root=", "") if header else None


def _resolve(keys: Mapping[str, Any], attrs: Mapping[str, Any], into: dict[str, Any]) -> bool:
    """Copy ``keys`` into ``into``, filling ``%(name)s`` templates of reserved attributes
    from ``attrs`` the way the formatter does; False when one cannot be filled here."""
    for key, value in keys.items():
        if value and key in RESERVED_LOG_ATTRS:
            if not isinstance(value, str):
                return False
            try:
                into[key] = value % attrs
            except (KeyError, TypeError, ValueError):
                return False
        else:
            into[key] = value
    return True


class AccessLog:
    """Writes the access line of ``logger``; see the module docstring."""

    __slots__ = ("_logger", "_std")

    def __init__(self, logger: Logger) -> None:
        self._logger = logger
        self._std = logging.getLogger(logger.name)  # the stdlib logger Powertools configures

    def _fast_path(self) -> tuple[logging.StreamHandler[Any], LambdaPowertoolsFormatter] | None:
        handler = self._logger.registered_handler
        formatter = handler.formatter
        plain = not (self._std.filters or handler.filters)
        if (
            plain
            and isinstance(handler, logging.StreamHandler)
            and type(formatter) is LambdaPowertoolsFormatter
            and handler.level <= logging.INFO
        ):
            return handler, formatter
        return None

    def write(self, fields: Mapping[str, Any]) -> None:
        """Log ``MESSAGE`` with ``fields`` as ``logger.info`` would from the caller's line."""
        if not self._std.isEnabledFor(logging.INFO):
            return
        fast = self._fast_path()
        frame = inspect.currentframe()
        caller = frame.f_back if frame is not None else None
        if fast is not None and caller is not None:
            handler, formatter = fast
            code = caller.f_code
            record = logging.LogRecord(
                self._std.name,
                logging.INFO,
                code.co_filename,
                caller.f_lineno,
                MESSAGE,
                None,
                None,
                code.co_name,
            )
            attrs = record.__dict__
            attrs["asctime"] = formatter.formatTime(record)
            context = self._logger.thread_safe_get_current_keys()
            line: dict[str, Any] = {}
            if _resolve(formatter.log_format, attrs, line) and _resolve(context, attrs, line):
                line.update(fields)
                line["message"] = MESSAGE
                line["xray_trace_id"] = _trace_id(formatter)
                document = {key: value for key, value in line.items() if value is not None}
                handler.stream.write(formatter.serialize(log=document) + handler.terminator)
                handler.flush()
                return
        self._logger.info(MESSAGE, extra=dict(fields), stacklevel=3)
