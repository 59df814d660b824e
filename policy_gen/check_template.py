"""check-template: find every KMS key in a template and prove its policy.

The link nobody else's linter makes: which log groups point at which key, and
whether that key's policy lets CloudWatch Logs use it for exactly those groups.
Template-level mistakes that lose or leak logs are findings too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from policy_gen.deliveries import delivery_findings
from policy_gen.log_groups import (
    LogGroupInventory,
    display,
    parameter_hint,
    undecided_condition_notes,
    unknowns,
)
from policy_gen.partitions import Partition, check_log_group_name, root_arn
from policy_gen.rules import refused_assertions
from policy_gen.stand_in_limits import stand_in_findings
from policy_gen.symbols import Symbols
from policy_gen.template import (
    EncryptedLogGroup,
    Resolver,
    Unresolved,
    deletion_retained,
    resources_of_type,
)
from policy_gen.template_notes import (
    dynamic_reference_notes,
    foreach_notes,
    nested_stack_notes,
    note,
    transform_notes,
)
from policy_gen.topics import EncryptedTopic, encrypted_topics, target_topics
from policy_gen.validate import Finding, Report, Target, validate
from sam_project.documents import parse_json, rebuilt
from sam_project.errors import UserError
from sam_project.sam_globals import deployed_property

FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")


@dataclass
class KeyCheck:
    """The outcome for one ``AWS::KMS::Key``."""

    logical_id: str
    log_groups: list[str]
    report: Report | None
    why_unchecked: str = ""  # when report is None
    topics: list[str] = field(default_factory=list)  # SNS topics whose publishers it serves


@dataclass
class TemplateReport:
    findings: list[tuple[str, Finding]] = field(default_factory=list)  # (resource, finding)
    keys: list[KeyCheck] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not any(finding.severity == "error" for _, finding in self.all_findings())

    def all_findings(self) -> list[tuple[str, Finding]]:
        found = list(self.findings)
        for key in self.keys:
            if key.report is not None:
                found.extend((key.logical_id, finding) for finding in key.report.findings)
        return found

    def strict(self) -> TemplateReport:
        """Warnings become errors; notes (what was not checked, and why) stay notes."""
        return TemplateReport(
            [(resource, _promoted(finding)) for resource, finding in self.findings],
            [
                KeyCheck(
                    k.logical_id,
                    k.log_groups,
                    k.report.strict() if k.report else None,
                    k.why_unchecked,
                    k.topics,
                )
                for k in self.keys
            ],
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "findings": [
                {**finding.as_json(), "resource": resource}
                for resource, finding in self.all_findings()
            ],
            "keys": [
                {
                    "key": key.logical_id,
                    "log_groups": key.log_groups,
                    "topics": key.topics,
                    "valid": key.report.valid if key.report else None,
                    **({"not_checked": key.why_unchecked} if key.report is None else {}),
                }
                for key in self.keys
            ],
        }


def _promoted(finding: Finding) -> Finding:
    return finding if finding.severity == "note" else finding.as_error()


def check_template(
    template: Mapping[str, Any],
    resolver: Resolver,
    partition: Partition,
    *,
    external_log_groups: Sequence[str] = (),
) -> TemplateReport:
    """Every template finding plus a ``validate`` run per key.

    ``external_log_groups``: names the user says exist outside the template (another
    stack creates them): a function logging there gets a "not checked" note instead of a
    finding.
    """
    if resolver.symbols is None:
        resolver = dataclasses.replace(resolver, symbols=Symbols(), _active=set())
    report = TemplateReport()
    for refused in refused_assertions(template, resolver):
        message = (
            f"CloudFormation would refuse this deploy before creating anything: rule "
            f"{refused.rule} asserts {refused.description!r}"
        )
        report.findings.append((refused.rule, Finding("RULE_REFUSED", "error", message, None)))
    report.findings.extend(foreach_notes(template))
    report.findings.extend(transform_notes(template))
    report.findings.extend(nested_stack_notes(template, resolver))
    inventory = LogGroupInventory.of(template, resolver)
    report.findings.extend(inventory.findings)
    topics = encrypted_topics(template, resolver, partition)
    _check_topics(topics, report)
    report.findings.extend(delivery_findings(template, resolver))
    _check_functions(template, resolver, inventory, external_log_groups, report)
    for key_id, key in resources_of_type(template, "AWS::KMS::Key"):
        if not resolver.resource_enabled(key):
            continue
        mine = inventory.encrypted_by(key_id)
        _check_deletion(key_id, key, mine, report, resolver)
        my_topics = [topic for topic in topics if topic.key_logical_id == key_id]
        report.keys.append(_check_key(key_id, key, mine, resolver, partition, report, my_topics))
    report.findings.extend(undecided_condition_notes(template, resolver))
    return report


def _check_topics(topics: list[EncryptedTopic], report: TemplateReport) -> None:
    for topic in topics:
        if isinstance(topic.name, Unresolved) and topic.publishers:
            report.findings.append(
                (
                    topic.logical_id,
                    Finding(
                        "TOPIC_NAME_UNKNOWN",
                        "error",
                        f"SNS topic {topic.logical_id} is encrypted with {topic.key_logical_id} "
                        f"and has no name known before deploy ({topic.name}): give it a "
                        "TopicName (or pass the parameters it uses) so the key policy can let "
                        f"its publishers ({', '.join(topic.publishers)}) use the key",
                        None,
                    ),
                )
            )


def _check_functions(
    template: Mapping[str, Any],
    resolver: Resolver,
    inventory: LogGroupInventory,
    external: Sequence[str],
    report: TemplateReport,
) -> None:
    """Where each function's logs go: a group of this template, or one Lambda creates.

    Lambda developer guide, "Configuring CloudWatch log groups": without a custom group
    Lambda logs to ``/aws/lambda/<function name>`` and creates it on first invoke; a custom
    ``LoggingConfig.LogGroup`` that does not exist is created by Lambda too. Either way
    the group Lambda creates has no customer-managed key.
    """
    show = display(resolver)
    for logical_id, resource in resources_of_type(template, *FUNCTION_TYPES):
        if not resolver.resource_enabled(resource):
            continue
        # What SAM deploys: Globals only reach AWS::Serverless::* resources, and a
        # function's own LoggingConfig is merged with the global one.
        logging = deployed_property(template, resource, "LoggingConfig")
        custom = logging.get("LogGroup") if isinstance(logging, Mapping) else None
        name: str | Unresolved | None
        if custom is not None:
            if inventory.creates_reference(custom):
                continue
            name = resolver.resolve_text(custom)
        else:
            function_name = resolver.resolve_text({"Ref": logical_id})
            name = f"/aws/lambda/{function_name}" if isinstance(function_name, str) else None
        if isinstance(name, str) and inventory.creates_name(name):
            continue
        if isinstance(name, str) and show(name) in external:
            report.findings.append(
                (
                    logical_id,
                    note(
                        "EXTERNAL_LOGGROUP",
                        f"function {logical_id} logs to {show(name)}, which you said exists outside this "
                        "template (--external-log-group): its encryption is not checked here",
                    ),
                )
            )
            continue
        if custom is None:
            report.findings.append(
                (
                    logical_id,
                    Finding(
                        "LAMBDA_AUTO_LOGGROUP",
                        "error",
                        f"function {logical_id} has no LoggingConfig.LogGroup and no explicit "
                        "/aws/lambda/<name> log group: Lambda will create an unencrypted log group "
                        "that never expires",
                        None,
                    ),
                )
            )
            continue
        missing = unknowns(resolver, name)
        if missing:
            report.findings.append(
                (
                    logical_id,
                    note(
                        "LOGGROUP_NAME_UNKNOWN",
                        f"function {logical_id} logs to {show(str(name))}, a name known only "
                        "at deploy and not one of this template's log groups"
                        f"{parameter_hint(missing)}; if no other stack creates it, Lambda "
                        "creates it unencrypted (pass "
                        "--external-log-group NAME when another stack does)",
                    ),
                )
            )
            continue
        report.findings.append(
            (
                logical_id,
                Finding(
                    "LAMBDA_LOGGROUP_NOT_CREATED",
                    "error",
                    f"function {logical_id} sends its logs to {name} (LoggingConfig.LogGroup), "
                    "which this template does not create: Lambda creates a missing group itself "
                    "on first invoke, without a customer-managed key (Lambda developer guide, configuring "
                    "CloudWatch log groups / advanced logging controls); create it here with a "
                    f"KmsKeyId, or pass --external-log-group {name} if another stack creates it",
                    None,
                ),
            )
        )


def _check_deletion(
    key_id: str,
    key: Mapping[str, Any],
    groups: list[EncryptedLogGroup],
    report: TemplateReport,
    resolver: Resolver,
) -> None:
    if deletion_retained(key, resolver):
        return
    for group in groups:
        if group.retained:
            report.findings.append(
                (
                    group.logical_id,
                    Finding(
                        "KEY_DELETION_MISMATCH",
                        "error",
                        f"log group {group.logical_id} is retained but its key {key_id} is not: "
                        "after the stack is deleted the retained logs can never be read; give both "
                        "DeletionPolicy/UpdateReplacePolicy Retain, or neither",
                        None,
                    ),
                )
            )


def default_key_policy(partition: Partition, account: str) -> dict[str, Any]:
    """The policy KMS attaches when CreateKey gets none (KMS developer guide, "Default key
    policy": one statement giving the account, and through it IAM policies, every KMS
    action). CloudFormation creates keys through that API."""
    return {
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": root_arn(partition, account)},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }


def _check_key(
    key_id: str,
    key: Mapping[str, Any],
    groups: list[EncryptedLogGroup],
    resolver: Resolver,
    partition: Partition,
    report: TemplateReport,
    topics: list[EncryptedTopic],
) -> KeyCheck:
    """Validate one key: for its log groups and the publishers of its topics, or (serving
    none) for what makes any key unsafe. A key without KeyPolicy that serves neither has
    KMS's default policy."""
    publishing = target_topics(topics)
    show = display(resolver)
    names = _valid_names(groups, show, report)
    shown = [show(name) for name in names]
    region, account = resolver.region, resolver.account
    assert region is not None and account is not None  # the CLI always sets them
    raw = (key.get("Properties") or {}).get("KeyPolicy")
    if raw is None:
        if not groups and not publishing:
            return KeyCheck(key_id, [], None, "no KeyPolicy: KMS applies its default key policy")
        report.findings.append(
            (
                key_id,
                Finding(
                    "KEY_DEFAULT_POLICY",
                    "error",
                    f"key {key_id} has no KeyPolicy: KMS applies its default key policy (KMS developer "
                    "guide, 'Default key policy'), which lets only the account and its IAM policies use "
                    f"the key; {show(_denied_services(shown, publishing))} (simulated below)",
                    None,
                ),
            )
        )
        policy: object = default_key_policy(partition, account)
    else:
        report.findings.extend(
            dynamic_reference_notes(key_id, raw, f"the KeyPolicy of key {key_id}")
        )
        value = resolver.resolve(raw)
        if isinstance(value, Unresolved):
            why = f"its KeyPolicy comes from {value}, not known before deploy"
            report.findings.append(
                (
                    key_id,
                    Finding(
                        "KEY_POLICY_UNKNOWN",
                        "warning",
                        f"the key policy of {key_id} is not checked: {why}"
                        f"{parameter_hint([value])}",
                        None,
                    ),
                )
            )
            return KeyCheck(key_id, shown, None, why, [show(name) for name, _ in publishing])
        if isinstance(value, str):
            try:
                value = parse_json(value, f"the KeyPolicy of {key_id}")
            except UserError as error:
                report.findings.append(
                    (key_id, Finding("MALFORMED", "error", f"{error}: KMS refuses it", None))
                )
                return KeyCheck(
                    key_id,
                    shown,
                    None,
                    "its KeyPolicy is not a JSON document",
                    [show(name) for name, _ in publishing],
                )
        policy = _placeholders(value, resolver)
    target = (
        Target.checked(partition, region, account, names)
        if names
        else Target.for_key(partition, region, account)
    )
    target = dataclasses.replace(target, topics=publishing)
    checked = validate(policy, target)
    checked.findings.extend(stand_in_findings(policy, names, resolver.has_unknowns, show))
    checked.findings[:] = [
        dataclasses.replace(finding, message=show(finding.message)) for finding in checked.findings
    ]
    return KeyCheck(key_id, shown, checked, topics=[show(name) for name, _ in publishing])


