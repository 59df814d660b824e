"""The API end to end: every route and error of the handler, headers, concurrency.

The same tests run against a deployed stack (``AWS_SAM_STACK_NAME``) and against
``python -m localapi serve`` (see conftest.py). The last section -- a function
that outlives its Timeout, one that kills its own process -- runs locally only,
against a second server serving tests/fixtures/localapi/template.yaml.
"""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pytest
import requests

if TYPE_CHECKING:  # conftest is not importable as a module here (no package); types only
    from conftest import ApiTarget, LocalServer

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
TIMEOUT = 30


def assert_json_with_security_headers(response: requests.Response) -> None:
    assert response.headers["Content-Type"].split(";")[0] == "application/json"
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, name


def assert_error(response: requests.Response, status: int, code: str) -> dict[str, Any]:
    """The one error shape: {"error": {"code", "message", "request_id"[, "details"]}}."""
    assert response.status_code == status, response.text
    assert_json_with_security_headers(response)
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) - {"details"} == {"code", "message", "request_id"}
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["request_id"], str) and error["request_id"] not in ("", "unknown")
    assert "Traceback" not in response.text
    return error  # type: ignore[no-any-return]


def assert_refused_body(
    response: requests.Response, api: ApiTarget, status: int, code: str
) -> dict[str, Any] | None:
    """A body the gateway's model refuses: API Gateway's own 400 in AWS (the request
    validator, BAD_REQUEST_BODY: "Request validation for REST APIs"), the function's
    answer locally (sam local validates no model). ``None`` for the gateway's answer."""
    if api.local:
        return assert_error(response, status, code)
    assert response.status_code == 400, response.text
    assert response.json() == {"message": "Invalid request body"}
    return None


def post_echo(
    http: requests.Session, api: ApiTarget, data: str | bytes, **headers: str
) -> requests.Response:
    return http.post(
        api.url("/echo"),
        data=data,
        headers={"Content-Type": "application/json", **headers},
        timeout=TIMEOUT,
    )


# --- routes ------------------------------------------------------------------------


def test_health_needs_no_api_key(api: ApiTarget) -> None:
    response = requests.get(api.url("/health"), timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert_json_with_security_headers(response)


def test_root_identifies_the_deployment(http: requests.Session, api: ApiTarget) -> None:
    response = http.get(api.url("/"), timeout=TIMEOUT)
    assert response.status_code == 200
    assert_json_with_security_headers(response)
    body = response.json()
    assert set(body) == {"service", "version", "request_id", "config_source", "config_entries"}
    assert body["service"] == "secure-serverless-api"
    # The deployed/local default has no SecretArn: no secret configuration is read.
    assert (body["config_source"], body["config_entries"]) == ("none", 0)
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", body["version"])


def test_echo_returns_the_validated_message(http: requests.Session, api: ApiTarget) -> None:
    response = post_echo(http, api, json.dumps({"message": "héllo", "tags": ["a", "b"]}))
    assert response.status_code == 200, response.text
    assert_json_with_security_headers(response)
    body = response.json()
    assert body["message"] == "héllo"
    assert body["tags"] == ["a", "b"]
    assert body["length"] == 5
    assert body["request_id"]


def test_request_ids_are_unique_per_request(http: requests.Session, api: ApiTarget) -> None:
    ids = {http.get(api.url("/"), timeout=TIMEOUT).json()["request_id"] for _ in range(3)}
    assert len(ids) == 3


def test_trailing_slash_is_the_same_route(http: requests.Session, api: ApiTarget) -> None:
    assert http.get(api.url("/health/"), timeout=TIMEOUT).json() == {"status": "ok"}


# --- errors ------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["{not json", '{"message": "x", "message": "y"}', "[1, 2", "NaN"])
def test_malformed_json_is_400(http: requests.Session, api: ApiTarget, body: str) -> None:
    assert_error(post_echo(http, api, body), 400, "MALFORMED_JSON")


def test_empty_body_is_400(http: requests.Session, api: ApiTarget) -> None:
    assert_error(post_echo(http, api, ""), 400, "MALFORMED_JSON")


def test_bytes_that_are_not_utf8_reach_the_function_as_text(
    http: requests.Session, api: ApiTarget
) -> None:
    """No binary media types: API Gateway passes the body on as UTF-8 text, each invalid
    byte sequence replaced by U+FFFD (localapi.http_guard says why), and the function
    answers for itself -- locally as deployed, never a 5xx."""
    response = post_echo(http, api, b'{"message": "\xff\xfe"}')
    assert response.status_code == 200, response.text
    assert response.json()["message"] == "\ufffd\ufffd"
    assert_error(post_echo(http, api, b"\xff\xfe"), 400, "MALFORMED_JSON")
    utf16 = '{"message": "x"}'.encode("utf-16")
    assert_error(post_echo(http, api, utf16), 400, "MALFORMED_JSON")
    response = post_echo(http, api, utf16, **{"Content-Type": "application/json; charset=utf-16"})
    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"message": ""},
        {"message": 5},
        {"message": "x", "tags": "notalist"},
        {"message": "x", "extra": 1},
    ],
)
def test_schema_violations_are_422_with_details(
    http: requests.Session, api: ApiTarget, payload: dict[str, Any]
) -> None:
    error = assert_refused_body(
        post_echo(http, api, json.dumps(payload)), api, 422, "VALIDATION_FAILED"
    )
    if error is None:
        return
    assert error["details"], error
    for detail in error["details"]:
        assert set(detail) == {"field", "problem"}
        assert detail["field"].startswith("$")


