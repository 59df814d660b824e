"""The key policy for one SAM environment, in process: what ``policy_gen render`` does.

The demo, the deploy rehearsal and the multi-region command all need the policy that
``render`` would write for a samconfig environment. Calling :func:`render_environment`
gives them the same result the command line gets (same inputs, same validation, same
errors) without a subprocess and without reading back the YAML it wrote.

Inputs not given come from ``samconfig.toml`` (stack name, region, parameter overrides),
then the environment (``AWS_REGION``), then STS for the account: the precedence of the
CLI, which is documented in ``policy_gen render --help``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from policy_gen.inject import (
    check_stack_name,
    output_text,
    parameter_value,
    parameters,
    rendered_for,
)
from policy_gen.partitions import Partition, check_account, resolve_partition
from policy_gen.render import render_policy
from policy_gen.template import Resolver, Unresolved, encrypted_log_groups, load_template
from policy_gen.topics import encrypted_topics, publisher_map, target_topics
from policy_gen.validate import Report, Target, validate
from sam_project.errors import UserError
from sam_project.files import write_atomically
from sam_project.overrides import parse_parameter_overrides
from sam_project.samconfig import DEFAULT_CONFIG_FILE, Environment, load_environment

DEFAULT_TEMPLATE: Final = "template.yaml"


def default_output(config_env: str) -> Path:
    """Where ``render`` writes an environment's parameter file (samconfig pulls it in)."""
    return Path("params") / f"{config_env}.yaml"


@dataclass(frozen=True)
class RenderedEnvironment:
    """A rendered, validated key policy and everything it was rendered for."""

    policy: dict[str, Any]
    report: Report
    stack_name: str
    region: str
    account: str
    partition: Partition
    logs_principal: str
    key_logical_id: str
    log_groups: tuple[str, ...]
    # SNS topic ARN -> the services the policy lets publish to it (CloudWatch alarms).
    topics: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Whether the template names its log groups after the PolicyStackName parameter
    # (then the parameter file carries it), or after the stack name itself.
    names_from_parameter: bool = False

    @property
    def valid(self) -> bool:
        return self.report.valid

    @property
    def parameters(self) -> dict[str, str]:
        """The template parameters SAM deploys with: KeyPolicy, PolicyAccountId, PolicyRegion,
        and PolicyStackName when the template declares it."""
        return parameters(self.policy, self.account, self.region, self._stack_parameter)

    @property
    def _stack_parameter(self) -> str | None:
        return self.stack_name if self.names_from_parameter else None

    @property
    def parameter_bytes(self) -> int:
        """Size of the ``KeyPolicy`` value; CloudFormation allows 4096 bytes."""
        return len(parameter_value(self.policy).encode("utf-8"))

    def write(self, path: Path) -> None:
        """Write the SAM parameter file (.yaml) or the policy (.json), atomically."""
        write_atomically(
            path,
            output_text(path, self.policy, self.account, self.region, self._stack_parameter),
        )


def _environment(config_file: Path, config_env: str) -> Environment:
    # A missing default samconfig.toml is no configuration; a named one must exist.
    if config_file.exists() or str(config_file) != DEFAULT_CONFIG_FILE:
        return load_environment(config_file, config_env)
    return Environment(config_env)


def render_environment(
    *,
    config_file: Path = Path(DEFAULT_CONFIG_FILE),
    config_env: str = "default",
    template: Path | str = DEFAULT_TEMPLATE,
    stack_name: str | None = None,
    region: str | None = None,
    account: str | None = None,
    partition: str | None = None,
    logs_principal: str | None = None,
    key: str | None = None,
    parameter_overrides: Sequence[str] = (),
) -> RenderedEnvironment:
    """Render and validate the key policy for one environment; nothing is written.

    ``partition`` ``None`` means the region's own; ``account`` ``None`` asks STS. The result
    may be invalid (``valid`` False, findings in ``report``): callers decide whether to
    refuse, as ``render`` does. Bad input raises :class:`UserError` with one line.
    """
    env = _environment(config_file, config_env)
    stack = stack_name or env.stack_name
    if not stack:
        raise UserError("no stack name: pass --stack-name or set stack_name in samconfig.toml")
    check_stack_name(stack)
    where = (
        region or env.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    )
    if not where:
        raise UserError("no region: pass --region or set region in samconfig.toml")
    resolved = resolve_partition(partition, where, logs_principal)
    account = check_account(account) if account else caller_account()
    overrides = dict(env.parameter_overrides)
    overrides.update(parse_parameter_overrides(list(parameter_overrides)))
    document = load_template(str(template))
    declared = document.get("Parameters") or {}
    overrides = {k: v for k, v in overrides.items() if k in declared}
    # What this render is for wins over any stale value: the log-group names of a
    # template that names them after PolicyStackName come from this very render.
    overrides.update(
        (name, value)
        for name, value in rendered_for(stack, account, where).items()
        if name in declared
    )
    resolver = Resolver.for_template(
        document,
        overrides,
        region=where,
        account=account,
        partition=resolved.name,
        stack_name=stack,
    )
    groups = encrypted_log_groups(document, resolver)
    if key:
        groups = [group for group in groups if group.key_logical_id == key]
    keys = sorted({group.key_logical_id for group in groups})
    if not groups:
        raise UserError(f"template {template} has no log group encrypted with a KMS key of its own")
    if len(keys) > 1:
        raise UserError(f"the template has several keys ({', '.join(keys)}): choose one with --key")
    names: list[str] = []
    for group in groups:
        if isinstance(group.name, Unresolved):
            raise UserError(
                f"log group {group.logical_id} has no name known before deploy: {group.name}"
            )
        names.append(group.name)
    topics = [
        topic
        for topic in encrypted_topics(document, resolver, resolved)
        if topic.key_logical_id == keys[0]
    ]
    for topic in topics:
        if isinstance(topic.name, Unresolved) and topic.publishers:
            raise UserError(
                f"SNS topic {topic.logical_id} has no name known before deploy: {topic.name}"
            )
    published = publisher_map(topics)
    policy = render_policy(
        resolved, where, account, names, principal=logs_principal, topics=published
    )
    target = Target.checked(resolved, where, account, names)
    target = dataclasses.replace(target, topics=target_topics(topics))
    return RenderedEnvironment(
        policy=policy,
        report=validate(policy, target),
        stack_name=stack,
        region=where,
        account=account,
        partition=resolved,
        logs_principal=logs_principal or target.logs_principal,
        key_logical_id=keys[0],
        log_groups=tuple(names),
        topics=tuple(sorted(published.items())),
        names_from_parameter="PolicyStackName" in declared,
    )


def caller_account() -> str:
    """The account of the current AWS credentials (STS GetCallerIdentity)."""
    try:
        import boto3  # noqa: PLC0415 - boto3 only when the account must be looked up
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415
    except ImportError:
        raise UserError("no --account given and boto3 is not installed: pass --account") from None
    try:
        identity = boto3.client("sts").get_caller_identity()
    except (BotoCoreError, ClientError) as error:
        raise UserError(
            f"no --account given and STS GetCallerIdentity failed ({type(error).__name__}): "
            "pass --account 123456789012 or configure AWS credentials"
        ) from None
    return check_account(str(identity["Account"]))
