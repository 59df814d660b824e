"""The post-deploy checks of authorization and request validation (deployment.checks runs
them with the others).

Live, they read the API's methods (GetResources with embedded methods, GetRequestValidator).
On the emulator the OpenAPI Body that carries them is not imported (gap
``apigateway-body``), so they judge the transformed template's Body with
deployment.api_access, the same rules the unit tests prove per AuthMode.
"""

from __future__ import annotations

from typing import Any, Final

from deployment.api_access import methods, rest_api_body, unauthenticated_status
from deployment.results import TEMPLATE, CheckFailed, Outcome
from deployment.stack_spec import API_ID
from deployment.target import Target

EXPECTED_AUTHORIZATION: Final = {
    "AWS_IAM": "AWS_IAM",
    "COGNITO": "COGNITO_USER_POOLS",
    "API_KEY_ONLY": "NONE",
}
NO_CREDENTIALS: Final = {"AWS_IAM": 403, "COGNITO": 401, "API_KEY_ONLY": 403}
OPEN_ROUTE: Final = ("/health", "GET")
PROBES: Final = (("GET", "/"), ("POST", "/echo"), ("GET", "/echo"), ("PUT", "/unknown/path"))
BODY_ROUTES: Final = (("/echo", "POST"),)


def _mode(target: Target) -> str:
    """The stack's AuthMode, or the template's default when the stack lists only the
    parameters it was given."""
    mode = target.parameters().get("AuthMode")
    if mode is None:
        declared = ((target.transformed or {}).get("Parameters") or {}).get("AuthMode") or {}
        mode = str(declared.get("Default", ""))
    if mode not in EXPECTED_AUTHORIZATION:
        raise CheckFailed(f"AuthMode={mode} is none of {sorted(EXPECTED_AUTHORIZATION)}")
    return mode


def _template_body(target: Target) -> dict[str, Any]:
    target.physical_id(API_ID)  # the API itself must exist on the emulator
    return rest_api_body(target.transformed or {}, API_ID)


def _live_methods(target: Target) -> list[tuple[str, str, dict[str, Any]]]:
    client = target.client("apigateway")
    paginator = client.get_paginator("get_resources")
    found = []
    for page in paginator.paginate(restApiId=target.physical_id(API_ID), embed=["methods"]):
        for resource in page.get("items", []):
            for verb, method in (resource.get("resourceMethods") or {}).items():
                found.append((str(resource.get("path")), str(verb), dict(method)))
    return found


def check_authorization(target: Target) -> Outcome:
    """Every method but GET /health has AuthMode's authorization; without credentials a
    request is refused (401/403) and GET /health answers."""
    mode = _mode(target)
    expected = EXPECTED_AUTHORIZATION[mode]
    wrong: list[str] = []
    if target.uses_template_for("apigateway-body"):
        body = _template_body(target)
        table = [(m.resource, m.method, m.authorization_type) for m in methods(body)]
        stage = str(target.parameter("EnvironmentSuffix"))
        for verb, path in PROBES:
            status = unauthenticated_status(body, stage, verb, path)
            if status != NO_CREDENTIALS[mode]:
                wrong.append(f"{verb} {path} without credentials: {status}")
        if unauthenticated_status(body, stage, *reversed(OPEN_ROUTE)) != 200:
            wrong.append("GET /health is not open")
        where = TEMPLATE
    else:
        table = [
            (path, "ANY" if verb == "ANY" else verb, str(m.get("authorizationType")))
            for path, verb, m in _live_methods(target)
        ]
        where = target.live
    for resource, verb, kind in table:
        want = "NONE" if (resource, verb) == OPEN_ROUTE else expected
        if kind != want:
            wrong.append(f"{verb} {resource}: {kind} (expected {want})")
    detail = f"AuthMode={mode}: {len(table)} methods, all but GET /health {expected}" + (
        f"; {'; '.join(wrong)}" if wrong else "; without credentials refused, /health open"
    )
    if where == TEMPLATE:
        detail += "; the emulator does not import the OpenAPI Body"
    return Outcome(
        bool(table) and not wrong,
        where,
        detail,
        gap="apigateway-body" if where == TEMPLATE else None,
    )


def check_request_validation(target: Target) -> Outcome:
    """Each body route's method validates the body against a required model."""
    wrong: list[str] = []
    if target.uses_template_for("apigateway-body"):
        body = _template_body(target)
        table = {(m.resource, m.method): m for m in methods(body)}
        for route in BODY_ROUTES:
            method = table.get(route)
            if method is None:
                wrong.append(f"no {route[1]} {route[0]} method")
            elif not (method.validator or {}).get("validateRequestBody") or not method.body_model:
                wrong.append(
                    f"{route[1]} {route[0]}: validator {method.validator}, model {method.body_model}"
                )
        return Outcome(
            not wrong,
            TEMPLATE,
            "; ".join(wrong)
            or f"{', '.join(f'{v} {p}' for p, v in BODY_ROUTES)}: body validated against a "
            "required model; the emulator does not import the OpenAPI Body",
            gap="apigateway-body",
        )
    client = target.client("apigateway")
    api_id = target.physical_id(API_ID)
    live = {(path, verb): method for path, verb, method in _live_methods(target)}
    for route in BODY_ROUTES:
        live_method = live.get(route)
        if live_method is None:
            wrong.append(f"no {route[1]} {route[0]} method")
            continue
        validator_id = live_method.get("requestValidatorId")
        validator = (
            client.get_request_validator(restApiId=api_id, requestValidatorId=validator_id)
            if validator_id
            else {}
        )
        if not validator.get("validateRequestBody") or not live_method.get("requestModels"):
            wrong.append(f"{route[1]} {route[0]}: no body validator or model")
    return Outcome(
        not wrong,
        target.live,
        "; ".join(wrong) or "every body route validates its body against its model",
    )
