"""Read SAM/CloudFormation templates and resolve the values policy_gen needs.

Why our own resolver: the log-group names the key policy must name are written
with ``!Sub``/``!Ref`` and pseudo parameters, and we need them *before* deploy,
offline, from the same template CloudFormation will see. Only the intrinsics that
can appear in a name are evaluated; anything we cannot know before deploy (a
resource's attribute, an import) becomes an ``Unresolved`` value, so callers can
tell "unknown" from "wrong" instead of guessing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from policy_gen.foreach import expand_language_extensions
from policy_gen.symbols import Symbols
from policy_gen.symbols import Unresolved as Unresolved  # noqa: PLC0414 - re-exported
from sam_project.documents import load_yaml, parse_json, rebuilt
from sam_project.errors import UserError
from sam_project.files import read_text_file

# Template files over this size are refused before parsing (CloudFormation's own
# limit for a template passed through S3 is 1 MB; SAM templates are far smaller).
MAX_TEMPLATE_BYTES = 1_048_576

PSEUDO_PARAMETERS = (
    "AWS::AccountId",
    "AWS::NotificationARNs",
    "AWS::NoValue",
    "AWS::Partition",
    "AWS::Region",
    "AWS::StackId",
    "AWS::StackName",
    "AWS::URLSuffix",
)

# Resource types whose Ref is the name set in this property.
REF_RETURNS_NAME = {
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Serverless::Function": "FunctionName",
    "AWS::IAM::Role": "RoleName",
    "AWS::S3::Bucket": "BucketName",
}

_URL_SUFFIX = {"aws-cn": "amazonaws.com.cn", "aws-iso": "c2s.ic.gov", "aws-iso-b": "sc2s.sgov.gov"}


def load_template(path: str | Path) -> dict[str, Any]:
    """Parse a template file (YAML with short tags, or JSON) into plain data."""
    label = f"template {str(path)!r}"
    text = read_text_file(
        path, limit=MAX_TEMPLATE_BYTES, what=label, expected="a SAM or CloudFormation template"
    )
    return parse_template_text(text, label)


def parse_template_text(text: str, source: str = "template") -> dict[str, Any]:
    """Parse template text; JSON is YAML, but JSON errors read better from json."""
    if text.lstrip().startswith("{"):
        data = parse_json(text, source)
    else:
        data = load_yaml(text, source, short_tags=True)
    if not isinstance(data, dict):
        raise UserError(f"{source} is not a template: expected a mapping at the top level")
    data = expand_language_extensions(data, source)
    resources = data.get("Resources")
    if not isinstance(resources, dict) or not resources:
        raise UserError(f"{source} has no Resources mapping: expected a CloudFormation template")
    for logical_id, resource in resources.items():
        if logical_id == "Fn::Transform":
            continue  # AWS::Include at the section's top: CloudFormation inserts resources
        if not isinstance(resource, dict) or not isinstance(resource.get("Type"), str):
            raise UserError(f"{source}: resource {logical_id!r} has no Type")
    return data


# Facts only a deployment knows (a live stack's parameters, physical ids, ARNs):
# called with (name, None) for a Ref and (logical id, attribute) for a GetAtt;
# None means "not known here", and the resolver falls back to the template.
DeployedValue = Callable[[str, "str | None"], Any]


@dataclass
class Resolver:
    """Evaluates intrinsic functions against parameter values and pseudo parameters.

    ``parameters`` are the template's defaults overlaid with the overrides. Refs to
    resources return the value CloudFormation would return where that is knowable
    from the template (a log group's explicit name), else an ``Unresolved``.
    """

    template: Mapping[str, Any]
    parameters: dict[str, str] = field(default_factory=dict)
    region: str | None = None
    account: str | None = None
    partition: str | None = None
    stack_name: str | None = None
    deployed: DeployedValue | None = None
    # Symbolic mode (check-template): unknown parts of strings become stand-in tokens
    # (policy_gen.symbols) instead of making the whole string unknown, and conditions
    # that cannot be decided here stay undecided instead of being an input error.
    symbols: Symbols | None = None
    _active: set[str] = field(default_factory=set)

    @classmethod
    def for_template(
        cls,
        template: Mapping[str, Any],
        overrides: Mapping[str, str] | None = None,
        *,
        region: str | None = None,
        account: str | None = None,
        partition: str | None = None,
        stack_name: str | None = None,
        symbolic: bool = False,
    ) -> Resolver:
        declared = template.get("Parameters") or {}
        if not isinstance(declared, dict):
            raise UserError("template Parameters is not a mapping")
        values: dict[str, str] = {}
        for name, spec in declared.items():
            if isinstance(spec, dict) and "Default" in spec:
                values[name] = _scalar_text(spec["Default"])
        for name, value in (overrides or {}).items():
            if name not in declared:
                raise UserError(f"parameter override {name!r} is not a parameter of the template")
            values[name] = value
        symbols = Symbols() if symbolic else None
        return cls(template, values, region, account, partition, stack_name, symbols=symbols)

    # -- pseudo parameters and Ref ------------------------------------------------
    def pseudo(self, name: str) -> str | Unresolved:
        partition = self.partition or "aws"
        known: dict[str, str | None] = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::Partition": self.partition,
            "AWS::StackName": self.stack_name,
            "AWS::URLSuffix": _URL_SUFFIX.get(partition, "amazonaws.com"),
        }
        value = known.get(name)
        return value if value is not None else Unresolved(name)

    def ref(self, name: Any) -> Any:
        if not isinstance(name, str):
            raise UserError(f"Ref takes a name: got {json.dumps(name)[:60]}")
        known = self.deployed(name, None) if self.deployed is not None else None
        if known is not None:
            return known
        if name in PSEUDO_PARAMETERS:
            return self.pseudo(name)
        declared = self.template.get("Parameters") or {}
        spec = declared.get(name) if isinstance(declared, Mapping) else None
        if (
            self.symbols is not None
            and isinstance(spec, Mapping)
            and str(spec.get("Type", "")).startswith("AWS::SSM::Parameter::Value")
        ):
            # CloudFormation user guide, "Specify existing resources at runtime with
            # CloudFormation-supplied parameter types": the value is read from Systems
            # Manager at deploy; Default and overrides give the SSM parameter's name.
            where = self.parameters.get(name, "?")
            return Unresolved(f"SSM parameter {where} (via {name})", at_deploy=True)
        if name in self.parameters:
            return self.parameters[name]
        if name in declared:
            return Unresolved(f"parameter {name}", parameter=name)
        resources = self.template["Resources"]
        if name not in resources:
            return self.undeclared(
                f"Ref {name}", f"Ref to {name!r}: no such parameter or resource in the template"
            )
        return self._resource_ref(name, resources[name])

    def _resource_ref(self, logical_id: str, resource: Mapping[str, Any]) -> Any:
        # Where Ref returns a name the template sets explicitly, we know it.
        name_property = REF_RETURNS_NAME.get(str(resource.get("Type")))
        if name_property is not None:
            name = (resource.get("Properties") or {}).get(name_property)
            if name is not None:
                return self._guarded(f"Ref {logical_id}", name)
        return Unresolved(f"Ref {logical_id}")

    def _guarded(self, label: str, value: Any) -> Any:
        """Resolve ``value`` while detecting a cycle through ``label``."""
        if label in self._active:
            raise UserError(f"template has a reference cycle through {label}")
        self._active.add(label)
        try:
            return self.resolve(value)
        finally:
            self._active.discard(label)

    # -- the evaluator ------------------------------------------------------------
    def resolve(self, value: Any) -> Any:
        """Evaluate ``value``; strings stay strings, unknowns become ``Unresolved``."""
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if isinstance(value, str):
            return self.resolve_string(value)
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((name, argument),) = value.items()
            if name == "Ref":
                return self.ref(argument)
            if name == "Condition":
                if self.symbols is None:
                    return self.condition(argument)
                decided = self.decide(argument)
                return Unresolved(f"Condition {argument}") if decided is None else decided
            if isinstance(name, str) and name.startswith("Fn::"):
                handler = _FUNCTIONS.get(name)
                if handler is None:
                    if name in _UNKNOWABLE:
                        return Unresolved(f"{name} {_json(argument)}")
                    raise UserError(f"unknown intrinsic function {name!r} in the template")
                return handler(self, argument)
        return rebuilt(value, {key: self.resolve(item) for key, item in value.items()})

    def resolve_string(self, value: str) -> str:
        """A literal string: dynamic references become tokens in symbolic mode."""
        if self.symbols is not None and "{{resolve:" in value:
            return self.symbols.dynamic_references(value)
        return value

    def text_piece(self, value: Unresolved) -> str | Unresolved:
        """``value`` as text: its stand-in token in symbolic mode, else itself."""
        return self.symbols.stand_in(value) if self.symbols is not None else value

    def piece(self, value: Any) -> Any:
        """A resolved value about to become part of a string: in symbolic mode an
        unknown becomes its stand-in token, so the rest of the string stays known."""
        if self.symbols is not None and isinstance(value, Unresolved):
            return self.symbols.stand_in(value)
        return value

    def has_unknowns(self, value: Any) -> bool:
        """Whether a resolved value is unknown or carries a stand-in token."""
        if isinstance(value, Unresolved):
            return True
        return self.symbols is not None and bool(self.symbols.unknowns_in(value))

    def resolve_text(self, value: Any) -> str | Unresolved:
        """Resolve to a string, or ``Unresolved`` when CloudFormation alone knows."""
        result = self.resolve(value)
        if isinstance(result, Unresolved):
            return self.text_piece(result)
        if isinstance(result, (str, int, float, bool)):
            return _scalar_text(result)
        return self.text_piece(Unresolved(_json(value)))

    def decide(self, name: Any) -> bool | None:
        """A condition's value for these parameters; None when it depends on a value
        only the deployment knows (a parameter without default, an SSM parameter...)."""
        conditions = self.template.get("Conditions") or {}
        if not isinstance(name, str) or name not in conditions:
            raise UserError(f"unknown condition {name!r} in the template")
        result = self._guarded(f"Condition {name}", conditions[name])
        if isinstance(result, Unresolved):
            return None
        return bool(result)

    def condition(self, name: Any) -> bool:
        decided = self.decide(name)
        if decided is None:
            result = self._guarded(f"Condition {name}", self.template["Conditions"][name])
            raise UserError(f"condition {name!r} depends on {result}, which is not known")
        return decided

    def generates_resources(self) -> bool:
        """Whether a transform CloudFormation runs adds resources to this template (SAM,
        AWS::Include, a macro): then a logical id the file does not declare may exist."""
        declared = self.template.get("Transform")
        names = declared if isinstance(declared, list) else [declared]
        return any(name not in (None, "AWS::LanguageExtensions") for name in names)

    def undeclared(self, expression: str, message: str) -> Unresolved:
        """A Ref/GetAtt to a logical id the file does not declare. CloudFormation rejects
        that, unless a transform generates it: SAM adds ``<Function>Role``,
        ``ServerlessRestApi``... (SAM developer guide, "CloudFormation resources generated
        by AWS SAM"). In symbolic mode such a template keeps the value as known only at
        deploy; any other case is bad input."""
        if self.symbols is not None and self.generates_resources():
            return Unresolved(expression)
        raise UserError(message)

    def resource_enabled(self, resource: Mapping[str, Any]) -> bool:
        """Whether a resource with an optional ``Condition`` would be created; in symbolic
        mode a condition that cannot be decided counts as true (the resource is checked)."""
        name = resource.get("Condition")
        if name is None:
            return True
        decided = self.decide(name) if self.symbols is not None else self.condition(name)
        return True if decided is None else decided


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _sub(resolver: Resolver, argument: Any) -> Any:
    if isinstance(argument, str):
        text, variables = argument, {}
    elif (
        isinstance(argument, list)
        and len(argument) == 2
        and isinstance(argument[0], str)
        and isinstance(argument[1], dict)
    ):
        text, variables = argument[0], argument[1]
    else:
        raise UserError("Fn::Sub takes a string or [string, {variables}]")
    unresolved: list[Unresolved] = []

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("!"):
            return "${" + name[1:] + "}"  # ${!Literal} escapes
        if name in variables:
            value = resolver.resolve(variables[name])
        elif "." in name and (
            name.split(".", 1)[0] in resolver.template["Resources"]
            or resolver.generates_resources()
        ):
            value = _get_att(resolver, name.split(".", 1))
        else:
            value = resolver.ref(name)
        if isinstance(value, Unresolved):
            if resolver.symbols is not None:
                return resolver.symbols.stand_in(value)
            unresolved.append(value)
            return str(value)
        if isinstance(value, (list, dict)):
            raise UserError(f"Fn::Sub variable ${{{name}}} is not a string")
        return _scalar_text(value)

    result = re.sub(r"\$\{([^}]+)\}", replace, resolver.resolve_string(text))
    return Unresolved(f"Fn::Sub {text}") if unresolved else result


def _get_att(resolver: Resolver, argument: Any) -> Any:
    if isinstance(argument, str) and "." in argument:
        argument = argument.split(".", 1)  # the JSON form of the !GetAtt A.B shorthand
    if (
        not isinstance(argument, list)
        or len(argument) != 2
        or not all(isinstance(part, str) for part in argument)
    ):
        raise UserError("Fn::GetAtt takes [LogicalId, Attribute]")
    logical_id, attribute = argument
    resources = resolver.template["Resources"]
    if logical_id not in resources:
        return resolver.undeclared(
            f"GetAtt {logical_id}.{attribute}",
            f"Fn::GetAtt on {logical_id!r}: no such resource in the template",
        )
    known = resolver.deployed(logical_id, attribute) if resolver.deployed is not None else None
    if known is None and attribute == "Arn":
        known = _function_arn(resolver, logical_id)
    return known if known is not None else Unresolved(f"GetAtt {logical_id}.{attribute}")


FUNCTION_TYPES = ("AWS::Lambda::Function", "AWS::Serverless::Function")


def _function_arn(resolver: Resolver, logical_id: str) -> str | None:
    """A function's ``Arn`` attribute built from its name: the unqualified ARN
    ``arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME`` (CloudFormation template
    reference, AWS::Lambda::Function return values). With a name known only at deploy
    (symbolic mode) the name is its stand-in, the same one ``${Fn}`` gives, so
    ``!Select [6, !Split [":", !GetAtt Fn.Arn]]`` is recognised as the function's name."""
    resource = resolver.template["Resources"][logical_id]
    if not isinstance(resource, Mapping) or resource.get("Type") not in FUNCTION_TYPES:
        return None
    if not (resolver.partition and resolver.region and resolver.account):
        return None
    name = resolver.piece(resolver.resolve({"Ref": logical_id}))
    if not isinstance(name, str):
        return None
    return (
        f"arn:{resolver.partition}:lambda:{resolver.region}:{resolver.account}:function:{name}"
    )


def _json(value: Any) -> str:
    """An expression's text, whole: two different expressions never share a stand-in."""
    return json.dumps(value, sort_keys=True, default=str)


def _join(resolver: Resolver, argument: Any) -> Any:
    if not isinstance(argument, list) or len(argument) != 2:
        raise UserError("Fn::Join takes [delimiter, [values]]")
    delimiter = resolver.resolve(argument[0])
    values = resolver.piece(resolver.resolve(argument[1]))
    if not isinstance(delimiter, str) or not isinstance(values, list):
        return Unresolved(f"Fn::Join {_json(argument)}")
    values = [resolver.piece(item) for item in values]
    if any(isinstance(item, (Unresolved, list, dict)) for item in values):
        return Unresolved(f"Fn::Join {_json(argument)}")
    return delimiter.join(_scalar_text(item) for item in values)


def _select(resolver: Resolver, argument: Any) -> Any:
    if not isinstance(argument, list) or len(argument) != 2:
        raise UserError("Fn::Select takes [index, [values]]")
    index = resolver.resolve(argument[0])
    values = resolver.resolve(argument[1])
    if not isinstance(values, list) or isinstance(index, Unresolved):
        return Unresolved(f"Fn::Select {_json(argument)}")
    try:
        return values[int(index)]
    except (TypeError, ValueError, IndexError):
        raise UserError(f"Fn::Select index {index!r} is out of range") from None


def _split(resolver: Resolver, argument: Any) -> Any:
    if not isinstance(argument, list) or len(argument) != 2:
        raise UserError("Fn::Split takes [delimiter, string]")
    delimiter = resolver.resolve(argument[0])
    source = resolver.resolve(argument[1])
    if not isinstance(delimiter, str) or not isinstance(source, str):
        return Unresolved(f"Fn::Split {_json(argument)}")
    return source.split(delimiter)


def _if(resolver: Resolver, argument: Any) -> Any:
    if not isinstance(argument, list) or len(argument) != 3:
        raise UserError("Fn::If takes [condition, value_if_true, value_if_false]")
    if resolver.symbols is None:
        decided: bool | None = resolver.condition(argument[0])
    else:
        decided = resolver.decide(argument[0])
    if decided is None:
        return Unresolved(f"Fn::If {_json(argument)}")
    return resolver.resolve(argument[1] if decided else argument[2])


def _equals(resolver: Resolver, argument: Any) -> Any:
    if not isinstance(argument, list) or len(argument) != 2:
        raise UserError("Fn::Equals takes [value, value]")
    left, right = (resolver.resolve(item) for item in argument)
    if resolver.has_unknowns(left) or resolver.has_unknowns(right):
        return Unresolved(f"Fn::Equals {_json(argument)}")
    return _scalar_text(left) == _scalar_text(right)


def _logic(combine: Any) -> Any:
    def evaluate(resolver: Resolver, argument: Any) -> Any:
        if not isinstance(argument, list) or not argument:
            raise UserError("Fn::And/Fn::Or/Fn::Not take a list of conditions")
        values = [resolver.resolve(item) for item in argument]
        if any(isinstance(item, Unresolved) for item in values):
            return Unresolved(f"condition {_json(argument)}")
        return combine(bool(item) for item in values)

    return evaluate


def _not(resolver: Resolver, argument: Any) -> Any:
    if not isinstance(argument, list) or len(argument) != 1:
        raise UserError("Fn::Not takes [condition]")
    value = resolver.resolve(argument[0])
    return value if isinstance(value, Unresolved) else not value


def _find_in_map(resolver: Resolver, argument: Any) -> Any:
    if not isinstance(argument, list) or len(argument) < 3:
        raise UserError("Fn::FindInMap takes [map, top-level key, second-level key]")
    map_name, top, second = (resolver.resolve(item) for item in argument[:3])
    mappings = resolver.template.get("Mappings") or {}
    try:
        return resolver.resolve(mappings[map_name][top][second])
    except (KeyError, TypeError):
        if any(isinstance(item, Unresolved) for item in (map_name, top, second)):
            return Unresolved(f"Fn::FindInMap {_json(argument)}")
        # AWS::LanguageExtensions adds a fourth argument {DefaultValue: ...}
        # (CloudFormation template reference, Fn::FindInMap enhancements).
        extra = argument[3] if len(argument) > 3 else None
        if isinstance(extra, Mapping) and "DefaultValue" in extra:
            return resolver.resolve(extra["DefaultValue"])
        raise UserError(f"Fn::FindInMap: no entry {map_name}/{top}/{second}") from None


_FUNCTIONS: dict[str, Any] = {
    "Fn::Sub": _sub,
    "Fn::GetAtt": _get_att,
    "Fn::Join": _join,
    "Fn::Select": _select,
    "Fn::Split": _split,
    "Fn::If": _if,
    "Fn::Equals": _equals,
    "Fn::And": _logic(all),
    "Fn::Or": _logic(any),
    "Fn::Not": _not,
    "Fn::FindInMap": _find_in_map,
}
# Real intrinsics whose value only exists at deploy time.
_UNKNOWABLE = frozenset(
    {
        "Fn::ImportValue",
        "Fn::Base64",
        "Fn::Cidr",
        "Fn::GetAZs",
        "Fn::Transform",
        "Fn::Length",
        "Fn::ToJsonString",
        "Fn::ForEach",
    }
)


def resources_of_type(
    template: Mapping[str, Any], *types: str
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(logical id, resource) pairs of the given types, in template order."""
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") in types:
            yield logical_id, resource


@dataclass(frozen=True)
class EncryptedLogGroup:
    """A log group whose ``KmsKeyId`` points at one of the template's keys."""

    logical_id: str
    name: str | Unresolved
    key_logical_id: str
    # How KmsKeyId names the key: "arn" (GetAtt Key.Arn, correct) or "id" (Ref Key).
    key_reference: str
    retained: bool


def key_reference(value: Any) -> tuple[str, str] | None:
    """Which key a ``KmsKeyId`` value points at, and whether by ARN or by id."""
    if isinstance(value, dict) and len(value) == 1:
        ((name, argument),) = value.items()
        if name == "Fn::GetAtt" and isinstance(argument, list) and len(argument) == 2:
            return str(argument[0]), "arn" if argument[1] == "Arn" else str(argument[1])
        if name == "Ref" and isinstance(argument, str):
            return argument, "id"
        if name == "Fn::Sub" and isinstance(argument, str):
            match = re.fullmatch(r"\$\{([A-Za-z0-9]+)\.Arn\}", argument)
            if match:
                return match.group(1), "arn"
    return None


def deletion_retained(resource: Mapping[str, Any], resolver: Resolver | None = None) -> bool:
    """True when deleting or replacing the resource keeps the real thing.

    With ``resolver``, a policy written as an intrinsic (``!Ref Parameter``, which the
    AWS::LanguageExtensions transform allows) is resolved first."""

    def policy(name: str, default: str) -> str:
        value = resource.get(name, default)
        if resolver is not None and isinstance(value, dict):
            value = resolver.resolve(value)
        return str(value)

    deletion = policy("DeletionPolicy", "Delete")
    return "Retain" in (deletion, policy("UpdateReplacePolicy", "Delete")) or (
        deletion == "RetainExceptOnCreate"
    )


def encrypted_log_groups(
    template: Mapping[str, Any], resolver: Resolver
) -> list[EncryptedLogGroup]:
    """Every created log group whose KmsKeyId points at a key of this template."""
    keys = {logical_id for logical_id, _ in resources_of_type(template, "AWS::KMS::Key")}
    found = []
    for logical_id, resource in resources_of_type(template, "AWS::Logs::LogGroup"):
        if not resolver.resource_enabled(resource):
            continue
        properties = resource.get("Properties") or {}
        reference = key_reference(properties.get("KmsKeyId"))
        if reference is None or reference[0] not in keys:
            continue
        name_value = properties.get("LogGroupName")
        name = (
            resolver.resolve_text(name_value)
            if name_value is not None
            else Unresolved(f"generated name of {logical_id}")
        )
        found.append(
            EncryptedLogGroup(
                logical_id,
                name,
                reference[0],
                reference[1],
                deletion_retained(resource, resolver),
            )
        )
    return found


_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


def template_references(value: Any) -> set[str]:
    """Every logical id or parameter a template value refers to (Ref, GetAtt, Sub),
    read from the template as written (nothing resolved)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= template_references(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                found.add(item)
            elif key == "Fn::GetAtt":
                parts = item.split(".", 1) if isinstance(item, str) else item
                found.add(str(parts[0]))
            elif key == "Fn::Sub":
                text, variables = (item, {}) if isinstance(item, str) else item
                local = set(variables) if isinstance(variables, dict) else set()
                for name in _SUB_VARIABLE.findall(str(text)):
                    base = name if name.startswith("AWS::") else name.split(".", 1)[0]
                    if base not in local:
                        found.add(base)
                found |= template_references(variables)
            else:
                found |= template_references(item)
    return found
