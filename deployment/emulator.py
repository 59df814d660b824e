"""The embedded AWS emulator (moto) as the deploy rehearsal sees it.

Its account, region and credentials; what it is known not to keep
(``EMULATOR_GAPS``, verified against one moto version); the environment and
boto3 session that reach it and nothing else; and its own last error, read from
its log when a tool only saw an unparsable answer. The server process itself is
``deployment.moto_server``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import boto3

# moto's default account; us-east-1 is where moto's S3 needs no location constraint.
EMULATOR_ACCOUNT = "123456789012"
EMULATOR_REGION = "us-east-1"
# moto accepts any credentials; these are the ones its documentation uses.
EMULATOR_CREDENTIALS = ("testing", "testing")

# The moto version the gaps below were verified against: by deploying this
# template to `python -m moto.server` and reading moto's CloudFormation handlers.
GAPS_VERIFIED_WITH_MOTO = "5.2.5"
EMULATOR_GAPS: dict[str, str] = {
    "serverless-transform": (
        "moto does not run the Serverless transform: AWS::Serverless::Function/Api are "
        "skipped ('No Moto CloudFormation support'), and Outputs naming SAM-generated "
        "resources (ApiApiKey) make CreateStack fail with KeyError (HTTP 500)"
    ),
    "kms-key-tags": (
        "AWS::KMS::Key: moto's handler passes CloudFormation's Key/Value tags to the KMS "
        "tagger, which expects TagKey/TagValue: CreateStack fails with KeyError 'TagKey'"
    ),
    "kms-key-spec": (
        "AWS::KMS::Key: moto's handler ignores KeySpec and KeyUsage and always creates a "
        "SYMMETRIC_DEFAULT/ENCRYPT_DECRYPT key, so DescribeKey proves nothing about them"
    ),
    "logs-kms-key": (
        "AWS::Logs::LogGroup: moto's handler reads 'kmsKeyId' but CloudFormation passes "
        "'KmsKeyId', so the key is dropped and DescribeLogGroups shows no kmsKeyId"
    ),
    "lambda-architectures": (
        "AWS::Lambda::Function: moto's handler ignores Architectures (GetFunction says x86_64)"
    ),
    "lambda-logging-config": (
        "AWS::Lambda::Function: moto's handler ignores LoggingConfig (and Tags): "
        "GetFunction has no LoggingConfig"
    ),
    "lambda-tracing-config": (
        "AWS::Lambda::Function: moto's handler ignores TracingConfig: GetFunction says "
        "Mode=PassThrough whatever the template says"
    ),
    "apigateway-endpoint-configuration": (
        "AWS::ApiGateway::RestApi: moto stores EndpointConfiguration with CloudFormation's "
        "capitalised keys, so GetRestApi returns an empty endpointConfiguration"
    ),
    "apigateway-body": (
        "AWS::ApiGateway::RestApi: moto ignores Body (the OpenAPI definition): the API has "
        "only its root resource (no methods, authorizers, resource policy, request "
        "validators or models), and an AWS::ApiGateway::Deployment then fails with "
        "'The REST API doesn't contain any methods'"
    ),
    "apigateway-stage": (
        "AWS::ApiGateway::Stage, UsagePlan, ApiKey, UsagePlanKey (and AWS::CloudWatch::Alarm) "
        "have no moto CloudFormation support: they are not created"
    ),
    "logs-delivery": (
        "AWS::Logs::DeliverySource, DeliveryDestination and Delivery have no moto "
        "CloudFormation support: they are not created (moto's logs models declare "
        "CloudFormation types for LogGroup and ResourcePolicy only)"
    ),
    "change-set-outputs": (
        "stacks created through a change set (sam deploy's path) have no Outputs: moto "
        "creates the stack with an empty template and ExecuteChangeSet never rebuilds them"
    ),
    "novalue-in-lists": (
        "moto keeps AWS::NoValue inside a list (an Fn::If element whose condition is "
        "false) as null instead of removing it; AWS::IAM::Role Policies then fail with "
        "TypeError ('NoneType' object is not subscriptable)"
    ),
    "rules": (
        "moto evaluates neither the template's Rules nor parameter constraints "
        "(AllowedPattern): the Rules are evaluated explicitly instead "
        "(stack.rendered_for_target, policy_gen.rules)"
    ),
}

# Faster polling than SAM's 5 s default (SAM_CLI_POLL_DELAY): the emulator is instant.
EMULATOR_POLL_DELAY = "0.5"


def emulator_env(
    endpoint_url: str, work_dir: Path, region: str = EMULATOR_REGION
) -> dict[str, str]:
    """The environment of every tool pointed at the emulator.

    The user's profiles, credentials and per-service endpoint overrides are
    removed, so nothing the rehearsal runs can reach a real AWS account.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "BOTO_"))}
    nowhere = str(work_dir / "no-aws-config")
    env.update(
        {
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_ACCESS_KEY_ID": EMULATOR_CREDENTIALS[0],
            "AWS_SECRET_ACCESS_KEY": EMULATOR_CREDENTIALS[1],
            "AWS_DEFAULT_REGION": region,
            "AWS_REGION": region,
            "AWS_CONFIG_FILE": nowhere,
            "AWS_SHARED_CREDENTIALS_FILE": nowhere,
            "AWS_EC2_METADATA_DISABLED": "true",
            "SAM_CLI_TELEMETRY": "0",
            "SAM_CLI_POLL_DELAY": EMULATOR_POLL_DELAY,
        }
    )
    no_proxy = [item for item in env.get("NO_PROXY", "").split(",") if item]
    env["NO_PROXY"] = env["no_proxy"] = ",".join([*no_proxy, "localhost", "127.0.0.1"])
    return env


def emulator_session(region: str = EMULATOR_REGION) -> boto3.session.Session:
    """A session with moto's fake credentials (never the user's profiles)."""
    access_key, secret_key = EMULATOR_CREDENTIALS
    return boto3.session.Session(
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=region,
    )


_PYTHON_ERROR = re.compile(r"^(\w+\.)*\w*(Error|Exception)\b.*")
_MOTO_FRAME = re.compile(r'File ".*/site-packages/(moto/[^"]+)", line (\d+), in (\w+)')


def moto_error(log: Path) -> str | None:
    """The emulator's own last error (moto answers a crash with HTTP 500 and
    logs the traceback; SAM CLI only sees an unparsable response)."""
    try:
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines()]
    except OSError:
        return None
    for index in range(len(lines) - 1, -1, -1):
        if _PYTHON_ERROR.match(lines[index]):
            frames = [_MOTO_FRAME.search(line) for line in lines[max(0, index - 40) : index]]
            where = [f"{m.group(1)}:{m.group(2)} {m.group(3)}" for m in frames if m]
            return lines[index] + (f" (at {where[-1]})" if where else "")
    return None