def test_oversized_body_is_413(http: requests.Session, api: ApiTarget) -> None:
    big = json.dumps({"message": "x" * 20_000})
    # In AWS the model's maxLength refuses it first.
    assert_refused_body(post_echo(http, api, big), api, 413, "PAYLOAD_TOO_LARGE")


def test_wrong_content_type_is_415(http: requests.Session, api: ApiTarget) -> None:
    response = http.post(
        api.url("/echo"), data="message=hi", headers={"Content-Type": "text/plain"}, timeout=TIMEOUT
    )
    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_unknown_path_is_404(http: requests.Session, api: ApiTarget) -> None:
    assert_error(http.get(api.url("/no/such/thing"), timeout=TIMEOUT), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [("GET", "/echo", "POST"), ("DELETE", "/", "GET"), ("PUT", "/echo", "POST")],
)
def test_wrong_method_is_405_with_allow(
    http: requests.Session, api: ApiTarget, method: str, path: str, allow: str
) -> None:
    response = http.request(method, api.url(path), timeout=TIMEOUT)
    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert response.headers["Allow"] == allow


def test_head_where_the_template_declares_only_get_is_the_functions_405(
    http: requests.Session, api: ApiTarget
) -> None:
    """API Gateway sends HEAD /health (GET only) on to /{proxy+} ANY; SAM's local API
    answered 502 until localapi routed it the same way."""
    response = http.head(api.url("/health"), timeout=TIMEOUT)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND"])
@pytest.mark.parametrize("path", ["/", "/health", "/echo"])
def test_a_method_api_gateway_does_not_route_gets_its_403(
    http: requests.Session, api: ApiTarget, method: str, path: str
) -> None:
    """ANY is DELETE, GET, HEAD, OPTIONS, PATCH, POST and PUT: no resource has another
    method, and API Gateway answers 403 Missing Authentication Token (so does SAM's local
    emulation), whether or not an API key is sent."""
    response = http.request(method, api.url(path), timeout=TIMEOUT)
    assert response.status_code == 403, response.text[:300]
    assert response.json() == {"message": "Missing Authentication Token"}


def test_error_request_id_matches_a_fresh_id_each_time(
    http: requests.Session, api: ApiTarget
) -> None:
    first = assert_error(http.get(api.url("/missing"), timeout=TIMEOUT), 404, "NOT_FOUND")
    second = assert_error(http.get(api.url("/missing"), timeout=TIMEOUT), 404, "NOT_FOUND")
    assert first["request_id"] != second["request_id"]


# Without credentials (the API key sent): 403 unsigned (AWS_IAM), 401 without a token
# (COGNITO), through for API_KEY_ONLY. Locally the request goes through, as in
# `sam local start-api`, which enforces neither IAM nor Cognito authorizers (README).
NO_CREDENTIALS_STATUS = {"AWS_IAM": 403, "COGNITO": 401, "API_KEY_ONLY": 200}


@pytest.mark.parametrize(("method", "path"), [("GET", "/"), ("POST", "/echo"), ("GET", "/x")])
def test_a_request_without_credentials_is_refused_by_the_real_gateway(
    api: ApiTarget, method: str, path: str
) -> None:
    headers = {"x-api-key": api.api_key} if api.api_key else {}
    response = requests.request(
        method, api.url(path), headers=headers, json={"message": "hi"}, timeout=TIMEOUT
    )
    expected = NO_CREDENTIALS_STATUS[api.auth_mode]
    if api.local or expected == 200:
        assert response.status_code not in (401, 403), response.text
    else:
        assert response.status_code == expected, response.text


def test_the_local_api_says_what_it_does_not_check(api: ApiTarget) -> None:
    if api.server is None:
        pytest.skip("a deployed stack checks everything; only the local API has a banner")
    log = api.server.log()
    assert "not checked here" in log and "IAM and Cognito authorizers" in log


