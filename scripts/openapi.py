"""Generate ``openapi.json`` from the handler's Powertools routes (never written by hand).

    python scripts/openapi.py            # (re)write openapi.json at the repository root
    python scripts/openapi.py --check    # exit 1 when the committed file is stale
    python scripts/openapi.py --output PATH

How the document is made, so nothing in it is retyped:

1. The handler (``src/handler/app.py``) is imported the way Lambda imports it, with the
   literal environment variables ``template.yaml`` gives ``ApiFunction`` (tracing off, no
   AWS calls: the handler makes none at import).
2. Powertools generates the document from the resolver's route table
   (``app.get_openapi_schema``). This needs pydantic, which is fine here (the dev venv
   has it); the *function* keeps ``enable_validation`` off and never imports pydantic.
3. The document is enriched from data the handler already has:

   * request bodies: a route whose code (followed through the module's own helper
     functions) refers to an ``api_schema.ObjectSchema`` gets it as its JSON request
     body, rendered by ``api_schema.json_schema``;
   * error responses: the ``api_errors`` codes a route's code can reach (same walk), plus
     those of the catch-all exception handler, grouped by HTTP status; the one error shape
     is the ``Error`` component schema, with one example per code. The answers for
     requests that match no route (404, 405 with ``Allow``) come from the resolver's
     not-found handler and are reusable ``components.responses``, listed under
     ``x-unmatched-request-responses`` (OpenAPI has no place for "any other method");
   * response headers: the handler's ``SECURITY_HEADERS``, on every function answer;
   * security: the ``x-api-key`` API key scheme, required everywhere except the events
     whose ``Auth.ApiKeyRequired`` is false in ``template.yaml`` (``GET /health``); those
     operations also document API Gateway's own 403 and 429 answers;
   * servers: the deployed stage URL (variables for API id, region, stage) and the local
     API (``python -m localapi serve``).

The output is deterministic (sorted keys, fixed indentation, trailing newline) and is
written atomically (temporary file in the same directory, fsync, rename).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import CodeType, FunctionType, ModuleType
from typing import Any, Final

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

ERROR_SCHEMA: Final = "Error"
ERROR_DETAIL_SCHEMA: Final = "ErrorDetail"
GATEWAY_ERROR_SCHEMA: Final = "GatewayError"


class GenerationError(RuntimeError):
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


def load_handler(env: Mapping[str, str]) -> ModuleType:
    """Import ``app`` from src/handler under ``env`` (a fresh import each time)."""
    for name in CLEARED_ENV:
        os.environ.pop(name, None)
    os.environ.update(env)
    for name, loaded in list(sys.modules.items()):
        if Path(getattr(loaded, "__file__", None) or "/").parent == HANDLER_DIR:
            del sys.modules[name]
    if str(HANDLER_DIR) not in sys.path:
        sys.path.insert(0, str(HANDLER_DIR))
    return importlib.import_module("app")


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


# --------------------------------------------------------------------------- code walk


def _referenced_globals(func: Callable[..., Any], module: ModuleType) -> list[Any]:
    """Every global ``func`` refers to, following the helpers of the handler's own modules.

    A static over-approximation (names in the bytecode, including nested code objects and
    attribute names that happen to match a global): it can only add documentation, and
    the unit tests check the other direction by running the handler.
    """
    seen: set[CodeType] = set()
    stack: list[tuple[CodeType, dict[str, Any]]] = [(func.__code__, vars(module))]
    found: list[Any] = []
    while stack:
        code, namespace = stack.pop()
        if code in seen:
            continue
        seen.add(code)
        stack.extend((const, namespace) for const in code.co_consts if isinstance(const, CodeType))
        for name in code.co_names:
            if name not in namespace:
                continue
            value = namespace[name]
            found.append(value)
            if isinstance(value, FunctionType) and _is_handler_code(value):
                stack.append((value.__code__, value.__globals__))
    return found


def _is_handler_code(func: FunctionType) -> bool:
    """A function defined in one of the handler's own modules (src/handler)."""
    return Path(func.__code__.co_filename).resolve().parent == HANDLER_DIR


