"""Secrets never reach the function's logs, checked on the local API's real output.

tests/unit/handler/test_log_hygiene.py proves this in process. Here the requests go
through ``python -m localapi serve`` (HTTP -> API Gateway proxy event -> a worker
process of the built function), and the log is everything the server process and its
workers wrote to stdout/stderr. Requests carry a canary in the body (valid, invalid and
malformed JSON), in the query string, an ``Authorization`` header and an ``x-api-key``
value, all unique to this run; none of them may appear in the function's lines of the log
(the ones the server relays prefixed ``[ApiFunction]``). A positive control proves those
lines are really captured: each request's id, which the function logs with its access
line, must show up in them. The server's own lines (its access log: method and path)
must not carry any of them either, the query string included.

Two configurations: the shared server of the ``api`` fixture (the template's settings,
INFO), and a dedicated one with the template's ``LogLevel`` parameter at DEBUG (what an
operator chasing a bug would turn on). A third server, with event logging switched on
(``POWERTOOLS_LOGGER_LOG_EVENT=true``), must fail the same check: the end-to-end proof
that a leak would be seen.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
import requests

if TYPE_CHECKING:  # conftest is not importable as a module here (no package); types only
    from conftest import ApiTarget, LocalServer

TIMEOUT = 30
# Lines the local API relays from the function's workers (stdout and stderr).
FUNCTION_PREFIX = "[ApiFunction] "
LOG_WAIT_S = 15.0

pytestmark = pytest.mark.slow


def _secrets() -> dict[str, str]:
    run = uuid.uuid4().hex
    return {
        "body": f"canary-body-{run}",
        "field": f"canary-field-{run}",
        "malformed": f"canary-malformed-{run}",
        "query": f"canary-query-{run}",
        "authorization": f"Bearer canary-token-{run}",
        "api_key": f"canary-key-{run}",
    }


def _send_all(base_url: str, secrets: dict[str, str]) -> list[str]:
    """Every request kind carrying the secrets; returns the request ids the API answered."""
    headers = {
        "Authorization": secrets["authorization"],
        "x-api-key": secrets["api_key"],
        "Content-Type": "application/json",
    }
    calls = [
        ("POST", "/echo", json.dumps({"message": secrets["body"], "tags": ["t"]}), 200),
        ("POST", "/echo", json.dumps({"message": "x", secrets["field"]: secrets["body"]}), 422),
        ("POST", "/echo", '{"message": "' + secrets["malformed"], 400),
        ("GET", f"/?q={secrets['query']}", None, 200),
        ("GET", f"/nowhere?q={secrets['query']}", None, 404),
    ]
    ids = []
    with requests.Session() as session:
        for method, path, body, status in calls:
            response = session.request(
                method, base_url + path, data=body, headers=headers, timeout=TIMEOUT
            )
            assert response.status_code == status, response.text[:300]
            answer = response.json()
            ids.append(answer["error"]["request_id"] if status >= 400 else answer["request_id"])
    return ids


def _wait_for(server: LocalServer, request_ids: list[str]) -> str:
    """The server log once every request id is in it (the positive control)."""
    deadline = time.monotonic() + LOG_WAIT_S
    while True:
        log = server.log()
        missing = [rid for rid in request_ids if rid not in log]
        if not missing:
            return log
        assert time.monotonic() < deadline, f"request ids never logged: {missing}\n{log[-3000:]}"
        time.sleep(0.1)


def _assert_no_secret(log: str, secrets: dict[str, str]) -> None:
    leaked = {name: value for name, value in secrets.items() if value in log}
    # The bare token and key without their prefixes, too.
    for name in ("authorization", "api_key"):
        bare = secrets[name].rsplit("canary-", 1)[1]
        if bare in log:
            leaked[f"{name} (bare)"] = bare
    assert not leaked, f"secrets in the function's log: {sorted(leaked)}"


def _function_lines(log: str) -> str:
    return "\n".join(line for line in log.splitlines() if line.startswith(FUNCTION_PREFIX))


def _check(server: LocalServer, base_url: str) -> None:
    secrets = _secrets()
    request_ids = _send_all(base_url, secrets)
    log = _wait_for(server, request_ids)
    function_log = _function_lines(log)
    for request_id in request_ids:  # the control: the function's own lines are captured
        assert request_id in function_log
    assert "Request completed" in function_log
    _assert_no_secret(function_log, secrets)
    # The server's own lines (its access log) have the method and path, never the query
    # string, a body or a header value.
    _assert_no_secret(log, secrets)


def test_secrets_stay_out_of_the_local_api_log(api: ApiTarget) -> None:
    if not api.local or api.server is None:
        pytest.skip("the function's log is only readable from the local API's process")
    _check(api.server, api.base_url)


def _extra_server(
    tmp_path_factory: pytest.TempPathFactory, api: ApiTarget, name: str, extra: list[str]
) -> LocalServer:
    """The built function again (the `api` fixture made the build), one worker, ``extra``;
    not started yet (``with server.running(...)``)."""
    if not api.local or api.server is None:
        pytest.skip("local only")
    from tests.integration.conftest import LocalServer

    directory = tmp_path_factory.mktemp(name)
    server = LocalServer(
        api.server.template, directory / "server.log", extra_args=["--workers", "1", *extra]
    )
    return server


@pytest.fixture(scope="module")
def debug_server(tmp_path_factory: pytest.TempPathFactory, api: ApiTarget) -> Iterator[LocalServer]:
    """The template's LogLevel parameter at DEBUG (ApplicationLogLevel -> AWS_LAMBDA_LOG_LEVEL)."""
    server = _extra_server(
        tmp_path_factory, api, "debug", ["--parameter-overrides", "LogLevel=DEBUG"]
    )
    with server.running(ready_path="/health"):
        yield server


def test_secrets_stay_out_of_the_log_at_debug_level(debug_server: LocalServer) -> None:
    _check(debug_server, debug_server.url)


def test_the_capture_sees_a_leak_when_events_are_logged(
    tmp_path_factory: pytest.TempPathFactory, api: ApiTarget
) -> None:
    """End-to-end positive control: POWERTOOLS_LOGGER_LOG_EVENT=true (documented to write
    whole events) must make the very same check fail, so a pass above means something."""
    env_vars = tmp_path_factory.mktemp("log-event") / "env.json"
    env_vars.write_text(json.dumps({"ApiFunction": {"POWERTOOLS_LOGGER_LOG_EVENT": "true"}}))
    server = _extra_server(tmp_path_factory, api, "log-event", ["--env-vars", str(env_vars)])
    with (
        server.running(ready_path="/health"),
        pytest.raises(AssertionError, match="secrets in the function's log"),
    ):
        _check(server, server.url)


def test_the_leak_check_would_see_a_leak() -> None:
    """Positive control: a secret that is in the log is reported."""
    secrets = _secrets()
    with pytest.raises(AssertionError):
        _assert_no_secret(f"something {secrets['api_key']} something", secrets)
    with pytest.raises(AssertionError):
        _assert_no_secret("\n" + secrets["authorization"].split()[-1], secrets)
