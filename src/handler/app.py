"""Lambda entry point (``app.lambda_handler``) behind an API Gateway REST API proxy integration.

This module only assembles the function: the Powertools Logger and Metrics, the resolver
with every router of the :mod:`routes` package, the exception handlers, and the entry
point that adds the standard headers and writes the access log (:mod:`access_log`). The
routes themselves live in ``routes/``, one module per resource; what every route gets
however it is declared (405 with ``Allow``, body rules) is attached in :mod:`routing`.
Every response, success or error, is JSON and carries the security headers
in :data:`SECURITY_HEADERS`; every error uses the one shape defined in :mod:`api_errors`.

Security choices worth knowing before editing:

* Request bodies and headers are never logged. ``Logger.inject_lambda_context`` is used
  without ``log_event``, and the resolver's ``debug`` mode (which ``print``\\s the whole
  event) is only on when *both* ``POWERTOOLS_DEV`` and ``POWERTOOLS_LOGGER_LOG_EVENT`` are
  true, i.e. when someone explicitly asked for events in the logs.
* No error path can leak a stack trace: a catch-all exception handler answers an opaque 500
  (request id only) and logs the exception for operators; a last-resort ``try`` around
  the resolver covers failures outside the routes.
* Tracing is the services' own, not an SDK's: ``Tracing: Active`` on the function and
  ``TracingEnabled`` on the API stage (template.yaml) give every sampled request an X-Ray
  trace API Gateway -> Lambda (with the function's initialization and invocation), and
  Powertools' Logger puts the request's ``xray_trace_id`` on every log line. The function
  bundles no tracing SDK: the AWS X-Ray SDK for Python is in maintenance mode (end of
  support 2027-02-25), its botocore dependency was 32 of the package's 45 MB, and it cost
  about 25-30 ms of cold start and 120-140 us per request. Custom spans: the README's
  OpenTelemetry (ADOT layer) option.

Environment variables (all optional):

``POWERTOOLS_SERVICE_NAME``      service name in logs, metrics, traces and ``GET /``.
``POWERTOOLS_METRICS_NAMESPACE`` CloudWatch namespace (default ``SecureServerlessApiKit``).
``APP_VERSION``                  version reported by ``GET /`` (default ``0.1.0``).
``MAX_BODY_BYTES``               largest accepted request body, in bytes after base64
                                 decoding (default 10240); larger bodies get 413.
``CORS_ALLOW_ORIGIN``            comma-separated allowed origins. Unset (default): no CORS
                                 headers at all, browsers on other origins cannot call the
                                 API. Allowed request headers are ``Content-Type, X-Api-Key``.
``POWERTOOLS_LOGGER_LOG_EVENT``  keep ``false``: ``true`` writes whole events (headers,
                                 API keys, bodies) to the logs.
``CONFIG_SECRET_ARN``            ARN of a JSON secret read on ``GET /`` (cached); unset: no
                                 secret, ``config_source`` is ``none``. Values never leave
                                 the function, only their count (``config_entries``).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Final

from access_log import AccessLog
from api_errors import (
    ERROR_CATALOG,
    INTERNAL_ERROR,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    ApiError,
    ErrorDetail,
    code_for_status,
    error_body,
)
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import (
    CORSConfig,
    Response,
    content_types,
)
from aws_lambda_powertools.event_handler.exceptions import NotFoundError, ServiceError
from aws_lambda_powertools.metrics import MetricUnit
from routes import ROUTERS
from routing import RestApi
from settings import Settings, settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

LambdaHandler = Callable[[dict[str, Any], "LambdaContext"], dict[str, Any]]

# Only what a browser client needs: the JSON body type and the API Gateway API key.
CORS_ALLOW_HEADERS: Final = ("Content-Type", "X-Api-Key")
CORS_MAX_AGE_SECONDS: Final = 600

# Added to every response. A JSON API needs no framing, scripts or referrers, and its
# answers (request ids, echoed input) should never sit in a shared or browser cache.
SECURITY_HEADERS: Final[Mapping[str, str]] = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}

# What the function answers besides what routes declare (scripts/openapi.py documents it):
# any route, for an unexpected exception, and a request that matches no route.
ROUTE_ERROR_CODES: Final = (INTERNAL_ERROR,)
UNMATCHED_ERROR_CODES: Final = (NOT_FOUND, METHOD_NOT_ALLOWED)

# Paths are client input: bound what an access-log line can carry.
_MAX_LOGGED_PATH_CHARS: Final = 256


def _build_cors(settings: Settings) -> CORSConfig | None:
    """CORS only when origins are configured: no configuration means no CORS headers."""
    if not settings.cors_allow_origins:
        return None
    first, *extra = settings.cors_allow_origins
    cors = CORSConfig(allow_origin=first, extra_origins=extra, max_age=CORS_MAX_AGE_SECONDS)
    # CORSConfig always adds Authorization, X-Amz-Date and X-Amz-Security-Token to the
    # allowed headers; this API accepts none of them, so narrow the public attribute.
    cors.allow_headers = set(CORS_ALLOW_HEADERS)
    return cors


logger: Final = Logger(service=settings.service_name)
access_log: Final = AccessLog(logger)
metrics: Final = Metrics(namespace=settings.metrics_namespace, service=settings.service_name)
app: Final = RestApi(cors=_build_cors(settings), debug=settings.debug)
for _router in ROUTERS:
    app.include_router(_router)

# log_metrics warns on every invocation without application metrics (only 5xx add one);
# that is expected here, so keep it out of the function's logs.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

for _problem in settings.problems:
    logger.warning("Configuration problem", extra={"problem": _problem})


def _event_request_id(event: Mapping[str, Any]) -> str | None:
    """The API Gateway request id (``requestContext.requestId``), the id clients can quote."""
    request_context = event.get("requestContext")
    if isinstance(request_context, Mapping):
        request_id = request_context.get("requestId")
        if isinstance(request_id, str) and request_id:
            return request_id
    return None


def _request_id_of(event: Mapping[str, Any]) -> str:
    return _event_request_id(event) or "unknown"


def _current_request_id() -> str:
    return _request_id_of(app.current_event.raw_event)


# --------------------------------------------------------------------------- errors


def _error_response(
    status: int,
    code: str,
    message: str | None = None,
    *,
    details: list[ErrorDetail] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response[Any]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=error_body(
            code,
            message or ERROR_CATALOG[code].message,
            _current_request_id(),
            details,
        ),
        headers=dict(headers or {}),
    )


def _on_api_error(exc: ApiError) -> Response[Any]:
    """Documented client errors raised by our own code."""
    return _error_response(
        exc.status, exc.code, exc.message, details=exc.details, headers=exc.headers
    )


@app.not_found
def _on_not_found(_exc: NotFoundError) -> Response[Any]:
    """404, or 405 with ``Allow`` when the path exists under other methods."""
    allowed = app.allowed_methods(app.current_event.path)
    if allowed:
        return _error_response(
            HTTPStatus.METHOD_NOT_ALLOWED,
            METHOD_NOT_ALLOWED,
            headers={"Allow": ", ".join(allowed)},
        )
    return _error_response(HTTPStatus.NOT_FOUND, NOT_FOUND)


def _on_service_error(exc: ServiceError) -> Response[Any]:
    """Powertools' HTTP errors, reshaped; server-side ones stay opaque like any 500."""
    status = int(exc.status_code)
    if status >= 500:
        return _on_unexpected(exc)
    message = exc.msg if isinstance(exc.msg, str) and exc.msg else None
    return _error_response(status, code_for_status(status), message or "The request failed.")