def test_missing_api_key_is_refused_by_the_real_gateway(api: ApiTarget) -> None:
    # With the stack's credentials, so that only the key is missing.
    status = requests.get(api.url("/"), auth=api.auth, timeout=TIMEOUT).status_code
    # API keys are enforced by API Gateway only; like sam local, the local API does not
    # check them (documented in the README), so locally the request goes through.
    assert status == (200 if api.local else 403)


# --- concurrency ---------------------------------------------------------------------


def test_fifty_requests_from_ten_threads_all_succeed(api: ApiTarget) -> None:
    def one(i: int) -> tuple[int, str | None]:
        with requests.Session() as session:
            if api.api_key:
                session.headers["x-api-key"] = api.api_key
            if i % 3 == 0:
                response = session.get(api.url("/health"), timeout=TIMEOUT)
                return response.status_code, None
            if i % 3 == 1:
                response = session.get(api.url("/"), timeout=TIMEOUT)
                return response.status_code, response.json().get("request_id")
            response = session.post(api.url("/echo"), json={"message": f"m{i}"}, timeout=TIMEOUT)
            assert response.json().get("message") == f"m{i}"
            return response.status_code, response.json().get("request_id")

    with ThreadPoolExecutor(max_workers=10) as executor:
        results = list(executor.map(one, range(50)))
    assert [status for status, _ in results] == [200] * 50
    ids = [rid for _, rid in results if rid]
    assert len(set(ids)) == len(ids)  # every request its own id, even concurrently


# --- local only: timeout and crash ---------------------------------------------------


def test_a_request_past_the_timeout_gets_502_and_the_next_one_succeeds(
    fixture_server: LocalServer,
) -> None:
    started = time.monotonic()
    response = requests.get(fixture_server.url + "/sleep?seconds=8", timeout=TIMEOUT)
    elapsed = time.monotonic() - started
    assert response.status_code == 502
    assert response.json() == {"message": "Internal server error"}
    assert 1.8 < elapsed < 5, elapsed  # Timeout: 2 in the fixture template
    assert "Task timed out after 2.00 seconds" in fixture_server.log()
    follow_up = requests.get(fixture_server.url + "/pid", timeout=TIMEOUT)
    assert follow_up.status_code == 200


@pytest.mark.parametrize("path", ["/exit", "/sysexit", "/segv"])
def test_a_crashed_worker_gets_502_and_the_server_keeps_serving(
    fixture_server: LocalServer, path: str
) -> None:
    response = requests.get(fixture_server.url + path, timeout=TIMEOUT)
    assert response.status_code == 502
    assert response.json() == {"message": "Internal server error"}
    for _ in range(3):
        assert requests.get(fixture_server.url + "/pid", timeout=TIMEOUT).status_code == 200


def test_a_handler_exception_is_502_like_api_gateway(fixture_server: LocalServer) -> None:
    response = requests.get(fixture_server.url + "/raise", timeout=TIMEOUT)
    assert response.status_code == 502
    assert "boom" not in response.text  # the error document stays in the logs
    fixture_server.wait_for_log("[FixtureFunction] [ERROR] ValueError: boom")


def test_a_handler_that_cannot_be_imported_is_502(fixture_server: LocalServer) -> None:
    assert requests.get(fixture_server.url + "/broken", timeout=TIMEOUT).status_code == 502


def test_function_output_goes_to_the_log_not_the_response(fixture_server: LocalServer) -> None:
    response = requests.get(fixture_server.url + "/print", timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.json() == {"printed": True}
    fixture_server.wait_for_log("[FixtureFunction] to-stderr from the handler")
    fixture_server.wait_for_log("[FixtureFunction] to-stdout from the handler")


def test_requests_beyond_the_pool_wait_for_a_free_worker(fixture_server: LocalServer) -> None:
    def one(_: int) -> int:
        return requests.get(fixture_server.url + "/sleep?seconds=0.5", timeout=TIMEOUT).status_code

    with ThreadPoolExecutor(max_workers=6) as executor:
        statuses = list(executor.map(one, range(6)))
    assert statuses == [200] * 6


def test_environment_and_context_reach_the_function(fixture_server: LocalServer) -> None:
    env = requests.get(fixture_server.url + "/env", timeout=TIMEOUT).json()
    assert env["version"] == [3, 13]
    assert env["sys_path0"].endswith("tests/fixtures/localapi/fn")
    assert env["env"]["STAGE"] == "from-samconfig"  # tests/fixtures/localapi/samconfig.toml
    assert env["env"]["AWS_REGION"] == "eu-west-1"
    assert env["env"]["AWS_ACCESS_KEY_ID"] == "defaultkey"
    assert env["env"]["POWERTOOLS_TRACE_DISABLED"] == "true"
    context = requests.get(fixture_server.url + "/context", timeout=TIMEOUT).json()
    assert context["function_name"] == "FixtureFunction"
    assert context["memory_limit_in_mb"] == 256
    assert 1500 < context["remaining_ms"] <= 2000
