"""Child-process bootstrap: imports one Lambda handler and serves invocations over pipes.

This file is run *by path* with the function's own interpreter (``python3.13 -I
localapi/worker.py ...``), never imported into it as part of the ``localapi``
package: the serving process runs on the dev virtualenv's Python (3.11), the
function must run on the Python its ``Runtime`` names, exactly as Lambda does.
So it uses the standard library only and must stay importable on every Python
3 runtime Lambda offers (3.9+).

The server imports it too, for the framing helpers (:func:`encode_frame`,
:func:`read_frame`), so both ends share one definition of the protocol.

Protocol (why pipes and not stdout): the function's ``print`` output and log
records go to the child's stdout/stderr, which the server streams to the
terminal; results travel on a *separate* pipe, so no log line can ever be
mistaken for (or corrupt) a result. Every message is one frame: a 4-byte
big-endian length followed by that many bytes of UTF-8 JSON.

server -> worker (``--request-fd``)::

    {"type": "invoke", "id": "<aws_request_id>", "event": "<event JSON text>",
     "deadline_ms": <epoch ms>, "tenant_id": null}

worker -> server (``--response-fd``)::

    {"type": "ready", "pid": 123, "init_ms": 87.5}            once, after import
    {"type": "init_error", "pid": 123, "error": {...}}        once, import failed
    {"type": "result", "id": "...", "payload": "<JSON text>", "error": false}

A handler exception is *not* a crash: it is answered with Lambda's error
document (``errorMessage``, ``errorType``, ``requestId``, ``stackTrace``, the
shape the Python runtime interface client posts). ``sys.exit``, ``os._exit``
and fatal signals end the process; the server notices the closed pipe.
"""

from __future__ import annotations

import argparse
import decimal
import importlib
import json
import logging
import math
import os
import signal
import struct
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

HEADER = struct.Struct(">I")
#: Sanity bound on one frame; Lambda's synchronous payload limit is 6 MB, events
#: from API Gateway are at most 10 MB (base64 grows that by a third).
MAX_FRAME_BYTES = 64 * 1024 * 1024
#: Lambda refuses synchronous responses above this size (Function.ResponseSizeTooLarge).
MAX_RESPONSE_BYTES = 6 * 1024 * 1024


class ProtocolError(Exception):
    """A frame could not be read: the peer closed the pipe or sent garbage."""


def encode_frame(message: dict[str, Any]) -> bytes:
    """Serialise one message as a length-prefixed JSON frame."""
    body = json.dumps(message, separators=(",", ":")).encode("utf-8")
    if len(body) > MAX_FRAME_BYTES:
        raise ProtocolError(f"frame of {len(body)} bytes exceeds {MAX_FRAME_BYTES}")
    return HEADER.pack(len(body)) + body


def decode_body(body: bytes) -> dict[str, Any]:
    """Parse a frame body; anything but a JSON object is a protocol error."""
    try:
        message = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProtocolError(f"malformed frame: {exc}") from exc
    if not isinstance(message, dict):
        raise ProtocolError("malformed frame: not a JSON object")
    return message


def _read_exact_blocking(fd: int, size: int) -> bytes:
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise ProtocolError("pipe closed")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int) -> dict[str, Any]:
    """Read one frame from a blocking fd (the worker side; the server reads with a deadline)."""
    (size,) = HEADER.unpack(_read_exact_blocking(fd, HEADER.size))
    if size > MAX_FRAME_BYTES:
        raise ProtocolError(f"frame of {size} bytes exceeds {MAX_FRAME_BYTES}")
    return decode_body(_read_exact_blocking(fd, size))


def write_all(fd: int, data: bytes) -> None:
    """``os.write`` may write less than asked on a pipe; loop until everything is out."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def make_error(message: str, error_type: str, stack: list[str], request_id: str) -> dict[str, Any]:
    """Lambda's error document, with the keys the Python runtime interface client sends.

    ``requestId`` matters beyond fidelity: SAM CLI 1.170.0's ``LambdaOutputParser``
    only recognises 2-3 key error documents, so this 4-key document takes the same
    path as with SAM's real python3.13 image: "invalid API Gateway response keys",
    HTTP 502 -- which is also what API Gateway answers for a failed function.
    """
    return {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": request_id,
        "stackTrace": stack,
    }


class LambdaContext:
    """The context object Lambda passes to a Python handler (same attribute names)."""

    def __init__(
        self,
        request_id: str,
        deadline_ms: int,
        tenant_id: str | None,
    ) -> None:
        env = os.environ
        region = env.get("AWS_REGION", "us-east-1")
        account = env.get("AWS_ACCOUNT_ID", "123456789012")
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = (
            f"arn:aws:lambda:{region}:{account}:function:{self.function_name}"
        )
        self.memory_limit_in_mb = int(env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.aws_request_id = request_id
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity: Any = None
        self.client_context: Any = None
        self.tenant_id = tenant_id
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds until the server kills this invocation (Lambda's Timeout)."""
        return max(0, self._deadline_ms - int(time.time() * 1000))

    def log(self, msg: str) -> None:
        """``context.log`` writes to the function's log stream, like on Lambda."""
        sys.stdout.write(msg)
        sys.stdout.flush()

    def __repr__(self) -> str:
        return (
            f"LambdaContext(function_name={self.function_name!r}, "
            f"aws_request_id={self.aws_request_id!r})"
        )