def _on_unexpected(exc: Exception) -> Response[Any]:
    """Opaque 500: the client gets the request id only, operators get the traceback.

    Registered for ``Exception`` so Powertools' default path (re-raise, or a plain-text
    traceback body in debug mode) is never reached from a route.
    """
    logger.exception("Unhandled error while handling the request", exc_info=exc)
    return _error_response(HTTPStatus.INTERNAL_SERVER_ERROR, INTERNAL_ERROR)


# Registered by call rather than as decorators: Powertools' decorator is not typed, and
# mypy --strict would otherwise treat the handlers as untyped. Lookup follows the MRO, so
# the specific handlers win over the catch-all for ApiError, ServiceError and NotFoundError.
app.exception_handler(ApiError)(_on_api_error)
app.exception_handler(ServiceError)(_on_service_error)
app.exception_handler(Exception)(_on_unexpected)


# --------------------------------------------------------------------------- entry point


def _fallback_response(event: Mapping[str, Any]) -> dict[str, Any]:
    """The 500 for a failure outside the routes (malformed event, bug in an error handler).

    Built from literals, without the helpers the failing code may have used, so it cannot
    fail the same way.
    """
    body = {
        "error": {
            "code": INTERNAL_ERROR,
            "message": ERROR_CATALOG[INTERNAL_ERROR].message,
            "request_id": _request_id_of(event),
        }
    }
    return {
        "statusCode": int(HTTPStatus.INTERNAL_SERVER_ERROR),
        "multiValueHeaders": {},
        "body": json.dumps(body, separators=(",", ":")),
        "isBase64Encoded": False,
    }


