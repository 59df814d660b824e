"""What API Gateway does with a request, judged from the translated template's REST API.

No AWS endpoint exists here, so "a request without credentials gets 401/403" is proven
on the configuration API Gateway would import: the OpenAPI ``Body`` the Serverless
transform writes into ``AWS::ApiGateway::RestApi`` (SAM writes authorizers, the API key
and the resource policy there, not as Method resources). Pure functions of that document.

The rules encoded, each from the API Gateway developer guide:

* **Routing** ("Set up a proxy integration with a proxy resource"; "x-amazon-apigateway-
  any-method object"): a request goes to the resource whose path matches exactly, else to
  the greedy ``{proxy+}`` under it; on that resource, to the method of its verb, else to
  ANY ("catches any HTTP method that wasn't explicitly declared"). No method: 403
  ``Missing Authentication Token``.
* **Authorization type** ("x-amazon-apigateway-authtype"; "x-amazon-apigateway-authorizer
  object"): a security requirement naming a scheme with ``awsSigv4`` is ``AWS_IAM``; one
  whose authorizer has type ``cognito_user_pools`` is ``COGNITO_USER_POOLS``; ``api_key``
  alone, or none, is ``NONE``.
* **Without credentials** ("Control access to a REST API with IAM permissions"; "Control
  access to REST APIs using Amazon Cognito user pools as an authorizer"; "How API Gateway
  resource policies affect authorization workflow"): ``AWS_IAM`` refuses an unsigned
  request with 403; ``COGNITO_USER_POOLS`` refuses a request without a token with 401; a
  ``NONE`` method behind a resource policy is reached anonymously only when a statement
  for anyone (``"*"``) allows ``execute-api:Invoke`` on it and no statement denies it
  (conditions are assumed to hold: this asks whether it *can* pass); then a required API
  key that is missing is 403 ("Usage plans and API keys").
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

ANY_METHOD: Final = "x-amazon-apigateway-any-method"
API_KEY_SCHEME: Final = "api_key"
GREEDY: Final = re.compile(r"^\{[A-Za-z0-9_]+\+\}$")
PARAMETER: Final = re.compile(r"^\{[A-Za-z0-9_]+\}$")


class AccessModelError(ValueError):
    """The document holds something this model does not know (message says what)."""


@dataclass(frozen=True)
class MethodAccess:
    """One method of the REST API, as API Gateway would configure it."""

    resource: str
    method: str
    """The verb, or ``ANY``."""
    authorization_type: str
    """``AWS_IAM``, ``COGNITO_USER_POOLS`` or ``NONE`` (AWS::ApiGateway::Method's values)."""
    api_key_required: bool
    validator: Mapping[str, Any] | None
    """The request validator (``validateRequestBody``, ...), ``None`` when there is none."""
    body_model: str | None
    """The name of the required body model (``definitions``), ``None`` when there is none."""


def rest_api_body(translated: Mapping[str, Any], logical_id: str = "Api") -> dict[str, Any]:
    resource = (translated.get("Resources") or {}).get(logical_id) or {}
    if resource.get("Type") != "AWS::ApiGateway::RestApi":
        raise AccessModelError(f"{logical_id} is not an AWS::ApiGateway::RestApi")
    body = (resource.get("Properties") or {}).get("Body")
    if not isinstance(body, dict):
        raise AccessModelError(f"{logical_id} has no inline OpenAPI Body")
    return body


def _authorization_type(body: Mapping[str, Any], security: list[Any]) -> str:
    schemes = body.get("securityDefinitions") or {}
    found = set()
    for requirement in security:
        for name in requirement:
            if name == API_KEY_SCHEME:
                continue
            scheme = schemes.get(name)
            if not isinstance(scheme, Mapping):
                raise AccessModelError(f"security scheme {name!r} is not defined")
            authorizer = scheme.get("x-amazon-apigateway-authorizer") or {}
            if scheme.get("x-amazon-apigateway-authtype") == "awsSigv4":
                found.add("AWS_IAM")
            elif authorizer.get("type") == "cognito_user_pools":
                found.add("COGNITO_USER_POOLS")
            else:
                raise AccessModelError(f"security scheme {name!r} is of an unmodelled kind")
    if len(found) > 1:
        raise AccessModelError(f"a method names several authorization types: {sorted(found)}")
    return found.pop() if found else "NONE"


def methods(body: Mapping[str, Any]) -> list[MethodAccess]:
    """Every method of the API, with what guards it."""
    validators = body.get("x-amazon-apigateway-request-validators") or {}
    default_validator = body.get("x-amazon-apigateway-request-validator")
    out: list[MethodAccess] = []
    for path, operations in (body.get("paths") or {}).items():
        for verb, operation in operations.items():
            if not isinstance(operation, Mapping) or "x-amazon-apigateway-integration" not in (
                operation
            ):
                continue
            security = operation.get("security") or []
            validator_name = operation.get(
                "x-amazon-apigateway-request-validator", default_validator
            )
            model = None
            for parameter in operation.get("parameters") or []:
                if parameter.get("in") == "body" and parameter.get("required"):
                    reference = str((parameter.get("schema") or {}).get("$ref", ""))
                    model = reference.rsplit("/", 1)[-1] or None
            out.append(
                MethodAccess(
                    resource=path,
                    method="ANY" if verb == ANY_METHOD else verb.upper(),
                    authorization_type=_authorization_type(body, security),
                    api_key_required=any(API_KEY_SCHEME in req for req in security),
                    validator=validators.get(validator_name) if validator_name else None,
                    body_model=model,
                )
            )
    return out


def _matches(resource: str, path: str) -> bool:
    want = [part for part in resource.split("/") if part]
    have = [part for part in path.split("/") if part]
    for index, part in enumerate(want):
        if GREEDY.match(part):
            return len(have) > index
        if index >= len(have):
            return False
        if not PARAMETER.match(part) and part != have[index]:
            return False
    return len(want) == len(have)


def route(body: Mapping[str, Any], method: str, path: str) -> MethodAccess | None:
    """The method API Gateway runs for ``method path``; ``None``: 403 before any method."""
    table = methods(body)
    resources = sorted({m.resource for m in table}, key=_specificity, reverse=True)
    for resource in resources:
        if not _matches(resource, path):
            continue
        candidates = [m for m in table if m.resource == resource]
        exact = [m for m in candidates if m.method == method.upper()]
        fallback = [m for m in candidates if m.method == "ANY"]
        chosen = exact or fallback
        return chosen[0] if chosen else None
    return None


def _specificity(resource: str) -> tuple[int, int]:
    parts = [part for part in resource.split("/") if part]
    greedy = any(GREEDY.match(part) for part in parts)
    literal = sum(1 for part in parts if not PARAMETER.match(part) and not GREEDY.match(part))
    return (0 if greedy else 1, literal * 100 + len(parts))


def _sub(value: Any) -> str:
    """A policy resource: a string, or SAM's ``Fn::Sub [text, {name: literal}]``."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and list(value) == ["Fn::Sub"]:
        argument = value["Fn::Sub"]
        if isinstance(argument, str):
            return argument
        text, names = argument
        for name, literal in names.items():
            if not isinstance(literal, str):
                raise AccessModelError(f"policy resource variable {name} is not a literal")
            text = text.replace("${" + name + "}", literal)
        return str(text)
    raise AccessModelError(f"policy resource {value!r} is not a string or a Fn::Sub")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _anyone(principal: Any) -> bool:
    if principal == "*":
        return True
    return isinstance(principal, Mapping) and "*" in _as_list(principal.get("AWS", []))


def anonymous_allowed(body: Mapping[str, Any], stage: str, method: str, path: str) -> bool:
    """Whether the resource policy lets an anonymous caller invoke ``method path``."""
    policy = body.get("x-amazon-apigateway-policy")
    if policy is None:
        return True
    target = f"execute-api:/{stage}/{method.upper()}/{path.lstrip('/')}"
    allowed = False
    for statement in _as_list(policy.get("Statement", [])):
        if not _anyone(statement.get("Principal")):
            continue
        actions = [str(a).lower() for a in _as_list(statement.get("Action", []))]
        if not any(fnmatch.fnmatchcase("execute-api:invoke", a) for a in actions):
            continue
        resources = [_sub(r) for r in _as_list(statement.get("Resource", []))]
        if not any(fnmatch.fnmatchcase(target, r) for r in resources):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = True
    return allowed


def unauthenticated_status(body: Mapping[str, Any], stage: str, method: str, path: str) -> int:
    """The status of ``method path`` sent with neither credentials nor API key, or 200
    when API Gateway would pass it to the integration."""
    found = route(body, method, path)
    if found is None:
        return 403
    if found.authorization_type == "AWS_IAM":
        return 403
    if found.authorization_type == "COGNITO_USER_POOLS":
        return 401
    if not anonymous_allowed(body, stage, method, path):
        return 403
    if found.api_key_required:
        return 403
    return 200
