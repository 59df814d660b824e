"""check-template: find every KMS key in a template and prove its policy.

The link nobody else's linter makes: which log groups point at which key, and
whether that key's policy lets CloudWatch Logs use it for exactly those groups.
Template-level mistakes that lose or leak logs are findings too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from policy_gen.deliveries import delivery_findings
from policy_gen.partitions import Partition
from policy_gen.rules import refused_assertions
from policy_gen.template import (
    EncryptedLogGroup,
    Resolver,
    Unresolved,
    deletion_retained,
    encrypted_log_groups,
    key_reference,
    resources_of_type,
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
        return TemplateReport(
            [(resource, finding.as_error()) for resource, finding in self.findings],
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
                }
                for key in self.keys
            ],
        }


def check_template(
    template: Mapping[str, Any], resolver: Resolver, partition: Partition
) -> TemplateReport:
    """Every template finding plus a ``validate`` run per key."""
    report = TemplateReport()
    for refused in refused_assertions(template, resolver):
        message = (
            f"CloudFormation would refuse this deploy before creating anything: rule "
            f"{refused.rule} asserts {refused.description!r}"
        )
        report.findings.append((refused.rule, Finding("RULE_REFUSED", "error", message, None)))
    groups = encrypted_log_groups(template, resolver)
    topics = encrypted_topics(template, resolver, partition)
    _check_log_groups(template, resolver, groups, report)
    _check_topics(topics, report)
    report.findings.extend(delivery_findings(template, resolver))
    _check_functions(template, resolver, report)
    for key_id, key in resources_of_type(template, "AWS::KMS::Key"):
        if not resolver.resource_enabled(key):
            continue
        mine = [group for group in groups if group.key_logical_id == key_id]
        _check_deletion(key_id, key, mine, report, resolver)
        my_topics = [topic for topic in topics if topic.key_logical_id == key_id]
        report.keys.append(_check_key(key_id, key, mine, resolver, partition, my_topics))
    return report


def _check_log_groups(
    template: Mapping[str, Any],
    resolver: Resolver,
    groups: list[EncryptedLogGroup],
    report: TemplateReport,
) -> None:
    encrypted = {group.logical_id for group in groups}
    for logical_id, resource in resources_of_type(template, "AWS::Logs::LogGroup"):
        if not resolver.resource_enabled(resource):
            continue
        kms_key_id = (resource.get("Properties") or {}).get("KmsKeyId")
        reference = key_reference(kms_key_id)
        if kms_key_id is None:
            report.findings.append(
                (
                    logical_id,
                    Finding(
                        "LOGGROUP_UNENCRYPTED",
                        "error",
                        f"log group {logical_id} has no KmsKeyId: its logs are not encrypted with "
                        "a customer-managed key",
                        None,
                    ),
                )
            )
        elif reference is not None and reference[1] != "arn":
            how = "!Ref" if reference[1] == "id" else f"!GetAtt {reference[0]}.{reference[1]}"
            report.findings.append(
                (
                    logical_id,
                    Finding(
                        "KMSKEYID_NOT_ARN",
                        "error",
                        f"log group {logical_id} sets KmsKeyId with {how} {reference[0]}, which gives "
                        f"the key id; CloudWatch Logs needs the ARN: use !GetAtt {reference[0]}.Arn",
                        None,
                    ),
                )
            )
    for group in groups:
        if group.logical_id in encrypted and isinstance(group.name, Unresolved):
            report.findings.append(
                (
                    group.logical_id,
                    Finding(
                        "LOGGROUP_NAME_UNKNOWN",
                        "error",
                        f"log group {group.logical_id} has no name known before deploy ({group.name}): "
                        "pass the parameters its name uses with --parameter-overrides (e.g. "
                        "file://params/default.yaml after policy_gen render), or give it a "
                        "LogGroupName so the key policy can name it",
                        None,
                    ),
                )
            )


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
    template: Mapping[str, Any], resolver: Resolver, report: TemplateReport
) -> None:
    log_group_names = {
        resolver.resolve_text((resource.get("Properties") or {}).get("LogGroupName"))
        for _, resource in resources_of_type(template, "AWS::Logs::LogGroup")
        if resolver.resource_enabled(resource)
        and (resource.get("Properties") or {}).get("LogGroupName") is not None
    }
    for logical_id, resource in resources_of_type(template, *FUNCTION_TYPES):
        if not resolver.resource_enabled(resource):
            continue
        # What SAM deploys: Globals only reach AWS::Serverless::* resources, and a
        # function's own LoggingConfig is merged with the global one.
        logging = deployed_property(template, resource, "LoggingConfig")
        if isinstance(logging, Mapping) and logging.get("LogGroup") is not None:
            continue
        name = (resource.get("Properties") or {}).get("FunctionName")
        resolved = resolver.resolve_text(name) if name is not None else None
        if isinstance(resolved, str) and f"/aws/lambda/{resolved}" in log_group_names:
            continue
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


def _check_deletion(
    key_id: str,
    key: Mapping[str, Any],
    groups: list[EncryptedLogGroup],
    report: TemplateReport,
    resolver: Resolver | None = None,
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


def _check_key(
    key_id: str,
    key: Mapping[str, Any],
    groups: list[EncryptedLogGroup],
    resolver: Resolver,
    partition: Partition,
    topics: list[EncryptedTopic] | None = None,
) -> KeyCheck:
    """Validate one key: for its log groups and the publishers of its topics, or (serving
    none) for what makes any key unsafe. A key without KeyPolicy that serves no log group
    has KMS's default policy."""
    publishing = target_topics(topics or [])
    names = [group.name for group in groups if isinstance(group.name, str)]
    if groups and not names:
        return KeyCheck(key_id, [], None, "no log-group name known (LOGGROUP_NAME_UNKNOWN)")
    if not groups and not publishing and (key.get("Properties") or {}).get("KeyPolicy") is None:
        return KeyCheck(key_id, [], None, "no KeyPolicy: KMS applies its default key policy")
    policy = _key_policy(key_id, key, resolver)
    region, account = resolver.region, resolver.account
    assert region is not None and account is not None  # the CLI always sets them
    target = (
        Target.checked(partition, region, account, names)
        if names
        else Target.for_key(partition, region, account)
    )
    target = dataclasses.replace(target, topics=publishing)
    return KeyCheck(
        key_id, names, validate(policy, target), topics=[name for name, _ in publishing]
    )


