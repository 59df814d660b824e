"""What API Gateway does with a request before any function runs, for the local API.

SAM CLI's local API (Flask on werkzeug's development server) trusts the client: it
reads whatever body it is sent, of any size, with a chunk decoder that never notices
a client that went away, and it cannot put a body that is not UTF-8 into a REST
proxy event (it answers 502 instead). API Gateway is a hostile-internet front door
and behaves differently; this module makes the local API behave like it:

* **Body size.** API Gateway refuses payloads over 10 MB (its REST API quota
  "Payload size": 10 MB); here that is ``MAX_BODY_BYTES`` = 10 MiB, refused with
  413 *before* the body is read: at once when ``Content-Length`` says so, and for a
  chunked body as soon as the declared chunk sizes pass the limit.
* **Lambda's invoke limit.** A synchronous invocation's payload (the event) is at
  most 6 MB (6,291,456 bytes); a bigger event is refused by Lambda, and the client
  of API Gateway gets 413. A body that alone passes that limit is refused here, before
  SAM builds the event; otherwise the local runtime checks the event itself
  (:class:`InvokePayloadTooLarge`, answered with the same 413).
* **Malformed framing.** A chunk header that is not hex, a chunk cut short by the
  client closing the connection, a body shorter than its ``Content-Length``:
  400 at once, never a wait and never a read past the limit.
* **Bodies that are not UTF-8.** Without binary media types (this kit configures
  none) a REST API handles payloads as UTF-8 text: AWS documents that by default
  "the REST API supports only UTF-8-encoded text payloads" (``RestApi.binaryMediaTypes``
  in the API Gateway API reference), and what arrives in the function for other
  bytes is each invalid sequence replaced by U+FFFD, ``isBase64Encoded`` false
  (reported from real deployments: aws/aws-lambda-go#331, a 280,432-byte upload
  arriving as a 509,869-byte string; aws/serverless-java-container#235, "byte size
  seems to double"). :func:`as_gateway_text` hands the function exactly that, so
  its own 400/415 answers are reachable instead of SAM's 502. A body whose media
  type *is* a configured binary type is left alone (SAM base64-encodes it).

Refusals use the kit's one error shape for 413 (``PAYLOAD_TOO_LARGE``, what the
function itself answers for a body over its own limit) and API Gateway's
``{"message": ...}`` for malformed HTTP, which never reaches an API at all. No
refusal quotes anything the client sent, and the connection is closed after it
(werkzeug's server keeps none open). The log line names the method and path only
(no query string: it may carry tokens).
"""

from __future__ import annotations

import io
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterable
from typing import IO, Any, Final, Protocol

LOG = logging.getLogger("localapi")

#: API Gateway's REST payload quota, 10 MB, read as 10 MiB.
MAX_BODY_BYTES: Final = 10 * 1024 * 1024
#: Lambda's synchronous invocation payload quota, 6 MB = 6,291,456 bytes of event JSON.
MAX_INVOKE_PAYLOAD_BYTES: Final = 6 * 1024 * 1024
#: A chunk-size line: up to 16 hex digits, optional extensions, CRLF (bounded read).
MAX_CHUNK_LINE_BYTES: Final = 1024
#: Trailer lines after the last chunk (each at most MAX_CHUNK_LINE_BYTES).
MAX_TRAILER_LINES: Final = 32
#: After a refusal the server still drains what the client sends (so the client can
#: read the answer); a client that stops sending is dropped after this long.
REFUSED_DRAIN_TIMEOUT_S: Final = 2.0
#: Environ key of a callable the server puts there: read nothing more from this client.
DISCARD_INPUT: Final = "localapi.discard_input"

_HEX_SIZE: Final = re.compile(rb"[0-9A-Fa-f]{1,16}")
_MAX_LOGGED_PATH_CHARS: Final = 256
_DIGITS: Final = re.compile(r"[0-9]+")
_READ_SLICE: Final = 64 * 1024

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class ByteSource(Protocol):
    """What the chunk decoder reads from: the connection's buffered reader."""

    def read(self, size: int = -1, /) -> bytes: ...

    def readline(self, size: int = -1, /) -> bytes: ...


def gateway_document(message: str) -> bytes:
    """API Gateway's own error shape, ``{"message": "..."}``."""
    return json.dumps({"message": message}, separators=(",", ":")).encode("utf-8")


def too_large_document(message: str) -> bytes:
    """The kit's error shape for 413 (the function's own ``PAYLOAD_TOO_LARGE``), with a
    fresh request id like any answer of the API."""
    error = {"code": "PAYLOAD_TOO_LARGE", "message": message, "request_id": str(uuid.uuid4())}
    return json.dumps({"error": error}, separators=(",", ":")).encode("utf-8")