_CURRENT_REQUEST_ID = ""


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = _CURRENT_REQUEST_ID
        return True


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)),
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            "requestId": getattr(record, "aws_request_id", ""),
        }
        if record.exc_info:
            doc["stackTrace"] = traceback.format_exception(*record.exc_info)
        return json.dumps(doc, default=str)


def _setup_logging() -> None:
    """Install a root handler like the Lambda runtime does (format/level from env)."""
    json_format = os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON"
    handler = logging.StreamHandler(sys.stdout)
    if json_format:
        handler.setFormatter(_JsonFormatter())
    else:
        formatter = logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
            "%Y-%m-%dT%H:%M:%S",
        )
        formatter.converter = time.gmtime
        handler.setFormatter(formatter)
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    # getLevelName maps a known name to its number (a str back for unknown names);
    # getLevelNamesMapping would be clearer but is 3.11+, and runtimes go back to 3.9.
    if level and isinstance(logging.getLevelName(level), int):
        root.setLevel(level)


def _log_error(error: dict[str, Any]) -> None:
    """Write an unhandled error to the function log, as the runtime does."""
    if os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON":
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        line = json.dumps({"timestamp": stamp, "level": "ERROR", **error})
    else:
        lines = [f"[ERROR] {error['errorType']}: {error['errorMessage']}"]
        if error["stackTrace"]:
            lines += ["Traceback (most recent call last):", *error["stackTrace"]]
        line = "\n".join(lines)
    sys.stdout.write(line.rstrip("\n") + "\n")
    sys.stdout.flush()


def _json_default(value: Any) -> Any:
    # The Lambda runtime's marshaller serialises Decimal (DynamoDB numbers).
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _user_frames(tb: Any) -> list[str]:
    frames = traceback.extract_tb(tb)
    here = os.path.abspath(__file__)
    frames = traceback.StackSummary.from_list(
        [f for f in frames if os.path.abspath(f.filename) != here]
    )
    return traceback.format_list(frames)


def load_handler(handler: str) -> Callable[[Any, Any], Any]:
    """Import ``module.function`` like the runtime does; errors carry Lambda's error types."""
    try:
        module_name, function_name = handler.rsplit(".", 1)
    except ValueError as exc:
        raise InitError("Runtime.MalformedHandlerName", f"Bad handler '{handler}': {exc}") from exc
    try:
        if module_name.split(".")[0] in sys.builtin_module_names:
            raise InitError(
                "Runtime.BuiltInModuleConflict",
                f"Cannot use built-in module {module_name} as a handler module",
            )
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        raise InitError(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}"
        ) from exc
    except SyntaxError as exc:
        raise InitError(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}"
        ) from exc
    try:
        function = getattr(module, function_name)
    except AttributeError as exc:
        raise InitError(
            "Runtime.HandlerNotFound",
            f"Handler '{function_name}' missing on module '{module_name}'",
        ) from exc
    if not callable(function):
        raise InitError("Runtime.HandlerNotFound", f"Handler '{handler}' is not callable")
    return function  # type: ignore[no-any-return]


