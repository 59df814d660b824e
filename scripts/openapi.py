"""Generate ``openapi.json`` from what the handler's routes declare (never written by hand).

    python scripts/openapi.py            # (re)write openapi.json at the repository root
    python scripts/openapi.py --check    # exit 1 when the committed file is stale
    python scripts/openapi.py --output PATH [--handler-dir DIR]

How the document is made, so nothing in it is retyped:

1. The handler (``src/handler/app.py``) is imported the way Lambda imports it, with the
   literal environment variables ``template.yaml`` gives ``ApiFunction`` (tracing off, no
   AWS calls: the handler makes none at import).
2. Powertools generates the paths from the routes as declared - path, method, summary,
   description and ``responses=`` of each ``@router.get``/``@router.post`` - with its
   public ``get_openapi_json_schema``. This needs pydantic, which is fine here (the dev
   venv has it); the *function* keeps ``enable_validation`` off and never imports pydantic.
3. The document is completed from what the resolver attached to each route, read through
   its public ``operations`` (``routing.RestApi``):

   * request bodies: the JSON Schema file a route's ``JsonBody`` names
     (``src/handler/schemas/*.json``, the same schema the function validates with);
   * error responses: the codes of the route's body rules (``JsonBody.error_codes``) and
     those any route can answer (``app.ROUTE_ERROR_CODES``), grouped by HTTP status; the
     one error shape is the ``Error`` component schema, with one example per code. The
     answers for requests that match no route (``app.UNMATCHED_ERROR_CODES``: 404, 405 with
     ``Allow``) are reusable ``components.responses``, listed under
     ``x-unmatched-request-responses`` (OpenAPI has no place for "any other method");
   * methods API Gateway does not route (anything but DELETE, GET, HEAD, OPTIONS, PATCH,
     POST, PUT: TRACE, CONNECT, QUERY, ...): its own 403 ``Missing Authentication Token``,
     under ``x-unmatched-request-responses`` too. Not as ``trace`` operations: a path's
     405 ``Allow`` header lists what the path supports, and TRACE is not supported;
   * response headers: the handler's ``SECURITY_HEADERS``, on every function answer;
   * security: the ``x-api-key`` API key scheme, required everywhere except the events
     whose ``Auth.ApiKeyRequired`` is false in ``template.yaml`` (``GET /health``); every
     operation also documents API Gateway's own 429, and the secured ones its 403;
   * servers: the deployed stage URL (variables for API id, region, stage) and the local
     API (``python -m localapi serve``).

The output is deterministic (sorted keys, fixed indentation, trailing newline) and is
written atomically (temporary file in the same directory, fsync, rename).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from pathlib import Path
from types import ModuleType
from typing import Any, Final

from sam_project.errors import OneLineArgumentParser, UserError
from sam_project.files import publish_generated

REPO: Final = Path(__file__).resolve().parents[1]
HANDLER_DIR: Final = REPO / "src" / "handler"
TEMPLATE: Final = REPO / "template.yaml"
OUTPUT: Final = REPO / "openapi.json"

FUNCTION_ID: Final = "ApiFunction"
API_ID: Final = "Api"
LOCAL_SERVER: Final = "http://127.0.0.1:3000"
SECURITY_SCHEME: Final = "ApiKey"
API_KEY_HEADER: Final = "x-api-key"
OPENAPI_VERSION: Final = "3.1.0"

# Always set when importing the handler here, whatever the template says: no X-Ray SDK,
# no event printing. Variables that would change the document if inherited from the shell
# are removed first.
FORCED_ENV: Final[Mapping[str, str]] = {
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_DEV": "false",
    "POWERTOOLS_LOGGER_LOG_EVENT": "false",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}
CLEARED_ENV: Final = (
    "APP_VERSION",
    "MAX_BODY_BYTES",
    "CORS_ALLOW_ORIGIN",
    "LAMBDA_TASK_ROOT",
    "AWS_SAM_LOCAL",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "CONFIG_SECRET_ARN",
)

# API Gateway's own answers (not the function's), body {"message": "..."}.
GATEWAY_FORBIDDEN: Final = "403"
GATEWAY_THROTTLED: Final = "429"
# The methods API Gateway routes: a resource's ANY stands for exactly these (API Gateway
# developer guide, "Set up a method"). No resource has another method, so for TRACE,
# CONNECT or any other the gateway answers 403 Missing Authentication Token itself.
GATEWAY_ROUTED_METHODS: Final = frozenset(
    {"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"}
)
UNROUTED_MESSAGE: Final = "Missing Authentication Token"
UNROUTED_RESPONSE: Final = "MissingAuthenticationToken"

ERROR_SCHEMA: Final = "Error"
ERROR_DETAIL_SCHEMA: Final = "ErrorDetail"
GATEWAY_ERROR_SCHEMA: Final = "GatewayError"
ALLOW_HEADER: Final = "Allow"
JSON: Final = "application/json"


class GenerationError(UserError):
    """The document cannot be generated (template or handler not as expected)."""


# --------------------------------------------------------------------------- inputs


def _template() -> dict[str, Any]:
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from policy_gen.template import load_template  # noqa: PLC0415 - needs REPO on sys.path

    return load_template(TEMPLATE)


def _resource(template: Mapping[str, Any], logical_id: str) -> Mapping[str, Any]:
    resource = template.get("Resources", {}).get(logical_id)
    if not isinstance(resource, Mapping):
        raise GenerationError(f"{TEMPLATE.name} has no resource {logical_id}")
    properties = resource.get("Properties", {})
    return properties if isinstance(properties, Mapping) else {}


def handler_environment(template: Mapping[str, Any]) -> dict[str, str]:
    """The function's literal environment variables (intrinsics skipped) plus FORCED_ENV."""
    variables = _resource(template, FUNCTION_ID).get("Environment", {}).get("Variables", {})
    env = {name: value for name, value in variables.items() if isinstance(value, str)}
    return {**env, **FORCED_ENV}


