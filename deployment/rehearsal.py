"""Deploy rehearsal: deploy the built stack to an embedded AWS emulator and check it.

Why: a deploy that fails after twenty minutes in a real account (a key policy
rendered for the wrong account, a log group that lost its key, an output
nobody declared) is the most expensive kind of mistake. The rehearsal runs the
real flow — ``policy_gen render`` for the emulator's account and region, the
parameter file read by SAM CLI through ``file://``, ``sam package`` and
``sam deploy`` — against moto's server on localhost, then runs the checks an
operator would run after a real deploy.

Why the checks say *where* they ran: moto does not run the Serverless
transform and drops several properties (``EMULATOR_GAPS``; each entry was
verified against the pinned moto by deploying this template and reading
moto's source). The rehearsal therefore deploys the template already
transformed by the real SAM translator, and every property moto is known not
to keep is checked against that transformed template instead of the
emulator's resources — and reported as such. A check never passes without
having run: it is PASS, FAIL or NOT RUN (with the reason), and carries
``where`` = ``emulator``, ``transformed template`` or ``aws``.

The same check functions run against a REAL deployed stack when
``AWS_SAM_STACK_NAME`` is set: then there is no emulator and no transformed
template, and every check reads live resources (``where`` = ``aws``).

Usage::

    python -m deployment.rehearsal [--template T] [--stack-name S] [--config-env E]
                                 [--region R] [--keep] [--report FILE]
    AWS_SAM_STACK_NAME=secure-api-dev python -m deployment.rehearsal --report out/live.json

Exit codes: 0 every check that ran passed (and at least one ran); 1 a step or a
check failed; 2 bad usage.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol, TextIO

import boto3
import yaml
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from deployment.moto_server import MotoServer
from localapi.runtime import LocalApiError
from localapi.runtime import sam_executable as runtime_sam_executable
from policy_gen.config import load_environment
from policy_gen.errors import InputError, OneLineArgumentParser
from policy_gen.inject import write_atomically
from policy_gen.partitions import partition_for_region
from policy_gen.template import Resolver, Unresolved, load_template

# --- data tables ---------------------------------------------------------------------

Status = Literal["PASS", "FAIL", "NOT RUN"]
Where = Literal["emulator", "transformed template", "aws"]
PASS: Status = "PASS"  # noqa: S105 -- a check status, not a password
FAIL: Status = "FAIL"
NOT_RUN: Status = "NOT RUN"
EMULATOR: Where = "emulator"
TEMPLATE: Where = "transformed template"
AWS: Where = "aws"

# moto's default account; us-east-1 is where moto's S3 needs no location constraint.
EMULATOR_ACCOUNT = "123456789012"
EMULATOR_REGION = "us-east-1"
# moto accepts any credentials; these are the ones its documentation uses.
EMULATOR_CREDENTIALS = ("testing", "testing")
DEFAULT_STACK_NAME = "secure-api-rehearsal"
REAL_STACK_ENV = "AWS_SAM_STACK_NAME"
SERVERLESS_TRANSFORM = "AWS::Serverless-2016-10-31"
# Parameters that policy_gen owns: never taken from samconfig for the rehearsal.
POLICY_GEN_PARAMETERS = ("KeyPolicy", "PolicyAccountId", "PolicyRegion")

# Logical ids of the resources the checks read: template.yaml's, plus ApiApiKey
# as the SAM translator names the Api resource's key.
KEY_ID = "LogsKey"
FUNCTION_ID = "ApiFunction"
API_ID = "Api"
API_KEY_ID = "ApiApiKey"
LOG_GROUPS = {"function": "FunctionLogGroup", "access": "AccessLogGroup"}
EXPECTED_RUNTIME = "python3.13"
EXPECTED_ARCHITECTURES = ["arm64"]
EXPECTED_LOG_FORMAT = "JSON"
EXPECTED_KEY_SPEC = {"KeySpec": "SYMMETRIC_DEFAULT", "KeyUsage": "ENCRYPT_DECRYPT"}
EXPECTED_ENDPOINT_TYPES = ["REGIONAL"]
REQUIRED_OUTPUTS = (
    "ApiUrl",
    "KmsKeyId",
    "KmsKeyArn",
    "LogGroupName",
    "AccessLogGroupName",
    "FunctionName",
    "ApiKeyId",
)

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
        "AWS::Lambda::Function: moto's handler ignores LoggingConfig (and TracingConfig, "
        "Tags): GetFunction has no LoggingConfig"
    ),
    "apigateway-endpoint-configuration": (
        "AWS::ApiGateway::RestApi: moto stores EndpointConfiguration with CloudFormation's "
        "capitalised keys, so GetRestApi returns an empty endpointConfiguration"
    ),
    "apigateway-body": (
        "AWS::ApiGateway::RestApi: moto ignores Body (the OpenAPI definition): the API has "
        "only its root resource, and an AWS::ApiGateway::Deployment then fails with "
        "'The REST API doesn't contain any methods'"
    ),
    "apigateway-stage": (
        "AWS::ApiGateway::Stage, UsagePlan, ApiKey, UsagePlanKey (and AWS::CloudWatch::Alarm) "
        "have no moto CloudFormation support: they are not created"
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
        "(AllowedPattern): the account/region assertion is checked explicitly instead"
    ),
}

BUILD_TIMEOUT = 900
SAM_TIMEOUT = 600
POLICY_GEN_TIMEOUT = 120
# Faster polling than SAM's 5 s default (SAM_CLI_POLL_DELAY): the emulator is instant.
EMULATOR_POLL_DELAY = "0.5"


# --- results ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    """One check's verdict. ``where`` is None exactly when it did not run."""

    check_id: str
    title: str
    status: Status
    where: Where | None
    detail: str
    seconds: float = 0.0
    gap: str | None = None

    def __post_init__(self) -> None:
        if (self.status == NOT_RUN) != (self.where is None):
            raise ValueError("a check says where it ran exactly when it ran")

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.check_id,
            "title": self.title,
            "status": self.status,
            "where": self.where,
            "detail": self.detail,
            "seconds": round(self.seconds, 3),
            "emulator_gap": self.gap,
            "gap_description": EMULATOR_GAPS.get(self.gap) if self.gap else None,
        }


@dataclass(frozen=True)
class StepResult:
    name: str
    status: Literal["ok", "failed", "skipped"]
    seconds: float
    detail: str

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "seconds": round(self.seconds, 3),
            "detail": self.detail,
        }


@dataclass
class Report:
    """Everything the rehearsal did, in the shape ``--report`` writes."""

    mode: Literal["emulator", "aws"]
    stack_name: str
    region: str | None = None
    account: str | None = None
    endpoint_url: str | None = None
    steps: list[StepResult] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    failed_step: str | None = None
    emulator: dict[str, Any] = field(default_factory=dict)
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    seconds: float = 0.0
    work_dir: str | None = None

    def counts(self) -> dict[str, int]:
        return {
            status: sum(1 for check in self.checks if check.status == status)
            for status in (PASS, FAIL, NOT_RUN)
        }

    def where_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for check in self.checks:
            if check.where is not None:
                counts[check.where] = counts.get(check.where, 0) + 1
        return counts

    @property
    def ok(self) -> bool:
        """No step failed, at least one check ran, and every check that ran passed.

        NOT RUN is never a pass: a rehearsal in which nothing ran is not ok.
        """
        ran = [check for check in self.checks if check.status != NOT_RUN]
        return self.failed_step is None and bool(ran) and all(c.status == PASS for c in ran)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def as_json(self) -> dict[str, Any]:
        counts = self.counts()
        return {
            "schema": 1,
            "ok": self.ok,
            "exit_code": self.exit_code,
            "mode": self.mode,
            "stack_name": self.stack_name,
            "region": self.region,
            "account": self.account,
            "endpoint_url": self.endpoint_url,
            "started_at": self.started_at,
            "seconds": round(self.seconds, 3),
            "failed_step": self.failed_step,
            "summary": {
                "passed": counts[PASS],
                "failed": counts[FAIL],
                "not_run": counts[NOT_RUN],
                "ran_on": self.where_counts(),
            },
            "steps": [step.as_json() for step in self.steps],
            "checks": [check.as_json() for check in self.checks],
            "emulator": self.emulator or None,
            "work_dir": self.work_dir,
        }


def write_report(path: Path, report: Report) -> None:
    """Write the JSON report via a temp file and rename, so a reader (CI, a
    test waiting for it) never sees half a report."""
    write_atomically(path, json.dumps(report.as_json(), indent=2) + "\n")


# --- the target of the checks ----------------------------------------------------------


class CheckFailed(Exception):
    """The check ran and found a problem (or the resource it needs is missing)."""


class CheckNotRun(Exception):
    """The check could not run; the message says why. Never counted as a pass."""


@dataclass(frozen=True)
class Outcome:
    """What a check function returns: verdict, where it looked, and what it saw."""

    passed: bool
    where: Where
    detail: str
    gap: str | None = None


