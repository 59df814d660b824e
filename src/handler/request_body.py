"""Reading a request's JSON body: content type, size limit, encoding and strict parsing.

Each failure maps to one documented error (415, 413, 400 ``INVALID_ENCODING`` or
``MALFORMED_JSON``), and the body is refused before any work is done on it when it is
too large. Strict means what RFC 8259 allows and nothing more: no duplicate keys (parsers
disagree on which value wins) and no ``NaN``/``Infinity``.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import TYPE_CHECKING, Any

from api_errors import (
    INVALID_ENCODING,
    MALFORMED_JSON,
    PAYLOAD_TOO_LARGE,
    UNSUPPORTED_MEDIA_TYPE,
    ApiError,
)
from aws_lambda_powertools.event_handler import content_types

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent


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


def read_json_body(event: BaseProxyEvent, limit: int) -> object:
    """Parse the request's body as strict JSON, mapping each failure to its error."""
    check_content_type(event.headers.get("content-type"))
    raw = body_bytes(event.body, bool(event.is_base64_encoded), limit)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(INVALID_ENCODING, "The request body is not valid UTF-8.") from None
    if not text.strip():
        raise ApiError(MALFORMED_JSON, "The request body is empty; send a JSON object.")
    try:
        return parse_json(text)
    except _DuplicateKeyError:
        raise ApiError(MALFORMED_JSON, "The request body repeats a JSON object key.") from None
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        raise ApiError(MALFORMED_JSON) from None