class RequestRefused(Exception):
    """A request the front door answers itself: 400, API Gateway's shape."""

    status_line = "400 Bad Request"

    @property
    def status(self) -> int:
        return int(self.status_line.split()[0])

    def document(self) -> bytes:
        """The answer's body; never quotes the request."""
        return gateway_document(self.status_line.split(" ", 1)[1])


class MalformedBody(RequestRefused):
    """The body's framing is broken (bad chunk header, cut short, bad Content-Length)."""


class BodyTimeout(RequestRefused):
    """The client stopped sending its body."""

    status_line = "408 Request Timeout"


class BodyTooLarge(RequestRefused):
    """The body is (or declares to be) over API Gateway's payload limit."""

    status_line = "413 Request Entity Too Large"

    def document(self) -> bytes:
        return too_large_document(
            f"The request body is larger than {MAX_BODY_BYTES} bytes, API Gateway's payload limit."
        )


class InvokePayloadTooLarge(BodyTooLarge):
    """The event would be over Lambda's synchronous payload quota: Lambda refuses the
    Invoke and API Gateway answers 413. Raised by the guard when the body alone is
    too big, else by the local runtime on the event itself."""

    def __init__(self, size: int) -> None:
        super().__init__(
            f"event of {size}+ bytes is over Lambda's {MAX_INVOKE_PAYLOAD_BYTES}-byte invoke limit"
        )
        self.size = size

    def document(self) -> bytes:
        return too_large_document(
            f"The request is larger than the {MAX_INVOKE_PAYLOAD_BYTES} bytes Lambda accepts."
        )


def loggable_path(path: str) -> str:
    """A request path fit for a log line: control characters escaped, length bounded.

    Only the path: a query string may carry tokens, so it is never logged.
    """
    short = path[:_MAX_LOGGED_PATH_CHARS]
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in short)


# --------------------------------------------------------------------------- chunked bodies


class ChunkedReader(io.RawIOBase):
    """``Transfer-Encoding: chunked`` decoded within a byte budget.

    Replaces werkzeug's development-server decoder, which counts a read that returned
    nothing (the client closed the connection) as a full one and never ends. Here a
    chunk size is checked against the budget *before* anything is read (so
    ``FFFFFFFFFFFFFFFF`` is refused at once), and end of input inside the body is an
    error, never an empty read that looks like progress.
    """

    def __init__(self, rfile: ByteSource, limit: int = MAX_BODY_BYTES) -> None:
        super().__init__()
        self._rfile = rfile
        self._limit = limit
        self._declared = 0  # sum of the chunk sizes seen so far
        self._left = 0  # bytes left in the current chunk
        self._done = False

    def readable(self) -> bool:
        return True

    def _line(self, what: str) -> bytes:
        line = self._rfile.readline(MAX_CHUNK_LINE_BYTES + 1)
        if not line.endswith(b"\n"):
            raise MalformedBody(f"{what}: connection closed or line too long")
        return line.rstrip(b"\r\n")

    def _next_chunk(self) -> None:
        size_field = self._line("chunk header").split(b";", 1)[0].strip(b" \t")
        if not _HEX_SIZE.fullmatch(size_field):
            raise MalformedBody("chunk header is not a hexadecimal size")
        size = int(size_field, 16)
        if self._declared + size > self._limit:
            raise BodyTooLarge(f"chunked body over {self._limit} bytes")
        self._declared += size
        if size:
            self._left = size
            return
        for _ in range(MAX_TRAILER_LINES):  # the last chunk: trailers, then an empty line
            if not self._line("trailer"):
                self._done = True
                return
        raise MalformedBody("too many trailer lines")

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        while not self._done and self._left == 0:
            self._next_chunk()
        if self._done or not len(view):
            return 0
        data = self._rfile.read(min(len(view), self._left))
        if not data:
            raise MalformedBody("connection closed inside a chunk")
        view[: len(data)] = data
        self._left -= len(data)
        if self._left == 0 and self._line("chunk end"):
            raise MalformedBody("chunk data longer than its size")
        return len(data)


# --------------------------------------------------------------------------- bodies


def declared_length(environ: dict[str, Any]) -> int:
    """``Content-Length`` as an integer (0 when absent); garbage is a 400."""
    text = str(environ.get("CONTENT_LENGTH") or "").strip()
    if not text:
        return 0
    if not _DIGITS.fullmatch(text):
        raise MalformedBody("Content-Length is not a number")
    return int(text)


