"""Property-based tests of the handler, in process: whatever a client sends, the answer is sane.

Hypothesis builds API Gateway REST proxy events from arbitrary client input -- methods,
paths, query strings, headers (odd casing, huge values, no headers at all), bodies (text,
unicode, JSON that does and does not match the schema, binary via ``isBase64Encoded``,
invalid base64, oversized) -- and for every one the handler's answer must:

* never be a 5xx (client input is never the server's fault);
* be JSON, with a status ``openapi.json`` documents for that request, a body that
  validates against the documented schema, and the documented security headers
  (``check_against_document`` from test_openapi, the same oracle);
* carry the request's API Gateway request id (in the error object, or in the success
  body of the routes that return one; ``GET /health`` answers ``{"status": "ok"}`` only).

A few thousand examples in all (see ``EXAMPLES``), well under 30 s.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import body_of, load_event
from .test_openapi import check_against_document, document

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

Invoke = Callable[[dict[str, Any]], dict[str, Any]]

# Examples per test; the module totals about 3,600.
EXAMPLES = {"requests": 1200, "echo": 1500, "headers": 600, "oversized": 150, "base64": 150}
BASE_SETTINGS = settings(
    deadline=None,  # the first calls pay Powertools' lazy imports
    # The fixtures used (invoke, quiet_logger) hold no per-example state.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=bool(os.environ.get("CI")),
)
MAX_BODY_BYTES = 10_240  # the handler's default (MAX_BODY_BYTES unset in these tests)

KNOWN_PATHS = sorted(document()["paths"])
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]
REQUEST_ID_ROUTES = {("GET", "/"), ("POST", "/echo")}

# Printable text without control characters: what API Gateway can put in a path or header.
printable = st.characters(codec="utf-8", categories=["L", "M", "N", "P", "S", "Zs"])
ascii_token = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=":"),
    min_size=1,
    max_size=24,
)


def _random_case(value: str) -> st.SearchStrategy[str]:
    return st.lists(st.booleans(), min_size=len(value), max_size=len(value)).map(
        lambda flips: "".join(
            c.upper() if f else c.lower() for c, f in zip(value, flips, strict=True)
        )
    )


methods = st.one_of(
    st.sampled_from(METHODS),
    st.text(alphabet=st.characters(min_codepoint=65, max_codepoint=90), min_size=1, max_size=10),
)
paths = st.one_of(
    st.sampled_from(KNOWN_PATHS),
    st.sampled_from(KNOWN_PATHS).map(lambda p: p.rstrip("/") + "/"),
    st.text(alphabet=printable, max_size=60).map(lambda p: "/" + p),
    st.lists(st.sampled_from(["echo", "health", "..", ".", "", "%2e", "ECHO"]), max_size=4).map(
        lambda parts: "/" + "/".join(parts)
    ),
)
content_types = st.one_of(
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            'application/json; charset="UTF-8"',
            "application/json;charset=utf8",
            "application/json; charset=latin-1",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "",
            "application/jsonx",
        ]
    ),
    st.text(alphabet=printable, max_size=40),
)
header_values = st.one_of(
    st.text(alphabet=printable, max_size=200),
    st.integers(min_value=1, max_value=16_384).map(lambda n: "v" * n),  # huge values
)
header_names = st.one_of(
    st.sampled_from(["Authorization", "X-Api-Key", "Accept", "Origin", "X-Forwarded-For"]).flatmap(
        _random_case
    ),
    ascii_token,
)
query_strings = st.one_of(
    st.none(),
    st.dictionaries(
        st.text(alphabet=printable, min_size=1, max_size=20),
        st.text(alphabet=printable, max_size=100),
        max_size=5,
    ),
)
echo_payloads = st.fixed_dictionaries(
    {"message": st.text(min_size=1, max_size=1024)},
    optional={"tags": st.lists(st.text(min_size=1, max_size=64), max_size=10)},
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
text_bodies = st.one_of(
    st.none(),
    st.just(""),
    st.text(max_size=300),
    echo_payloads.map(json.dumps),
    echo_payloads.map(lambda p: json.dumps(p, ensure_ascii=False)),
    json_values.map(json.dumps),
    st.sampled_from(
        ['{"message": "x", "message": "y"}', "NaN", '{"message": Infinity}', "[" * 5000]
    ),
    st.sampled_from(['{"message": "\\ud800"}', '{"message": "ok", "tags": ["\\udfff"]}']),
)


def build_event(
    *,
    method: str,
    path: str,
    headers: dict[str, str] | None,
    query: dict[str, str] | None,
    body: str | None,
    is_base64: bool,
    request_id: str,
) -> dict[str, Any]:
    """A REST proxy event the way API Gateway builds it (single and multi-value views agree)."""
    event = load_event("echo")
    event["httpMethod"] = method
    event["path"] = path
    event["requestContext"]["httpMethod"] = method
    event["requestContext"]["path"] = "/dev" + path
    event["requestContext"]["requestId"] = request_id
    event["headers"] = headers
    event["multiValueHeaders"] = {k: [v] for k, v in headers.items()} if headers else None
    event["queryStringParameters"] = query or None
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} if query else None
    event["body"] = body
    event["isBase64Encoded"] = is_base64
    return event


@pytest.fixture
def quiet_logger(app_module: ModuleType) -> Iterator[None]:
    """Thousands of access-log lines would only slow the run: send them nowhere."""
    handler = app_module.logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    with open(os.devnull, "w", encoding="utf-8") as sink:
        previous = handler.setStream(sink)
        try:
            yield
        finally:
            if previous is not None:
                handler.setStream(previous)


def assert_sane_answer(event: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    method, path = event["httpMethod"], event["path"]
    status = int(response["statusCode"])
    assert status < 500, (method, path, response.get("body", "")[:500])
    check_against_document(method, path, response)
    body: dict[str, Any] = body_of(response)
    request_id = event["requestContext"]["requestId"]
    if status >= 400:
        assert body["error"]["request_id"] == request_id
    elif (method, path.rstrip("/") or "/") in REQUEST_ID_ROUTES:
        assert body["request_id"] == request_id
    return body


@settings(BASE_SETTINGS, max_examples=EXAMPLES["requests"])
@given(
    method=methods,
    path=paths,
    headers=st.one_of(st.none(), st.dictionaries(header_names, header_values, max_size=6)),
    query=query_strings,
    body=text_bodies,
    request_id=st.uuids().map(str),
)
def test_any_request_gets_a_documented_json_answer(
    invoke: Invoke,
    quiet_logger: None,
    method: str,
    path: str,
    headers: dict[str, str] | None,
    query: dict[str, str] | None,
    body: str | None,
    request_id: str,
) -> None:
    event = build_event(
        method=method,
        path=path,
        headers=headers,
        query=query,
        body=body,
        is_base64=False,
        request_id=request_id,
    )
    assert_sane_answer(event, invoke(event))


@settings(BASE_SETTINGS, max_examples=EXAMPLES["echo"])
@given(
    body=text_bodies,
    content_type=st.one_of(st.none(), content_types),
    content_type_name=_random_case("content-type"),
    request_id=st.uuids().map(str),
)
def test_echo_bodies(
    invoke: Invoke,
    quiet_logger: None,
    body: str | None,
    content_type: str | None,
    content_type_name: str,
    request_id: str,
) -> None:
    headers = {"X-Api-Key": "k"}
    if content_type is not None:
        headers[content_type_name] = content_type
    event = build_event(
        method="POST",
        path="/echo",
        headers=headers,
        query=None,
        body=body,
        is_base64=False,
        request_id=request_id,
    )
    response = invoke(event)
    answer = assert_sane_answer(event, response)
    if response["statusCode"] == 200:
        # Only a body that parses to a schema-valid object is echoed, and echoed exactly.
        sent = json.loads(body or "")
        assert answer["message"] == sent["message"]
        assert answer["tags"] == sent.get("tags", [])
        assert answer["length"] == len(sent["message"])


@settings(BASE_SETTINGS, max_examples=EXAMPLES["headers"])
@given(
    name=_random_case("content-type"),
    extra=st.dictionaries(header_names, header_values, max_size=8),
    payload=echo_payloads,
    request_id=st.uuids().map(str),
)
def test_header_casing_and_huge_headers_do_not_change_a_valid_echo(
    invoke: Invoke,
    quiet_logger: None,
    name: str,
    extra: dict[str, str],
    payload: dict[str, Any],
    request_id: str,
) -> None:
    headers = {k: v for k, v in extra.items() if k.lower() != "content-type"}
    headers[name] = "application/json"
    body = json.dumps(payload)
    event = build_event(
        method="POST",
        path="/echo",
        headers=headers,
        query=None,
        body=body,
        is_base64=False,
        request_id=request_id,
    )
    response = invoke(event)
    expected = 200 if len(body.encode()) <= MAX_BODY_BYTES else 413
    assert response["statusCode"] == expected, response["body"][:300]
    answer = assert_sane_answer(event, response)
    if expected == 200:
        assert answer["message"] == payload["message"]


@settings(BASE_SETTINGS, max_examples=EXAMPLES["oversized"])
@given(
    extra=st.integers(min_value=1, max_value=200_000),
    char=st.sampled_from(["x", "é", "€", "😀"]),
    as_base64=st.booleans(),
    request_id=st.uuids().map(str),
)
def test_oversized_bodies_are_413(
    invoke: Invoke,
    quiet_logger: None,
    extra: int,
    char: str,
    as_base64: bool,
    request_id: str,
) -> None:
    filler_bytes = len(char.encode())
    count = (MAX_BODY_BYTES + extra) // filler_bytes + 1
    text = json.dumps({"message": char * count}, ensure_ascii=False)
    assert len(text.encode()) > MAX_BODY_BYTES
    body = base64.b64encode(text.encode()).decode() if as_base64 else text
    event = build_event(
        method="POST",
        path="/echo",
        headers={"Content-Type": "application/json"},
        query=None,
        body=body,
        is_base64=as_base64,
        request_id=request_id,
    )
    response = invoke(event)
    assert response["statusCode"] == 413
    assert assert_sane_answer(event, response)["error"]["code"] == "PAYLOAD_TOO_LARGE"


@settings(BASE_SETTINGS, max_examples=EXAMPLES["base64"])
@given(
    raw=st.one_of(
        st.binary(max_size=2_000),
        echo_payloads.map(lambda p: json.dumps(p).encode()),
        st.text(max_size=200).map(lambda t: t.encode("utf-8")),
    ),
    # Not "=": Python accepts one stray "=" after a complete quantum ("YWJj=" -> b"abc").
    corrupt=st.sampled_from(["", "!", "\n", " ", "*"]),
    request_id=st.uuids().map(str),
)
def test_base64_bodies(
    invoke: Invoke,
    quiet_logger: None,
    raw: bytes,
    corrupt: str,
    request_id: str,
) -> None:
    body = base64.b64encode(raw).decode() + corrupt
    event = build_event(
        method="POST",
        path="/echo",
        headers={"content-type": "application/json"},
        query=None,
        body=body,
        is_base64=True,
        request_id=request_id,
    )
    response = invoke(event)
    answer = assert_sane_answer(event, response)
    if corrupt and raw:
        assert response["statusCode"] == 400
        assert answer["error"]["code"] == "INVALID_ENCODING"
    if response["statusCode"] == 200:
        assert answer["message"] == json.loads(raw.decode("utf-8"))["message"]
