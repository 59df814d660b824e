"""The rules a request's JSON body passes before a route sees it (:class:`JsonBody`).

Content type, size limit, encoding, strict parsing, then the route's JSON Schema when it
names one. Each failure maps to one documented error (415, 413, 400 ``INVALID_ENCODING``
or ``MALFORMED_JSON``, 422 ``VALIDATION_FAILED``), and a body that is too large is refused
before any work is done on it. Strict means what RFC 8259 allows and nothing more: no
duplicate keys (parsers disagree on which value wins) and no ``NaN``/``Infinity``.

The parse itself is Powertools' ``current_event.json_body`` with :func:`parse_json_body`
as the resolver's deserializer (routing.RestApi installs it), so the body is parsed once
and the route reads it the usual Powertools way.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import TYPE_CHECKING, Any, Final

from api_errors import (
    INVALID_ENCODING,
    MALFORMED_JSON,
    PAYLOAD_TOO_LARGE,
    UNSUPPORTED_MEDIA_TYPE,
    VALIDATION_FAILED,
    ApiError,
)
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, content_types
from aws_lambda_powertools.event_handler.middlewares import BaseMiddlewareHandler
from body_schema import load, validate_object
from settings import settings

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import Response
    from aws_lambda_powertools.event_handler.middlewares import NextMiddleware


def check_content_type(value: str | None) -> None:
    """415 unless the Content-Type is absent or ``application/json`` (charset UTF-8 if given)."""
    if value is None:
        return
    media_type, _, params = value.partition(";")
    if media_type.strip().lower() != content_types.APPLICATION_JSON:
        raise ApiError(UNSUPPORTED_MEDIA_TYPE)
    for param in params.split(";"):
        name, _, param_value = param.partition("=")
        charset = param_value.strip().strip('"').lower()
        if name.strip().lower() == "charset" and charset not in ("utf-8", "utf8"):
            raise ApiError(UNSUPPORTED_MEDIA_TYPE)


def _too_large(limit: int) -> ApiError:
    return ApiError(PAYLOAD_TOO_LARGE, f"The request body is larger than {limit} bytes.")


def body_bytes(body: str | None, is_base64: bool, limit: int) -> bytes:
    """The raw request body, rejecting oversized bodies before doing any work on them."""
    if not body:
        return b""
    if is_base64:
        # 4 base64 characters carry 3 bytes: reject before allocating the decoded copy.
        if len(body) > 4 * (limit // 3 + 1):
            raise _too_large(limit)
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise ApiError(INVALID_ENCODING, "The request body is not valid base64.") from None
    else:
        # Every character is at least one UTF-8 byte: more characters means more bytes.
        if len(body) > limit:
            raise _too_large(limit)
        # surrogatepass keeps this from raising; a lone surrogate fails the UTF-8 decode below.
        raw = body.encode("utf-8", "surrogatepass")
    if len(raw) > limit:
        raise _too_large(limit)
    return raw


class _DuplicateKeyError(ValueError):
    """A JSON object repeated a key: parsers disagree on which value wins, so refuse it."""


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _DuplicateKeyError
    return result


def _reject_constant(_name: str) -> Any:
    """NaN and Infinity are not JSON (RFC 8259) although Python accepts them by default."""
    raise ValueError("non-standard JSON constant")


def parse_json(text: str) -> object:
    """Strict JSON: no duplicate keys, no NaN/Infinity."""
    return json.loads(
        text,
        object_pairs_hook=_reject_duplicate_keys,
        parse_constant=_reject_constant,
    )


EMPTY_BODY_MESSAGE: Final = "The request body is empty; send a JSON object."

# The codes JsonBody answers with (scripts/openapi.py documents them for each body route).
BODY_ERROR_CODES: Final = (
    UNSUPPORTED_MEDIA_TYPE,
    PAYLOAD_TOO_LARGE,
    INVALID_ENCODING,
    MALFORMED_JSON,
)
SCHEMA_ERROR_CODES: Final = (VALIDATION_FAILED,)


def check_body(body: str | None, is_base64: bool, limit: int) -> None:
    """Refuse a body that is too large, not valid base64 (when flagged so) or not UTF-8."""
    if not body:
        return
    if not is_base64 and body.isascii():
        # The common case, without copies: one byte per character, and no surrogates.
        if len(body) > limit:
            raise _too_large(limit)
        return
    try:
        body_bytes(body, is_base64, limit).decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(INVALID_ENCODING, "The request body is not valid UTF-8.") from None


def parse_json_body(text: str) -> Any:
    """The resolver's JSON deserializer: strict JSON, each failure a documented 400.

    Powertools calls it for ``current_event.json_body`` (and caches the result), so every
    route that reads the body gets the same strict parse, declared body rules or not.
    """
    if not text.strip():
        raise ApiError(MALFORMED_JSON, EMPTY_BODY_MESSAGE)
    try:
        return parse_json(text)
    except _DuplicateKeyError:
        raise ApiError(MALFORMED_JSON, "The request body repeats a JSON object key.") from None
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        raise ApiError(MALFORMED_JSON) from None


class JsonBody(BaseMiddlewareHandler[APIGatewayRestResolver]):
    """Route middleware: the request body is JSON, and matches ``schema`` when one is given.

    Declared by a route that takes a JSON body, e.g.
    ``@router.post("/echo", middlewares=[JsonBody(schema="echo_request")])`` for the
    JSON Schema in ``schemas/echo_request.json``; routing.RestApi adds a schema-less one
    to every POST, PUT and PATCH route that declares none. In order: 415 for another
    content type, 413 over ``MAX_BODY_BYTES`` (before any work on the body), 400 for bad
    base64 or bad UTF-8, then - with a schema - 400 for an empty body, 400 for JSON that is
    not strict, and 422 with every problem for a body the schema refuses. The route then
    reads the parsed body with ``current_event.json_body`` (parsed once).
    """

    def __init__(self, schema: str | None = None) -> None:
        super().__init__()
        # Loaded now, so a route naming a schema that was never generated fails at import.
        self.schema = load(schema) if schema is not None else None

    @property
    def error_codes(self) -> tuple[str, ...]:
        """Every error code this middleware can answer with."""
        return BODY_ERROR_CODES + (SCHEMA_ERROR_CODES if self.schema is not None else ())

    def handler(
        self, app: APIGatewayRestResolver, next_middleware: NextMiddleware
    ) -> Response[Any]:
        event = app.current_event
        check_content_type(event.headers.get("content-type"))
        check_body(event.body, bool(event.is_base64_encoded), settings.max_body_bytes)
        if self.schema is None:
            _ = event.json_body  # parsed (strictly) now, so a bad body is a 400 before the route
            return next_middleware(app)
        if not event.body:
            raise ApiError(MALFORMED_JSON, EMPTY_BODY_MESSAGE)
        problems = validate_object(self.schema, event.json_body)
        if problems:
            raise ApiError(VALIDATION_FAILED, details=problems)
        return next_middleware(app)