def _read_to_end(stream: IO[bytes], limit: int) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        data = stream.read(min(_READ_SLICE, limit + 1 - total))
        if not data:
            return b"".join(parts)
        total += len(data)
        if total > limit:
            raise BodyTooLarge(f"body over {limit} bytes")
        parts.append(data)


def read_body(environ: dict[str, Any], limit: int = MAX_BODY_BYTES) -> bytes:
    """The whole request body, at most ``limit`` bytes; refuses before reading when it can."""
    stream: IO[bytes] = environ["wsgi.input"]
    try:
        if environ.get("wsgi.input_terminated"):  # chunked: the stream ends with the body
            return _read_to_end(stream, limit)
        length = declared_length(environ)
        if length > limit:
            raise BodyTooLarge(f"Content-Length {length} over {limit} bytes")
        data = stream.read(length) if length else b""
    except TimeoutError:
        raise BodyTimeout("the client stopped sending its body") from None
    except OSError as exc:
        raise MalformedBody(f"the body could not be read ({type(exc).__name__})") from None
    if len(data) < length:
        raise MalformedBody("connection closed before Content-Length bytes arrived")
    return data


def media_type(content_type: str | None) -> str:
    """``application/json`` from ``Application/JSON; charset=utf-8`` (as Flask's mimetype)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_binary(content_type: str | None, binary_media_types: Iterable[str]) -> bool:
    """SAM's rule for base64-encoding a request body (``_should_base64_encode``)."""
    types = set(binary_media_types)
    return "*/*" in types or media_type(content_type) in types


def as_gateway_text(body: bytes) -> bytes:
    """A body that is not binary, as a REST API passes it on: UTF-8 text, each invalid
    byte sequence replaced by U+FFFD (see the module docstring)."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("utf-8", "replace").encode("utf-8")
    return body


# --------------------------------------------------------------------------- answers

_SECURITY_HEADERS: Final = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


def event_size_floor(body: bytes, binary: bool) -> int:
    """Bytes the event needs for this body at least: the body goes in whole (base64 when
    binary), and JSON escaping only adds to it."""
    return 4 * ((len(body) + 2) // 3) if binary else len(body)


def answer_headers(body: bytes) -> list[tuple[str, str]]:
    """Headers of every refusal (werkzeug's server adds ``Connection: close`` itself)."""
    headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
    return list({**headers, **_SECURITY_HEADERS}.items())


def invoke_too_large_answer(exc: InvokePayloadTooLarge) -> tuple[bytes, int, dict[str, str]]:
    """The Flask answer for an event over Lambda's limit, raised by the runtime."""
    LOG.warning("localapi: request refused with %d: %s", exc.status, exc)
    body = exc.document()
    return body, exc.status, dict(answer_headers(body))


# --------------------------------------------------------------------------- middleware


class RequestGuard:
    """WSGI middleware in front of SAM's Flask app: size limits, framing, text bodies."""

    def __init__(
        self, app: WsgiApp, binary_media_types: Iterable[str] = (), limit: int = MAX_BODY_BYTES
    ) -> None:
        self.app = app
        self.binary_media_types = frozenset(binary_media_types)
        self.limit = limit

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            body = read_body(environ, self.limit)
            binary = is_binary(environ.get("CONTENT_TYPE"), self.binary_media_types)
            if event_size_floor(body, binary) > MAX_INVOKE_PAYLOAD_BYTES:
                raise InvokePayloadTooLarge(event_size_floor(body, binary))
        except RequestRefused as refused:
            return self._refuse(environ, start_response, refused)
        if not binary:
            body = as_gateway_text(body)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["wsgi.input_terminated"] = True  # read to the end; Content-Length stays as sent
        return self.app(environ, start_response)

    def _refuse(
        self, environ: dict[str, Any], start_response: StartResponse, refused: RequestRefused
    ) -> list[bytes]:
        LOG.warning(
            "localapi: %s %s refused with %d: %s",
            loggable_path(str(environ.get("REQUEST_METHOD", "?"))),
            loggable_path(str(environ.get("PATH_INFO", "?"))),
            refused.status,
            refused,
        )
        discard = environ.get(DISCARD_INPUT)
        sock = environ.get("werkzeug.socket")
        if isinstance(refused, BodyTimeout) and discard is not None:
            discard()  # the connection timed out: nothing more can be read from it
        elif sock is not None:  # what the client still sends is drained, but not forever
            sock.settimeout(REFUSED_DRAIN_TIMEOUT_S)
        body = refused.document()
        start_response(refused.status_line, answer_headers(body))
        return [body]