def _denied_services(shown: list[str], publishing: tuple[tuple[str, str], ...]) -> str:
    """Who the default policy shuts out, for KEY_DEFAULT_POLICY's message."""
    denied = [f"CloudWatch Logs is denied for {', '.join(shown)}"] if shown else []
    if publishing:
        topics = ", ".join(name for name, _ in publishing)
        denied.append(f"the publishers of topic(s) {topics} are denied")
    return "; ".join(denied)


def _valid_names(groups: list[EncryptedLogGroup], show: Any, report: TemplateReport) -> list[str]:
    """The names Logs would accept; any other is a finding on its group (CloudFormation
    accepts the template, CloudWatch Logs refuses the name at deploy)."""
    names: list[str] = []
    for group in groups:
        if not isinstance(group.name, str) or group.name in names:
            continue
        try:
            names.append(check_log_group_name(group.name))
        except UserError as error:
            report.findings.append(
                (
                    group.logical_id,
                    Finding(
                        "LOGGROUP_NAME_INVALID",
                        "error",
                        f"log group {group.logical_id}: {show(str(error))}; CloudWatch Logs refuses "
                        "it when the stack is deployed (CreateLogGroup, logGroupName)",
                        None,
                    ),
                )
            )
    return names


def _sam_generated_role(template: Mapping[str, Any], logical_id: str) -> bool:
    """Whether SAM generates ``logical_id`` as a function's role: ``<function>Role`` for an
    AWS::Serverless::Function without ``Role`` (SAM developer guide, "CloudFormation
    resources generated when AWS::Serverless::Function is specified")."""
    function = template["Resources"].get(logical_id.removesuffix("Role"))
    return (
        logical_id.endswith("Role")
        and logical_id not in template["Resources"]
        and isinstance(function, Mapping)
        and function.get("Type") == "AWS::Serverless::Function"
        and "Role" not in (function.get("Properties") or {})
    )


def _placeholders(value: Any, resolver: Resolver) -> Any:
    """Replace deploy-time unknowns inside a policy with stand-ins a simulation can use:
    an IAM role or user of the template gets an ARN of this account; anything else gets the
    same stand-in token as wherever the same value appears (policy_gen.symbols)."""
    if isinstance(value, Unresolved):
        expression = value.expression
        if expression.startswith("GetAtt ") and expression.endswith(".Arn"):
            logical_id = expression[len("GetAtt ") : -len(".Arn")]
            resource = resolver.template["Resources"].get(logical_id, {})
            kind = {"AWS::IAM::Role": "role", "AWS::IAM::User": "user"}.get(resource.get("Type"))
            if kind is None and _sam_generated_role(resolver.template, logical_id):
                kind = "role"
            if kind is not None:
                return (
                    f"arn:{resolver.partition or 'aws'}:iam::{resolver.account}:{kind}/{logical_id}"
                )
        piece = resolver.piece(value)
        return piece if isinstance(piece, str) else str(value)
    if isinstance(value, list):
        return [_placeholders(item, resolver) for item in value]
    if isinstance(value, dict):
        return rebuilt(value, {key: _placeholders(item, resolver) for key, item in value.items()})
    return value
