"""Hostile HTTP against ``python -m localapi serve``: the probes of issue 17, kept as tests.

Each attack goes over a raw socket (or ``requests`` where HTTP is well formed) to a
server of the built API started for this module, bound to 127.0.0.1 and stopped by PID.
The server runs under an address-space limit (``RLIMIT_AS``, inherited by its workers),
so a memory regression ends in a MemoryError in that process, never in CI's
out-of-memory killer. During every attack (:func:`under_attack`):

* a concurrent ``GET /health`` answers 200 within one second, again and again;
* the server's resident memory (``VmRSS`` in /proc) stays under 512 MB;
* its worker processes are the same PIDs afterwards (none leaked, none lost, no zombie),
  and the server's log has no traceback.

The probes, and what each got before localapi.http_guard / localapi.http_server:

* chunk size ``FFFFFFFFFFFFFFFF``, a few bytes, then the client closes: memory grew about
  290 MB/s until the server was killed. Now 413 at once, memory flat.
* 300 MB and 70 MB bodies (Content-Length and chunked): 1.5 GB after a 502, and a
  ``ProtocolError`` traceback at 70 MB. Now 413 (the kit's error shape) before the body
  is read.
* ``Content-Length: 100000000000000000000``: a thread held until the client gave up.
  Now 413 before any body byte is sent, and the connection let go of within seconds; a
  client that goes silent mid-request is dropped after 30 s.
* bodies that are not UTF-8: 502 from the event builder. Now the function's own answer.
* a token in the query string was in the access log, and a malformed request line was
  logged and echoed back. Now neither.
"""

from __future__ import annotations

import http.client
import json
import random
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests

if TYPE_CHECKING:  # conftest is not importable as a module here (no package); types only
    from conftest import ApiTarget, LocalServer

pytestmark = pytest.mark.slow

MIB = 1024 * 1024
RSS_CEILING_BYTES = 512 * MIB
ADDRESS_SPACE_LIMIT = 2048 * MIB
HEALTH_TIMEOUT_S = 1.0
HEALTH_EVERY_S = 0.1
SAMPLE_EVERY_S = 0.02
SOCKET_TIMEOUT_S = 20.0  # a hung exchange fails the test instead of blocking it
GATEWAY_LIMIT = 10 * MIB  # API Gateway's payload limit, as localapi.http_guard has it
SERVER_SOCKET_TIMEOUT_S = 30.0  # localapi.http_server.SOCKET_TIMEOUT_S
DRAIN_DEADLINE_S = 10.0  # well past the 2 s drain after a refusal, well short of 30 s
MARKER = "hostile-marker-5d1e"


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory, api: ApiTarget) -> Iterator[LocalServer]:
    """The built API (the `api` fixture made the build), under an address-space limit."""
    if not api.local or api.server is None:
        pytest.skip("raw-socket attacks on the local API only")
    from tests.integration.conftest import LocalServer

    server = LocalServer(
        api.server.template,
        tmp_path_factory.mktemp("hostile") / "server.log",
        extra_args=["--workers", "2"],
        address_space_limit=ADDRESS_SPACE_LIMIT,
    )
    with server.running(ready_path="/health"):
        yield server


# --------------------------------------------------------------------------- the watch


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


class Watch:
    """Samples the server's RSS and probes ``GET /health`` while an attack runs."""

    def __init__(self, server: LocalServer) -> None:
        assert server.proc is not None
        self.server = server
        self.pid = server.proc.pid
        self.peak_rss = rss_bytes(self.pid)
        self.health_ok = 0
        self.health_failures: list[str] = []
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._sample, daemon=True),
            threading.Thread(target=self._probe, daemon=True),
        ]

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak_rss = max(self.peak_rss, rss_bytes(self.pid))
            except (OSError, AssertionError):  # the server died: the checks say so
                return
            self._stop.wait(SAMPLE_EVERY_S)

    def _probe(self) -> None:
        with requests.Session() as session:
            while not self._stop.is_set():
                try:
                    response = session.get(self.server.url + "/health", timeout=HEALTH_TIMEOUT_S)
                    if response.status_code == 200 and response.json() == {"status": "ok"}:
                        self.health_ok += 1
                    else:
                        self.health_failures.append(f"{response.status_code} {response.text[:80]}")
                except requests.RequestException as exc:
                    self.health_failures.append(type(exc).__name__)
                self._stop.wait(HEALTH_EVERY_S)

    def __enter__(self) -> Watch:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)


