"""The deployed stack the checks read (``Target``): live resources through boto3,
cached, and -- on the emulator only -- the SAM-translated template for the
properties the emulator does not keep.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import boto3
from botocore.config import Config

from deployment.emulator import EMULATOR_GAPS
from deployment.results import AWS, EMULATOR, CheckFailed, CheckNotRun, Where
from deployment.stack_spec import FUNCTION_ID, KEY_ID
from policy_gen.partitions import partition_for_region

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
