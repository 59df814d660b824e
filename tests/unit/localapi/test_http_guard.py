"""The local API's front door (localapi.http_guard, localapi.http_server) on its own.

Each limit is checked where it is decided, without a server: the chunk decoder against
byte streams, the body reader against environs whose stream refuses to be read (so
"refused before reading" is proven, not assumed), the middleware against a recording
WSGI app. tests/integration/test_hostile_http.py sends the same attacks over sockets.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from typing import Any

import pytest

from localapi.http_guard import (
    MAX_BODY_BYTES,
    MAX_INVOKE_PAYLOAD_BYTES,
    BodyTimeout,
    BodyTooLarge,
    ChunkedReader,
    InvokePayloadTooLarge,
    MalformedBody,
    RequestGuard,
    as_gateway_text,
    event_size_floor,
    invoke_too_large_answer,
    read_body,
)
from localapi.http_server import MALFORMED_REQUEST, request_summary

MARKER = "marker-7f3a"


class Untouchable(io.RawIOBase):
    """A body stream that fails the test if anything reads it."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise AssertionError("the body was read")

    def readline(self, size: int | None = -1) -> bytes:
        raise AssertionError("the body was read")


class Silent(io.RawIOBase):
    """A client that stopped sending: every read times out, like a socket with a timeout."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise TimeoutError("timed out")


def chunked(*parts: bytes, ending: bytes = b"0\r\n\r\n") -> io.BytesIO:
    framed = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts) + ending
    return io.BytesIO(framed)


def decode(source: io.BytesIO, limit: int = MAX_BODY_BYTES) -> bytes:
    return ChunkedReader(source, limit).readall()


# --------------------------------------------------------------------------- chunked bodies


def test_a_chunked_body_is_decoded() -> None:
    assert decode(chunked(b"hello ", b"world")) == b"hello world"


def test_chunk_extensions_and_trailers_are_accepted() -> None:
    raw = b"5;name=value\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n"
    assert decode(io.BytesIO(raw)) == b"hello"


def test_a_huge_chunk_size_is_refused_before_its_data_is_read() -> None:
    source = io.BytesIO(b"FFFFFFFFFFFFFFFF\r\nabc")
    with pytest.raises(BodyTooLarge):
        decode(source)
    assert source.read() == b"abc"  # nothing of the chunk was consumed


def test_chunks_adding_up_past_the_limit_are_refused() -> None:
    with pytest.raises(BodyTooLarge):
        decode(chunked(b"x" * 60, b"y" * 60), limit=100)
    assert decode(chunked(b"x" * 50, b"y" * 50), limit=100) == b"x" * 50 + b"y" * 50


@pytest.mark.parametrize(
    "raw",
    [
        b"FFFFFFFFFFFFFFFF\r\nabc",  # the client closes inside the chunk
        b"5\r\nhel",  # closed inside a small chunk
        b"5\r\nhello",  # closed before the chunk's CRLF
        b"5\r\nhello\r\n",  # closed before the last chunk
        b"",  # closed before the first chunk header
    ],
)
def test_end_of_input_inside_the_body_is_an_error_not_progress(raw: bytes) -> None:
    source = io.BytesIO(raw)
    with pytest.raises((MalformedBody, BodyTooLarge)):
        decode(source, limit=2**70)


@pytest.mark.parametrize("header", [b"0x10", b"+5", b"1_0", b"-1", b"zz", b"", b"1" * 17, b"5 5"])
def test_a_chunk_size_that_is_not_plain_hex_is_refused(header: bytes) -> None:
    source = io.BytesIO(header + b"\r\n" + b"x" * 32 + b"\r\n0\r\n\r\n")
    with pytest.raises(MalformedBody):
        decode(source)


def test_chunk_data_longer_than_its_size_is_refused() -> None:
    source = io.BytesIO(b"3\r\nhello\r\n0\r\n\r\n")
    with pytest.raises(MalformedBody):
        decode(source)


def test_endless_header_and_trailer_lines_are_refused() -> None:
    with pytest.raises(MalformedBody):
        decode(io.BytesIO(b"5;" + b"x" * 5000 + b"\r\n"))
    trailers = b"0\r\n" + b"X-T: 1\r\n" * 100 + b"\r\n"
    with pytest.raises(MalformedBody):
        decode(io.BytesIO(trailers))


# --------------------------------------------------------------------------- read_body


def environ(stream: io.RawIOBase | io.BytesIO, **extra: Any) -> dict[str, Any]:
    return {"wsgi.input": stream, "REQUEST_METHOD": "POST", "PATH_INFO": "/echo", **extra}


@pytest.mark.parametrize("length", [str(MAX_BODY_BYTES + 1), "300000000", "1" + "0" * 20])
def test_a_declared_length_over_the_limit_is_refused_without_reading(length: str) -> None:
    with pytest.raises(BodyTooLarge):
        read_body(environ(Untouchable(), CONTENT_LENGTH=length))


@pytest.mark.parametrize("length", ["-1", "abc", "1e3", "0x10", "5, 5"])
def test_a_content_length_that_is_not_a_number_is_refused(length: str) -> None:
    with pytest.raises(MalformedBody):
        read_body(environ(Untouchable(), CONTENT_LENGTH=length))


def test_a_body_shorter_than_its_content_length_is_refused() -> None:
    with pytest.raises(MalformedBody):
        read_body(environ(io.BytesIO(b"abc"), CONTENT_LENGTH="10"))


def test_a_client_that_stops_sending_gets_408() -> None:
    with pytest.raises(BodyTimeout) as refused:
        read_body(environ(Silent(), CONTENT_LENGTH="10"))
    assert refused.value.status == 408


def test_a_chunked_body_over_the_limit_is_refused_while_reading() -> None:
    stream = ChunkedReader(chunked(b"x" * 70, b"y" * 70), limit=100)
    with pytest.raises(BodyTooLarge):
        read_body(environ(stream, **{"wsgi.input_terminated": True}), limit=100)


def test_a_terminated_stream_without_chunk_sizes_is_still_bounded() -> None:
    stream = io.BytesIO(b"z" * 1000)
    with pytest.raises(BodyTooLarge):
        read_body(environ(stream, **{"wsgi.input_terminated": True}), limit=100)
    assert stream.tell() == 101  # stopped one byte past the limit


def test_a_normal_body_is_read_whole() -> None:
    assert read_body(environ(io.BytesIO(b'{"a": 1}'), CONTENT_LENGTH="8")) == b'{"a": 1}'
    assert read_body(environ(Untouchable())) == b""  # no Content-Length: no body


# --------------------------------------------------------------------------- text bodies


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"\xff\xfe", "\ufffd\ufffd"),
        (b'{"message": "\xff"}', '{"message": "\ufffd"}'),
        ("{}".encode("utf-16"), "\ufffd\ufffd{\x00}\x00"),
        (b"\xe2\x82", "\ufffd"),  # a truncated sequence is one replacement
    ],
)
def test_bytes_that_are_not_utf8_become_replacement_characters(raw: bytes, text: str) -> None:
    assert as_gateway_text(raw).decode("utf-8") == text


def test_utf8_bodies_pass_unchanged() -> None:
    body = '{"message": "héllo \U0001f600"}'.encode()
    assert as_gateway_text(body) is body


def test_the_event_size_floor_counts_base64_for_binary_bodies() -> None:
    assert event_size_floor(b"x" * 300, binary=False) == 300
    assert event_size_floor(b"x" * 300, binary=True) == 400
    assert event_size_floor(b"x" * 301, binary=True) == 404


# --------------------------------------------------------------------------- the middleware


class Recorder:
    """A WSGI app that records the body it was given and answers 200."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.bodies.append(environ["wsgi.input"].read())
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]