def _key_policy(key_id: str, key: Mapping[str, Any], resolver: Resolver) -> object:
    """The key's policy document, resolved from inline data, a string or a parameter.

    Repeated keys survive resolving (:func:`sam_project.documents.rebuilt`), so the
    policy parser can report them whichever way the policy was written.
    """
    raw = (key.get("Properties") or {}).get("KeyPolicy")
    if raw is None:
        raise UserError(
            f"key {key_id} has no KeyPolicy: KMS would apply its default policy, which "
            "does not let CloudWatch Logs use the key"
        )
    value = resolver.resolve(raw)
    if isinstance(value, Unresolved):
        raise UserError(
            f"the KeyPolicy of {key_id} comes from {value}: pass its value with "
            "--parameter-overrides (e.g. file://params/default.yaml)"
        )
    if isinstance(value, str):
        value = parse_json(value, f"the KeyPolicy of {key_id}")
    return _placeholders(value, resolver)


def _placeholders(value: Any, resolver: Resolver) -> Any:
    """Replace deploy-time unknowns inside a policy with stand-ins a simulation can use."""
    if isinstance(value, Unresolved):
        expression = value.expression
        if expression.startswith("GetAtt ") and expression.endswith(".Arn"):
            logical_id = expression[len("GetAtt ") : -len(".Arn")]
            resource = resolver.template["Resources"].get(logical_id, {})
            kind = {"AWS::IAM::Role": "role", "AWS::IAM::User": "user"}.get(resource.get("Type"))
            if kind is not None:
                return (
                    f"arn:{resolver.partition or 'aws'}:iam::{resolver.account}:{kind}/{logical_id}"
                )
        return str(value)
    if isinstance(value, list):
        return [_placeholders(item, resolver) for item in value]
    if isinstance(value, dict):
        return rebuilt(value, {key: _placeholders(item, resolver) for key, item in value.items()})
    return value
