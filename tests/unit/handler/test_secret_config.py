"""Secret configuration against a real Secrets Manager API (moto server on localhost).

Proves the function reads its secret through Powertools' parameters utility, caches
it (a changed value is not re-read within the cache window), and that a secret that
is not a JSON object gives the opaque 500, never its value.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

from deployment.moto_server import MotoServer

from .conftest import FakeLambdaContext, body_of, load_event


@pytest.fixture(scope="module")
def secrets_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with MotoServer(tmp_path_factory.mktemp("moto") / "moto.log") as server:
        yield server.start()


def _client(endpoint: str) -> Any:
    return boto3.client(
        "secretsmanager",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _app_with_secret(
    load_app_copy: Any, monkeypatch: pytest.MonkeyPatch, endpoint: str, arn: str
) -> ModuleType:
    for name, value in {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    module: ModuleType = load_app_copy({"CONFIG_SECRET_ARN": arn})
    return module


def test_root_loads_the_secret_once_and_caches_it(
    secrets_endpoint: str,
    load_app_copy: Any,
    monkeypatch: pytest.MonkeyPatch,
    lambda_context: FakeLambdaContext,
) -> None:
    client = _client(secrets_endpoint)
    arn = client.create_secret(
        Name="api-config-cache", SecretString=json.dumps({"upstream_token": "s3cr3t", "x": 1})
    )["ARN"]
    app = _app_with_secret(load_app_copy, monkeypatch, secrets_endpoint, arn)
    first = body_of(app.lambda_handler(load_event("root"), lambda_context))
    assert first["config_source"] == "secretsmanager" and first["config_entries"] == 2
    assert "s3cr3t" not in json.dumps(first)
    client.put_secret_value(SecretId=arn, SecretString=json.dumps({"only": 1}))
    second = body_of(app.lambda_handler(load_event("root"), lambda_context))
    assert second["config_entries"] == 2  # still the cached value


def test_a_secret_that_is_not_an_object_is_an_opaque_500(
    secrets_endpoint: str,
    load_app_copy: Any,
    monkeypatch: pytest.MonkeyPatch,
    lambda_context: FakeLambdaContext,
    tmp_path: Path,
) -> None:
    client = _client(secrets_endpoint)
    arn = client.create_secret(Name="api-config-bad", SecretString="plain-text-value")["ARN"]
    app = _app_with_secret(load_app_copy, monkeypatch, secrets_endpoint, arn)
    response = app.lambda_handler(load_event("root"), lambda_context)
    assert response["statusCode"] == 500
    assert "plain-text-value" not in response["body"]
    assert body_of(response)["error"]["code"] == "INTERNAL_ERROR"