def call(
    guard: RequestGuard, body: bytes | io.RawIOBase | io.BytesIO, **extra: Any
) -> tuple[str, dict[str, str], bytes]:
    stream = io.BytesIO(body) if isinstance(body, bytes) else body
    env = environ(stream, **extra)
    if isinstance(body, bytes) and "CONTENT_LENGTH" not in extra:
        env["CONTENT_LENGTH"] = str(len(body))
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen.update(status=status, headers=dict(headers))

    answer = b"".join(guard(env, start_response))
    return seen["status"], seen["headers"], answer


def test_the_function_gets_text_as_a_rest_api_would_hand_it() -> None:
    app = Recorder()
    status, _, _ = call(RequestGuard(app), b"\xff\xfe", CONTENT_TYPE="application/json")
    assert status == "200 OK"
    assert app.bodies == ["\ufffd\ufffd".encode()]


def test_a_binary_media_type_is_passed_on_untouched() -> None:
    app = Recorder()
    call(RequestGuard(app, ["image/png"]), b"\x89PNG\xff", CONTENT_TYPE="image/png")
    call(RequestGuard(app, ["*/*"]), b"\xff", CONTENT_TYPE="application/json")
    assert app.bodies == [b"\x89PNG\xff", b"\xff"]


def test_a_body_over_the_gateway_limit_gets_413_in_the_kit_shape() -> None:
    app = Recorder()
    status, headers, answer = call(
        RequestGuard(app), Untouchable(), CONTENT_LENGTH=str(MAX_BODY_BYTES + 1)
    )
    assert status.startswith("413 ") and app.bodies == []
    assert headers["Content-Type"] == "application/json"
    assert headers["Content-Length"] == str(len(answer))
    error = json.loads(answer)["error"]
    assert error["code"] == "PAYLOAD_TOO_LARGE" and str(MAX_BODY_BYTES) in error["message"]
    assert set(error) == {"code", "message", "request_id"}