BOTO_CONFIG = Config(
    retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=60
)


class Target:
    """A deployed stack the checks read: a boto3 session, an endpoint (None for
    real AWS) and a stack name. ``transformed`` is the template as the SAM
    translator produced it, read only for properties the emulator does not keep.

    Everything read from AWS is cached: several checks share one DescribeKey.
    """

    def __init__(
        self,
        session: boto3.session.Session,
        stack_name: str,
        *,
        endpoint_url: str | None = None,
        emulated: bool = False,
        transformed: Mapping[str, Any] | None = None,
        expected_policy: Mapping[str, Any] | None = None,
    ) -> None:
        self.session = session
        self.stack_name = stack_name
        self.endpoint_url = endpoint_url
        self.emulated = emulated
        self.transformed = transformed
        self.expected_policy = expected_policy
        self._clients: dict[str, Any] = {}
        self._cache: dict[str, Any] = {}

    @property
    def live(self) -> Where:
        return EMULATOR if self.emulated else AWS

    @property
    def region(self) -> str:
        region = self.session.region_name
        if not region:
            raise CheckNotRun("no AWS region configured (set AWS_REGION)")
        return str(region)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            factory: Any = self.session.client
            self._clients[service] = factory(
                service, endpoint_url=self.endpoint_url, config=BOTO_CONFIG
            )
        return self._clients[service]

    def _cached(self, key: str, load: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = load()
        return self._cache[key]

    def account(self) -> str:
        return str(
            self._cached("account", lambda: self.client("sts").get_caller_identity()["Account"])
        )

    def partition(self) -> str:
        return partition_for_region(self.region).name

    def stack(self) -> dict[str, Any]:
        def load() -> dict[str, Any]:
            stacks = self.client("cloudformation").describe_stacks(StackName=self.stack_name)
            if not stacks.get("Stacks"):
                raise CheckFailed(f"stack {self.stack_name} not found")
            return dict(stacks["Stacks"][0])

        return dict(self._cached("stack", load))

    def parameters(self) -> dict[str, str]:
        return {
            str(item["ParameterKey"]): str(item.get("ParameterValue", ""))
            for item in self.stack().get("Parameters") or []
        }

    def parameter(self, name: str) -> str:
        value = self.parameters().get(name)
        if value is None:
            raise CheckFailed(f"stack {self.stack_name} has no parameter {name}")
        return value

    def resources(self) -> dict[str, dict[str, Any]]:
        """Stack resources by logical id (only those the stack reports)."""

        def load() -> dict[str, dict[str, Any]]:
            paginator = self.client("cloudformation").get_paginator("list_stack_resources")
            found: dict[str, dict[str, Any]] = {}
            for page in paginator.paginate(StackName=self.stack_name):
                for item in page["StackResourceSummaries"]:
                    if item.get("LogicalResourceId"):
                        found[str(item["LogicalResourceId"])] = dict(item)
            return found

        return dict(self._cached("resources", load))

    def physical_id(self, logical_id: str) -> str:
        physical = (self.resources().get(logical_id) or {}).get("PhysicalResourceId")
        if not physical:
            raise CheckFailed(f"stack {self.stack_name} has no physical resource for {logical_id}")
        return str(physical)

    def key_metadata(self) -> dict[str, Any]:
        return dict(
            self._cached(
                "key",
                lambda: self.client("kms").describe_key(KeyId=self.physical_id(KEY_ID))[
                    "KeyMetadata"
                ],
            )
        )

    def key_arn(self) -> str:
        return str(self.key_metadata()["Arn"])

    def live_policy(self) -> Any:
        text = self._cached(
            "policy",
            lambda: self.client("kms").get_key_policy(
                KeyId=self.physical_id(KEY_ID), PolicyName="default"
            )["Policy"],
        )
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise CheckFailed(f"GetKeyPolicy returned text that is not JSON: {error}") from None

    def log_group(self, logical_id: str) -> dict[str, Any]:
        name = self.physical_id(logical_id)

        def load() -> dict[str, Any]:
            paginator = self.client("logs").get_paginator("describe_log_groups")
            for page in paginator.paginate(logGroupNamePrefix=name):
                for group in page["logGroups"]:
                    if group.get("logGroupName") == name:
                        return dict(group)
            raise CheckFailed(f"DescribeLogGroups does not list {name}")

        return dict(self._cached(f"log-group:{name}", load))

    def function_configuration(self) -> dict[str, Any]:
        return dict(
            self._cached(
                "function",
                lambda: self.client("lambda").get_function(
                    FunctionName=self.physical_id(FUNCTION_ID)
                )["Configuration"],
            )
        )

    def template_resource(self, logical_id: str) -> dict[str, Any]:
        if self.transformed is None:
            raise CheckNotRun("no transformed template to check against")
        resource = (self.transformed.get("Resources") or {}).get(logical_id)
        if not isinstance(resource, dict):
            raise CheckFailed(f"the transformed template has no resource {logical_id}")
        return resource

    def template_properties(self, logical_id: str) -> dict[str, Any]:
        return dict(self.template_resource(logical_id).get("Properties") or {})

    def uses_template_for(self, gap: str) -> bool:
        """True when ``gap`` is a known emulator gap: the property is checked on the
        transformed template. Never true against real AWS."""
        if not self.emulated or gap not in EMULATOR_GAPS:
            return False
        if self.transformed is None:
            raise CheckNotRun(
                f"the emulator does not keep this property ({EMULATOR_GAPS[gap]}) and there "
                "is no transformed template to check instead"
            )
        return True


# --- evaluating the transformed template ------------------------------------------------

_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


class Unresolvable(CheckFailed):
    """A template value uses an intrinsic this evaluator does not handle."""


class StackFacts(Protocol):
    """What evaluating template values needs to know about the stack."""

    @property
    def transformed(self) -> Mapping[str, Any] | None: ...
    @property
    def stack_name(self) -> str: ...
    @property
    def region(self) -> str: ...
    def account(self) -> str: ...
    def partition(self) -> str: ...
    def parameters(self) -> dict[str, str]: ...
    def physical_id(self, logical_id: str) -> str: ...
    def key_arn(self) -> str: ...


@dataclass(frozen=True)
class PlannedStack:
    """The emulator stack as its parameters say it will be, before it exists:
    enough to evaluate Conditions offline (no resource has a physical id yet)."""

    transformed: Mapping[str, Any] | None
    stack_name: str
    values: Mapping[str, str]
    region: str = EMULATOR_REGION

    def account(self) -> str:
        return EMULATOR_ACCOUNT

    def partition(self) -> str:
        return partition_for_region(self.region).name

    def parameters(self) -> dict[str, str]:
        return effective_parameters(self.transformed or {}, self.values)

    def physical_id(self, logical_id: str) -> str:
        raise Unresolvable(f"{logical_id} has no physical id before the deploy")

    def key_arn(self) -> str:
        raise Unresolvable("the key has no ARN before the deploy")


def effective_parameters(template: Mapping[str, Any], values: Mapping[str, str]) -> dict[str, str]:
    """The value CloudFormation gives each declared parameter: the override, else
    its Default (lists as comma-separated strings, as CloudFormation does)."""
    result: dict[str, str] = {}
    for name, declaration in (template.get("Parameters") or {}).items():
        if name in values:
            result[name] = str(values[name])
        elif isinstance(declaration, dict) and "Default" in declaration:
            default = declaration["Default"]
            result[name] = (
                ",".join(str(item) for item in default)
                if isinstance(default, list)
                else str(default)
            )
    return result


class TemplateValues:
    """The template checks' view of a stack: policy_gen's intrinsic resolver (the
    one ``render`` and ``check-template`` use) answered with the stack's pseudo
    parameters, parameters and physical resource ids, read lazily from
    ``target``. A value CloudFormation alone could know raises ``Unresolvable``
    rather than coming back as a placeholder."""

    def __init__(self, target: StackFacts) -> None:
        self.target = target
        template = target.transformed or {}
        self.resources: Mapping[str, Any] = template.get("Resources") or {}
        self._resolver = Resolver(dict(template, Resources=self.resources), deployed=self._deployed)

    def _deployed(self, name: str, attribute: str | None) -> str | None:
        target = self.target
        if attribute is None:
            pseudo: dict[str, Callable[[], str]] = {
                "AWS::Region": lambda: target.region,
                "AWS::AccountId": target.account,
                "AWS::Partition": target.partition,
                "AWS::StackName": lambda: target.stack_name,
                "AWS::URLSuffix": lambda: "amazonaws.com",
            }
            if name in pseudo:
                return pseudo[name]()
            parameters = target.parameters()
            if name in parameters:
                return parameters[name]
            return target.physical_id(name) if name in self.resources else None
        kind = (self.resources.get(name) or {}).get("Type")
        if kind == "AWS::KMS::Key" and attribute == "Arn":
            return target.key_arn()
        if kind == "AWS::Logs::LogGroup" and attribute == "Arn":
            return (
                f"arn:{target.partition()}:logs:{target.region}:"
                f"{target.account()}:log-group:{target.physical_id(name)}:*"
            )
        raise Unresolvable(f"cannot evaluate Fn::GetAtt {name}.{attribute}")

    def resolve(self, value: Any) -> Any:
        try:
            result = self._resolver.resolve(value)
        except InputError as error:
            raise Unresolvable(str(error)) from None
        unknown = _first_unresolved(result)
        if unknown is not None:
            raise Unresolvable(f"cannot evaluate {unknown.expression}")
        return result

    def condition(self, name: str) -> bool:
        """The value of one of the template's Conditions."""
        try:
            return self._resolver.condition(name)
        except InputError as error:
            raise Unresolvable(str(error)) from None


def _first_unresolved(value: Any) -> Unresolved | None:
    if isinstance(value, Unresolved):
        return value
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for item in items:
        found = _first_unresolved(item)
        if found is not None:
            return found
    return None


def template_references(value: Any) -> set[str]:
    """Every logical id or parameter a template value refers to (Ref, GetAtt, Sub)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= template_references(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                found.add(item)
            elif key == "Fn::GetAtt":
                parts = item.split(".", 1) if isinstance(item, str) else item
                found.add(str(parts[0]))
            elif key == "Fn::Sub":
                text, variables = (item, {}) if isinstance(item, str) else item
                local = set(variables) if isinstance(variables, dict) else set()
                for name in _SUB_VARIABLE.findall(str(text)):
                    base = name if name.startswith("AWS::") else name.split(".", 1)[0]
                    if base not in local:
                        found.add(base)
                found |= template_references(variables)
            else:
                found |= template_references(item)
    return found


# --- the checks ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    check_id: str
    title: str
    run: Callable[[Target], Outcome]


def check_stack_status(target: Target) -> Outcome:
    status = str(target.stack().get("StackStatus", ""))
    good = status in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
    return Outcome(good, target.live, f"stack {target.stack_name} is {status}")


def check_rendered_for_target(target: Target) -> Outcome:
    """What the template's Rules assert (moto does not evaluate Rules): the key
    policy was rendered for the account and region the stack lives in."""
    account, region = target.account(), target.region
    rendered = (target.parameter("PolicyAccountId"), target.parameter("PolicyRegion"))
    return Outcome(
        rendered == (account, region),
        target.live,
        f"PolicyAccountId={rendered[0]} PolicyRegion={rendered[1]}; "
        f"the stack is in {account}/{region}",
        gap="rules" if target.emulated else None,
    )


def check_key_rotation(target: Target) -> Outcome:
    status = target.client("kms").get_key_rotation_status(KeyId=target.physical_id(KEY_ID))
    enabled = bool(status.get("KeyRotationEnabled"))
    return Outcome(enabled, target.live, f"GetKeyRotationStatus: KeyRotationEnabled={enabled}")


def check_key_state(target: Target) -> Outcome:
    """Logs needs the key enabled and in the log groups' region."""
    meta = target.key_metadata()
    arn = str(meta.get("Arn", ""))
    parts = arn.split(":")
    key_region = parts[3] if len(parts) > 3 else None
    wrong = []
    if meta.get("KeyState") != "Enabled":
        wrong.append(f"KeyState={meta.get('KeyState')} (expected Enabled)")
    if key_region != target.region:
        wrong.append(f"region {key_region} (the stack's is {target.region})")
    detail = "; ".join(wrong) or "Enabled, in the stack's region"
    return Outcome(not wrong, target.live, f"DescribeKey {arn}: {detail}")


def check_key_spec(target: Target) -> Outcome:
    """Logs can only use a symmetric encryption key."""
    meta = target.key_metadata()  # the key must exist on the emulator too
    live = {"KeySpec": meta.get("KeySpec"), "KeyUsage": meta.get("KeyUsage")}
    if target.uses_template_for("kms-key-spec"):
        properties = target.template_properties(KEY_ID)
        # CloudFormation's defaults when the properties are omitted.
        declared = {
            "KeySpec": properties.get("KeySpec", "SYMMETRIC_DEFAULT"),
            "KeyUsage": properties.get("KeyUsage", "ENCRYPT_DECRYPT"),
        }
        return Outcome(
            declared == EXPECTED_KEY_SPEC,
            TEMPLATE,
            f"{KEY_ID}: {declared} (expected {EXPECTED_KEY_SPEC}); the emulator's DescribeKey "
            f"says {live} whatever the template says",
            gap="kms-key-spec",
        )
    return Outcome(
        live == EXPECTED_KEY_SPEC,
        target.live,
        f"DescribeKey: {live} (expected {EXPECTED_KEY_SPEC})",
    )


def check_policy_matches_render(target: Target) -> Outcome:
    if target.expected_policy is None:
        raise CheckNotRun("policy_gen rendered no policy to compare with")
    live = target.live_policy()
    if live == target.expected_policy:
        return Outcome(
            True,
            target.live,
            "GetKeyPolicy equals the policy policy_gen rendered (json.loads equality)",
        )
    return Outcome(
        False,
        target.live,
        "GetKeyPolicy differs from the rendered policy: live "
        f"{json.dumps(live, sort_keys=True)} rendered "
        f"{json.dumps(target.expected_policy, sort_keys=True)}",
    )


def check_policy_validates(target: Target) -> Outcome:
    try:
        # Imported here: policy_gen's evaluator is under active development and a
        # broken import must make this one check NOT RUN, not the whole rehearsal.
        from policy_gen.validate import Target as PolicyTarget  # noqa: PLC0415
        from policy_gen.validate import validate  # noqa: PLC0415
    except ImportError as error:
        raise CheckNotRun(f"policy_gen.validate cannot be imported: {error}") from None
    names = [target.physical_id(logical_id) for logical_id in LOG_GROUPS.values()]
    policy_target = PolicyTarget.checked(
        partition_for_region(target.region), target.region, target.account(), names
    )
    report = validate(target.live_policy(), policy_target)
    errors = [f for f in report.findings if f.severity == "error"]
    warnings = sorted({f.code for f in report.findings if f.severity != "error"})
    detail = (
        f"policy_gen.validate on the key's live policy for {', '.join(names)}: "
        f"{len(errors)} error(s), {len(warnings)} warning code(s)"
    )
    if errors:
        detail += " (" + "; ".join(f"{f.code}: {f.message}" for f in errors[:3]) + ")"
    if warnings:
        detail += f"; warnings: {', '.join(warnings)}"
    return Outcome(report.valid, target.live, detail)


def _check_retention(target: Target, logical_id: str) -> Outcome:
    group = target.log_group(logical_id)
    expected = target.parameter("LogRetentionInDays")
    retention = group.get("retentionInDays")
    return Outcome(
        retention is not None and str(retention) == expected,
        target.live,
        f"DescribeLogGroups {group['logGroupName']}: retentionInDays={retention} "
        f"(LogRetentionInDays={expected})",
    )


def _check_log_group_key(target: Target, logical_id: str) -> Outcome:
    key_arn = target.key_arn()
    group = target.log_group(logical_id)  # it must exist, on the emulator too
    live = group.get("kmsKeyId")
    if target.uses_template_for("logs-kms-key"):
        declared = target.template_properties(logical_id).get("KmsKeyId")
        resolved = TemplateValues(target).resolve(declared)
        return Outcome(
            resolved == key_arn,
            TEMPLATE,
            f"{logical_id}.KmsKeyId = {json.dumps(declared)} -> {resolved} (the key is "
            f"{key_arn}); the emulator's DescribeLogGroups shows kmsKeyId={live}",
            gap="logs-kms-key",
        )
    return Outcome(
        live == key_arn,
        target.live,
        f"DescribeLogGroups {group['logGroupName']}: kmsKeyId={live} (the key is {key_arn})",
    )


def check_function_runtime(target: Target) -> Outcome:
    config = target.function_configuration()
    runtime = config.get("Runtime")
    return Outcome(
        runtime == EXPECTED_RUNTIME,
        target.live,
        f"GetFunction {config.get('FunctionName')}: Runtime={runtime} "
        f"(expected {EXPECTED_RUNTIME})",
    )


def check_function_architecture(target: Target) -> Outcome:
    live = target.function_configuration().get("Architectures")  # the function must exist
    if target.uses_template_for("lambda-architectures"):
        declared = target.template_properties(FUNCTION_ID).get("Architectures")
        return Outcome(
            declared == EXPECTED_ARCHITECTURES,
            TEMPLATE,
            f"{FUNCTION_ID}.Architectures={declared} (expected {EXPECTED_ARCHITECTURES}); "
            f"the emulator's GetFunction says {live}",
            gap="lambda-architectures",
        )
    return Outcome(
        live == EXPECTED_ARCHITECTURES,
        target.live,
        f"GetFunction: Architectures={live} (expected {EXPECTED_ARCHITECTURES})",
    )


def _logging_config_problems(config: Mapping[str, Any], group: str, level: str) -> list[str]:
    problems = []
    if config.get("LogFormat") != EXPECTED_LOG_FORMAT:
        problems.append(f"LogFormat={config.get('LogFormat')} (expected {EXPECTED_LOG_FORMAT})")
    if config.get("LogGroup") != group:
        problems.append(f"LogGroup={config.get('LogGroup')} (expected {group})")
    if config.get("ApplicationLogLevel") != level:
        problems.append(
            f"ApplicationLogLevel={config.get('ApplicationLogLevel')} (LogLevel={level})"
        )
    return problems


def check_function_logging(target: Target) -> Outcome:
    live = target.function_configuration().get("LoggingConfig")
    group = target.physical_id(LOG_GROUPS["function"])
    level = target.parameter("LogLevel")
    if target.uses_template_for("lambda-logging-config"):
        declared = target.template_properties(FUNCTION_ID).get("LoggingConfig")
        if not isinstance(declared, dict):
            return Outcome(
                False,
                TEMPLATE,
                f"{FUNCTION_ID} declares no LoggingConfig",
                gap="lambda-logging-config",
            )
        resolved = TemplateValues(target).resolve(declared)
        problems = _logging_config_problems(resolved, group, level)
        return Outcome(
            not problems,
            TEMPLATE,
            f"{FUNCTION_ID}.LoggingConfig -> {json.dumps(resolved, sort_keys=True)}"
            + (f": {'; '.join(problems)}" if problems else "")
            + f"; the emulator's GetFunction has LoggingConfig={live}",
            gap="lambda-logging-config",
        )
    problems = _logging_config_problems(live or {}, group, level)
    return Outcome(
        not problems,
        target.live,
        f"GetFunction LoggingConfig={json.dumps(live, sort_keys=True)}"
        + (f": {'; '.join(problems)}" if problems else ""),
    )


def check_api_exists(target: Target) -> Outcome:
    api_id = target.physical_id(API_ID)
    paginator = target.client("apigateway").get_paginator("get_rest_apis")
    apis = [api for page in paginator.paginate() for api in page.get("items", [])]
    match = next((api for api in apis if api.get("id") == api_id), None)
    if match is None:
        return Outcome(False, target.live, f"GetRestApis does not list {api_id}")
    expected_name = f"{target.stack_name}-api"
    return Outcome(
        match.get("name") == expected_name,
        target.live,
        f"GetRestApis lists {api_id} named {match.get('name')} (expected {expected_name})",
    )


def check_api_regional(target: Target) -> Outcome:
    api = target.client("apigateway").get_rest_api(restApiId=target.physical_id(API_ID))
    live = (api.get("endpointConfiguration") or {}).get("types")
    if target.uses_template_for("apigateway-endpoint-configuration"):
        declared = target.template_properties(API_ID).get("EndpointConfiguration")
        types = declared.get("Types") if isinstance(declared, dict) else None
        return Outcome(
            types == EXPECTED_ENDPOINT_TYPES,
            TEMPLATE,
            f"{API_ID}.EndpointConfiguration.Types={types}; the emulator's GetRestApi says "
            f"types={live}",
            gap="apigateway-endpoint-configuration",
        )
    return Outcome(
        live == EXPECTED_ENDPOINT_TYPES,
        target.live,
        f"GetRestApi endpointConfiguration.types={live} (expected {EXPECTED_ENDPOINT_TYPES})",
    )


def _expected_access_log_arn(target: Target) -> str:
    return (
        f"arn:{target.partition()}:logs:{target.region}:{target.account()}:log-group:"
        f"{target.physical_id(LOG_GROUPS['access'])}"
    )


def _template_stage(target: Target) -> tuple[str, dict[str, Any]]:
    for logical_id, resource in ((target.transformed or {}).get("Resources") or {}).items():
        properties = resource.get("Properties") or {} if isinstance(resource, dict) else {}
        if (
            isinstance(resource, dict)
            and resource.get("Type") == "AWS::ApiGateway::Stage"
            and properties.get("RestApiId") == {"Ref": API_ID}
        ):
            return str(logical_id), dict(properties)
    raise CheckFailed(f"the transformed template has no AWS::ApiGateway::Stage for {API_ID}")


def check_stage_access_logs(target: Target) -> Outcome:
    expected = _expected_access_log_arn(target)
    stage_name = target.parameter("EnvironmentSuffix")
    if target.uses_template_for("apigateway-stage"):
        target.physical_id(API_ID)  # the API itself must exist on the emulator
        logical_id, properties = _template_stage(target)
        values = TemplateValues(target)
        name = values.resolve(properties.get("StageName"))
        setting = properties.get("AccessLogSetting") or {}
        destination = values.resolve(setting.get("DestinationArn"))
        return Outcome(
            destination == expected and name == stage_name,
            TEMPLATE,
            f"{logical_id}: StageName={name} (EnvironmentSuffix={stage_name}), "
            f"AccessLogSetting.DestinationArn -> {destination} (expected {expected}); "
            "the emulator created no stage",
            gap="apigateway-stage",
        )
    stage = target.client("apigateway").get_stage(
        restApiId=target.physical_id(API_ID), stageName=stage_name
    )
    destination = (stage.get("accessLogSettings") or {}).get("destinationArn")
    return Outcome(
        destination == expected,
        target.live,
        f"GetStage {stage_name}: accessLogSettings.destinationArn={destination} "
        f"(expected {expected})",
    )


def _live_output_problems(target: Target, outputs: Mapping[str, str]) -> list[str]:
    missing = [name for name in REQUIRED_OUTPUTS if not outputs.get(name)]
    problems = [f"missing or empty: {', '.join(missing)}"] if missing else []
    expected: dict[str, Callable[[], str]] = {
        "KmsKeyArn": target.key_arn,
        "KmsKeyId": lambda: str(target.key_metadata()["KeyId"]),
        "LogGroupName": lambda: target.physical_id(LOG_GROUPS["function"]),
        "AccessLogGroupName": lambda: target.physical_id(LOG_GROUPS["access"]),
        "FunctionName": lambda: target.physical_id(FUNCTION_ID),
        "ApiKeyId": lambda: target.physical_id(API_KEY_ID),
    }
    for name, load in expected.items():
        if outputs.get(name) and outputs[name] != load():
            problems.append(f"{name}={outputs[name]} but the stack's resource is {load()}")
    url = outputs.get("ApiUrl")
    api_host = f"https://{target.physical_id(API_ID)}.execute-api.{target.region}."
    if url and not url.startswith(api_host):
        problems.append(f"ApiUrl={url} does not start with {api_host}")
    return problems


def check_outputs(target: Target) -> Outcome:
    outputs = {
        str(item["OutputKey"]): str(item.get("OutputValue") or "")
        for item in target.stack().get("Outputs") or []
    }
    if not outputs and target.uses_template_for("change-set-outputs"):
        template = target.transformed or {}
        declared = template.get("Outputs") or {}
        known = set(template.get("Resources") or {}) | set(template.get("Parameters") or {})
        missing = [name for name in REQUIRED_OUTPUTS if name not in declared]
        dangling = sorted(
            f"{name} -> {ref}"
            for name in REQUIRED_OUTPUTS
            if name in declared
            for ref in template_references(declared[name].get("Value"))
            if not ref.startswith("AWS::") and ref not in known
        )
        problems = ([f"not declared: {', '.join(missing)}"] if missing else []) + (
            [f"refer to nothing in the template: {', '.join(dangling)}"] if dangling else []
        )
        verdict = "; ".join(problems) or (
            f"all {len(REQUIRED_OUTPUTS)} outputs declared, each referring to a resource or "
            "parameter of the transformed template"
        )
        return Outcome(
            not problems,
            TEMPLATE,
            f"{verdict}; the emulator's DescribeStacks returns no Outputs",
            gap="change-set-outputs",
        )
    problems = _live_output_problems(target, outputs)
    return Outcome(
        not problems,
        target.live,
        f"DescribeStacks Outputs {', '.join(sorted(outputs)) or 'none'}"
        + (f": {'; '.join(problems)}" if problems else ": all match the stack's resources"),
    )


CHECKS: tuple[Check, ...] = (
    Check("stack.status", "stack deployed", check_stack_status),
    Check(
        "stack.rendered_for_target",
        "key policy rendered for this account/region",
        check_rendered_for_target,
    ),
    Check("kms.rotation", "key rotation enabled", check_key_rotation),
    Check("kms.key_state", "key enabled, in the stack's region", check_key_state),
    Check("kms.key_spec", "key is symmetric ENCRYPT_DECRYPT", check_key_spec),
    Check(
        "kms.policy_matches_render",
        "key policy is exactly the rendered one",
        check_policy_matches_render,
    ),
    Check("kms.policy_validates", "key policy passes policy_gen.validate", check_policy_validates),
    Check(
        "logs.function.retention",
        "function log group exists with the retention",
        lambda target: _check_retention(target, LOG_GROUPS["function"]),
    ),
    Check(
        "logs.function.kms_key",
        "function log group encrypted with the key",
        lambda target: _check_log_group_key(target, LOG_GROUPS["function"]),
    ),
    Check(
        "logs.access.retention",
        "access log group exists with the retention",
        lambda target: _check_retention(target, LOG_GROUPS["access"]),
    ),
    Check(
        "logs.access.kms_key",
        "access log group encrypted with the key",
        lambda target: _check_log_group_key(target, LOG_GROUPS["access"]),
    ),
    Check("lambda.runtime", "function exists on python3.13", check_function_runtime),
    Check("lambda.architecture", "function runs on arm64", check_function_architecture),
    Check(
        "lambda.logging_config",
        "function logs JSON to its encrypted group",
        check_function_logging,
    ),
    Check("apigateway.api_exists", "REST API exists", check_api_exists),
    Check("apigateway.regional", "REST API is REGIONAL", check_api_regional),
    Check(
        "apigateway.stage_access_logs",
        "stage access logs go to the encrypted group",
        check_stage_access_logs,
    ),
    Check("stack.outputs", "stack outputs complete", check_outputs),
)


def run_check(check: Check, target: Target) -> CheckResult:
    """Run one check; every way it can end becomes PASS, FAIL or NOT RUN."""
    started = time.monotonic()

    def result(
        status: Status, where: Where | None, detail: str, gap: str | None = None
    ) -> CheckResult:
        return CheckResult(
            check.check_id, check.title, status, where, detail, time.monotonic() - started, gap
        )

    try:
        outcome = check.run(target)
    except CheckNotRun as reason:
        return result(NOT_RUN, None, str(reason))
    except CheckFailed as problem:
        return result(FAIL, target.live, str(problem))
    except (ClientError, BotoCoreError) as error:
        return result(FAIL, target.live, f"AWS call failed: {error}")
    except Exception as error:  # a bug in a check must still be a visible FAIL
        return result(FAIL, target.live, f"check raised {type(error).__name__}: {error}")
    return result(PASS if outcome.passed else FAIL, outcome.where, outcome.detail, outcome.gap)


def run_checks(target: Target, console: Console | None = None) -> list[CheckResult]:
    results = []
    for check in CHECKS:
        result = run_check(check, target)
        if console is not None:
            console.check(result)
        results.append(result)
    return results


def not_run(reason: str) -> list[CheckResult]:
    """Every check as NOT RUN (a step before them failed)."""
    return [CheckResult(c.check_id, c.title, NOT_RUN, None, reason) for c in CHECKS]


# --- progress output ----------------------------------------------------------------------


class StepFailed(Exception):
    """A rehearsal step failed; the message is the reason shown to the user."""


class Console:
    """Progress lines with timings: the only place that writes to the terminal."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def line(self, text: str = "") -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def step_start(self, name: str) -> None:
        self.stream.write(f"==> {name} ...")
        self.stream.flush()

    def step_end(self, step: StepResult) -> None:
        label = {"ok": "ok", "failed": "FAILED", "skipped": "skipped"}[step.status]
        first, *rest = step.detail.splitlines() or [""]
        self.line(f" {label} ({step.seconds:.1f}s) {first}")
        for extra in rest:
            self.line(f"      {extra}")

    def check(self, result: CheckResult) -> None:
        self.line(
            f"    {result.check_id:<30} {result.status:<7} {result.where or '-':<20} "
            f"({result.seconds:.2f}s)"
        )


@contextlib.contextmanager
def step(report: Report, console: Console, name: str) -> Iterator[list[str]]:
    """Time one step; the body appends detail lines. Any error ends the step as
    failed with its reason (and is re-raised as StepFailed to stop the rest)."""
    details: list[str] = []
    console.step_start(name)
    started = time.monotonic()
    try:
        yield details
    except StepFailed as error:
        _fail_step(report, console, name, started, str(error))
        raise
    except Exception as error:
        why = f"{type(error).__name__}: {error}"
        _fail_step(report, console, name, started, why)
        raise StepFailed(why) from error
    result = StepResult(name, "ok", time.monotonic() - started, "\n".join(details))
    report.steps.append(result)
    console.step_end(result)


def _fail_step(report: Report, console: Console, name: str, started: float, why: str) -> None:
    result = StepResult(name, "failed", time.monotonic() - started, why)
    report.steps.append(result)
    report.failed_step = name
    console.step_end(result)


def skipped_step(report: Report, console: Console, name: str, why: str) -> None:
    console.step_start(name)
    result = StepResult(name, "skipped", 0.0, why)
    report.steps.append(result)
    console.step_end(result)


# --- running the real tools ---------------------------------------------------------------


def run_tool(
    command: Sequence[str], *, cwd: Path, env: Mapping[str, str], log: Path, timeout: float
) -> str:
    """Run a tool with its output logged; raise StepFailed with the tail on failure."""
    label = f"{Path(command[0]).name} {command[1] if len(command) > 1 else ''}".strip()
    try:
        completed = subprocess.run(
            list(command),
            cwd=cwd,
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise StepFailed(f"{label} timed out after {timeout:.0f}s") from None
    output = (completed.stdout or "") + (completed.stderr or "")
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(f"$ {' '.join(command)}\n{output}", encoding="utf-8")
    if completed.returncode != 0:
        lines = [line for line in output.splitlines() if line.strip()]
        # botocore's one-line reasons (e.g. the emulator's raw error body) come first.
        reasons = [line.strip() for line in lines if _ERROR_LINE.search(line)][-3:]
        tail = "\n".join([*reasons, "...", *lines[-12:]] if reasons else lines[-20:])
        raise StepFailed(f"{label} exited with {completed.returncode} (log {log}):\n{tail}")
    return output


_ERROR_LINE = re.compile(r"(Error|Exception)(:| \()|invalid XML received|b'\{\"__type")
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


def sam_executable() -> str:
    """The pinned SAM CLI (see ``localapi.runtime.sam_executable``), as a step failure."""
    try:
        return runtime_sam_executable()
    except LocalApiError as error:
        raise StepFailed(str(error)) from None


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


def template_runtime(template_path: Path) -> str | None:
    """The Python runtime the template's functions use (Globals first)."""
    template = load_template(template_path)
    runtime = ((template.get("Globals") or {}).get("Function") or {}).get("Runtime")
    if isinstance(runtime, str):
        return runtime
    for resource in (template.get("Resources") or {}).values():
        if isinstance(resource, dict) and resource.get("Type") == "AWS::Serverless::Function":
            value = (resource.get("Properties") or {}).get("Runtime")
            if isinstance(value, str):
                return value
    return None


def _version_key(interpreter: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", interpreter.parent.parent.name))


def find_interpreter_dir(runtime: str) -> Path:
    """The directory of the runtime's exact interpreter (``sam build`` needs e.g.
    ``python3.13`` on PATH): pyenv's versions first, because its shim does not
    work for ``sam build``."""
    version = runtime.removeprefix("python")
    roots: list[Path] = []
    pyenv = shutil.which("pyenv")
    if pyenv:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            found = subprocess.run(
                [pyenv, "root"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
            if found:
                roots.append(Path(found))
    if os.environ.get("PYENV_ROOT"):
        roots.append(Path(os.environ["PYENV_ROOT"]))
    roots.append(Path.home() / ".pyenv")
    pattern = re.compile(rf"{re.escape(version)}(\.\d+)*")
    for root in roots:
        candidates = [
            path
            for path in root.glob(f"versions/{version}*/bin/python{version}")
            if pattern.fullmatch(path.parent.parent.name)
        ]
        if candidates:
            return max(candidates, key=_version_key).parent
    on_path = shutil.which(f"python{version}")
    if on_path and "/shims/" not in on_path:
        return Path(on_path).parent
    raise StepFailed(
        f"no {runtime} interpreter found (looked in $(pyenv root)/versions/{version}*/bin and "
        f"PATH): install Python {version}, e.g. `pyenv install {version}`"
    )


def project_build_command(root: Path) -> list[str] | None:
    """``python -m localapi build`` when the project offers it, else None."""
    if not (root / "localapi" / "__main__.py").is_file():
        return None
    command = [sys.executable, "-m", "localapi", "build"]
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        probe = subprocess.run(
            [*command, "--help"], cwd=root, capture_output=True, timeout=60, check=False
        )
        if probe.returncode == 0:
            return command
    return None


# --- the rehearsal ----------------------------------------------------------------------


@dataclass
class Options:
    project_root: Path
    stack_name: str = DEFAULT_STACK_NAME
    template: Path | None = None
    config_env: str = "default"
    keep: bool = False
    report_path: Path | None = None
    real_stack: str | None = None
    # The emulated region: one rehearsal per region for multi-region deploys.
    region: str = EMULATOR_REGION


@dataclass
class Rehearsal:
    """State shared by the steps of one emulator rehearsal."""

    options: Options
    report: Report
    console: Console
    work_dir: Path
    server: MotoServer | None = None
    template: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    expected_policy: dict[str, Any] | None = None
    transformed: dict[str, Any] | None = None
    removed: set[str] = field(default_factory=set)
    parameters: dict[str, str] = field(default_factory=dict)

    @property
    def settings_file(self) -> Path:
        return self.work_dir / "params" / "settings.yaml"

    @property
    def policy_file(self) -> Path:
        return self.work_dir / "params" / "rehearsal.yaml"

    @property
    def parameter_overrides(self) -> list[str]:
        """What SAM reads, as in samconfig.toml: the environment's values, then
        policy_gen's parameter file (``file://``; later files win)."""
        return [f"file://{self.settings_file}", f"file://{self.policy_file}"]

    @property
    def bucket(self) -> str:
        return f"{self.options.stack_name.lower()}-artifacts"

    def prepare(self) -> None:
        """Write the samconfig environment's non-policy values as a SAM parameter
        file: files avoid SAM CLI's command-line quoting entirely."""
        with step(self.report, self.console, "prepare") as details:
            config = self.options.project_root / "samconfig.toml"
            values: dict[str, str] = {}
            if config.is_file():
                environment = load_environment(config, self.options.config_env)
                values = {
                    k: v
                    for k, v in environment.parameter_overrides.items()
                    if k not in POLICY_GEN_PARAMETERS
                }
                shown = ", ".join(f"{k}={v}" for k, v in values.items()) or "no values"
                details.append(f"samconfig env {self.options.config_env!r}: {shown}")
            else:
                details.append("no samconfig.toml: template defaults")
            header = (
                f"# The non-policy parameter values of samconfig env {self.options.config_env!r}, "
                "for the deploy rehearsal.\n"
            )
            body = yaml.safe_dump(values, default_style="'", sort_keys=False) if values else "{}\n"
            write_atomically(self.settings_file, header + body)
            details.append(f"work dir {self.work_dir}")

    def build(self) -> None:
        root = self.options.project_root
        if self.options.template is not None:
            template = self.options.template.resolve()
            if not template.is_file():
                with step(self.report, self.console, "build"):
                    raise StepFailed(f"--template {template} does not exist")
            self.template = template
            skipped_step(self.report, self.console, "build", f"using --template {template}")
            return
        built = root / ".aws-sam" / "build" / "template.yaml"
        if built.is_file():
            self.template = built
            note = f"using the existing build {built.relative_to(root)}"
            source = root / "template.yaml"
            if source.is_file() and source.stat().st_mtime > built.stat().st_mtime:
                note += " (older than template.yaml: rebuild if that matters)"
            skipped_step(self.report, self.console, "build", note)
            return
        with step(self.report, self.console, "build") as details:
            # Explicit overrides: samconfig's list names params/ENV.yaml, which exists
            # only after a render for an account; the build needs no key policy.
            overrides = ["--parameter-overrides", self.parameter_overrides[0]]
            command = project_build_command(root)
            env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
            if command is not None:
                command = [*command, "--", *overrides]
                details.append("python -m localapi build")
            else:
                runtime = template_runtime(root / "template.yaml") or EXPECTED_RUNTIME
                bin_dir = find_interpreter_dir(runtime)
                env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
                command = [sam_executable(), "build", "--template-file", "template.yaml"]
                command += overrides
                details.append(f"sam build with {runtime} from {bin_dir}")
            run_tool(
                command, cwd=root, env=env, log=self.work_dir / "build.log", timeout=BUILD_TIMEOUT
            )
            if not built.is_file():
                raise StepFailed(f"the build did not produce {built}")
            self.template = built
            details.append(f"built {built.relative_to(root)}")

    def start_emulator(self) -> None:
        with step(self.report, self.console, "start emulator") as details:
            self.server = MotoServer(self.work_dir / "moto.log")
            endpoint = self.server.start()
            self.env = emulator_env(endpoint, self.work_dir, self.options.region)
            version = importlib.metadata.version("moto")
            self.report.endpoint_url = endpoint
            self.report.emulator.update(
                {
                    "moto_version": version,
                    "gaps_verified_with_moto": GAPS_VERIFIED_WITH_MOTO,
                    "pid": self.server.pid,
                    "log": str(self.server.log_path),
                }
            )
            details.append(f"moto {version} at {endpoint} (pid {self.server.pid})")
            if version != GAPS_VERIFIED_WITH_MOTO:
                details.append(
                    f"warning: the emulator gaps were verified with moto "
                    f"{GAPS_VERIFIED_WITH_MOTO}; re-verify EMULATOR_GAPS for {version}"
                )

    def render(self) -> None:
        assert self.template is not None
        with step(self.report, self.console, "render key policy (policy_gen)") as details:
            command = [
                sys.executable, "-m", "policy_gen", "render",
                "--template", str(self.template),
                "--config-env", self.options.config_env,
                "--stack-name", self.options.stack_name,
                "--account", EMULATOR_ACCOUNT,
                "--region", self.options.region,
                "--out", str(self.policy_file),
            ]  # fmt: skip
            output = run_tool(
                command,
                cwd=self.options.project_root,
                env=self.env,
                log=self.work_dir / "render.log",
                timeout=POLICY_GEN_TIMEOUT,
            )
            details.extend(line for line in output.splitlines() if line.strip())
            values = yaml.safe_load(self.policy_file.read_text(encoding="utf-8"))
            try:
                self.expected_policy = json.loads(values["KeyPolicy"])
            except (TypeError, KeyError, json.JSONDecodeError) as error:
                raise StepFailed(f"{self.policy_file} has no KeyPolicy JSON: {error}") from None

    def package(self) -> None:
        assert self.template is not None
        with step(self.report, self.console, "package (sam package)") as details:
            s3: Any = emulator_session(self.options.region).client(
                "s3", endpoint_url=self.report.endpoint_url
            )
            if self.options.region == "us-east-1":
                s3.create_bucket(Bucket=self.bucket)
            else:  # S3 wants the location everywhere but us-east-1
                s3.create_bucket(
                    Bucket=self.bucket,
                    CreateBucketConfiguration={"LocationConstraint": self.options.region},
                )
            packaged = self.work_dir / "packaged.yaml"
            command = [
                sam_executable(), "package",
                "--template-file", str(self.template),
                "--s3-bucket", self.bucket,
                "--s3-prefix", self.options.stack_name,
                "--output-template-file", str(packaged),
                "--region", self.options.region,
                "--no-progressbar",
            ]  # fmt: skip
            self.run_against_emulator(command, self.work_dir / "package.log")
            details.append(
                f"code uploaded to s3://{self.bucket}/{self.options.stack_name}/ -> {packaged.name}"
            )

    def transform(self) -> None:
        with step(self.report, self.console, "transform (SAM translator)") as details:
            self.parameters = read_parameter_overrides(self.parameter_overrides)
            self.transformed = transform_template(
                self.work_dir / "packaged.yaml",
                self.parameters,
                self.report.endpoint_url,
                self.options.region,
            )
            out = self.work_dir / "transformed.json"
            out.write_text(json.dumps(self.transformed, indent=1), encoding="utf-8")
            resources = self.transformed.get("Resources") or {}
            details.append(f"{len(resources)} CloudFormation resources -> {out.name}")

    def adapt(self) -> None:
        assert self.transformed is not None
        with step(self.report, self.console, "adapt for the emulator") as details:
            planned = PlannedStack(
                self.transformed, self.options.stack_name, self.parameters, self.options.region
            )
            adapted, adaptations = adapt_for_emulator(self.transformed, planned)
            self.removed = set(self.transformed.get("Resources") or {}) - set(
                adapted.get("Resources") or {}
            )
            (self.work_dir / "emulator-template.json").write_text(
                json.dumps(adapted, indent=1), encoding="utf-8"
            )
            self.report.emulator["adaptations"] = adaptations
            details.extend(adaptations or ["none needed"])

    def deploy(self) -> None:
        with step(self.report, self.console, "deploy (sam deploy)") as details:
            command = [
                sam_executable(), "deploy",
                "--template-file", str(self.work_dir / "emulator-template.json"),
                "--stack-name", self.options.stack_name,
                "--s3-bucket", self.bucket,
                "--s3-prefix", self.options.stack_name,
                "--capabilities", "CAPABILITY_IAM",
                "--region", self.options.region,
                "--no-confirm-changeset",
                "--no-fail-on-empty-changeset",
                "--parameter-overrides", *self.parameter_overrides,
            ]  # fmt: skip
            self.run_against_emulator(command, self.work_dir / "deploy.log")
            target = self.target()
            status = target.stack().get("StackStatus")
            created = set(target.resources())
            declared = (self.transformed or {}).get("Resources") or {}
            absent = self.classify_absent(target, declared, created)
            self.report.emulator["resources_absent"] = absent
            details.append(
                f"stack {self.options.stack_name} {status}: the emulator holds "
                f"{len(created & set(declared))} of the {len(declared)} resources of the "
                "transformed template"
            )
            details.extend(f"{why}: {', '.join(names)}" for why, names in absent.items() if names)

    def classify_absent(
        self, target: Target, declared: Mapping[str, Any], created: set[str]
    ) -> dict[str, list[str]]:
        """Why each resource of the transformed template is not in the stack: its
        Condition is false (as in AWS), we removed it for the emulator, or the
        emulator did not create it (no moto support)."""
        values = TemplateValues(target)
        absent: dict[str, list[str]] = {
            "condition false (not created in AWS either)": [],
            "removed for the emulator (see adaptations)": [],
            "not created by the emulator": [],
        }
        for logical_id in sorted(set(declared) - created):
            resource = declared[logical_id] if isinstance(declared[logical_id], dict) else {}
            condition = resource.get("Condition")
            skipped = False
            if isinstance(condition, str):
                with contextlib.suppress(CheckFailed, ClientError, BotoCoreError):
                    skipped = not values.condition(condition)
            if skipped:
                absent["condition false (not created in AWS either)"].append(logical_id)
            elif logical_id in self.removed:
                absent["removed for the emulator (see adaptations)"].append(logical_id)
            else:
                absent["not created by the emulator"].append(logical_id)
        return absent

    def run_against_emulator(self, command: Sequence[str], log: Path) -> None:
        """A SAM CLI command against the emulator; a failure names moto's own error."""
        mark = self.server.log_path.stat().st_size if self.server else 0
        try:
            run_tool(command, cwd=self.work_dir, env=self.env, log=log, timeout=SAM_TIMEOUT)
        except StepFailed as failure:
            error = None
            if self.server is not None:
                fresh = self.work_dir / "moto-error.log"
                with self.server.log_path.open("rb") as stream:
                    stream.seek(mark)
                    fresh.write_bytes(stream.read())
                error = moto_error(fresh)
            if error is None:
                raise
            raise StepFailed(f"the emulator failed: {error}\n{failure}") from None

    def target(self) -> Target:
        return Target(
            emulator_session(self.options.region),
            self.options.stack_name,
            endpoint_url=self.report.endpoint_url,
            emulated=True,
            transformed=self.transformed,
            expected_policy=self.expected_policy,
        )

    def stop(self) -> None:
        if self.server is None:
            return
        if self.options.keep:
            self.server.keep()
            self.report.emulator["kept_running"] = True
        else:
            self.server.stop()
            self.report.emulator["kept_running"] = False


def read_parameter_overrides(parameter_overrides: Sequence[str]) -> dict[str, str]:
    """The parameter values exactly as SAM CLI reads ``--parameter-overrides``
    (its own parser: ``file://`` files, unquoting and all)."""
    from samcli.cli.types import CfnParameterOverridesType  # noqa: PLC0415 -- slow import

    try:
        values = CfnParameterOverridesType().convert(list(parameter_overrides), None, None)
    except Exception as error:  # click raises BadParameter/UsageError for a bad file
        raise StepFailed(f"SAM could not read the parameter overrides: {error}") from None
    return {str(key): str(value) for key, value in values.items()}


def transform_template(
    packaged: Path,
    parameter_values: Mapping[str, str],
    endpoint_url: str | None,
    region: str = EMULATOR_REGION,
) -> dict[str, Any]:
    """The packaged SAM template as CloudFormation's Serverless transform would
    produce it: the real SAM translator, fed the parameters as SAM CLI's own
    parser read them (``read_parameter_overrides``)."""
    # SAM CLI and the translator load slowly; only the emulator path needs them.
    from samcli.yamlhelper import yaml_parse  # noqa: PLC0415
    from samtranslator.parser.parser import Parser  # noqa: PLC0415
    from samtranslator.public.exceptions import InvalidDocumentException  # noqa: PLC0415
    from samtranslator.translator.managed_policy_translator import (  # noqa: PLC0415
        ManagedPolicyLoader,
    )
    from samtranslator.translator.translator import Translator  # noqa: PLC0415

    template = yaml_parse(packaged.read_text(encoding="utf-8"))
    declared = template.get("Transform") or []
    transforms = [declared] if isinstance(declared, str) else list(declared)
    others = [name for name in transforms if name != SERVERLESS_TRANSFORM]
    if others:
        raise StepFailed(f"the template uses transforms the rehearsal cannot run: {others}")
    if not transforms:
        return dict(template)
    parameters: dict[str, Any] = dict(parameter_values)
    parameters.update(
        {
            "AWS::Region": region,
            "AWS::Partition": partition_for_region(region).name,
            "AWS::AccountId": EMULATOR_ACCOUNT,
        }
    )
    session = emulator_session(region)
    iam: Any = session.client("iam", endpoint_url=endpoint_url)
    loader = ManagedPolicyLoader(iam)
    policies: dict[str, dict[str, str]] = {}

    def managed_policies() -> dict[str, str]:
        # Called only when a function names managed policies; the emulator's IAM
        # carries AWS's managed policy list.
        if "map" not in policies:
            policies["map"] = dict(loader.load())
        return policies["map"]

    try:
        translated = Translator(None, Parser(), boto_session=session).translate(
            template, parameter_values=parameters, get_managed_policy_map=managed_policies
        )
    except InvalidDocumentException as error:
        causes = " ".join(str(cause) for cause in getattr(error, "causes", []))
        raise StepFailed(f"the SAM translator rejected the template: {error} {causes}") from None
    return dict(translated)


def adapt_for_emulator(
    transformed: Mapping[str, Any], planned: StackFacts | None = None
) -> tuple[dict[str, Any], list[str]]:
    """A copy of the transformed template that moto can create, and what changed.

    Only what makes moto's stack creation *fail* is changed; the checks always
    read the unadapted transformed template. ``planned`` (the parameter values)
    lets Conditions be evaluated where moto mishandles their result.
    """
    adapted: dict[str, Any] = json.loads(json.dumps(transformed))
    resources: dict[str, Any] = adapted.get("Resources") or {}
    changes: list[str] = []
    for logical_id, resource in resources.items():
        tags = (resource.get("Properties") or {}).get("Tags")
        if resource.get("Type") == "AWS::KMS::Key" and tags:
            resource["Properties"]["Tags"] = [
                {"TagKey": tag.get("Key"), "TagValue": tag.get("Value")} for tag in tags
            ]
            changes.append(
                f"{logical_id}: Tags rewritten from Key/Value to TagKey/TagValue "
                f"({EMULATOR_GAPS['kms-key-tags']})"
            )
    if planned is not None:
        values = TemplateValues(planned)
        for logical_id, resource in resources.items():
            dropped = _drop_novalue_list_items(resource.get("Properties"), values)
            if dropped:
                changes.append(
                    f"{logical_id}: {dropped} list item(s) whose Fn::If resolves to "
                    f"AWS::NoValue removed ({EMULATOR_GAPS['novalue-in-lists']})"
                )
    with_body = {
        logical_id
        for logical_id, resource in resources.items()
        if resource.get("Type") == "AWS::ApiGateway::RestApi"
        and "Body" in (resource.get("Properties") or {})
    }
    removed = sorted(
        logical_id
        for logical_id, resource in resources.items()
        if resource.get("Type") == "AWS::ApiGateway::Deployment"
        and template_references((resource.get("Properties") or {}).get("RestApiId")) & with_body
    )
    for logical_id in removed:
        del resources[logical_id]
        changes.append(
            f"{logical_id} (AWS::ApiGateway::Deployment) removed "
            f"({EMULATOR_GAPS['apigateway-body']})"
        )
    for resource in resources.values():
        depends = resource.get("DependsOn")
        if isinstance(depends, str) and depends in removed:
            del resource["DependsOn"]
        elif isinstance(depends, list):
            resource["DependsOn"] = [name for name in depends if name not in removed]
    return adapted, changes


NO_VALUE = {"Ref": "AWS::NoValue"}


def _drop_novalue_list_items(node: Any, values: TemplateValues) -> int:
    """Remove, in place, list items ``Fn::If [cond, x, AWS::NoValue]`` (or the
    mirror) whose condition selects AWS::NoValue, as CloudFormation would.
    Items whose condition cannot be evaluated are left alone."""
    dropped = 0
    if isinstance(node, dict):
        for item in node.values():
            dropped += _drop_novalue_list_items(item, values)
    elif isinstance(node, list):
        kept = []
        for item in node:
            branches = item.get("Fn::If") if isinstance(item, dict) and len(item) == 1 else None
            if isinstance(branches, list) and len(branches) == 3:
                try:
                    chosen = branches[1] if values.condition(str(branches[0])) else branches[2]
                except CheckFailed:
                    chosen = None
                if chosen == NO_VALUE:
                    dropped += 1
                    continue
            dropped += _drop_novalue_list_items(item, values)
            kept.append(item)
        node[:] = kept
    return dropped


@contextlib.contextmanager
def emulator_rehearsal(
    options: Options, console: Console | None = None, work_dir: Path | None = None
) -> Iterator[tuple[Report, Target | None]]:
    """Prepare, build, start the emulator, render, package, transform, adapt, deploy.

    Yields the report and the deployed target (None when a step failed: the
    report says which and why). The emulator is stopped on exit unless
    ``options.keep``.
    """
    console = console or Console()
    report = Report("emulator", options.stack_name, options.region, EMULATOR_ACCOUNT)
    report.emulator["known_gaps"] = dict(EMULATOR_GAPS)
    work = work_dir or Path(tempfile.mkdtemp(prefix="secure-api-rehearsal-"))
    report.work_dir = str(work)
    rehearsal = Rehearsal(options, report, console, work)
    target: Target | None = None
    try:
        try:
            rehearsal.prepare()
            rehearsal.build()
            rehearsal.start_emulator()
            rehearsal.render()
            rehearsal.package()
            rehearsal.transform()
            rehearsal.adapt()
            rehearsal.deploy()
            target = rehearsal.target()
        except StepFailed:
            pass  # recorded by step(); the checks will be NOT RUN
        yield report, target
    finally:
        rehearsal.stop()


def aws_rehearsal(options: Options, console: Console) -> tuple[Report, Target | None]:
    """Against the REAL stack ``options.real_stack``: no emulator, every check live."""
    assert options.real_stack is not None
    session = boto3.session.Session()
    report = Report("aws", options.real_stack, session.region_name)
    target = Target(session, options.real_stack)
    try:
        with step(report, console, "locate stack") as details:
            if not session.region_name:
                raise StepFailed("no AWS region configured: set AWS_REGION")
            report.account = target.account()
            details.append(
                f"{options.real_stack} in {report.account}/{session.region_name}: "
                f"{target.stack().get('StackStatus')}"
            )
        with (
            step(report, console, "render key policy (policy_gen)") as details,
            tempfile.TemporaryDirectory(prefix="secure-api-rehearsal-") as work,
        ):
            out = Path(work) / "expected-policy.json"
            command = [
                sys.executable, "-m", "policy_gen", "render",
                "--template", str(options.template or default_template(options.project_root)),
                "--config-env", options.config_env,
                "--stack-name", options.real_stack,
                "--account", str(report.account),
                "--region", str(session.region_name),
                "--out", str(out),
            ]  # fmt: skip
            output = run_tool(
                command,
                cwd=options.project_root,
                env=os.environ,
                log=Path(work) / "render.log",
                timeout=POLICY_GEN_TIMEOUT,
            )
            details.extend(line for line in output.splitlines() if line.strip())
            target.expected_policy = json.loads(out.read_text(encoding="utf-8"))
    except StepFailed:
        return report, None
    return report, target


def default_template(root: Path) -> Path:
    built = root / ".aws-sam" / "build" / "template.yaml"
    return built if built.is_file() else root / "template.yaml"


# --- output -------------------------------------------------------------------------------


def format_table(checks: Sequence[CheckResult], width: int = 120) -> list[str]:
    """The final table: one line per check; below it the full detail of every
    check that did not pass, and why some ran on the transformed template."""
    id_width = max([len("CHECK"), *(len(c.check_id) for c in checks)])
    header = f"{'CHECK':<{id_width}}  {'STATUS':<7}  {'WHERE':<20}  DETAIL"
    lines = [header, "-" * max(len(header), min(width, 100))]
    room = max(20, width - id_width - 35)
    for check in checks:
        detail = check.detail if len(check.detail) <= room else check.detail[: room - 3] + "..."
        lines.append(
            f"{check.check_id:<{id_width}}  {check.status:<7}  {check.where or '-':<20}  {detail}"
        )
    problems = [check for check in checks if check.status != PASS]
    if problems:
        lines.append("")
        lines.extend(f"{check.status} {check.check_id}: {check.detail}" for check in problems)
    via_template = [check for check in checks if check.where == TEMPLATE]
    if via_template:
        lines.append("")
        lines.append("Checked on the transformed template, because the emulator does not keep it:")
        lines.extend(
            f"  {check.check_id}: {EMULATOR_GAPS.get(check.gap or '', 'no reason recorded')}"
            for check in via_template
        )
    return lines


def summary_line(report: Report) -> str:
    counts = report.counts()
    where = ", ".join(f"{n} on {w}" for w, n in sorted(report.where_counts().items()))
    failed = f"; step '{report.failed_step}' failed" if report.failed_step else ""
    return (
        f"RESULT: {'PASS' if report.ok else 'FAIL'}: {counts[PASS]} passed, "
        f"{counts[FAIL]} failed, {counts[NOT_RUN]} not run ({where or 'none ran'}){failed}; "
        f"{report.seconds:.1f}s"
    )


# --- command line -------------------------------------------------------------------------


def _region(text: str) -> str:
    """A well-formed region name, checked before the emulator starts (exit 2 otherwise)."""
    try:
        partition_for_region(text)
    except InputError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineArgumentParser(
        prog="python -m localapi.rehearsal",
        description=(
            "Deploy the built stack to an embedded AWS emulator (moto on localhost) with the "
            "real SAM CLI and run the post-deploy checks; with AWS_SAM_STACK_NAME set, run the "
            "same checks against that real stack instead. Exit 0 only if every check that "
            "ran passed."
        ),
    )
    parser.add_argument(
        "--template",
        type=Path,
        help="template to deploy (default: .aws-sam/build/template.yaml, built first if missing)",
    )
    parser.add_argument(
        "--stack-name",
        default=DEFAULT_STACK_NAME,
        help=f"emulator stack name (default: {DEFAULT_STACK_NAME})",
    )
    parser.add_argument(
        "--config-env",
        default="default",
        help="samconfig.toml environment for the parameter values (default: default)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="leave the emulator running and print its endpoint"
    )
    parser.add_argument(
        "--report", type=Path, metavar="FILE", help="write the JSON report here (atomically)"
    )
    parser.add_argument(
        "--region",
        type=_region,
        default=EMULATOR_REGION,
        help=f"the emulated region (default {EMULATOR_REGION}); one rehearsal per region",
    )
    parser.add_argument("--project-root", type=Path, default=Path.cwd(), help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None, stream: TextIO | None = None) -> int:
    """Entry point: ``python -m deployment.rehearsal`` (or ``localapi rehearse``)."""
    args = build_parser().parse_args(argv)
    console = Console(stream)
    options = Options(
        project_root=args.project_root.resolve(),
        stack_name=args.stack_name,
        template=args.template,
        config_env=args.config_env,
        keep=args.keep,
        report_path=args.report,
        real_stack=os.environ.get(REAL_STACK_ENV) or None,
        region=args.region,
    )
    started = time.monotonic()
    if options.real_stack:
        console.line(
            f"Rehearsal against the REAL stack {options.real_stack} ({REAL_STACK_ENV} is set): "
            "no emulator, every check reads live resources"
        )
        report, target = aws_rehearsal(options, console)
        if target is not None:
            console.line("==> checks")
            report.checks = run_checks(target, console)
        else:
            report.checks = not_run(f"step '{report.failed_step}' failed")
        return finish(report, options, console, started)
    console.line(
        f"Deploy rehearsal of stack {options.stack_name} on an embedded AWS emulator "
        f"(moto on localhost, account {EMULATOR_ACCOUNT}, {options.region})"
    )
    with emulator_rehearsal(options, console) as (report, target):
        if target is not None:
            console.line("==> checks")
            report.checks = run_checks(target, console)
        else:
            report.checks = not_run(f"step '{report.failed_step}' failed")
    code = finish(report, options, console, started)
    if report.work_dir and not (options.keep or not report.ok):
        shutil.rmtree(report.work_dir, ignore_errors=True)
    elif report.work_dir:
        console.line(f"work files (templates, tool logs, moto log) kept in {report.work_dir}")
    if report.emulator.get("kept_running"):
        pid = report.emulator.get("pid")
        console.line(
            f"emulator left running: AWS_ENDPOINT_URL={report.endpoint_url} "
            f"AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "
            f"AWS_DEFAULT_REGION={options.region} (pid {pid}; stop it with: kill {pid})"
        )
    return code


def finish(report: Report, options: Options, console: Console, started: float) -> int:
    """Print the table and the verdict, write the report; the exit code."""
    report.seconds = time.monotonic() - started
    console.line("")
    for line in format_table(report.checks):
        console.line(line)
    console.line("")
    console.line(summary_line(report))
    if options.report_path is not None:
        write_report(options.report_path, report)
        console.line(f"report written to {options.report_path}")
    return report.exit_code


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # the emulator was already stopped by the with-block
        sys.stderr.write("rehearsal interrupted\n")
        sys.exit(130)
