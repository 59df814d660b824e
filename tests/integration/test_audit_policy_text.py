"""``policy_gen audit`` reads a key policy's text the way the kit reads every policy.

GetKeyPolicy returns JSON text. A key written twice in it (two ``Effect``s in one
statement) is read differently by different JSON parsers, so the audit must report it
as ``validate`` does for a rendered policy, not silently prove the last value. The key
and its log group live on a real moto server; the audit runs as a real process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from deployment.moto_server import MotoServer
from policy_gen.partitions import get_partition
from policy_gen.render import render_policy

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
GROUP = "/dup-keys/app"


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with MotoServer(tmp_path_factory.mktemp("moto") / "moto.log") as server:
        yield server.endpoint_url


def seed(endpoint: str, policy_text: str, group: str) -> None:
    session = boto3.session.Session(
        region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    kms = session.client("kms", endpoint_url=endpoint)
    logs = session.client("logs", endpoint_url=endpoint)
    arn = kms.create_key(Policy=policy_text)["KeyMetadata"]["Arn"]
    logs.create_log_group(logGroupName=group, kmsKeyId=arn)


def audit(endpoint: str, prefix: str, tmp_path: Path) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_CONFIG_FILE=str(tmp_path / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        PYTHONPATH=str(ROOT),
    )
    command = [sys.executable, "-m", "policy_gen", "audit", "--endpoint-url", endpoint]
    command += ["--region", REGION, "--format", "json", "--log-group-prefix", prefix]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env=env,
    )
    assert result.returncode in (0, 1), result.stderr
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_a_key_written_twice_in_the_stored_policy_is_reported(
    endpoint: str, tmp_path: Path
) -> None:
    policy = render_policy(get_partition("aws"), REGION, ACCOUNT, [GROUP])
    statements = [json.dumps(statement) for statement in policy["Statement"]]
    logs_statement = next(i for i, text in enumerate(statements) if "logs." in text)
    # The Logs statement says Effect twice: Deny first, Allow (the rendered one) last.
    statements[logs_statement] = '{"Effect": "Deny", ' + statements[logs_statement][1:]
    text = json.dumps({**policy, "Statement": "@"}).replace(
        '"@"', "[" + ", ".join(statements) + "]"
    )
    assert json.loads(text) == policy  # Python's parser keeps the last value silently
    seed(endpoint, text, GROUP)

    data = audit(endpoint, "/dup-keys/", tmp_path)
    [group] = data["log_groups"]  # type: ignore[misc]
    messages = [f["message"] for f in group["findings"] + group["issues"]]
    assert any("duplicate key 'Effect'" in message for message in messages), group


def test_the_same_policy_written_once_is_clean(endpoint: str, tmp_path: Path) -> None:
    policy = render_policy(get_partition("aws"), REGION, ACCOUNT, ["/dup-once/app"])
    seed(endpoint, json.dumps(policy), "/dup-once/app")
    data = audit(endpoint, "/dup-once/", tmp_path)
    [group] = data["log_groups"]  # type: ignore[misc]
    assert group["status"] == "OK", group
    assert group["findings"] == [] and group["issues"] == []
