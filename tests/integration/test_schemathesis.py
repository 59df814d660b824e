"""schemathesis against the API, driven by the committed ``openapi.json``.

For every operation of the document schemathesis generates requests (its examples and
coverage phases, then up to MAX_EXAMPLES Hypothesis-generated cases, valid and invalid)
and sends them to the API of the ``api`` fixture (``python -m localapi serve`` on
loopback, or the stack named by ``AWS_SAM_STACK_NAME``). Every answer must pass
schemathesis' default checks -- among them ``not_a_server_error`` (no 5xx),
``status_code_conformance`` (a documented status), ``content_type_conformance``,
``response_headers_conformance`` (the security headers) and
``response_schema_conformance`` (the body matches the documented schema) -- and carry no
stack trace or internal path.

Locally the document is loaded without its ``security`` requirements and ``ignored_auth``
is left out: the local API, like ``sam local``, does not enforce API keys, so "a request
without x-api-key must be refused" can only be checked against a deployed stack.
Methods API Gateway itself does not route (``TRACE``, ``CONNECT``) never reach the
function: the gateway (and SAM's local emulation of it) answers 403 ``Missing
Authentication Token``, which is asserted instead of the 405 the function gives for
other undeclared methods. A body that is not UTF-8 cannot be put into a REST proxy event
by SAM's local API (no binary media types), which answers 502 itself before the function
runs; locally that exact answer is accepted and counted (``local_non_utf8_502``), and
tests/integration/test_api.py covers the function's 400 for it. How many requests were sent is printed and written to
``build/schemathesis-stats.json``.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import ignored_auth

if TYPE_CHECKING:  # conftest is not importable as a module here (no package); types only
    from conftest import ApiTarget

REPO = Path(__file__).resolve().parents[2]
OPENAPI = REPO / "openapi.json"
STATS = REPO / "build" / "schemathesis-stats.json"

# Per operation, on top of schemathesis' explicit examples and coverage-phase cases.
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "100"))
DEADLINE_MS = 5_000  # per generated case (one HTTP request)
REQUEST_TIMEOUT_S = 15
# What a stack trace or a path inside the function/server looks like in a body.
LEAK_MARKERS = ("Traceback", 'File "', "/work/", "/var/task", "site-packages")

# The same decision as conftest's `api` fixture: a deployed stack when this is set.
LOCAL = not os.environ.get("AWS_SAM_STACK_NAME")
# Methods API Gateway REST APIs route (ANY = these); others get the gateway's own 403.
GATEWAY_METHODS = frozenset({"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"})
GATEWAY_UNROUTED = {"message": "Missing Authentication Token"}
LOCAL_EMULATOR_502 = {"message": "Internal server error"}


def _load_document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(OPENAPI.read_text(encoding="utf-8"))
    if LOCAL:
        document.pop("security", None)
        for item in document["paths"].values():
            for operation in item.values():
                operation.pop("security", None)
    return document


# The byte limit (MAX_BODY_BYTES, 10240) and the schema's lengths (counted in characters)
# overlap: a schema-valid message of 1024 astral characters is 12 KB once JSON-escaped
# (\ud83d\ude00 per character, as requests and json.dumps send it). The handler then
# answers 413 before validating -- documented for POST /echo, and a rejection of invalid
# data as well -- so 413 is accepted by both data checks.
_DEFAULTS = schemathesis.Config().projects.default.checks
NEGATIVE_DATA_REJECTED = [*_DEFAULTS.negative_data_rejection.expected_statuses, "413"]
POSITIVE_DATA_ACCEPTED = [*_DEFAULTS.positive_data_acceptance.expected_statuses, "413"]
CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            "negative_data_rejection": {"expected-statuses": NEGATIVE_DATA_REJECTED},
            "positive_data_acceptance": {"expected-statuses": POSITIVE_DATA_ACCEPTED},
        }
    }
)

schema = schemathesis.openapi.from_dict(_load_document(), config=CONFIG)

pytestmark = pytest.mark.slow


class Stats:
    """Requests sent per operation and statuses seen, for the report."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.per_operation: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.local_non_utf8_502 = 0

    @property
    def total(self) -> int:
        return sum(self.per_operation.values())

    def as_json(self) -> dict[str, Any]:
        return {
            "requests": self.total,
            "per_operation": dict(sorted(self.per_operation.items())),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "local_non_utf8_502": self.local_non_utf8_502,
            "max_examples_per_operation": MAX_EXAMPLES,
            "seconds": round(time.monotonic() - self.started, 2),
        }


@pytest.fixture(scope="module")
def stats() -> Iterator[Stats]:
    collected = Stats()
    yield collected
    STATS.parent.mkdir(parents=True, exist_ok=True)
    tmp = STATS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(collected.as_json(), indent=2) + "\n", encoding="utf-8")
    tmp.replace(STATS)
    print(f"\nschemathesis: {collected.total} requests generated -> {STATS}")
    print(json.dumps(collected.as_json()))


@pytest.fixture(scope="module")
def session(api: ApiTarget) -> Iterator[requests.Session]:
    with requests.Session() as http:
        yield http


def _is_utf8(body: bytes | str | None) -> bool:
    if not isinstance(body, bytes):
        return True
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def assert_no_leak(text: str) -> None:
    for marker in LEAK_MARKERS:
        assert marker not in text, f"response body reveals {marker!r}: {text[:500]!r}"


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=DEADLINE_MS,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_api_conforms_to_openapi(
    case: schemathesis.Case, api: ApiTarget, session: requests.Session, stats: Stats
) -> None:
    headers = {"x-api-key": api.api_key} if api.api_key else None
    response = case.call(
        base_url=api.base_url, session=session, headers=headers, timeout=REQUEST_TIMEOUT_S
    )
    stats.per_operation[f"{case.operation.method.upper()} {case.operation.path}"] += 1
    stats.statuses[response.status_code] += 1
    assert_no_leak(response.content.decode("utf-8", "replace"))
    if case.method.upper() not in GATEWAY_METHODS:
        assert response.status_code == 403, response.content[:500]
        assert json.loads(response.content) == GATEWAY_UNROUTED
        return
    if LOCAL and response.status_code == 502 and not _is_utf8(response.request.body):
        assert json.loads(response.content) == LOCAL_EMULATOR_502
        stats.local_non_utf8_502 += 1
        return
    excluded = [ignored_auth] if api.local else []
    case.validate_response(response, excluded_checks=excluded, headers=headers)


def test_the_leak_check_would_catch_a_traceback() -> None:
    with pytest.raises(AssertionError):
        assert_no_leak(
            '{"error": "Traceback (most recent call last):\\n  File \\"/var/task/app.py\\""}'
        )
