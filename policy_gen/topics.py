"""The SNS topics a template encrypts with one of its keys, and who publishes to them.

The key policy must name each topic's publishers (``policy_gen.publishers``), so render
and check-template need, per key: the topic's ARN, known before deploy from its
``TopicName`` (a name scoped by ``PolicyStackName``, like the log groups, keeps the ARN
known without a dependency cycle), and the AWS services whose resources name the topic
in an action property (a CloudWatch alarm's ``AlarmActions``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from policy_gen.partitions import Partition
from policy_gen.publishers import PUBLISHERS, topic_arn
from policy_gen.template import Resolver, Unresolved, key_reference, resources_of_type

TOPIC_TYPE = "AWS::SNS::Topic"


@dataclass(frozen=True)
class EncryptedTopic:
    """A topic whose ``KmsMasterKeyId`` points at a key of the template."""

    logical_id: str
    name: str | Unresolved
    arn: str | Unresolved
    key_logical_id: str
    publishers: tuple[str, ...]  # Publisher.service of every resource publishing to it


def _references(value: Any, resolver: Resolver) -> set[str]:
    """Logical ids a resolved value still refers to: ``Ref X``, ``GetAtt X.Attr`` and
    ``${X}``/``${X.Attr}`` inside an ``Fn::Sub``, left unresolved (a topic's ARN is only
    known at deploy time, however the template spells it). In symbolic mode
    (check-template) a ``Fn::Sub`` comes back as text with a stand-in token per unknown
    part: the tokens name the same references."""
    if isinstance(value, str) and resolver.symbols is not None:
        found: set[str] = set()
        for unknown in resolver.symbols.unknowns_in(value):
            found |= _references(unknown, resolver)
        return found
    if isinstance(value, Unresolved):
        expression = value.expression
        if expression.startswith("Ref "):
            return {expression[len("Ref ") :]}
        if expression.startswith("GetAtt "):
            return {expression[len("GetAtt ") :].split(".", 1)[0]}
        if expression.startswith("Fn::Sub "):
            return {
                name.split(".", 1)[0]
                for name in re.findall(r"\$\{([^}!]+)\}", expression)
                if not name.startswith("AWS::")
            }
        return set()
    if isinstance(value, list):
        return set().union(*(_references(item, resolver) for item in value)) if value else set()
    if isinstance(value, dict):
        items = value.values()
        return set().union(*(_references(item, resolver) for item in items)) if value else set()
    return set()


def topic_publishers(template: Mapping[str, Any], resolver: Resolver) -> dict[str, set[str]]:
    """Topic logical id -> the services whose created resources publish to it."""
    found: dict[str, set[str]] = {}
    for publisher in PUBLISHERS:
        for _, resource in resources_of_type(template, *publisher.resource_types):
            if not resolver.resource_enabled(resource):
                continue
            properties = resource.get("Properties") or {}
            for name in publisher.topic_properties:
                if name in properties:
                    for target in _references(resolver.resolve(properties[name]), resolver):
                        found.setdefault(target, set()).add(publisher.service)
    return found


def encrypted_topics(
    template: Mapping[str, Any], resolver: Resolver, partition: Partition
) -> list[EncryptedTopic]:
    """Every created topic encrypted with a key of this template, with its publishers."""
    keys = {logical_id for logical_id, _ in resources_of_type(template, "AWS::KMS::Key")}
    publishers = topic_publishers(template, resolver)
    topics = []
    for logical_id, resource in resources_of_type(template, TOPIC_TYPE):
        if not resolver.resource_enabled(resource):
            continue
        properties = resource.get("Properties") or {}
        reference = key_reference(properties.get("KmsMasterKeyId"))
        if reference is None or reference[0] not in keys:
            continue
        name = properties.get("TopicName")
        resolved = (
            resolver.resolve_text(name)
            if name is not None
            else Unresolved(f"generated name of {logical_id}")
        )
        arn: str | Unresolved = resolved
        if isinstance(resolved, str) and resolver.region and resolver.account:
            arn = topic_arn(partition, resolver.region, resolver.account, resolved)
        topics.append(
            EncryptedTopic(
                logical_id,
                resolved,
                arn,
                reference[0],
                tuple(sorted(publishers.get(logical_id, ()))),
            )
        )
    return topics


def publisher_map(topics: list[EncryptedTopic]) -> dict[str, tuple[str, ...]]:
    """Topic ARN -> publishing services, for the topics whose ARN is known and that
    have a publisher (a topic nobody publishes to needs no statement)."""
    return {
        topic.arn: topic.publishers
        for topic in topics
        if isinstance(topic.arn, str) and topic.publishers
    }


def target_topics(topics: list[EncryptedTopic]) -> tuple[tuple[str, str], ...]:
    """(topic name, publishing service) pairs for ``validate.Target.topics``."""
    return tuple(
        (topic.name, service)
        for topic in topics
        if isinstance(topic.name, str)
        for service in topic.publishers
    )