# Headers this function always sets itself, lower-cased (computed once, not per request).
_OWNED_HEADERS: Final = frozenset({name.lower() for name in SECURITY_HEADERS} | {"content-type"})


def _apply_standard_headers(response: dict[str, Any]) -> None:
    """Force the JSON content type and the security headers onto any response.

    Done on the final dict rather than in a middleware so that every path is covered,
    including Powertools' CORS preflight answer and the last-resort 500.
    """
    headers: dict[str, list[str]] = response.setdefault("multiValueHeaders", {})
    for name in [name for name in headers if name.lower() in _OWNED_HEADERS]:
        del headers[name]
    for name, value in SECURITY_HEADERS.items():
        headers[name] = [value]
    headers["Content-Type"] = [content_types.APPLICATION_JSON]
    if settings.cors_allow_origins:
        # The CORS answer depends on the Origin header: tell any cache so.
        vary = headers.setdefault("Vary", [])
        if "Origin" not in vary:
            vary.append("Origin")


def _error_code_of(response: Mapping[str, Any]) -> str | None:
    """The machine code of an error response we built, for the access log and traces."""
    if int(response.get("statusCode", 200)) < 400:
        return None
    try:
        code = json.loads(response["body"])["error"]["code"]
    except (KeyError, TypeError, ValueError):
        return None
    return code if isinstance(code, str) else None


def handle_request(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Resolve one API Gateway event into a response; never raises (see module docstring)."""
    # What Powertools' correlation_id_path=API_GATEWAY_REST would set, without a JMESPath
    # search per request.
    logger.set_correlation_id(_event_request_id(event))
    try:
        response = app.resolve(event, context)
    except Exception:
        logger.exception("Request failed outside the route handlers")
        response = _fallback_response(event)
    _apply_standard_headers(response)

    status = int(response["statusCode"])
    error_code = _error_code_of(response)
    if status >= 500:
        metrics.add_metric(name="ServerErrors", unit=MetricUnit.Count, value=1)
    # Method, path and outcome only: never headers, query strings or bodies.
    path = event.get("path")
    access_log.write(
        {
            "http_method": event.get("httpMethod"),
            "path": path[:_MAX_LOGGED_PATH_CHARS] if isinstance(path, str) else None,
            "status_code": status,
            "error_code": error_code,
        }
    )
    return response


def _compose_entry_point() -> LambdaHandler:
    """Wrap :func:`handle_request` in the Powertools decorators that apply.

    Outermost first: the logger (Lambda context keys, state cleared per invocation, no event
    logging; the correlation id is set in :func:`handle_request`), then metrics (cold-start
    metric, flushed as EMF on stdout).
    """
    handler: LambdaHandler = metrics.log_metrics(handle_request, capture_cold_start_metric=True)
    return logger.inject_lambda_context(handler, clear_state=True)


lambda_handler: Final = _compose_entry_point()