def load_handler(env: Mapping[str, str], handler_dir: Path = HANDLER_DIR) -> ModuleType:
    """Import ``app`` from ``handler_dir`` under ``env`` (a fresh import each time)."""
    for name in CLEARED_ENV:
        os.environ.pop(name, None)
    os.environ.update(env)
    handler_dir = handler_dir.resolve()
    for name, loaded in list(sys.modules.items()):
        file = getattr(loaded, "__file__", None)
        if file and handler_dir in Path(file).resolve().parents:
            del sys.modules[name]
    sys.path.insert(0, str(handler_dir))
    try:
        return importlib.import_module("app")
    finally:
        sys.path.remove(str(handler_dir))


def public_routes(template: Mapping[str, Any]) -> set[tuple[str, str]]:
    """(METHOD, path) of the function's API events with ``Auth.ApiKeyRequired: false``."""
    events = _resource(template, FUNCTION_ID).get("Events", {})
    found: set[tuple[str, str]] = set()
    for event in events.values():
        properties = event.get("Properties", {}) if isinstance(event, Mapping) else {}
        auth = properties.get("Auth", {})
        if isinstance(auth, Mapping) and auth.get("ApiKeyRequired") is False:
            found.add((str(properties.get("Method", "")).upper(), str(properties.get("Path"))))
    return found


def api_key_required_by_default(template: Mapping[str, Any]) -> bool:
    auth = _resource(template, API_ID).get("Auth", {})
    return isinstance(auth, Mapping) and auth.get("ApiKeyRequired") is True


def default_stage(template: Mapping[str, Any]) -> str:
    stage = _resource(template, API_ID).get("StageName")
    if isinstance(stage, str):
        return stage
    if isinstance(stage, Mapping) and isinstance(stage.get("Ref"), str):
        parameter = template.get("Parameters", {}).get(stage["Ref"], {})
        default = parameter.get("Default") if isinstance(parameter, Mapping) else None
        if isinstance(default, str):
            return default
    raise GenerationError(f"cannot tell the default stage name of {API_ID}")


# --------------------------------------------------------------------------- building


