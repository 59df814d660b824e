"""Post-deploy checks of what the stack owns for its logs and alarms beyond the key and
the two original log groups: the execution-log delivery and the alarm topic.

Each returns an ``Outcome`` like the checks in ``deployment.checks`` (which lists them
in ``CHECKS``). The emulator has no CloudFormation support for the CloudWatch Logs
delivery resources nor for alarms (``EMULATOR_GAPS``): there they are checked on the
transformed template and reported as such; against real AWS they read live resources.
"""

from __future__ import annotations

from typing import Any

from deployment.results import TEMPLATE, CheckFailed, CheckNotRun, Outcome
from deployment.stack_spec import API_ID, LOG_GROUPS
from deployment.target import Target
from deployment.template_values import TemplateValues, template_references

SOURCE_ID = "ExecutionLogsSource"
DESTINATION_ID = "ExecutionLogsDestination"
DELIVERY_ID = "ExecutionLogsDelivery"
TOPIC_ID = "AlarmTopic"
ALARM_TYPE = "AWS::CloudWatch::Alarm"


def alarm_topic_names(target: Target) -> tuple[tuple[str, str], ...]:
    """(topic name, "cloudwatch") for the stack's own alarm topic, for policy_gen's
    ``Target.topics``; empty when the alarms use ``AlarmTopicArn``."""
    if TOPIC_ID not in target.resources():
        return ()
    return ((target.physical_id(TOPIC_ID).rsplit(":", 1)[-1], "cloudwatch"),)


def _delivery_on_template(target: Target) -> Outcome:
    source = target.template_properties(SOURCE_ID)
    destination = target.template_properties(DESTINATION_ID)
    delivery = target.template_properties(DELIVERY_ID)
    problems = []
    if source.get("LogType") != "EXECUTION_LOGS":
        problems.append(f"{SOURCE_ID}.LogType is {source.get('LogType')!r}")
    if API_ID not in template_references(source.get("ResourceArn")):
        problems.append(f"{SOURCE_ID}.ResourceArn does not name the API's stage")
    if LOG_GROUPS["execution"] not in template_references(
        destination.get("DestinationResourceArn")
    ):
        problems.append(f"{DESTINATION_ID} does not point at {LOG_GROUPS['execution']}")
    linked = template_references(delivery)
    if not {SOURCE_ID, DESTINATION_ID} <= linked:
        problems.append(f"{DELIVERY_ID} links {sorted(linked)}")
    return Outcome(
        not problems,
        TEMPLATE,
        "; ".join(problems)
        or f"{SOURCE_ID} (EXECUTION_LOGS of the stage) -> {DELIVERY_ID} -> {DESTINATION_ID} "
        f"({LOG_GROUPS['execution']}); the emulator does not create delivery resources",
        gap="logs-delivery",
    )


def check_execution_log_delivery(target: Target) -> Outcome:
    if target.uses_template_for("logs-delivery"):
        return _delivery_on_template(target)
    logs = target.client("logs")
    source = logs.get_delivery_source(name=target.physical_id(SOURCE_ID))["deliverySource"]
    destination = logs.get_delivery_destination(name=target.physical_id(DESTINATION_ID))[
        "deliveryDestination"
    ]
    group = target.log_group(LOG_GROUPS["execution"])
    wanted = str(group.get("arn", "")).removesuffix(":*")
    written = destination.get("deliveryDestinationConfiguration", {}).get("destinationResourceArn")
    delivery = logs.get_delivery(id=target.physical_id(DELIVERY_ID))["delivery"]
    problems = []
    if source.get("logType") != "EXECUTION_LOGS":
        problems.append(f"delivery source logType {source.get('logType')}")
    if written != wanted:
        problems.append(f"destination writes to {written}, not {wanted}")
    if delivery.get("deliverySourceName") != source.get("name"):
        problems.append(f"delivery links source {delivery.get('deliverySourceName')}")
    return Outcome(
        not problems,
        target.live,
        "; ".join(problems)
        or f"GetDeliverySource {source.get('name')} (EXECUTION_LOGS of {source.get('resourceArns')})"
        f" -> GetDelivery {delivery.get('id')} -> {written}",
    )


def check_alarm_topic(target: Target) -> Outcome:
    if TOPIC_ID not in target.resources():
        raise CheckNotRun("the alarms use AlarmTopicArn: the stack owns no topic")
    arn = target.physical_id(TOPIC_ID)
    attributes = target.client("sns").get_topic_attributes(TopicArn=arn)["Attributes"]
    key = attributes.get("KmsMasterKeyId")
    expected = target.key_arn()
    return Outcome(
        key == expected,
        target.live,
        f"GetTopicAttributes {arn}: KmsMasterKeyId={key} (the key is {expected})",
    )


def _alarm_actions_on_template(target: Target) -> Outcome:
    assert target.transformed is not None  # uses_template_for said so
    values = TemplateValues(target)
    alarms = {
        logical_id: resource
        for logical_id, resource in (target.transformed.get("Resources") or {}).items()
        if resource.get("Type") == ALARM_TYPE
    }
    if not alarms:
        raise CheckFailed("the transformed template has no alarm")
    silent = []
    notified: set[str] = set()
    for logical_id, alarm in alarms.items():
        actions = values.resolve((alarm.get("Properties") or {}).get("AlarmActions"))
        if not isinstance(actions, list) or not actions:
            silent.append(logical_id)
        else:
            notified.update(str(action) for action in actions)
    seen = (
        f"no AlarmActions: {', '.join(silent)}"
        if silent
        else (f"all {len(alarms)} alarms notify {', '.join(sorted(notified))}")
    )
    return Outcome(
        not silent,
        TEMPLATE,
        f"{seen}; the emulator does not create alarms",
        gap="apigateway-stage",
    )


def check_alarm_actions(target: Target) -> Outcome:
    if target.uses_template_for("apigateway-stage"):
        return _alarm_actions_on_template(target)
    names = [
        target.physical_id(logical_id)
        for logical_id, item in target.resources().items()
        if item.get("ResourceType") == ALARM_TYPE
    ]
    alarms: list[Any] = target.client("cloudwatch").describe_alarms(AlarmNames=names)[
        "MetricAlarms"
    ]
    silent = [a["AlarmName"] for a in alarms if not a.get("AlarmActions")]
    return Outcome(
        bool(alarms) and not silent,
        target.live,
        f"DescribeAlarms: {len(alarms)} alarm(s)"
        + (f", without actions: {', '.join(silent)}" if silent else ", each with AlarmActions"),
    )


OWNED_CHECKS = (
    (
        "logs.execution_delivery",
        "execution logs delivered to the encrypted group",
        check_execution_log_delivery,
    ),
    ("sns.alarm_topic", "alarm topic encrypted with the key", check_alarm_topic),
    ("cloudwatch.alarm_actions", "every alarm notifies a topic", check_alarm_actions),
)
