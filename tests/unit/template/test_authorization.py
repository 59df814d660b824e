"""Authorization and request validation, proven on the translated template, per AuthMode.

No AWS endpoint exists here: the proof is the configuration API Gateway would import
(the translated RestApi's OpenAPI Body: each method's authorization type, the API key,
the resource policy, the request validator and model), judged by deployment.api_access.
The translation is the real one: AWS::LanguageExtensions (SAM CLI's implementation) then
the SAM translator, through deployment.translate as the rehearsal runs it.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from deployment.api_access import (
    AccessModelError,
    anonymous_allowed,
    methods,
    rest_api_body,
    route,
    unauthenticated_status,
)
from deployment.translate import load_sam_template, translate
from policy_gen.template import Resolver
from sam_project.samconfig import command_settings

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "scripts"))
from api_models import model_of  # noqa: E402
from body_schemas import read_schema  # noqa: E402

ACCOUNT = "111122223333"
MODES = ("AWS_IAM", "COGNITO", "API_KEY_ONLY")
EXPECTED_TYPE = {"AWS_IAM": "AWS_IAM", "COGNITO": "COGNITO_USER_POOLS", "API_KEY_ONLY": "NONE"}
# A request with neither credentials nor key: 403 (no SigV4), 401 (no token), 403 (no key).
EXPECTED_STATUS = {"AWS_IAM": 403, "COGNITO": 401, "API_KEY_ONLY": 403}
PROBES = [
    ("GET", "/"),
    ("POST", "/echo"),
    ("GET", "/echo"),
    ("DELETE", "/echo"),
    ("GET", "/unknown/deep/path"),
]


def translated(**parameters: str) -> dict[str, Any]:
    template = load_sam_template(ROOT / "template.yaml")
    template["Resources"]["ApiFunction"]["Properties"]["CodeUri"] = "s3://bucket/code.zip"
    return translate(template, region="eu-west-1", account=ACCOUNT, parameter_values=parameters)


@pytest.fixture(scope="module", params=MODES)
def mode_and_body(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return request.param, rest_api_body(translated(AuthMode=request.param))


def test_every_method_but_get_health_carries_the_modes_authorization(
    mode_and_body: tuple[str, dict[str, Any]],
) -> None:
    mode, body = mode_and_body
    table = methods(body)
    assert {(m.resource, m.method) for m in table} >= {
        ("/", "ANY"),
        ("/{proxy+}", "ANY"),
        ("/echo", "POST"),
        ("/echo", "ANY"),
        ("/health", "GET"),
    }
    for method in table:
        if (method.resource, method.method) == ("/health", "GET"):
            assert method.authorization_type == "NONE"
            assert method.api_key_required is False
        else:
            assert method.authorization_type == EXPECTED_TYPE[mode], method
            assert method.api_key_required is True, method


def test_a_request_without_credentials_is_refused_and_health_stays_open(
    mode_and_body: tuple[str, dict[str, Any]],
) -> None:
    mode, body = mode_and_body
    for method, path in PROBES:
        assert unauthenticated_status(body, "dev", method, path) == EXPECTED_STATUS[mode], (
            method,
            path,
        )
    assert unauthenticated_status(body, "dev", "GET", "/health") == 200
    # /health has GET alone: API Gateway answers other methods itself (no method, 403).
    assert route(body, "POST", "/health") is None
    assert unauthenticated_status(body, "dev", "POST", "/health") == 403


def test_iam_mode_resource_policy_names_the_account_and_opens_only_get_health() -> None:
    body = rest_api_body(translated(AuthMode="AWS_IAM"))
    policy = body["x-amazon-apigateway-policy"]
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        assert statement["Action"] == "execute-api:Invoke"
        if statement["Principal"] == "*":
            # The one anonymous statement: GET /health only, and conditioned.
            assert statement["Resource"] == "execute-api:/dev/GET/health"
            assert statement["Condition"] == {"IpAddress": {"aws:SourceIp": ["0.0.0.0/0", "::/0"]}}
        else:
            assert statement["Principal"] == {"AWS": [ACCOUNT]}
    assert anonymous_allowed(body, "dev", "GET", "/health")
    for method, path in PROBES:
        assert not anonymous_allowed(body, "dev", method, path), (method, path)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("HEAD", "/health"),
        ("OPTIONS", "/health"),
        ("POST", "/health"),
        ("GET", "/healthz"),
        ("GET", "/health/x"),
        ("GET", "/health/../echo"),
        ("GET", "/health%2F..%2Fecho"),
        ("GET", "/echo"),
    ],
)
def test_the_anonymous_statement_admits_no_look_alike_of_get_health(method: str, path: str) -> None:
    # Probe: the anonymous statement's execute-api resource is exact (no wildcard), and
    # the stage is the deployed one: prod's statement does not open dev's GET /health.
    body = rest_api_body(translated(AuthMode="AWS_IAM", EnvironmentSuffix="prod"))
    assert anonymous_allowed(body, "prod", "GET", "/health")
    assert not anonymous_allowed(body, "dev", "GET", "/health")
    assert not anonymous_allowed(body, "prod", method, path)
    assert unauthenticated_status(body, "prod", method, path) == 403


def test_health_sources_narrow_with_the_parameter() -> None:
    body = rest_api_body(
        translated(AuthMode="AWS_IAM", HealthCheckSourceCidrs="10.0.0.0/8,192.0.2.0/24")
    )
    (anonymous,) = [
        s for s in body["x-amazon-apigateway-policy"]["Statement"] if s["Principal"] == "*"
    ]
    assert anonymous["Condition"]["IpAddress"]["aws:SourceIp"] == ["10.0.0.0/8", "192.0.2.0/24"]


def test_other_modes_have_no_resource_policy_and_cognito_trusts_the_right_pool() -> None:
    assert "x-amazon-apigateway-policy" not in rest_api_body(translated(AuthMode="API_KEY_ONLY"))
    own = translated(AuthMode="COGNITO")
    (scheme,) = [
        s
        for s in rest_api_body(own)["securityDefinitions"].values()
        if "x-amazon-apigateway-authorizer" in s
    ]
    assert scheme["x-amazon-apigateway-authorizer"]["providerARNs"] == [
        {"Fn::GetAtt": ["UserPool", "Arn"]}
    ]
    assert own["Resources"]["UserPool"]["Condition"] == "CreateUserPool"
    pool = "arn:aws:cognito-idp:eu-west-1:111122223333:userpool/eu-west-1_AbCdEf123"
    theirs = translated(AuthMode="COGNITO", CognitoUserPoolArn=pool)
    (scheme,) = [
        s
        for s in rest_api_body(theirs)["securityDefinitions"].values()
        if "x-amazon-apigateway-authorizer" in s
    ]
    assert scheme["x-amazon-apigateway-authorizer"]["providerARNs"] == [pool]
    # The pool the stack would create is not created when one is given.
    r = Resolver.for_template(theirs, {"AuthMode": "COGNITO", "CognitoUserPoolArn": pool})
    assert not r.resource_enabled(theirs["Resources"]["UserPool"])


def test_the_default_and_prod_are_real_authorization() -> None:
    template = load_sam_template(ROOT / "template.yaml")
    assert template["Parameters"]["AuthMode"]["Default"] == "AWS_IAM"
    for env in ("prod", "prod-us-east-1", "prod-eu-west-1"):
        overrides = command_settings(ROOT / "samconfig.toml", env, "deploy")["parameter_overrides"]
        assert "AuthMode=AWS_IAM" in overrides, env


@pytest.mark.parametrize(
    ("environment", "mode", "holds"),
    [
        ("prod", "API_KEY_ONLY", False),
        ("prod", "AWS_IAM", True),
        ("prod", "COGNITO", True),
        ("dev", "API_KEY_ONLY", True),
    ],
)
def test_the_rule_refuses_api_key_only_in_prod(environment: str, mode: str, holds: bool) -> None:
    template = load_sam_template(ROOT / "template.yaml")
    rule = template["Rules"]["ProdRequiresAuthorization"]
    r = Resolver.for_template(template, {"EnvironmentSuffix": environment, "AuthMode": mode})
    applies = r.resolve(rule["RuleCondition"]) is True
    passes = all(r.resolve(a["Assert"]) is True for a in rule["Assertions"])
    assert (not applies or passes) is holds


def test_body_routes_go_through_a_validator_with_the_generated_model(
    mode_and_body: tuple[str, dict[str, Any]],
) -> None:
    _mode, body = mode_and_body
    echo = route(body, "POST", "/echo")
    assert echo is not None and echo.resource == "/echo" and echo.method == "POST"
    assert echo.validator == {"validateRequestBody": True, "validateRequestParameters": False}
    assert echo.body_model is not None
    # The model API Gateway imports is the one generated from the function's schema file.
    document = read_schema(ROOT / "src" / "handler" / "schemas" / "echo_request.json")
    assert body["definitions"][echo.body_model] == model_of("echo_request", document)
    # Other methods of /echo reach the function (its 405), unknown paths its 404.
    other = route(body, "GET", "/echo")
    assert other is not None and other.method == "ANY" and other.validator is None
    unknown = route(body, "POST", "/nope")
    assert unknown is not None and unknown.resource == "/{proxy+}"


def test_the_access_model_refuses_what_it_does_not_know() -> None:
    body = rest_api_body(translated(AuthMode="AWS_IAM"))
    broken = json.loads(json.dumps(body))
    broken["paths"]["/echo"]["post"]["security"] = [{"Mystery": []}]
    with pytest.raises(AccessModelError, match="Mystery"):
        methods(broken)
    # A hand-broken API: /echo's POST without authorization reaches the function.
    opened = json.loads(json.dumps(body))
    opened["paths"]["/echo"]["post"]["security"] = [{"api_key": []}]
    opened.pop("x-amazon-apigateway-policy")
    assert unauthenticated_status(opened, "dev", "POST", "/echo") == 403  # the key still
    opened["paths"]["/echo"]["post"]["security"] = []
    assert unauthenticated_status(opened, "dev", "POST", "/echo") == 200


POOL = "arn:aws:cognito-idp:eu-west-1:111122223333:userpool/eu-west-1_AbCdEf123"


@pytest.mark.parametrize(
    ("mode", "pool", "holds"),
    [
        ("AWS_IAM", POOL, False),
        ("API_KEY_ONLY", POOL, False),
        ("COGNITO", POOL, True),
        ("AWS_IAM", "", True),
    ],
)
def test_a_pool_arn_is_refused_unless_the_mode_uses_it(mode: str, pool: str, holds: bool) -> None:
    template = load_sam_template(ROOT / "template.yaml")
    rule = template["Rules"]["CognitoUserPoolOnlyWithCognito"]
    r = Resolver.for_template(template, {"AuthMode": mode, "CognitoUserPoolArn": pool})
    applies = r.resolve(rule["RuleCondition"]) is True
    passes = all(r.resolve(a["Assert"]) is True for a in rule["Assertions"])
    assert (not applies or passes) is holds


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("0.0.0.0/0", True),
        ("::/0", True),
        ("192.0.2.0/24", True),
        ("2001:db8::/32", True),
        ("", False),
        ("192.0.2.1", False),
        ("anywhere", False),
        ("192.0.2.0/24 ", False),
    ],
)
def test_health_sources_accept_only_cidr_blocks(value: str, valid: bool) -> None:
    """CloudFormation applies a CommaDelimitedList's AllowedPattern to each value."""
    spec = load_sam_template(ROOT / "template.yaml")["Parameters"]["HealthCheckSourceCidrs"]
    assert all(re.fullmatch(spec["AllowedPattern"], v) for v in spec["Default"].split(","))
    assert bool(re.fullmatch(spec["AllowedPattern"], value)) is valid
