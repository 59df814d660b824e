"""CloudWatch Logs deliveries in a template: where API Gateway's execution logs go.

With execution logging on, API Gateway writes to a group it creates itself,
``API-Gateway-Execution-Logs_{rest-api-id}/{stage}``, which no template can encrypt; a
CloudWatch Logs delivery (``AWS::Logs::DeliverySource`` with log type ``EXECUTION_LOGS``
on the stage, a ``DeliveryDestination``, a ``Delivery``) sends them to a group of one's
own instead, and while it exists API Gateway does not write to its own group (API Gateway
developer guide, "Create a log delivery for REST API execution logs" and "Delete a log
delivery for REST API execution logs": deleting the delivery makes API Gateway resume
writing to the auto-managed group). So:

* ``EXECUTION_LOGS_UNENCRYPTED`` (error): a stage logs at ``ERROR``/``INFO`` and no
  delivery of its ``EXECUTION_LOGS`` exists in the template;
* ``DELIVERY_DESTINATION_UNCHECKED`` (warning): a delivery writes to a log group this
  template does not declare, so no key policy here can be proven to cover it.

A delivery into a group the template encrypts needs nothing more: the group is one of the
key's log groups, and the key's validation (``LOGS_DENIED``) proves the policy covers it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from policy_gen.template import Resolver, Unresolved, resources_of_type, template_references
from policy_gen.validate import Finding
from sam_project.sam_globals import deployed_property

STAGE_TYPES = ("AWS::Serverless::Api", "AWS::ApiGateway::Stage")
LOGGING_LEVELS = frozenset({"ERROR", "INFO"})


def _enabled(template: Mapping[str, Any], resolver: Resolver, *types: str) -> dict[str, Any]:
    return {
        logical_id: resource
        for logical_id, resource in resources_of_type(template, *types)
        if resolver.resource_enabled(resource)
    }


def _delivered_stages(template: Mapping[str, Any], resolver: Resolver) -> set[str]:
    """Logical ids (APIs and stages) whose EXECUTION_LOGS a delivery carries."""
    sources = _enabled(template, resolver, "AWS::Logs::DeliverySource")
    linked: set[str] = set()
    for delivery in _enabled(template, resolver, "AWS::Logs::Delivery").values():
        linked |= template_references((delivery.get("Properties") or {}).get("DeliverySourceName"))
    carried: set[str] = set()
    for logical_id, source in sources.items():
        properties = source.get("Properties") or {}
        if logical_id in linked and resolver.resolve(properties.get("LogType")) == "EXECUTION_LOGS":
            carried |= template_references(properties.get("ResourceArn"))
    return carried


def _logging_level(template: Mapping[str, Any], resource: Any, resolver: Resolver) -> str | None:
    settings = resolver.resolve(deployed_property(template, resource, "MethodSettings"))
    levels = []
    for setting in settings if isinstance(settings, list) else []:
        if isinstance(setting, Mapping):
            level = setting.get("LoggingLevel")
            if isinstance(level, str) and level.upper() in LOGGING_LEVELS:
                levels.append(level.upper())
    return levels[0] if levels else None


def delivery_findings(template: Mapping[str, Any], resolver: Resolver) -> list[tuple[str, Finding]]:
    """The template's execution-log and delivery findings, as (resource, finding)."""
    found: list[tuple[str, Finding]] = []
    carried = _delivered_stages(template, resolver)
    for logical_id, resource in _enabled(template, resolver, *STAGE_TYPES).items():
        level = _logging_level(template, resource, resolver)
        if level is None:
            continue
        api = template_references((resource.get("Properties") or {}).get("RestApiId"))
        if logical_id in carried or api & carried:
            continue
        found.append(
            (
                logical_id,
                Finding(
                    "EXECUTION_LOGS_UNENCRYPTED",
                    "error",
                    f"{logical_id} logs execution at {level} with no CloudWatch Logs delivery "
                    "of its EXECUTION_LOGS: API Gateway writes them to its own "
                    "API-Gateway-Execution-Logs_{id}/{stage} group, which is not encrypted "
                    "with your key; add an AWS::Logs::DeliverySource (LogType EXECUTION_LOGS) "
                    "for the stage, a DeliveryDestination on an encrypted log group and a "
                    "Delivery",
                    None,
                ),
            )
        )
    declared = {
        resolver.resolve_text((group.get("Properties") or {}).get("LogGroupName"))
        for group in _enabled(template, resolver, "AWS::Logs::LogGroup").values()
    }
    for logical_id, destination in _enabled(
        template, resolver, "AWS::Logs::DeliveryDestination"
    ).items():
        raw = (destination.get("Properties") or {}).get("DestinationResourceArn")
        arn = resolver.resolve(raw)
        if isinstance(arn, Unresolved) or not isinstance(arn, str):
            continue  # a GetAtt of a declared group, or unknowable here
        resource = arn.split(":", 5)[-1] if arn.count(":") >= 5 else ""
        if not resource.startswith("log-group:"):
            continue  # S3 or Firehose: not a log group
        name = resource.removeprefix("log-group:").removesuffix(":*")
        if name not in declared:
            found.append(
                (
                    logical_id,
                    Finding(
                        "DELIVERY_DESTINATION_UNCHECKED",
                        "warning",
                        f"{logical_id} delivers logs to log group {name}, which this template "
                        "does not declare: no key policy here can be proven to cover it",
                        None,
                    ),
                )
            )
    return found
