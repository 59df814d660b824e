"""The SAM CLI internals localapi depends on: fail loudly, and say what broke, on an upgrade.

localapi reuses SAM CLI's providers, ``LocalLambdaRunner`` and ``LocalApigwService``
and replaces only the container runtime. None of that is public API, which is why
aws-sam-cli is pinned. Each test here pins one assumption; a failure message
starts with ``SAM CLI contract`` and names the class and what changed, so an
upgrade PR knows exactly what to re-check in localapi/server.py and runner.py.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from localapi.server import SAM_CLI_VERSION, ProcessServer, ServeOptions, check_sam_version

from .conftest import FIXTURE_TEMPLATE, REPO


def contract(condition: bool, what: str) -> None:
    if not condition:
        pytest.fail(
            f"SAM CLI contract (written against {SAM_CLI_VERSION}) broken: {what}", pytrace=False
        )


def params(func: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(func).parameters)


def test_the_pinned_sam_cli_is_installed() -> None:
    import samcli

    contract(
        samcli.__version__ == SAM_CLI_VERSION,
        f"aws-sam-cli {samcli.__version__} installed; re-run this file against it before "
        "moving the pin in pyproject.toml and localapi.server.SAM_CLI_VERSION",
    )
    assert check_sam_version() == SAM_CLI_VERSION


def test_constructor_and_method_signatures() -> None:
    from samcli.commands.local.lib.local_lambda import LocalLambdaRunner
    from samcli.lib.providers.api_provider import ApiProvider
    from samcli.lib.providers.sam_function_provider import SamFunctionProvider
    from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider
    from samcli.local.apigw.local_apigw_service import LocalApigwService

    expected: dict[str, tuple[Callable[..., Any], list[str]]] = {
        "LocalApigwService.__init__": (
            LocalApigwService.__init__,
            ["api", "lambda_runner", "static_dir", "port", "host", "stderr"],
        ),
        "LocalLambdaRunner.__init__": (
            LocalLambdaRunner.__init__,
            [
                "local_runtime",
                "function_provider",
                "cwd",
                "real_path",
                "aws_region",
                "env_vars_values",
            ],
        ),
        "LocalLambdaRunner.invoke": (
            LocalLambdaRunner.invoke,
            ["function_identifier", "event", "stdout", "stderr"],
        ),
        "LocalLambdaRunner.get_invoke_config": (LocalLambdaRunner.get_invoke_config, ["function"]),
        "LocalLambdaRunner.get_function": (LocalLambdaRunner.get_function, ["function_identifier"]),
        "SamLocalStackProvider.get_stacks": (
            SamLocalStackProvider.get_stacks,
            [
                "template_file",
                "parameter_overrides",
                "global_parameter_overrides",
                "language_extensions_enabled",
            ],
        ),
        "SamFunctionProvider.__init__": (SamFunctionProvider.__init__, ["stacks"]),
        "ApiProvider.__init__": (ApiProvider.__init__, ["stacks", "cwd"]),
    }
    for name, (func, needed) in expected.items():
        missing = [p for p in needed if p not in params(func)]
        contract(not missing, f"{name} lost parameter(s) {missing}; has {params(func)}")
    contract(
        callable(getattr(LocalLambdaRunner, "get_aws_creds", None)),
        "LocalLambdaRunner.get_aws_creds (overridden to keep real credentials away) is gone",
    )
    contract(
        callable(getattr(LocalApigwService, "create", None)), "LocalApigwService.create is gone"
    )
    contract(
        callable(getattr(LocalApigwService, "_request_handler", None)),
        "LocalApigwService._request_handler (the Flask view localapi serves) is gone",
    )


def test_the_runner_calls_the_runtime_like_a_lambda_runtime() -> None:
    """LocalLambdaRunner.invoke -> runtime.invoke(config, event, tenant_id, ..., stdout=, stderr=)."""
    from samcli.local.lambdafn.runtime import LambdaRuntime

    names = params(LambdaRuntime.invoke)
    contract(
        names[:4] == ["self", "function_config", "event", "tenant_id"]
        and "stdout" in names
        and "stderr" in names,
        f"LambdaRuntime.invoke signature changed: {names} (ProcessLambdaRuntime.invoke mirrors it)",
    )


class RecordingRuntime:
    """A runtime that records what SAM hands it and answers with a canned payload."""

    def __init__(self, payload: str | None) -> None:
        self.payload = payload
        self.calls: list[dict[str, Any]] = []

    def invoke(
        self, function_config: Any, event: str, tenant_id: Any = None, **kwargs: Any
    ) -> None:
        self.calls.append({"config": function_config, "event": json.loads(event), **kwargs})
        stdout = kwargs["stdout"]
        contract(hasattr(stdout, "write_str"), "the runtime's stdout is no longer a StreamWriter")
        if self.payload is not None:
            stdout.write_str(self.payload)
            stdout.flush()


def service_for(
    runtime: RecordingRuntime, template: Path = FIXTURE_TEMPLATE, *, localapi_routing: bool = False
) -> Any:
    """SAM's Flask test client around ``runtime``; with ``localapi_routing``, after the
    routing fixes ProcessServer.build applies."""
    from samcli.lib.utils.stream_writer import StreamWriter
    from samcli.local.apigw.local_apigw_service import LocalApigwService

    server = ProcessServer(ServeOptions(template=template, port=3999, region="eu-west-1"))
    server.runtime = runtime  # type: ignore[assignment]
    server.load()
    server.service = service = LocalApigwService(
        api=server.api_provider.api,
        lambda_runner=server.runner,
        static_dir=None,
        port=3999,
        host="127.0.0.1",
        stderr=StreamWriter(open("/dev/null", "w"), auto_flush=True),  # noqa: SIM115
    )
    service.create()
    contract(hasattr(service, "_app"), "LocalApigwService no longer keeps its Flask app in _app")
    contract(
        isinstance(server.api_provider.api.binary_media_types, list),
        "Api.binary_media_types (the guard's binary rule) is no longer a list",
    )
    if localapi_routing:
        server._route_head_like_api_gateway()
    return service._app.test_client()


def route_set(template: Path) -> set[tuple[str, str, tuple[str, ...]]]:
    server = ProcessServer(ServeOptions(template=template))
    server.load()
    return {(r.function_name, r.path, tuple(sorted(r.methods))) for r in server.routes}


ANY = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def test_route_list_of_the_fixture_template() -> None:
    routes = route_set(FIXTURE_TEMPLATE)
    contract(
        routes
        == {
            ("FixtureFunction", "/", ANY),
            ("FixtureFunction", "/{proxy+}", ANY),
            ("BrokenFunction", "/broken", ("GET",)),
        },
        f"ApiProvider routes changed: {sorted(routes)}",
    )


def test_route_list_of_the_project_template() -> None:
    routes = route_set(REPO / "template.yaml")
    contract(
        routes
        == {
            ("ApiFunction", "/", ANY),
            ("ApiFunction", "/{proxy+}", ANY),
            ("ApiFunction", "/health", ("GET",)),
            # A body route's validated POST and its ANY (scripts/api_models.py): SAM CLI
            # merges the methods of one path into one route.
            ("ApiFunction", "/echo", ANY),
        },
        f"ApiProvider routes of template.yaml changed: {sorted(routes)}",
    )


def ok_payload(**extra: Any) -> str:
    return json.dumps(
        {
            "statusCode": 201,
            "headers": {"Content-Type": "application/json", "X-Test": "1"},
            "body": '{"a": 1}',
            **extra,
        }
    )


def test_rest_proxy_event_shape() -> None:
    runtime = RecordingRuntime(ok_payload())
    client = service_for(runtime)
    response = client.post(
        "/some/deep/path?x=1&x=2&y=3", data='{"m": 1}', headers={"X-Api-Key": "k"}
    )
    contract(response.status_code == 201, f"status passthrough broken: {response.status_code}")
    (call,) = runtime.calls
    event = call["event"]
    needed = {
        "resource",
        "path",
        "httpMethod",
        "headers",
        "multiValueHeaders",
        "queryStringParameters",
        "multiValueQueryStringParameters",
        "pathParameters",
        "stageVariables",
        "requestContext",
        "body",
        "isBase64Encoded",
    }
    contract(needed <= set(event), f"REST proxy event lost keys {sorted(needed - set(event))}")
    contract(event["resource"] == "/{proxy+}", f"resource is {event['resource']!r}")
    contract(event["path"] == "/some/deep/path", f"path is {event['path']!r}")
    contract(event["httpMethod"] == "POST", f"httpMethod is {event['httpMethod']!r}")
    contract(
        event["pathParameters"] == {"proxy": "some/deep/path"},
        f"pathParameters {event['pathParameters']}",
    )
    contract(
        event["queryStringParameters"] == {"x": "2", "y": "3"},
        f"query {event['queryStringParameters']}",
    )
    contract(
        event["multiValueQueryStringParameters"]["x"] == ["1", "2"], "multi-value query changed"
    )
    contract(
        event["body"] == '{"m": 1}' and event["isBase64Encoded"] is False,
        "body passthrough changed",
    )
    contract(event["headers"].get("X-Api-Key") == "k", f"headers changed: {event['headers']}")
    context = event["requestContext"]
    contract(bool(context.get("requestId")), "requestContext.requestId missing")
    contract(
        context.get("resourcePath") == "/{proxy+}",
        f"requestContext.resourcePath {context.get('resourcePath')}",
    )
    contract(context.get("stage") == "Prod", f"implicit API stage is {context.get('stage')!r}")
    config = call["config"]
    contract(
        config.name == "FixtureFunction" and config.timeout == 2,
        "FunctionConfig name/timeout changed",
    )
    contract(
        config.code_abs_path.endswith("fixtures/localapi/fn"),
        f"code_abs_path {config.code_abs_path}",
    )
    contract(
        hasattr(config.env_vars, "resolve") and hasattr(config.env_vars, "override_values"),
        "FunctionConfig.env_vars is no longer SAM's EnvironmentVariables",
    )


def test_response_translation() -> None:
    client = service_for(
        RecordingRuntime(ok_payload(multiValueHeaders={"Set-Cookie": ["a=1", "b=2"]}))
    )
    response = client.get("/x")
    contract(response.status_code == 201, "statusCode not used as HTTP status")
    contract(response.headers["X-Test"] == "1", "headers not copied")
    contract(
        response.headers.getlist("Set-Cookie") == ["a=1", "b=2"], "multiValueHeaders not copied"
    )
    contract(response.get_json() == {"a": 1}, "body not used as HTTP body")


@pytest.mark.parametrize(
    ("payload", "status", "why"),
    [
        (None, 502, "nothing on stdout (timeout, crash) must be 502"),
        ("not json", 502, "non-JSON output must be 502"),
        (
            json.dumps(
                {
                    "errorMessage": "boom",
                    "errorType": "ValueError",
                    "requestId": "r",
                    "stackTrace": [],
                }
            ),
            502,
            "the python runtime's 4-key error document must be 502 (invalid API Gateway keys)",
        ),
        (
            json.dumps({"errorMessage": "boom", "errorType": "ValueError", "stackTrace": []}),
            500,
            "a 3-key error document is SAM's 'lambda_body_failure_response' (500)",
        ),
    ],
)
def test_failures_become_gateway_errors(payload: str | None, status: int, why: str) -> None:
    response = service_for(RecordingRuntime(payload)).get("/x")
    contract(response.status_code == status, f"{why}; got {response.status_code}")
    contract(
        response.get_json() == {"message": "Internal server error"}, f"error body {response.data!r}"
    )


def test_a_method_missing_on_an_explicit_route_falls_through_to_the_proxy() -> None:
    """werkzeug tries /{proxy+} after /broken [GET], as API Gateway resolves a request on the
    (resource, method) pair: measured on real REST APIs, a method the most specific resource
    lacks goes to a greedy ``{proxy+}`` ANY (floci-io/floci#3399, ministackorg/ministack#1423).
    """
    runtime = RecordingRuntime(ok_payload())
    response = service_for(runtime).post("/broken")
    contract(response.status_code == 201, f"POST /broken answered {response.status_code}")
    contract(runtime.calls[0]["config"].name == "FixtureFunction", "fall-through target changed")


def test_sam_still_freezes_the_request_id_so_localapi_refreshes_it() -> None:
    """aws/aws-sam-cli#9279: when this fails, SAM fixed it; drop runner.refresh_request_context."""
    from localapi.runner import refresh_request_context

    runtime = RecordingRuntime(ok_payload())
    client = service_for(runtime)
    client.get("/a")
    client.get("/b")
    first, second = (call["event"]["requestContext"] for call in runtime.calls)
    contract(
        first["requestId"] == second["requestId"],
        "SAM now gives each request its own requestId: remove localapi.runner.refresh_request_context",
    )
    refreshed = [
        json.loads(refresh_request_context(json.dumps(call["event"])))["requestContext"]
        for call in runtime.calls
    ]
    assert refreshed[0]["requestId"] != refreshed[1]["requestId"]
    assert refreshed[0]["requestTimeEpoch"] >= first["requestTimeEpoch"]
    assert refreshed[0]["resourcePath"] == first["resourcePath"]


def test_sam_still_answers_502_for_werkzeug_s_implicit_head_so_localapi_drops_it() -> None:
    """werkzeug adds HEAD to GET rules; SAM has no route for it (502). localapi removes the
    implicit HEAD, so the request goes on to /{proxy+} ANY, as API Gateway sends it."""
    sam_only = service_for(RecordingRuntime(ok_payload())).head("/broken")
    contract(
        sam_only.status_code == 502,
        f"SAM now routes the implicit HEAD ({sam_only.status_code}): "
        "ProcessServer._route_head_like_api_gateway may go",
    )
    runtime = RecordingRuntime(ok_payload())
    response = service_for(runtime, localapi_routing=True).head("/broken")
    assert response.status_code == 201
    assert runtime.calls[0]["config"].name == "FixtureFunction"
    assert runtime.calls[0]["event"]["httpMethod"] == "HEAD"
    runtime = RecordingRuntime(ok_payload())
    assert service_for(runtime, localapi_routing=True).get("/broken").status_code == 201
    assert runtime.calls[0]["config"].name == "BrokenFunction"  # GET stays where it was
