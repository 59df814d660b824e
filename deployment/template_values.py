"""Evaluating the transformed template's values for one stack: Ref, GetAtt, Sub
and Conditions answered with the stack's pseudo parameters, parameter values
and physical ids (policy_gen's resolver underneath), before the deploy
(``PlannedStack``) or after it (a ``Target``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from deployment.emulator import EMULATOR_ACCOUNT, EMULATOR_REGION
from deployment.results import CheckFailed
from policy_gen.partitions import partition_for_region
from policy_gen.template import Resolver, Unresolved, template_references

__all__ = ["template_references"]  # re-exported: one implementation, in policy_gen.template
from sam_project.errors import UserError


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
        except UserError as error:
            raise Unresolvable(str(error)) from None
        unknown = _first_unresolved(result)
        if unknown is not None:
            raise Unresolvable(f"cannot evaluate {unknown.expression}")
        return result

    def condition(self, name: str) -> bool:
        """The value of one of the template's Conditions."""
        try:
            return self._resolver.condition(name)
        except UserError as error:
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