def test_a_body_that_cannot_fit_a_lambda_event_gets_413_before_sam_sees_it() -> None:
    app = Recorder()
    status, _, answer = call(RequestGuard(app), b"a" * (MAX_INVOKE_PAYLOAD_BYTES + 1))
    assert status.startswith("413 ") and app.bodies == []
    assert str(MAX_INVOKE_PAYLOAD_BYTES) in json.loads(answer)["error"]["message"]
    status, _, _ = call(RequestGuard(app), b"a" * (MAX_INVOKE_PAYLOAD_BYTES - 1000))
    assert status == "200 OK"


def test_malformed_framing_gets_the_gateway_shape_without_quoting_the_request() -> None:
    app = Recorder()
    status, _, answer = call(RequestGuard(app), io.BytesIO(b""), CONTENT_LENGTH=f"{MARKER}")
    assert status == "400 Bad Request" and app.bodies == []
    assert json.loads(answer) == {"message": "Bad Request"}
    assert MARKER not in answer.decode()


def test_the_runtime_refusal_is_answered_like_the_guard_s() -> None:
    body, status, headers = invoke_too_large_answer(InvokePayloadTooLarge(7_000_000))
    assert status == 413 and headers["Content-Type"] == "application/json"
    assert json.loads(body)["error"]["code"] == "PAYLOAD_TOO_LARGE"


# --------------------------------------------------------------------------- access log


@pytest.mark.parametrize(
    ("command", "target", "version", "expected"),
    [
        ("POST", f"/echo?token={MARKER}", "HTTP/1.1", "POST /echo HTTP/1.1"),
        ("GET", f"http://127.0.0.1:3000/a/b?{MARKER}", "HTTP/1.1", "GET /a/b HTTP/1.1"),
        ("GET", "/a\x1b[31mb", "HTTP/1.1", "GET /a\\x1b[31mb HTTP/1.1"),
        (None, None, "HTTP/0.9", MALFORMED_REQUEST),  # the request line could not be parsed
        ("", "", "", MALFORMED_REQUEST),
        ("GET", f"http://[::1{MARKER}/x", "HTTP/1.1", MALFORMED_REQUEST),
    ],
)
def test_the_access_log_line_has_the_method_and_path_only(
    command: str | None, target: str | None, version: str, expected: str
) -> None:
    assert request_summary(command, target, version) == expected


def test_a_long_path_is_truncated_in_the_log() -> None:
    line = request_summary("GET", "/" + "a" * 10_000, "HTTP/1.1")
    assert len(line) < 300
