"""No error answer quotes the request: a marker in every part of it, for every error code.

Status and code alone would let a message that echoes the Content-Type (or a header, the
query string, a body value) pass. Here each error of the catalogue is provoked by a
request that carries one marker string in every part a client controls -- path (where the
error allows it), query string keys and values, header names and values (``Authorization``,
``x-api-key``, ``User-Agent``, ``Cookie``, ``Referer``), Content-Type parameters, body
values, base64 text, the identity API Gateway reports -- and the answer must not contain
it. The cases must cover the whole catalogue, so a new error code needs a case here.

One documented exception: ``VALIDATION_FAILED`` names unknown body fields (truncated to
64 characters, body_schema.MAX_REPORTED_NAME_CHARS) so a client can fix its form;
:func:`test_only_unknown_field_names_are_echoed_and_only_truncated` pins exactly that.
"""

from __future__ import annotations

import base64
import copy
import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pytest

from .conftest import body_of, load_event

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

Invoke = Callable[[dict[str, Any]], dict[str, Any]]

MARKER = "mArKeR-0c9d"


@dataclass(frozen=True)
class Case:
    """One way to provoke ``code``: the event's method, path, body and Content-Type."""

    code: str
    status: int
    method: str = "POST"
    path: str = "/echo"
    body: str | None = None
    b64: bool = False
    content_type: str = f"application/json; x-note={MARKER}"
    raises: bool = False
    extra_headers: dict[str, str] = field(default_factory=dict)


CASES = {
    "malformed-json": Case("MALFORMED_JSON", 400, body=f'{{"message": "{MARKER}"'),
    "duplicate-key": Case(
        "MALFORMED_JSON", 400, body=f'{{"message": "{MARKER}", "message": "{MARKER}"}}'
    ),
    "nan": Case("MALFORMED_JSON", 400, body=f'{{"message": NaN, "tags": ["{MARKER}"]}}'),
    "bad-base64": Case("INVALID_ENCODING", 400, body=f"{MARKER}!!", b64=True),
    "bad-utf8": Case(
        "INVALID_ENCODING",
        400,
        body=base64.b64encode(b'{"message": "\xff' + MARKER.encode() + b'"}').decode(),
        b64=True,
    ),
    "not-found": Case("NOT_FOUND", 404, method="GET", path=f"/{MARKER}/x"),
    "method-not-allowed": Case("METHOD_NOT_ALLOWED", 405, method="DELETE", body=MARKER),
    "too-large": Case(
        "PAYLOAD_TOO_LARGE", 413, body=json.dumps({"message": MARKER + "x" * 20_000})
    ),
    "media-type": Case(
        "UNSUPPORTED_MEDIA_TYPE", 415, body=MARKER, content_type=f"text/{MARKER}; charset=utf-8"
    ),
    "charset": Case(
        "UNSUPPORTED_MEDIA_TYPE",
        415,
        body=json.dumps({"message": MARKER}),
        content_type=f"application/json; charset={MARKER}",
    ),
    "validation": Case(
        "VALIDATION_FAILED",
        422,
        body=json.dumps({"message": 5, "tags": [MARKER, 7, MARKER * 40]}),
    ),
    "validation-length": Case(
        "VALIDATION_FAILED", 422, body=json.dumps({"message": MARKER * 200, "tags": []})
    ),
    "internal": Case("INTERNAL_ERROR", 500, body=json.dumps({"message": MARKER}), raises=True),
}


def marked_event(case: Case) -> dict[str, Any]:
    """events/echo.json with the case's request, and the marker in every client part."""
    event = copy.deepcopy(load_event("echo"))
    event["httpMethod"] = case.method
    event["path"] = case.path
    event["pathParameters"] = {"proxy": case.path.lstrip("/")}
    event["body"] = case.body
    event["isBase64Encoded"] = case.b64
    headers = {
        "Content-Type": case.content_type,
        "Authorization": f"Bearer {MARKER}",
        "X-Api-Key": MARKER,
        "User-Agent": f"agent/{MARKER}",
        "Cookie": f"session={MARKER}",
        "Referer": f"https://example.com/{MARKER}",
        f"X-{MARKER}": MARKER,
        **case.extra_headers,
    }
    event["headers"].update(headers)
    event["multiValueHeaders"].update({name: [value] for name, value in headers.items()})
    event["queryStringParameters"] = {MARKER: MARKER, "q": MARKER}
    event["multiValueQueryStringParameters"] = {MARKER: [MARKER, MARKER], "q": [MARKER]}
    identity = event["requestContext"]["identity"]
    identity["userAgent"] = headers["User-Agent"]
    identity["apiKey"] = MARKER
    return event


def _raise_with_marker(*_args: object, **_kwargs: object) -> Any:
    raise RuntimeError(f"internal failure while handling {MARKER}")


def test_the_cases_cover_every_error_code(app_module: ModuleType) -> None:
    catalog = importlib.import_module("api_errors").ERROR_CATALOG
    assert {case.code for case in CASES.values()} == set(catalog)


@pytest.mark.parametrize("name", sorted(CASES))
def test_no_error_answer_quotes_the_request(
    name: str, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = CASES[name]
    if case.raises:
        request_body = importlib.import_module("request_body")
        monkeypatch.setattr(request_body, "validate_object", _raise_with_marker)
    response = invoke(marked_event(case))
    assert response["statusCode"] == case.status, response["body"]
    assert body_of(response)["error"]["code"] == case.code
    assert MARKER not in response["body"]
    assert MARKER.lower() not in response["body"].lower()
    for values in response.get("multiValueHeaders", {}).values():
        assert all(MARKER not in str(value) for value in values)


def test_the_marker_check_would_see_an_echo(invoke: Invoke) -> None:
    """The control: the success answer does echo the message, so the marker is found."""
    event = marked_event(Case("", 200, body=json.dumps({"message": MARKER})))
    response = invoke(event)
    assert response["statusCode"] == 200
    assert MARKER in response["body"]


def test_only_unknown_field_names_are_echoed_and_only_truncated(invoke: Invoke) -> None:
    long_name = MARKER * 20
    case = Case("VALIDATION_FAILED", 422, body=json.dumps({"message": MARKER, long_name: 1}))
    response = invoke(marked_event(case))
    details = body_of(response)["error"]["details"]
    assert details == [{"field": f"$.{long_name[:64]}...", "problem": "field is not allowed"}]
    assert long_name not in response["body"]
    without_the_name = response["body"].replace(long_name[:64], "")
    assert MARKER not in without_the_name