def _settled_children(server: LocalServer, expected: set[int]) -> dict[int, str]:
    deadline = time.monotonic() + 10
    while True:
        children = server.children()
        if set(children) == expected and "Z" not in children.values():
            return children
        if time.monotonic() > deadline:
            return children
        time.sleep(0.1)


@contextmanager
def under_attack(server: LocalServer, linger_s: float = 1.0) -> Iterator[Watch]:
    """Run the body as an attack; then check health, memory, workers and the log."""
    children = server.children()
    assert children and "Z" not in children.values(), children
    before = set(children)
    log_before = len(server.log())
    with Watch(server) as watch:
        yield watch
        time.sleep(linger_s)  # what an attack does after its last byte shows up here
    assert server.proc is not None and server.proc.poll() is None, "the server died"
    assert watch.peak_rss < RSS_CEILING_BYTES, f"server RSS reached {watch.peak_rss / MIB:.0f} MB"
    assert watch.health_failures == [], f"GET /health failed: {watch.health_failures}"
    assert watch.health_ok >= 1
    after = _settled_children(server, before)
    assert set(after) == before and "Z" not in after.values(), f"workers {before}, then {after}"
    assert "Traceback" not in server.log()[log_before:]


# --------------------------------------------------------------------------- raw HTTP


def connect(server: LocalServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=SOCKET_TIMEOUT_S)


def read_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of the server's answer on a raw socket."""
    response = http.client.HTTPResponse(sock)
    response.begin()
    body = response.read()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, body


def head(method: str, path: str, *headers: str) -> bytes:
    """A request head carrying the marker in the query string and a header: no refusal
    may quote it."""
    target = f"{path}?token={MARKER}"
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", f"X-Note: {MARKER}", *headers]
    return "\r\n".join([*lines, "", ""]).encode("latin-1")


def assert_too_large(status: int, headers: dict[str, str], body: bytes) -> None:
    """413 in the kit's one error shape, quoting nothing the client sent."""
    assert status == 413, body[:300]
    assert headers["content-type"] == "application/json"
    error = json.loads(body)["error"]
    assert set(error) == {"code", "message", "request_id"}
    assert error["code"] == "PAYLOAD_TOO_LARGE"
    assert MARKER not in body.decode()


def send_body(sock: socket.socket, size: int, *, chunked: bool) -> None:
    """Send ``size`` bytes of body (1 MiB at a time) until done or the server stops reading."""
    piece = b"\0" * MIB
    sent = 0
    try:
        while sent < size:
            part = piece[: min(MIB, size - sent)]
            sock.sendall(b"%x\r\n%s\r\n" % (len(part), part) if chunked else part)
            sent += len(part)
        if chunked:
            sock.sendall(b"0\r\n\r\n")
    except OSError:  # the server answered and closed: the rest is never sent
        pass


# --------------------------------------------------------------------------- item 1


def test_an_endless_chunk_from_a_client_that_closes_leaves_memory_flat(
    target: LocalServer,
) -> None:
    with under_attack(target, linger_s=3.0):
        sock = connect(target)
        sock.sendall(
            head("POST", "/echo", "Content-Type: application/json", "Transfer-Encoding: chunked")
            + b"FFFFFFFFFFFFFFFF\r\nabc"
        )
        sock.close()


def test_an_endless_chunk_is_refused_with_413(target: LocalServer) -> None:
    with under_attack(target), connect(target) as sock:
        sock.sendall(
            head("POST", "/echo", "Transfer-Encoding: chunked") + b"FFFFFFFFFFFFFFFF\r\nabc"
        )
        assert_too_large(*read_answer(sock))


@pytest.mark.parametrize("chunk", [b"zz\r\n", b"5\r\nabc", b"-1\r\n"])
def test_a_malformed_chunk_is_400_at_once(target: LocalServer, chunk: bytes) -> None:
    with under_attack(target), connect(target) as sock:
        sock.sendall(head("POST", "/echo", "Transfer-Encoding: chunked") + chunk)
        if chunk.startswith(b"5"):
            sock.shutdown(socket.SHUT_WR)  # cut short: the client is gone
        status, _, body = read_answer(sock)
        assert status == 400 and json.loads(body) == {"message": "Bad Request"}