class Builder:
    """The handler's error catalogue and headers, turned into OpenAPI fragments."""

    def __init__(self, module: ModuleType) -> None:
        self.module = module
        self.errors = sys.modules["api_errors"]
        self.catalog: Mapping[str, Any] = self.errors.ERROR_CATALOG
        self.security_headers: Mapping[str, str] = module.SECURITY_HEADERS

    def header_components(self) -> dict[str, Any]:
        headers = {
            name: {
                "description": "Set on every answer of the function.",
                "required": True,
                "schema": {"type": "string", "const": value},
            }
            for name, value in self.security_headers.items()
        }
        headers[ALLOW_HEADER] = {
            "description": "The methods this path accepts, comma-separated.",
            "required": True,
            "schema": {"type": "string"},
        }
        return headers

    def header_refs(self, *extra: str) -> dict[str, Any]:
        names = [*self.security_headers, *extra]
        return {name: {"$ref": f"#/components/headers/{name}"} for name in names}

    def error_schemas(self) -> dict[str, Any]:
        return {
            ERROR_DETAIL_SCHEMA: {
                "type": "object",
                "description": "One validation problem: a JSONPath to the field and what is wrong.",
                "properties": {"field": {"type": "string"}, "problem": {"type": "string"}},
                "required": ["field", "problem"],
                "additionalProperties": False,
            },
            ERROR_SCHEMA: {
                "type": "object",
                "description": (
                    "The one error shape of the API. Clients branch on `code` (stable); "
                    "`message` is for humans; `request_id` is the API Gateway request id to "
                    "quote in support requests; `details` only for VALIDATION_FAILED."
                ),
                "properties": {
                    "error": {
                        "type": "object",
                        "properties": {
                            "code": {"type": "string", "enum": sorted(self.catalog)},
                            "message": {"type": "string", "minLength": 1},
                            "request_id": {"type": "string", "minLength": 1},
                            "details": {
                                "type": "array",
                                "minItems": 1,
                                "items": {"$ref": f"#/components/schemas/{ERROR_DETAIL_SCHEMA}"},
                            },
                        },
                        "required": ["code", "message", "request_id"],
                        "additionalProperties": False,
                    }
                },
                "required": ["error"],
                "additionalProperties": False,
            },
            GATEWAY_ERROR_SCHEMA: {
                "type": "object",
                "description": "Answers API Gateway gives itself, before the function runs.",
                "properties": {"message": {"type": "string"}},
                "required": ["message"],
            },
        }

    def _example(self, code: str) -> dict[str, Any]:
        body = self.errors.error_body(code, self.catalog[code].message, "<request id>")
        if code == self.errors.VALIDATION_FAILED:
            body["error"]["details"] = [{"field": "$.message", "problem": "field is required"}]
        return {"summary": code, "value": body}

    def _describe(self, codes: Iterable[str]) -> str:
        parts = []
        for code in sorted(codes):
            message = self.catalog[code].message
            if code == self.errors.PAYLOAD_TOO_LARGE:
                limit = self.module.settings.max_body_bytes
                message += f" The limit is {limit} bytes (MAX_BODY_BYTES)."
            parts.append(f"`{code}`: {message}")
        return " ".join(parts)

    def error_responses(self, codes: Iterable[str], *extra_headers: str) -> dict[str, Any]:
        """One response per HTTP status, each listing (and exemplifying) its codes."""
        by_status: dict[int, set[str]] = {}
        for code in codes:
            by_status.setdefault(int(self.catalog[code].status), set()).add(code)
        return {
            str(status): {
                "description": self._describe(status_codes),
                "headers": self.header_refs(*extra_headers),
                "content": {
                    JSON: {
                        "schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"},
                        "examples": {code: self._example(code) for code in sorted(status_codes)},
                    }
                },
            }
            for status, status_codes in sorted(by_status.items())
        }


def _gateway_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {JSON: {"schema": {"$ref": f"#/components/schemas/{GATEWAY_ERROR_SCHEMA}"}}},
    }


def _unrouted_response() -> dict[str, Any]:
    routed = ", ".join(sorted(GATEWAY_ROUTED_METHODS))
    return {
        "description": (
            f"API Gateway: no resource of this API has the request's method (it routes {routed}), "
            f"so it answers 403 {UNROUTED_MESSAGE} before any function runs, with or without "
            "an API key. The local API answers the same."
        ),
        "content": {
            JSON: {
                "schema": {
                    "type": "object",
                    "properties": {"message": {"type": "string", "const": UNROUTED_MESSAGE}},
                    "required": ["message"],
                },
                "example": {"message": UNROUTED_MESSAGE},
            }
        },
    }


def _referenced_schema_names(document: Any) -> set[str]:
    found: set[str] = set()
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
                found.add(ref.rsplit("/", 1)[1])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def _prune_unreferenced_schemas(document: dict[str, Any]) -> None:
    """Drop Powertools' validation-error schemas: validation is off, nothing answers them."""
    schemas: dict[str, Any] = document["components"]["schemas"]
    while True:
        rest = {k: v for k, v in document.items() if k != "components"}
        rest["components"] = {k: v for k, v in document["components"].items() if k != "schemas"}
        used = _referenced_schema_names(rest)
        used |= _referenced_schema_names([schemas[name] for name in used if name in schemas])
        unused = [name for name in schemas if name not in used]
        if not unused:
            return
        for name in unused:
            del schemas[name]


def _response_name(status: str) -> str:
    return HTTPStatus(int(status)).phrase.title().replace(" ", "").replace("-", "")


