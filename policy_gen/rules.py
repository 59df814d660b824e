"""A template's ``Rules``, evaluated before deploy the way CloudFormation evaluates them.

CloudFormation checks every rule before it creates or updates any resource: a rule whose
``RuleCondition`` is false is skipped, and a false ``Assert`` refuses the whole operation
with its ``AssertDescription`` (CloudFormation User Guide, "Rules"; "Rule functions").
The deploy rehearsal's emulator ignores the section, so ``check-template`` evaluates it
itself: a parameter file rendered for another account or region is reported here, with
the template's own words, before anything reaches CloudFormation.

Only what can be known offline is decided: ``Ref`` to parameters and pseudo parameters,
``Fn::Equals``/``Not``/``And``/``Or`` (the resolver's) and ``Fn::Contains``. An assertion
that needs the account's resources (``Fn::RefAll``, ``Fn::ValueOf``...) or an unknown
value is left undecided, never reported as failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from policy_gen.template import Resolver, Unresolved
from sam_project.errors import UserError

# Rule functions that read the account's resources: nothing to decide offline.
_ACCOUNT_FUNCTIONS = ("Fn::RefAll", "Fn::ValueOf", "Fn::ValueOfAll", "Fn::EachMemberEquals",
                      "Fn::EachMemberIn")  # fmt: skip


@dataclass(frozen=True)
class RefusedAssertion:
    """One assertion CloudFormation would find false: the deploy is refused."""

    rule: str
    description: str


def _reads_deploy_time_value(resolver: Resolver, expression: Any) -> bool:
    """Whether ``expression`` refers to a parameter CloudFormation resolves at deploy time
    (an SSM parameter type: its Default is the parameter's name, not its value)."""
    if isinstance(expression, list):
        return any(_reads_deploy_time_value(resolver, item) for item in expression)
    if not isinstance(expression, dict):
        return False
    name = expression.get("Ref")
    declared = resolver.template.get("Parameters") or {}
    spec = declared.get(name) if isinstance(name, str) else None
    if isinstance(spec, Mapping) and str(spec.get("Type", "")).startswith("AWS::SSM::"):
        return True
    return any(_reads_deploy_time_value(resolver, item) for item in expression.values())


def _decide(resolver: Resolver, expression: Any) -> bool | None:
    """True/False as CloudFormation would decide it; None when it cannot be known here."""
    if _reads_deploy_time_value(resolver, expression):
        return None
    if isinstance(expression, dict) and len(expression) == 1:
        ((name, argument),) = expression.items()
        if name in _ACCOUNT_FUNCTIONS:
            return None
        if name == "Fn::Contains" and isinstance(argument, list) and len(argument) == 2:
            values, needle = (resolver.resolve(item) for item in argument)
            if not isinstance(values, list) or isinstance(needle, Unresolved):
                return None
            if any(isinstance(value, Unresolved) for value in values):
                return None
            return str(needle) in [str(value) for value in values]
        if name in ("Fn::Not", "Fn::And", "Fn::Or") and isinstance(argument, list):
            parts = [_decide(resolver, item) for item in argument]
            if any(part is None for part in parts):
                return None
            if name == "Fn::Not":
                return not parts[0] if len(parts) == 1 else None
            return all(parts) if name == "Fn::And" else any(parts)
    try:
        result = resolver.resolve(expression)
    except UserError:  # a function or reference this resolver does not know: undecided
        return None
    return result if isinstance(result, bool) else None


def refused_assertions(template: Mapping[str, Any], resolver: Resolver) -> list[RefusedAssertion]:
    """Every assertion of the template's Rules that would refuse this deploy."""
    rules = template.get("Rules") or {}
    refused: list[RefusedAssertion] = []
    if not isinstance(rules, Mapping):
        return refused
    for name, rule in rules.items():
        if not isinstance(rule, Mapping):
            continue
        if "RuleCondition" in rule and _decide(resolver, rule["RuleCondition"]) is not True:
            continue  # false, or unknowable: CloudFormation may skip it, so do we
        for assertion in rule.get("Assertions") or []:
            if (
                isinstance(assertion, Mapping)
                and _decide(resolver, assertion.get("Assert")) is False
            ):
                text = str(assertion.get("AssertDescription") or "an assertion is false")
                refused.append(RefusedAssertion(str(name), text))
    return refused
