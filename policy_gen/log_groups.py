"""The log groups a template creates, their names and the keys that encrypt them.

Why: ``check-template`` needs, for each created ``AWS::Logs::LogGroup``, its name as the
key policy must name it, and every configuration of its encryption (see
:mod:`policy_gen.encryption`). Names are resolved symbolically (:mod:`policy_gen.symbols`):
a name CloudFormation generates, or one built from a function's generated name or a
parameter without value, keeps a stand-in token for the unknown part, so the key policy is
still simulated; what was not resolved is reported as a note, never as an error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from policy_gen.encryption import Branch, describe_condition, kms_key_branches
from policy_gen.symbols import Unresolved
from policy_gen.template import (
    EncryptedLogGroup,
    Resolver,
    deletion_retained,
    resources_of_type,
)
from policy_gen.template_notes import note
from policy_gen.validate import Finding

LOG_GROUP_TYPE = "AWS::Logs::LogGroup"
CHECKED_TYPES = (
    LOG_GROUP_TYPE,
    "AWS::KMS::Key",
    "AWS::Serverless::Function",
    "AWS::Lambda::Function",
)


def unknowns(resolver: Resolver, text: object) -> list[Unresolved]:
    """The values known only at deploy that a resolved string carries."""
    if isinstance(text, Unresolved):
        return [text]
    return resolver.symbols.unknowns_in(text) if resolver.symbols is not None else []


def display(resolver: Resolver) -> Callable[[str], str]:
    """Turns stand-in tokens back into ``<expression>`` for people."""
    symbols = resolver.symbols
    return (lambda text: text) if symbols is None else symbols.display


def parameter_hint(found: list[Unresolved], purpose: str = "check the real value") -> str:
    """'; pass --parameter-overrides A=... B=... to <purpose>' for the parameters without
    a value among ``found`` (empty when none is a parameter)."""
    parameters = list(dict.fromkeys(u.parameter for u in found if u.parameter))
    if not parameters:
        return ""
    example = " ".join(f"{name}=..." for name in parameters)
    return f"; pass --parameter-overrides {example} to {purpose}"


@dataclass
class LogGroupInventory:
    """Every log group the template creates (for these parameters), by logical id."""

    resolver: Resolver
    names: dict[str, str] = field(default_factory=dict)
    encrypted: list[EncryptedLogGroup] = field(default_factory=list)
    findings: list[tuple[str, Finding]] = field(default_factory=list)

    @classmethod
    def of(cls, template: Mapping[str, Any], resolver: Resolver) -> LogGroupInventory:
        inventory = cls(resolver)
        for logical_id, resource in resources_of_type(template, LOG_GROUP_TYPE):
            if resolver.resource_enabled(resource):
                inventory._add(logical_id, resource)
        return inventory

    def encrypted_by(self, key_id: str) -> list[EncryptedLogGroup]:
        return [group for group in self.encrypted if group.key_logical_id == key_id]

    def creates_reference(self, value: Any) -> bool:
        """Whether ``value`` is a ``Ref`` to a log group this template creates."""
        return isinstance(value, Mapping) and set(value) == {"Ref"} and value["Ref"] in self.names

    def creates_name(self, name: str) -> bool:
        return name in self.names.values()

    # -- one log group --------------------------------------------------------------------
    def _add(self, logical_id: str, resource: Mapping[str, Any]) -> None:
        properties = resource.get("Properties") or {}
        name = self.resolver.resolve_text({"Ref": logical_id})
        text = name if isinstance(name, str) else str(name)
        self.names[logical_id] = text
        for each in self._name_configurations(properties.get("LogGroupName")) or [text]:
            linked = False
            for branch in kms_key_branches(properties.get("KmsKeyId"), self.resolver):
                linked = self._branch(logical_id, resource, each, branch) or linked
            if linked:
                self._name_notes(logical_id, each, "LogGroupName" in properties)
        # Each name configuration meets the same KmsKeyId findings: report them once.
        unique: list[tuple[str, Finding]] = []
        for entry in self.findings:
            if entry not in unique:
                unique.append(entry)
        self.findings[:] = unique

    def _name_configurations(self, value: Any) -> list[str]:
        """The names of ``LogGroupName: !If [Cond, a, b]`` when ``Cond`` cannot be decided:
        the group has one of them in each configuration, so the key policy must cover
        both (CloudFormation template reference, condition functions, Fn::If). Empty for
        any other value (also when a branch is AWS::NoValue: CloudFormation then names it)."""
        if not (isinstance(value, Mapping) and set(value) == {"Fn::If"}):
            return []
        argument = value["Fn::If"]
        if not (isinstance(argument, list) and len(argument) == 3):
            return []
        if self.resolver.decide(argument[0]) is not None:
            return []
        if any(branch == {"Ref": "AWS::NoValue"} for branch in argument[1:]):
            return []
        texts = [self.resolver.resolve_text(branch) for branch in argument[1:]]
        if not all(isinstance(text, str) for text in texts):
            return []
        return list(dict.fromkeys(str(text) for text in texts))

    def _branch(
        self, logical_id: str, resource: Mapping[str, Any], name: str, branch: Branch
    ) -> bool:
        """Record one configuration; True when it links the group to a template key."""
        link, show = branch.link, display(self.resolver)
        where = f" ({branch.condition})" if branch.condition else ""
        if link.kind == "none" and branch.decided:
            configuration = f" in this configuration{where}" if branch.condition else ""
            self._finding(
                logical_id,
                "LOGGROUP_UNENCRYPTED",
                "error",
                f"log group {logical_id} has no KmsKeyId{configuration}: its logs are "
                "not encrypted with a customer-managed key",
            )
        elif link.kind == "none":
            self._finding(
                logical_id,
                "LOGGROUP_ENCRYPTION_CONDITIONAL",
                "warning",
                f"log group {logical_id} is unencrypted {branch.condition}: the "
                "condition cannot be decided before deploy, so in that configuration "
                "its logs are not encrypted with a customer-managed key"
                f"{parameter_hint(self._missing(branch), 'decide it')}",
            )
        elif link.kind == "template" and link.key is not None:
            if link.how != "arn":
                how = "!Ref" if link.how == "id" else link.how
                self._finding(
                    logical_id,
                    "KMSKEYID_NOT_ARN",
                    "error",
                    f"log group {logical_id} sets KmsKeyId with {how} {link.key}{where}, "
                    "which gives the key id; CloudWatch Logs needs the ARN: use "
                    f"!GetAtt {link.key}.Arn",
                )
            if not any(
                (g.logical_id, g.key_logical_id, g.name) == (logical_id, link.key, name)
                for g in self.encrypted
            ):
                self.encrypted.append(
                    EncryptedLogGroup(
                        logical_id,
                        name,
                        link.key,
                        link.how,
                        deletion_retained(resource, self.resolver),
                    )
                )
            return True
        elif link.kind == "literal":
            self._finding(
                logical_id,
                "KMSKEYID_NOT_ARN",
                "error",
                f"log group {logical_id} sets KmsKeyId to {link.text!r}{where}, an alias "
                "name or key id: AWS::Logs::LogGroup KmsKeyId takes the key ARN "
                "(CloudFormation template reference, AWS::Logs::LogGroup, KmsKeyId; "
                "schema pattern arn:...:kms:...:key/...); give the key's ARN",
            )
        else:
            found = unknowns(self.resolver, link.text)
            self.findings.append(
                (
                    logical_id,
                    note(
                        "KEY_OUTSIDE_TEMPLATE",
                        f"log group {logical_id} is encrypted with {show(link.text)}{where}, a key "
                        "defined outside this template: its key policy is not checked here (check it "
                        "with python -m policy_gen validate, or audit the account)"
                        f"{parameter_hint(found)}",
                    ),
                )
            )
        return False

    def _name_notes(self, logical_id: str, name: str, named: bool) -> None:
        found = unknowns(self.resolver, name)
        dynamic = [u for u in found if u.at_deploy and u.expression.startswith("{{resolve:")]
        for reference in dynamic:
            self.findings.append(
                (
                    logical_id,
                    note(
                        "DYNAMIC_REFERENCE",
                        f"the name of log group {logical_id} uses the dynamic reference "
                        f"{reference.expression}: resolved at deploy, not checked; the key policy was "
                        "simulated with a stand-in for it",
                    ),
                )
            )
        rest = [u for u in found if u not in dynamic]
        if not rest:
            return
        show = display(self.resolver)
        what = (
            f"is {show(name)}, known only at deploy ({', '.join(u.expression for u in rest)})"
            if named
            else "is generated by CloudFormation (no LogGroupName)"
        )
        self.findings.append(
            (
                logical_id,
                note(
                    "LOGGROUP_NAME_UNKNOWN",
                    f"the name of log group {logical_id} {what}: the key policy was simulated with a "
                    "stand-in for each unknown value, the same in the name and in the policy's ARNs"
                    f"{parameter_hint(rest)}",
                ),
            )
        )

    def _missing(self, branch: Branch) -> list[Unresolved]:
        declared = self.resolver.template.get("Parameters") or {}
        return [Unresolved(name, parameter=name) for name in branch.missing if name in declared]

    def _finding(self, resource: str, code: str, severity: Any, message: str) -> None:
        self.findings.append((resource, Finding(code, severity, message, None)))


def undecided_condition_notes(
    template: Mapping[str, Any], resolver: Resolver
) -> list[tuple[str, Finding]]:
    """One note per resource condition this check could not decide (it checks the
    resource as if created)."""
    by_condition: dict[str, list[str]] = {}
    for logical_id, resource in resources_of_type(template, *CHECKED_TYPES):
        name = resource.get("Condition")
        if isinstance(name, str) and resolver.decide(name) is None:
            by_condition.setdefault(name, []).append(logical_id)
    return [
        (
            resources[0],
            note(
                "CONDITION_UNDECIDED",
                f"{describe_condition(resolver, name, True, False)}, "
                f"{', '.join(resources)} exist(s): the condition cannot be decided before deploy, "
                "so they are checked as if created",
            ),
        )
        for name, resources in by_condition.items()
    ]