# --------------------------------------------------------------------------- items 2 and 5


@pytest.mark.parametrize("size_mb", [300, 70])
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_over_the_gateway_limit_is_413(
    target: LocalServer, size_mb: int, chunked: bool
) -> None:
    size = size_mb * 1_000_000
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"
    with under_attack(target), connect(target) as sock:
        sock.sendall(head("POST", "/echo", "Content-Type: application/json", framing))
        sender = threading.Thread(target=send_body, args=(sock, size), kwargs={"chunked": chunked})
        sender.start()
        answer = read_answer(sock)
        sock.shutdown(socket.SHUT_RDWR)
        sender.join(timeout=SOCKET_TIMEOUT_S)
        assert_too_large(*answer)


@pytest.mark.parametrize("length", [300_000_000, 70_000_000, GATEWAY_LIMIT + 1])
def test_a_declared_oversize_body_is_refused_before_a_byte_of_it_is_sent(
    target: LocalServer, length: int
) -> None:
    with under_attack(target), connect(target) as sock:
        sock.sendall(head("POST", "/echo", f"Content-Length: {length}"))
        assert_too_large(*read_answer(sock))


def test_an_absurd_content_length_is_refused_at_once(target: LocalServer) -> None:
    with under_attack(target), connect(target) as sock:
        sock.sendall(head("POST", "/echo", "Content-Length: 100000000000000000000") + b"abc")
        assert_too_large(*read_answer(sock))  # the client keeps the connection open
        # ... and goes on sending, slowly: drained, but the server lets go within seconds.
        sock.sendall(b"more")
        sock.settimeout(DRAIN_DEADLINE_S)
        assert sock.recv(1024) == b""


def test_a_silent_client_holds_a_connection_for_the_socket_timeout_at_most(
    target: LocalServer,
) -> None:
    """Half a request line, or half a body, then silence: closed (or 408) after 30 s."""
    with under_attack(target, linger_s=0.0), connect(target) as line, connect(target) as body:
        line.sendall(b"GET /health?token=" + MARKER.encode())
        body.sendall(head("POST", "/echo", "Content-Length: 100") + b"0123456789")
        started = time.monotonic()
        line.settimeout(SERVER_SOCKET_TIMEOUT_S + 15)
        assert line.recv(1024) == b""
        status, _, answer = read_answer(body)
        assert status == 408 and json.loads(answer) == {"message": "Request Timeout"}
        assert time.monotonic() - started < SERVER_SOCKET_TIMEOUT_S + 15


def test_a_body_at_the_gateway_limit_is_not_refused_by_the_gateway_check(
    target: LocalServer,
) -> None:
    """The control: 10 MiB exactly passes API Gateway's check (and then meets Lambda's)."""
    with under_attack(target), connect(target) as sock:
        sock.sendall(head("POST", "/echo", f"Content-Length: {GATEWAY_LIMIT}"))
        send_body(sock, GATEWAY_LIMIT, chunked=False)
        status, _, body = read_answer(sock)
        assert status == 413
        assert "Lambda" in json.loads(body)["error"]["message"]  # the 6 MB invoke limit


# --------------------------------------------------------------------------- item 3

NOT_UTF8 = {
    "ff-fe": b"\xff\xfe",
    "random-binary": random.Random(17).randbytes(4096),
    "utf-16-json": '{"message": "hello"}'.encode("utf-16"),
    "latin-1-json": '{"message": "caf\xe9"}'.encode("latin-1"),
}


@pytest.mark.parametrize("name", sorted(NOT_UTF8))
@pytest.mark.parametrize(
    ("content_type", "status", "code"),
    [
        ("application/json", 400, "MALFORMED_JSON"),
        ("application/octet-stream", 415, "UNSUPPORTED_MEDIA_TYPE"),
        ("application/json; charset=utf-16", 415, "UNSUPPORTED_MEDIA_TYPE"),
    ],
)
def test_a_body_that_is_not_utf8_gets_the_functions_own_answer(
    target: LocalServer, name: str, content_type: str, status: int, code: str
) -> None:
    body = NOT_UTF8[name]
    if name == "latin-1-json" and status == 400:  # valid JSON once U+FFFD replaces \xe9
        status, code = 200, ""
    with under_attack(target, linger_s=0.2):
        response = requests.post(
            target.url + "/echo",
            data=body,
            headers={"Content-Type": content_type},
            timeout=SOCKET_TIMEOUT_S,
        )
    assert response.status_code == status, response.text[:300]
    if code:
        assert response.json()["error"]["code"] == code
    else:
        assert response.json()["message"] == "caf\ufffd"