class InitError(Exception):
    """The handler could not be loaded; ``error_type`` is the Lambda runtime's name for why."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


def invoke(handler: Callable[[Any, Any], Any], request: dict[str, Any]) -> dict[str, Any]:
    """Run the handler for one invoke frame and build the result frame.

    Only ``Exception`` is caught: ``SystemExit`` (``sys.exit``) and
    ``KeyboardInterrupt`` end the worker, which the server treats as a crash.
    """
    global _CURRENT_REQUEST_ID  # noqa: PLW0603 -- the log filter reads it, as in the runtime
    request_id = str(request.get("id", ""))
    _CURRENT_REQUEST_ID = request_id
    context = LambdaContext(request_id, int(request["deadline_ms"]), request.get("tenant_id"))
    try:
        event = json.loads(request["event"])
        result = handler(event, context)
    except Exception as exc:
        error = make_error(
            str(exc), type(exc).__name__, _user_frames(exc.__traceback__), request_id
        )
        _log_error(error)
        return {"type": "result", "id": request_id, "payload": json.dumps(error), "error": True}
    try:
        payload = json.dumps(result, default=_json_default)
    except (TypeError, ValueError) as exc:
        error = make_error(
            f"Unable to marshal response: {exc}", "Runtime.MarshalError", [], request_id
        )
        _log_error(error)
        return {"type": "result", "id": request_id, "payload": json.dumps(error), "error": True}
    if len(payload.encode("utf-8")) > MAX_RESPONSE_BYTES:
        error = make_error(
            "Response payload size exceeded maximum allowed payload size "
            f"({MAX_RESPONSE_BYTES} bytes).",
            "Function.ResponseSizeTooLarge",
            [],
            request_id,
        )
        _log_error(error)
        return {"type": "result", "id": request_id, "payload": json.dumps(error), "error": True}
    return {"type": "result", "id": request_id, "payload": payload, "error": False}


def _max_rss_mb() -> int:
    try:
        import resource  # noqa: PLC0415 -- POSIX only; a missing module just drops the figure
    except ImportError:  # pragma: no cover
        return 0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024)


def _report_line(request_id: str, duration_ms: float, init_ms: float | None) -> str:
    """Lambda's REPORT line; ``Init Duration`` only on a worker's first invocation."""
    memory = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "?")
    line = (
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
        f"Billed Duration: {max(1, math.ceil(duration_ms))} ms\tMemory Size: {memory} MB\t"
        f"Max Memory Used: {_max_rss_mb()} MB"
    )
    if init_ms is not None:
        line += f"\tInit Duration: {init_ms:.2f} ms"
    return line


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="localapi worker (started by the server)")
    parser.add_argument("--request-fd", type=int, required=True)
    parser.add_argument("--response-fd", type=int, required=True)
    parser.add_argument("--handler", required=True)
    parser.add_argument("--code-dir", required=True)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Import the handler, report readiness, then answer invoke frames until EOF."""
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    # The server owns the terminal: Ctrl+C is for it, and it stops us by PID.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    req_fd, resp_fd = args.request_fd, args.response_fd
    # Subprocesses the handler may start must not inherit the protocol pipes.
    os.set_inheritable(req_fd, False)
    os.set_inheritable(resp_fd, False)

    # /var/task semantics: the code directory is the cwd and first on sys.path.
    code_dir = os.path.abspath(args.code_dir)
    os.chdir(code_dir)
    sys.path.insert(0, code_dir)
    _setup_logging()

    started = time.perf_counter()
    handler: Callable[[Any, Any], Any] | None = None
    init_error: dict[str, Any] | None = None
    try:
        handler = load_handler(args.handler)
    except InitError as exc:
        init_error = make_error(exc.message, exc.error_type, _user_frames(exc.__traceback__), "")
    except Exception as exc:
        init_error = make_error(str(exc), type(exc).__name__, _user_frames(exc.__traceback__), "")
    init_ms = round((time.perf_counter() - started) * 1000, 1)

    if init_error is not None:
        _log_error(init_error)
        write_all(
            resp_fd, encode_frame({"type": "init_error", "pid": os.getpid(), "error": init_error})
        )
    else:
        write_all(resp_fd, encode_frame({"type": "ready", "pid": os.getpid(), "init_ms": init_ms}))

    first = True
    while True:
        try:
            request = read_frame(req_fd)
        except ProtocolError:
            return 0  # the server closed the pipe (shutdown) or went away
        if request.get("type") != "invoke":
            continue
        request_id = str(request.get("id", ""))
        sys.stdout.write(f"START RequestId: {request_id} Version: $LATEST\n")
        began = time.perf_counter()
        if handler is None:
            assert init_error is not None
            error = dict(init_error, requestId=request_id)
            reply = {
                "type": "result",
                "id": request_id,
                "payload": json.dumps(error),
                "error": True,
            }
        else:
            reply = invoke(handler, request)
        duration_ms = (time.perf_counter() - began) * 1000
        sys.stdout.write(f"END RequestId: {request_id}\n")
        sys.stdout.write(_report_line(request_id, duration_ms, init_ms if first else None) + "\n")
        first = False
        sys.stdout.flush()
        sys.stderr.flush()
        write_all(resp_fd, encode_frame(reply))


if __name__ == "__main__":
    sys.exit(main())
