"""The transformed template changed just enough for moto to create it (and what
changed, for the report); the checks always read the unadapted template.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from deployment.emulator import EMULATOR_GAPS
from deployment.results import CheckFailed
from deployment.template_values import StackFacts, TemplateValues, template_references


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