def reachable_codes(func: Callable[..., Any], module: ModuleType) -> set[str]:
    catalog = module.ERROR_CATALOG
    return {
        value
        for value in _referenced_globals(func, module)
        if isinstance(value, str) and value in catalog
    }


def request_schemas(func: Callable[..., Any], module: ModuleType) -> list[Any]:
    object_schema = sys.modules["api_schema"].ObjectSchema
    schemas: list[Any] = []
    for value in _referenced_globals(func, module):
        if isinstance(value, object_schema) and value not in schemas:
            schemas.append(value)
    return schemas


# --------------------------------------------------------------------------- building


def _first_paragraph(func: Callable[..., Any]) -> str | None:
    doc = inspect.getdoc(func)
    return doc.split("\n\n", 1)[0].replace("\n", " ") if doc else None


def _routes(module: ModuleType) -> list[Any]:
    resolver = module.app
    return [*resolver._static_routes, *resolver._dynamic_routes]


def _exception_handler(module: ModuleType, exc_type: type[BaseException]) -> Callable[..., Any]:
    handler = module.app.exception_handler_manager.lookup_exception_handler(exc_type)
    if handler is None:
        raise GenerationError(f"the resolver has no exception handler for {exc_type.__name__}")
    return handler  # type: ignore[no-any-return]


def _header_components(module: ModuleType) -> dict[str, Any]:
    headers = {
        name: {
            "description": "Set on every answer of the function.",
            "required": True,
            "schema": {"type": "string", "const": value},
        }
        for name, value in module.SECURITY_HEADERS.items()
    }
    headers["Allow"] = {
        "description": "The methods this path accepts, comma-separated.",
        "required": True,
        "schema": {"type": "string"},
    }
    return headers


def _header_refs(module: ModuleType, *extra: str) -> dict[str, Any]:
    names = [*module.SECURITY_HEADERS, *extra]
    return {name: {"$ref": f"#/components/headers/{name}"} for name in names}


def _error_schemas(module: ModuleType) -> dict[str, Any]:
    codes = sorted(module.ERROR_CATALOG)
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
                        "code": {"type": "string", "enum": codes},
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


def _example(module: ModuleType, code: str) -> dict[str, Any]:
    body = module.error_body(code, module.ERROR_CATALOG[code].message, "<request id>")
    if code == "VALIDATION_FAILED":
        body["error"]["details"] = [{"field": "$.message", "problem": "field is required"}]
    return {"summary": code, "value": body}


def _describe_codes(module: ModuleType, codes: Iterable[str]) -> str:
    parts = []
    for code in sorted(codes):
        message = module.ERROR_CATALOG[code].message
        if code == "PAYLOAD_TOO_LARGE":
            message += f" The limit is {module.settings.max_body_bytes} bytes (MAX_BODY_BYTES)."
        parts.append(f"`{code}`: {message}")
    return " ".join(parts)


def error_responses(
    module: ModuleType, codes: Iterable[str], *extra_headers: str
) -> dict[str, Any]:
    """One response per HTTP status, each listing (and exemplifying) its codes."""
    by_status: dict[int, list[str]] = {}
    for code in codes:
        by_status.setdefault(int(module.ERROR_CATALOG[code].status), []).append(code)
    responses: dict[str, Any] = {}
    for status, status_codes in sorted(by_status.items()):
        responses[str(status)] = {
            "description": _describe_codes(module, status_codes),
            "headers": _header_refs(module, *extra_headers),
            "content": {
                "application/json": {
                    "schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"},
                    "examples": {code: _example(module, code) for code in sorted(status_codes)},
                }
            },
        }
    return responses


def _gateway_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{GATEWAY_ERROR_SCHEMA}"}}
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