def _security_and_servers(template: Mapping[str, Any]) -> tuple[Any, Any, bool]:
    from aws_lambda_powertools.event_handler.openapi.models import (  # noqa: PLC0415
        APIKey,
        APIKeyIn,
        Server,
        ServerVariable,
    )

    secured = api_key_required_by_default(template)
    security_schemes = {
        # pydantic alias: the field is `in_`, populated by its alias `in`.
        SECURITY_SCHEME: APIKey.model_validate(
            {
                "type": "apiKey",
                "name": API_KEY_HEADER,
                "in": APIKeyIn.header,
                "description": (
                    "API Gateway API key (usage plan: throttling and a daily quota). "
                    "Enforced by API Gateway only; the local API does not check it."
                ),
            }
        )
    }
    servers = [
        Server(
            url="https://{restApiId}.execute-api.{region}.amazonaws.com/{stage}",
            description="Deployed stage (stack output ApiUrl).",
            variables={
                "restApiId": ServerVariable(default="abcde12345", description="REST API id"),
                "region": ServerVariable(default="us-east-1", description="AWS region"),
                "stage": ServerVariable(
                    default=default_stage(template), description="EnvironmentSuffix"
                ),
            },
        ),
        Server(url=LOCAL_SERVER, description="python -m localapi serve (no API key check)."),
    ]
    return security_schemes, servers, secured


def build_document(handler_dir: Path = HANDLER_DIR) -> dict[str, Any]:
    """The whole OpenAPI document as plain data."""
    template = _template()
    module = load_handler(handler_environment(template), handler_dir)
    body_schema = sys.modules["body_schema"]
    build = Builder(module)
    security_schemes, servers, secured = _security_and_servers(template)
    raw = module.app.get_openapi_json_schema(
        title=module.settings.service_name,
        version=module.settings.app_version,
        openapi_version=OPENAPI_VERSION,
        description=(
            "Generated by scripts/openapi.py from the Powertools routes of src/handler/routes/, "
            "their request-body schemas and the error catalogue (api_errors.py). "
            "Do not edit by hand."
        ),
        servers=servers,
        security_schemes=security_schemes,
        security=[{SECURITY_SCHEME: []}] if secured else None,
    )
    document: dict[str, Any] = json.loads(raw)
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.update(build.error_schemas())
    components["headers"] = build.header_components()

    public = public_routes(template)
    operations = [op for op in module.app.operations if op.include_in_schema]
    if not operations:
        raise GenerationError("the resolver has no routes")
    for op in operations:
        operation = document["paths"][op.openapi_path][op.method.lower()]
        codes = set(module.ROUTE_ERROR_CODES)
        if op.body is not None:
            codes |= set(op.body.error_codes)
            request_schema: dict[str, Any] = {}
            if op.body.schema is not None:
                document_schema = body_schema.json_schema(op.body.schema)
                schemas[document_schema["title"]] = document_schema
                request_schema = {"$ref": f"#/components/schemas/{document_schema['title']}"}
            operation["requestBody"] = {
                "required": op.body.schema is not None,
                "content": {JSON: {"schema": request_schema}},
            }
        responses = operation.setdefault("responses", {})
        for response in responses.values():
            response["headers"] = build.header_refs()
        responses.update(build.error_responses(codes))
        responses[GATEWAY_THROTTLED] = _gateway_response(
            "API Gateway: throttled (stage or usage-plan rate, or the daily quota)."
        )
        if (op.method, op.path) in public:
            operation["security"] = []
        elif secured:
            responses[GATEWAY_FORBIDDEN] = _gateway_response(
                "API Gateway: the x-api-key header is missing or not a valid key."
            )
        operation["responses"] = dict(sorted(responses.items()))

    unmatched = build.error_responses(module.UNMATCHED_ERROR_CODES)
    not_allowed = str(int(HTTPStatus.METHOD_NOT_ALLOWED))
    if not_allowed in unmatched:
        unmatched[not_allowed]["headers"] = build.header_refs(ALLOW_HEADER)
        unmatched[not_allowed]["description"] += " The Allow header lists the accepted methods."
    components["responses"] = {_response_name(status): body for status, body in unmatched.items()}
    document["x-unmatched-request-responses"] = {
        status: {"$ref": f"#/components/responses/{_response_name(status)}"}
        for status in sorted(unmatched)
    }
    components["responses"][UNROUTED_RESPONSE] = _unrouted_response()
    document["x-unmatched-request-responses"][GATEWAY_FORBIDDEN] = {
        "$ref": f"#/components/responses/{UNROUTED_RESPONSE}"
    }
    _prune_unreferenced_schemas(document)
    return document


# --------------------------------------------------------------------------- output


def render(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = OneLineArgumentParser(description=__doc__.split("\n\n", 1)[0] if __doc__ else "")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="default: openapi.json")
    parser.add_argument(
        "--handler-dir",
        type=Path,
        default=HANDLER_DIR,
        help="the function's code directory (default: src/handler)",
    )
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the file differs from a fresh render"
    )
    args = parser.parse_args(argv)
    try:
        text = render(build_document(args.handler_dir))
    except GenerationError as error:
        print(f"openapi: {error}", file=sys.stderr)
        return 2
    return publish_generated(
        args.output, text, check=args.check, tool="openapi", regenerate="make openapi"
    )

if __name__ == "__main__":
    sys.exit(main())