def test_a_big_body_that_is_not_utf8_is_413_not_5xx(target: LocalServer) -> None:
    """Under the 6 MB body floor, but its U+FFFD text is over Lambda's event limit."""
    with under_attack(target):
        response = requests.post(
            target.url + "/echo",
            data=b"\xff" * 6_000_000,
            headers={"Content-Type": "application/json"},
            timeout=SOCKET_TIMEOUT_S,
        )
    assert response.status_code == 413, response.text[:300]
    error = response.json()["error"]
    assert error["code"] == "PAYLOAD_TOO_LARGE"
    assert "6291456 bytes Lambda accepts" in error["message"]  # not the function's own 413


def test_the_function_gets_the_text_api_gateway_would_hand_it(fixture_server: LocalServer) -> None:
    response = requests.post(
        fixture_server.url + "/echo-back",
        data=b"ok \xff\xfe \xe2\x82 done",
        headers={"Content-Type": "text/plain"},
        timeout=SOCKET_TIMEOUT_S,
    )
    assert response.status_code == 200, response.text[:300]
    event = response.json()
    assert event["body"] == "ok \ufffd\ufffd \ufffd done"
    assert event["isBase64Encoded"] is False


# --------------------------------------------------------------------------- item 4


def test_query_string_tokens_stay_out_of_the_access_log(target: LocalServer) -> None:
    with requests.Session() as session:
        for method, path in [("GET", "/health"), ("POST", "/echo"), ("GET", "/nowhere")]:
            session.request(
                method,
                f"{target.url}{path}?token={MARKER}&x={MARKER}",
                data="{}" if method == "POST" else None,
                timeout=SOCKET_TIMEOUT_S,
            )
    time.sleep(0.3)
    log = target.log()
    assert '"POST /echo HTTP/1.1"' in log and '"GET /nowhere HTTP/1.1"' in log  # the control
    assert MARKER not in log


@pytest.mark.parametrize(
    "request_line",
    [
        f"GET /echo?token={MARKER} HTTP/1.1{MARKER}",  # bad version (http.server quotes it)
        f"GET /echo?token={MARKER} HTTP/9.9",  # unsupported version
        f"{MARKER} /echo?token={MARKER}",  # HTTP/0.9 with a method it lacks (quoted too)
        f"{MARKER}",  # one word (the whole line quoted)
        f"GET /{'a' * 70_000}?token={MARKER} HTTP/1.1",  # over http.server's 64 KiB line
    ],
    ids=["bad-version", "http-9.9", "http-0.9-post", "one-word", "too-long"],
)
def test_a_malformed_request_line_is_neither_logged_nor_echoed(
    target: LocalServer, request_line: str
) -> None:
    log_before = len(target.log())
    with under_attack(target, linger_s=0.2), connect(target) as sock:
        sock.sendall(request_line.encode() + b"\r\nHost: 127.0.0.1\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/"), answer[:200]
    assert MARKER.encode() not in answer
    head_part, _, body = answer.partition(b"\r\n\r\n")
    assert b"application/json" in head_part
    assert set(json.loads(body)) == {"message"}
    time.sleep(0.2)
    new_log = target.log()[log_before:]
    assert '"(malformed request line, not logged)"' in new_log
    assert MARKER not in new_log


def test_headers_that_carry_the_marker_stay_out_of_the_access_log(target: LocalServer) -> None:
    log_before = len(target.log())
    response = requests.get(
        target.url + "/health",
        headers={"Authorization": f"Bearer {MARKER}", "x-api-key": MARKER, "Referer": MARKER},
        timeout=SOCKET_TIMEOUT_S,
    )
    assert response.status_code == 200
    time.sleep(0.2)
    new_log = target.log()[log_before:]
    assert '"GET /health HTTP/1.1" 200' in new_log
    assert MARKER not in new_log