def build_document() -> dict[str, Any]:
    """The whole OpenAPI document as plain data."""
    template = _template()
    module = load_handler(handler_environment(template))
    api_schema = sys.modules["api_schema"]
    settings = module.settings

    from aws_lambda_powertools.event_handler.openapi.models import (  # noqa: PLC0415
        APIKey,
        APIKeyIn,
        Server,
        ServerVariable,
    )
    from aws_lambda_powertools.event_handler.openapi.models import (  # noqa: PLC0415
        SecurityScheme as _SecurityScheme,
    )

    stage = default_stage(template)
    secured = api_key_required_by_default(template)
    security_schemes: dict[str, _SecurityScheme] = {
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
                "stage": ServerVariable(default=stage, description="EnvironmentSuffix"),
            },
        ),
        Server(url=LOCAL_SERVER, description="python -m localapi serve (no API key check)."),
    ]
    raw = module.app.get_openapi_json_schema(
        title=settings.service_name,
        version=settings.app_version,
        openapi_version=OPENAPI_VERSION,
        description=(
            "Generated by scripts/openapi.py from the Powertools routes of src/handler/app.py, "
            "the error catalogue (api_errors.py) and the request schemas (api_schema.py). "
            "Do not edit by hand."
        ),
        servers=servers,
        security_schemes=security_schemes,
        security=[{SECURITY_SCHEME: []}] if secured else None,
    )
    document: dict[str, Any] = json.loads(raw)
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.update(_error_schemas(module))
    components["headers"] = _header_components(module)

    catch_all = reachable_codes(_exception_handler(module, Exception), module)
    public = public_routes(template)
    operations: list[tuple[str, str]] = []
    for route in _routes(module):
        if not route.include_in_schema:
            continue
        method = route.method.lower()
        operation = document["paths"][route.path][method]
        operations.append((route.method, route.path))
        description = _first_paragraph(route.func)
        if description:
            operation["description"] = description
        for schema in request_schemas(route.func, module):
            schemas[schema.title] = api_schema.json_schema(schema)
            operation["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{schema.title}"}}
                },
            }
        responses = operation.setdefault("responses", {})
        for response in responses.values():
            response["headers"] = _header_refs(module)
        codes = reachable_codes(route.func, module) | catch_all
        responses.update(error_responses(module, codes))
        responses[GATEWAY_THROTTLED] = _gateway_response(
            "API Gateway: throttled (stage or usage-plan rate, or the daily quota)."
        )
        if (route.method, route.path) in public:
            operation["security"] = []
        elif secured:
            responses[GATEWAY_FORBIDDEN] = _gateway_response(
                "API Gateway: the x-api-key header is missing or not a valid key."
            )
        operation["responses"] = dict(sorted(responses.items()))

    unmatched = reachable_codes(_exception_handler(module, _not_found_error()), module)
    allow_header = "Allow"
    component_responses: dict[str, Any] = {}
    for status, response in error_responses(module, unmatched).items():
        if status == str(int(module.ERROR_CATALOG[module.METHOD_NOT_ALLOWED].status)):
            response["headers"] = _header_refs(module, allow_header)
            response["description"] += " The Allow header lists the accepted methods."
        component_responses[_response_name(status)] = response
    components["responses"] = component_responses
    document["x-unmatched-request-responses"] = {
        status: {"$ref": f"#/components/responses/{_response_name(status)}"}
        for status in sorted(error_responses(module, unmatched))
    }
    _prune_unreferenced_schemas(document)
    if not operations:
        raise GenerationError("the resolver has no routes")
    return document


def _not_found_error() -> type[BaseException]:
    from aws_lambda_powertools.event_handler.exceptions import NotFoundError  # noqa: PLC0415

    return NotFoundError


def _response_name(status: str) -> str:
    from http import HTTPStatus  # noqa: PLC0415

    return HTTPStatus(int(status)).phrase.title().replace(" ", "").replace("-", "")


# --------------------------------------------------------------------------- output


def render(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.chmod(0o644)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0] if __doc__ else "")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="default: openapi.json")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the file differs from a fresh render"
    )
    args = parser.parse_args(argv)
    try:
        text = render(build_document())
    except GenerationError as error:
        print(f"openapi: {error}", file=sys.stderr)
        return 2
    output: Path = args.output
    if args.check:
        current = output.read_text(encoding="utf-8") if output.exists() else ""
        if current != text:
            print(f"openapi: {output} is stale; run `python scripts/openapi.py`", file=sys.stderr)
            return 1
        print(f"openapi: {output} is up to date")
        return 0
    write_atomic(output, text)
    print(f"openapi: wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
