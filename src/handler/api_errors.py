"""The error contract of the API: one JSON shape for every failure.

Every error response body is::

    {"error": {"code": "<MACHINE_CODE>", "message": "<human text>", "request_id": "<id>",
               "details": [{"field": "$.message", "problem": "..."}]}}

``details`` is present only for validation failures. Clients branch on ``code`` (stable, part
of the contract) and show ``message`` to humans (may be reworded). ``request_id`` is the
API Gateway request id, the same value operators search for in the logs, so a user can
quote it in a support ticket without the API ever revealing internals.

This module is deliberately free of Powertools imports: it is pure data plus a tiny
exception type, so the OpenAPI generator and the tests can import it cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import Final, TypedDict


class ErrorDetail(TypedDict):
    """One validation problem: which field (a JSONPath such as ``$.tags[2]``) and what is wrong."""

    field: str
    problem: str


class ErrorInfo(TypedDict, total=False):
    """The inside of the ``error`` object; ``details`` only for validation failures."""

    code: str
    message: str
    request_id: str
    details: list[ErrorDetail]


class ErrorBody(TypedDict):
    """The whole error response body."""

    error: ErrorInfo


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    """A documented error: its HTTP status and the default human message."""

    status: HTTPStatus
    message: str


# The catalogue of machine codes. Kept as data so the OpenAPI document and the README can
# be generated from it, and so a test can prove the handler only ever emits these codes.
MALFORMED_JSON: Final = "MALFORMED_JSON"
INVALID_ENCODING: Final = "INVALID_ENCODING"
NOT_FOUND: Final = "NOT_FOUND"
METHOD_NOT_ALLOWED: Final = "METHOD_NOT_ALLOWED"
PAYLOAD_TOO_LARGE: Final = "PAYLOAD_TOO_LARGE"
UNSUPPORTED_MEDIA_TYPE: Final = "UNSUPPORTED_MEDIA_TYPE"
VALIDATION_FAILED: Final = "VALIDATION_FAILED"
INTERNAL_ERROR: Final = "INTERNAL_ERROR"

ERROR_CATALOG: Final[dict[str, ErrorSpec]] = {
    MALFORMED_JSON: ErrorSpec(
        HTTPStatus.BAD_REQUEST,
        "The request body is not valid JSON.",
    ),
    INVALID_ENCODING: ErrorSpec(
        HTTPStatus.BAD_REQUEST,
        "The request body is not valid base64 or not valid UTF-8.",
    ),
    NOT_FOUND: ErrorSpec(HTTPStatus.NOT_FOUND, "No resource exists at this path."),
    METHOD_NOT_ALLOWED: ErrorSpec(
        HTTPStatus.METHOD_NOT_ALLOWED,
        "This method is not allowed on this path; see the Allow header.",
    ),
    PAYLOAD_TOO_LARGE: ErrorSpec(
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        "The request body is larger than the allowed maximum.",
    ),
    UNSUPPORTED_MEDIA_TYPE: ErrorSpec(
        HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
        "The request body must be sent as application/json (UTF-8).",
    ),
    VALIDATION_FAILED: ErrorSpec(
        HTTPStatus.UNPROCESSABLE_ENTITY,
        "The request body does not match the expected schema.",
    ),
    INTERNAL_ERROR: ErrorSpec(
        HTTPStatus.INTERNAL_SERVER_ERROR,
        "An internal error occurred. Quote the request_id when reporting it.",
    ),
}


class ApiError(Exception):
    """Raised by route code to answer with a documented error.

    The handler turns it into the standard body; ``headers`` lets an error carry protocol
    headers such as ``Allow`` on a 405. The message must never contain request data: it
    is sent to the client verbatim.
    """

    def __init__(
        self,
        code: str,
        message: str | None = None,
        *,
        details: list[ErrorDetail] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        spec = ERROR_CATALOG[code]  # KeyError here is a programming error, caught by tests
        self.code = code
        self.status = int(spec.status)
        self.message = message or spec.message
        self.details = details
        self.headers = headers or {}
        super().__init__(f"{code}: {self.message}")


def error_body(
    code: str,
    message: str,
    request_id: str,
    details: list[ErrorDetail] | None = None,
) -> ErrorBody:
    """Build the single error shape; ``details`` is omitted unless there is something to list."""
    info: ErrorInfo = {"code": code, "message": message, "request_id": request_id}
    if details:
        info["details"] = details
    return {"error": info}


# Codes for statuses raised as Powertools ``ServiceError`` by code we do not own. Spelled out
# (not ``HTTPStatus(...).name``) because those names changed in Python 3.13 (413, 422) and
# the codes are a contract.
_SERVICE_ERROR_CODES: Final[dict[int, str]] = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: NOT_FOUND,
    405: METHOD_NOT_ALLOWED,
    409: "CONFLICT",
    413: PAYLOAD_TOO_LARGE,
    415: UNSUPPORTED_MEDIA_TYPE,
    422: VALIDATION_FAILED,
    429: "TOO_MANY_REQUESTS",
}


def code_for_status(status: int) -> str:
    """Machine code for an HTTP status raised as a Powertools ``ServiceError``.

    Keeps the error shape stable even for errors our own code did not create: any 5xx is
    reported as ``INTERNAL_ERROR``, an unlisted 4xx as ``CLIENT_ERROR``.
    """
    if status >= 500:
        return INTERNAL_ERROR
    return _SERVICE_ERROR_CODES.get(status, "CLIENT_ERROR")
