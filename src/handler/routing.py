"""The resolver all routes are registered on, and the one place route-wide behaviour is attached.

Routes are declared with Powertools' own decorators (``@router.get``, ``@router.post`` on
an ``APIGatewayRouter`` included with ``app.include_router``, or ``@app.get`` on the
resolver itself). Every one of those ends in the resolver's public ``route`` method, so
:class:`RestApi` overrides that method, and nothing else, to give every route, however
it was declared:

* **405 with Allow.** The (method, path) pair is recorded. Powertools only knows "no route
  matched" (its not-found handler, a 404); :meth:`RestApi.allowed_methods` tells the
  not-found handler in app.py which methods the path does have.
* **Body rules.** A route that takes a body (POST, PUT, PATCH, or any route declaring a
  :class:`~request_body.JsonBody` middleware) runs :class:`~request_body.JsonBody` first:
  content type, size, encoding and strict JSON, then its JSON Schema when it declares one.
  It is a Powertools route middleware, so a GET route runs exactly as Powertools runs it.
* **Strict JSON everywhere.** ``current_event.json_body`` parses with
  :func:`request_body.parse_json_body` (no duplicate keys, no NaN), whichever route reads it.

The recorded :attr:`RestApi.operations` are also what scripts/openapi.py documents.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Final

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.constants import (
    DEFAULT_OPENAPI_RESPONSE_DESCRIPTION,
    DEFAULT_STATUS_CODE,
)
from request_body import JsonBody, parse_json_body

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import CORSConfig
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
    from aws_lambda_powertools.shared.types import AnyCallableT

# Methods whose requests carry a body; their routes get the body rules without asking.
BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})

# A ``<name>`` path segment matches what Powertools accepts there: one segment, never "/".
_PARAMETER: Final = re.compile(r"<(\w+)>")
_SEGMENT_CHARS: Final = r"[-._~()'!*:@,;=+&$%<> \[\]{}|^\w]+"


class Operation:
    """One declared (method, path) and what the resolver attached to it.

    A plain class rather than a dataclass: each dataclass adds about a millisecond to the
    cold start (its methods are generated and compiled at import).
    """

    __slots__ = ("body", "include_in_schema", "method", "openapi_path", "path")

    def __init__(
        self,
        method: str,
        path: str,
        openapi_path: str,
        body: JsonBody | None,
        include_in_schema: bool,
    ) -> None:
        self.method = method
        self.path = path
        """As declared, in Powertools' syntax (``/items/<item_id>``), no trailing slash."""
        self.openapi_path = openapi_path
        """The same in OpenAPI's syntax (``/items/{item_id}``)."""
        self.body = body
        """The body rules the route runs, ``None`` for a route that takes no body."""
        self.include_in_schema = include_in_schema

    def __repr__(self) -> str:
        return f"Operation({self.method} {self.path}, body={self.body is not None})"


def _normalize(path: str) -> str:
    """Powertools' REST routing ignores trailing slashes (``/health/`` is ``/health``)."""
    return path.rstrip("/") or "/"


def _path_pattern(path: str) -> re.Pattern[str]:
    literal_parts = _PARAMETER.split(path)[::2]
    return re.compile("^" + _SEGMENT_CHARS.join(re.escape(part) for part in literal_parts) + "/*$")


class RouteTable:
    """What was declared: the operations, and the methods of each path for the 405 answer.

    Its own object, held by the resolver as a public attribute, so that nothing here is
    stored under a private name on a Powertools object (where it could collide with
    Powertools' own state).
    """

    __slots__ = ("dynamic", "operations", "static")

    def __init__(self) -> None:
        self.operations: list[Operation] = []
        self.static: dict[str, set[str]] = {}
        self.dynamic: list[tuple[re.Pattern[str], set[str]]] = []

    def record(self, method: str, rule: str, body: JsonBody | None, in_schema: bool) -> None:
        path = _normalize(rule)
        openapi_path = _PARAMETER.sub(r"{\1}", path)
        self.operations.append(Operation(method, path, openapi_path, body, in_schema))
        if not _PARAMETER.search(path):
            self.static.setdefault(path, set()).add(method)
            return
        pattern = _path_pattern(path)
        for known, methods in self.dynamic:
            if known.pattern == pattern.pattern:
                methods.add(method)
                return
        self.dynamic.append((pattern, {method}))

    def allowed_methods(self, path: str) -> tuple[str, ...]:
        normalized = _normalize(path)
        methods = self.static.get(normalized)
        if methods is None:
            methods = next(
                (found for pattern, found in self.dynamic if pattern.match(normalized)), set()
            )
        return tuple(sorted(methods))


class RestApi(APIGatewayRestResolver):
    """``APIGatewayRestResolver`` whose ``route`` also records and equips every route."""

    def __init__(
        self,
        *,
        cors: CORSConfig | None = None,
        debug: bool | None = None,
    ) -> None:
        super().__init__(cors=cors, debug=debug, json_body_deserializer=parse_json_body)
        self.route_table = RouteTable()

    @property
    def operations(self) -> tuple[Operation, ...]:
        """Every declared route, in declaration order."""
        return tuple(self.route_table.operations)

    def allowed_methods(self, path: str) -> tuple[str, ...]:
        """The methods declared for the path of a request, sorted; empty for an unknown path."""
        return self.route_table.allowed_methods(path)

    def route(
        self,
        rule: str,
        method: str | list[str] | tuple[str],
        cors: bool | None = None,
        compress: bool = False,
        cache_control: str | None = None,
        summary: str | None = None,
        description: str | None = None,
        responses: dict[int, OpenAPIResponse] | None = None,
        response_description: str = DEFAULT_OPENAPI_RESPONSE_DESCRIPTION,
        tags: list[str] | None = None,
        operation_id: str | None = None,
        include_in_schema: bool = True,
        security: list[dict[str, list[str]]] | None = None,
        openapi_extensions: dict[str, Any] | None = None,
        deprecated: bool = False,
        enable_validation: bool | None = None,
        custom_response_validation_http_code: int | HTTPStatus | None = None,
        status_code: int = DEFAULT_STATUS_CODE,
        middlewares: list[Callable[..., Any]] | None = None,
    ) -> Callable[[AnyCallableT], AnyCallableT]:
        """Powertools' ``route``, registering one method at a time with the extras above."""
        methods = [method] if isinstance(method, str) else list(method)
        register_with_powertools = super().route

        def register(func: AnyCallableT) -> AnyCallableT:
            for item in methods:
                declared = list(middlewares or ())
                body = next((m for m in declared if isinstance(m, JsonBody)), None)
                if body is None and item.upper() in BODY_METHODS:
                    body = JsonBody()
                    declared.insert(0, body)
                self.route_table.record(item.upper(), rule, body, include_in_schema)
                register_with_powertools(
                    rule,
                    item,
                    cors,
                    compress,
                    cache_control,
                    summary,
                    description,
                    responses,
                    response_description,
                    tags,
                    operation_id,
                    include_in_schema,
                    security,
                    openapi_extensions,
                    deprecated,
                    enable_validation,
                    custom_response_validation_http_code,
                    status_code,
                    declared,
                )(func)
            return func

        return register
