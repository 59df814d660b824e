"""Faults in the function under concurrent traffic: the failing request gets 502, nothing else notices.

tests/integration/test_api.py checks each fault on its own (a request past the Timeout,
a worker that exits or segfaults, a handler that raises) followed by sequential requests.
Here every fault is injected *while* 20 well-behaved requests are in flight on the same
local API (``fixture_server``: tests/fixtures/localapi, Timeout 2 s, 2 warm workers),
and the checks are that

* each faulty request is answered 502 with API Gateway's opaque body (no traceback, no
  exception text),
* every one of the 20 normal requests is answered 200 with *its own* token echoed back
  (nothing lost, nothing mixed up) and its own request id,
* no request hangs (every request has a client timeout well below pytest's), and
* afterwards the server still serves, with the same number of live worker processes as
  before and no zombies (crashed and timed-out workers were reaped and replaced).

The fixture function's misbehaving routes: ``/sleep`` past the Timeout, ``/spin`` (a CPU
loop), ``/hang`` (ignores SIGTERM), ``/raise``, ``/exit`` (``os._exit``), ``/sysexit``,
``/segv``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pytest
import requests

if TYPE_CHECKING:  # conftest is not importable as a module here (no package); types only
    from conftest import LocalServer

FAULTS = {
    "timeout": "/sleep?seconds=8",
    "spin": "/spin",
    "hang": "/hang",
    "raise": "/raise",
    "exit": "/exit",
    "sysexit": "/sysexit",
    "segv": "/segv",
}
TIMED_OUT = {"timeout", "spin", "hang"}
NORMAL_REQUESTS = 20
FAULTY_REQUESTS = 2
CLIENT_TIMEOUT_S = 30  # a hung request fails the test instead of blocking it
OPAQUE_502 = {"message": "Internal server error"}
SETTLE_S = 10.0

pytestmark = pytest.mark.slow


def _live_workers(server: LocalServer) -> int:
    return sum(state != "Z" for state in server.children().values())


def _wait_for_workers(server: LocalServer, expected: int) -> dict[int, str]:
    """Poll until the server has ``expected`` live children and no zombies (or time out)."""
    assert server.proc is not None
    deadline = time.monotonic() + SETTLE_S
    while True:
        children = server.children()
        live = sum(state != "Z" for state in children.values())
        if (live == expected and "Z" not in children.values()) or time.monotonic() > deadline:
            return children
        time.sleep(0.1)


def _normal(url: str, number: int) -> tuple[int, Any]:
    response = requests.get(f"{url}/echo-back?token=t{number}", timeout=CLIENT_TIMEOUT_S)
    return response.status_code, response.json()


def _faulty(url: str, path: str) -> requests.Response:
    return requests.get(url + path, timeout=CLIENT_TIMEOUT_S)


def _run_mixed(
    server: LocalServer, fault_paths: list[str]
) -> tuple[list[requests.Response], list[tuple[int, Any]]]:
    """Start the faulty requests first, then the normal ones, all concurrently."""
    with ThreadPoolExecutor(max_workers=len(fault_paths) + 6) as pool:
        faulty: list[Future[requests.Response]] = [
            pool.submit(_faulty, server.url, path) for path in fault_paths
        ]
        time.sleep(0.05)  # let the faults reach the workers first
        normal: list[Future[tuple[int, Any]]] = [
            pool.submit(_normal, server.url, i) for i in range(NORMAL_REQUESTS)
        ]
        return [f.result() for f in faulty], [f.result() for f in normal]


def _assert_normal_answers(answers: list[tuple[int, Any]]) -> None:
    assert [status for status, _ in answers] == [200] * NORMAL_REQUESTS, answers
    for number, (_, body) in enumerate(answers):
        assert body["path"] == "/echo-back"
        assert body["query"] == {"token": f"t{number}"}, body  # its own answer, not another's
    request_ids = [body["requestId"] for _, body in answers]
    assert len(set(request_ids)) == NORMAL_REQUESTS


def _assert_opaque_502(response: requests.Response) -> None:
    assert response.status_code == 502, response.text[:500]
    assert response.json() == OPAQUE_502
    for leak in ("boom", "Traceback", 'File "', "/work/", "site-packages"):
        assert leak not in response.text


@pytest.fixture
def steady_workers(fixture_server: LocalServer) -> Callable[[], None]:
    """Worker count before the test; the returned check waits for it to be back."""
    before = _wait_for_workers(fixture_server, _live_workers(fixture_server))
    expected = sum(state != "Z" for state in before.values())
    assert expected >= 2, before

    def check() -> None:
        after = _wait_for_workers(fixture_server, expected)
        assert "Z" not in after.values(), f"zombie workers: {after}"
        assert sum(state != "Z" for state in after.values()) == expected, (before, after)

    return check


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_fault_during_concurrent_traffic(
    fixture_server: LocalServer, steady_workers: Callable[[], None], fault: str
) -> None:
    started = time.monotonic()
    faulty, normal = _run_mixed(fixture_server, [FAULTS[fault]] * FAULTY_REQUESTS)
    for response in faulty:
        _assert_opaque_502(response)
    _assert_normal_answers(normal)
    if fault in TIMED_OUT:
        assert time.monotonic() - started >= 2.0  # they really ran into the 2 s Timeout
        assert "Task timed out after 2.00 seconds" in fixture_server.log()
    assert fixture_server.proc is not None and fixture_server.proc.poll() is None
    for number in range(3):
        status, _ = _normal(fixture_server.url, 100 + number)
        assert status == 200
    steady_workers()


def test_every_fault_at_once_during_concurrent_traffic(
    fixture_server: LocalServer, steady_workers: Callable[[], None]
) -> None:
    faulty, normal = _run_mixed(fixture_server, list(FAULTS.values()))
    for response in faulty:
        _assert_opaque_502(response)
    _assert_normal_answers(normal)
    steady_workers()
    _assert_normal_answers(_run_mixed(fixture_server, [])[1])  # and again, with no faults


def test_the_checks_would_notice_a_lost_or_mixed_up_answer() -> None:
    def answer(token: int, request_id: int) -> tuple[int, Any]:
        return 200, {
            "path": "/echo-back",
            "query": {"token": f"t{token}"},
            "requestId": str(request_id),
        }

    _assert_normal_answers([answer(i, i) for i in range(NORMAL_REQUESTS)])  # the control
    with pytest.raises(AssertionError):  # right statuses, but every answer is request 0's
        _assert_normal_answers([answer(0, i) for i in range(NORMAL_REQUESTS)])
    with pytest.raises(AssertionError):  # one lost
        _assert_normal_answers([answer(i, i) for i in range(NORMAL_REQUESTS - 1)])
    with pytest.raises(AssertionError):  # one answer delivered twice
        _assert_normal_answers([answer(i, min(i, 5)) for i in range(NORMAL_REQUESTS)])
