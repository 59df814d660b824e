"""AWS services that publish to a KMS-encrypted SNS topic, and what the key policy owes them.

An SNS topic encrypted with a customer-managed key accepts a message from an AWS service
only when the key policy lets that service's principal call ``kms:GenerateDataKey*`` and
``kms:Decrypt`` (SNS developer guide, "Encryption at rest", "Configure AWS KMS permissions
for AWS services": CloudWatch alarms are one such event source, principal
``cloudwatch.amazonaws.com``). Without it the alarm fires and nobody hears of it.

The statement is scoped to our own topics by ``kms:EncryptionContext:aws:sns:topicArn``,
the encryption context SNS puts on its KMS requests (shown in the key policy of the
GameLift FlexMatch developer guide, "Set up an SNS topic with server-side encryption").
``aws:SourceArn``/``aws:SourceAccount`` are not used: no AWS document says CloudWatch's
requests to KMS carry them for this path, and a condition on a key the request lacks
denies every notification. The publisher principal outside the ``aws`` partition
(``cloudwatch.<dns suffix>``) is *unverified*, like the Logs principal table.

Data only: which template properties make a resource a publisher, per service.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from policy_gen.partitions import Partition

SNS_CONTEXT_KEY: Final = "kms:EncryptionContext:aws:sns:topicArn"
SNS_CONTEXT_NAME: Final = "aws:sns:topicArn"


@dataclass(frozen=True)
class Publisher:
    """An AWS service that publishes to SNS topics, as a key policy must name it."""

    service: str  # the principal's first label: cloudwatch -> cloudwatch.amazonaws.com
    sid: str
    # What the statement grants (the SNS guide's list) and what validate simulates.
    actions: tuple[str, ...]
    required: tuple[str, ...]
    # Resource types whose properties below hold the topics it publishes to.
    resource_types: tuple[str, ...]
    topic_properties: tuple[str, ...]
    source: str

    def principal(self, partition: Partition) -> str:
        return f"{self.service}.{partition.principal_suffix}"


PUBLISHERS: Final[tuple[Publisher, ...]] = (
    Publisher(
        service="cloudwatch",
        sid="AllowCloudWatchAlarmsForTheseTopicsOnly",
        actions=("kms:GenerateDataKey*", "kms:Decrypt"),
        required=("kms:GenerateDataKey", "kms:Decrypt"),
        resource_types=("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm"),
        topic_properties=("AlarmActions", "OKActions", "InsufficientDataActions"),
        source="SNS developer guide, Encryption at rest (AWS service event sources)",
    ),
)


def topic_arn(partition: Partition, region: str, account: str, name: str) -> str:
    """An SNS topic's ARN, as SNS puts it in the encryption context."""
    return f"arn:{partition.name}:sns:{region}:{account}:{name}"


def sns_context(arn: str) -> dict[str, tuple[str, ...]]:
    """The request context of an SNS-mediated KMS call for one topic."""
    return {SNS_CONTEXT_KEY: (arn,), "kms:EncryptionContextKeys": (SNS_CONTEXT_NAME,)}


def publisher_statements(
    partition: Partition, topics: dict[str, tuple[str, ...]]
) -> list[dict[str, Any]]:
    """One statement per publishing service: ``topics`` maps a topic ARN to the
    services (``Publisher.service``) that publish to it."""
    statements = []
    for publisher in PUBLISHERS:
        arns = sorted(arn for arn, services in topics.items() if publisher.service in services)
        if not arns:
            continue
        statements.append(
            {
                "Sid": publisher.sid,
                "Effect": "Allow",
                "Principal": {"Service": publisher.principal(partition)},
                "Action": list(publisher.actions),
                "Resource": "*",
                "Condition": {
                    "StringEquals": {SNS_CONTEXT_KEY: arns[0] if len(arns) == 1 else arns}
                },
            }
        )
    return statements


def publisher_named(service: str) -> Publisher:
    return next(p for p in PUBLISHERS if p.service == service)
