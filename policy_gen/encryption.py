"""Which key encrypts each log group, and in which configuration.

Why a module of its own: ``KmsKeyId`` is written in many shapes in real templates, and
each shape means something different to CloudFormation and CloudWatch Logs:

* ``!GetAtt Key.Arn``, or the ARN built by hand with ``Fn::Sub``/``Fn::Join``
  (``arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/${Key}``): the key
  of this template, by ARN, whose policy we can prove;
* ``!Ref Key``, a literal alias or key id: CloudFormation's ``AWS::Logs::LogGroup``
  ``KmsKeyId`` takes the key's ARN (CloudFormation template reference,
  AWS::Logs::LogGroup, KmsKeyId: "the Amazon Resource Name (ARN) of the AWS KMS key");
* a literal ARN, a parameter, an import: a key defined outside the template, whose
  policy this check cannot see;
* ``!If [Cond, key, !Ref AWS::NoValue]``: encrypted only where ``Cond`` is true
  (CloudFormation template reference, condition functions, Fn::If and AWS::NoValue).

The key of this template is recognised by resolving ``KmsKeyId`` with each key's ``Ref``
and ``Arn`` replaced by markers, so any spelling that evaluates to the key's ARN links.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from policy_gen.template import Resolver, Unresolved

KEY_TYPE = "AWS::KMS::Key"
# CloudFormation resource schema of AWS::Logs::LogGroup, KmsKeyId pattern.
KMS_ARN = re.compile(r"arn:[a-z0-9-]+:kms:[a-z0-9-]+:\d{12}:(key|alias)/.+")
_MARK = "\x1f"
_KEY_MARKER = re.compile(_MARK + r"(arn|id|other):([^\x1f]+)" + _MARK)

LinkKind = Literal["none", "template", "literal", "external", "unknown"]


@dataclass(frozen=True)
class KeyLink:
    """What a ``KmsKeyId`` value points at.

    ``kind``: ``none`` (no key), ``template`` (a key of this template: ``key`` is its
    logical id, ``how`` is ``arn`` or the wrong spelling used), ``literal`` (an alias or
    key id written where the ARN is needed), ``external`` (a key ARN from outside the
    template, ``text`` as resolved), ``unknown`` (something else).
    """

    kind: LinkKind
    key: str | None = None
    how: str = ""
    text: str = ""


@dataclass(frozen=True)
class Branch:
    """One configuration of a log group's encryption.

    ``condition`` describes the configuration ("" when unconditional); ``decided`` is
    False when the condition depends on a value known only at deploy.
    """

    link: KeyLink
    condition: str = ""
    decided: bool = True
    # Parameters without a value that keep the condition undecided.
    missing: tuple[str, ...] = ()


def kms_key_branches(value: Any, resolver: Resolver) -> list[Branch]:
    """Every configuration of a ``KmsKeyId`` value, following ``Fn::If``."""
    return list(_branches(value, resolver, "", ()))


def _branches(
    value: Any, resolver: Resolver, where: str, missing: tuple[str, ...]
) -> Iterator[Branch]:
    decided = not missing
    if value is None or value == {"Ref": "AWS::NoValue"}:
        yield Branch(KeyLink("none"), where, decided, missing)
        return
    if isinstance(value, Mapping) and set(value) == {"Fn::If"}:
        argument = value["Fn::If"]
        if isinstance(argument, list) and len(argument) == 3 and isinstance(argument[0], str):
            name = argument[0]
            outcome = resolver.decide(name)
            unknown: tuple[str, ...] = ()
            if outcome is None:
                unknown = tuple(
                    p for p in condition_parameters(resolver, name) if p not in resolver.parameters
                ) or (f"condition {name}",)
            for truth, chosen in ((True, argument[1]), (False, argument[2])):
                if outcome is None or outcome is truth:
                    text = describe_condition(resolver, name, truth, outcome is not None)
                    joined = f"{where}; {text}" if where else text
                    yield from _branches(chosen, resolver, joined, (*missing, *unknown))
            return
    yield Branch(link_kms_key_id(value, resolver), where, decided, missing)


def describe_condition(resolver: Resolver, name: str, truth: bool, decided: bool) -> str:
    """How a report names a configuration: the condition, its value and its inputs."""
    inputs = ", ".join(
        f"{parameter}={resolver.parameters[parameter]}"
        if parameter in resolver.parameters
        else f"{parameter} without a value"
        for parameter in condition_parameters(resolver, name)
    )
    state = "true" if truth else "false"
    if decided:
        return f"condition {name} is {state}" + (f" for {inputs}" if inputs else "")
    return f"when condition {name} is {state}" + (f", which reads {inputs}" if inputs else "")


def condition_parameters(resolver: Resolver, name: str) -> list[str]:
    """The template parameters a condition reads, through other conditions too."""
    conditions = resolver.template.get("Conditions") or {}
    declared = resolver.template.get("Parameters") or {}
    found: list[str] = []
    seen: set[str] = set()

    def walk(expression: Any) -> None:
        if isinstance(expression, list):
            for item in expression:
                walk(item)
        elif isinstance(expression, Mapping):
            if set(expression) == {"Ref"} and expression["Ref"] in declared:
                if expression["Ref"] not in found:
                    found.append(expression["Ref"])
                return
            if set(expression) == {"Condition"} and isinstance(expression["Condition"], str):
                nested = expression["Condition"]
                if nested not in seen and nested in conditions:
                    seen.add(nested)
                    walk(conditions[nested])
                return
            for item in expression.values():
                walk(item)

    seen.add(name)
    walk(conditions.get(name))
    return found


def link_kms_key_id(value: Any, resolver: Resolver) -> KeyLink:
    """Which key a (non-conditional) ``KmsKeyId`` value names, and how."""
    resources = resolver.template["Resources"]
    upstream = resolver.deployed

    def marked(name: str, attribute: str | None) -> Any:
        resource = resources.get(name)
        if isinstance(resource, Mapping) and resource.get("Type") == KEY_TYPE:
            kind = {None: "id", "KeyId": "id", "Arn": "arn"}.get(attribute, "other")
            return f"{_MARK}{kind}:{name}.{attribute or 'Ref'}{_MARK}"
        return upstream(name, attribute) if upstream is not None else None

    marker_resolver = dataclasses.replace(resolver, deployed=marked, _active=set())
    text = marker_resolver.resolve_text(value)
    if isinstance(text, Unresolved):
        return KeyLink("unknown", text=str(text))
    markers = _KEY_MARKER.findall(text)
    if not markers:
        if KMS_ARN.fullmatch(text):
            return KeyLink("external", text=text)
        if resolver.has_unknowns(text):
            return KeyLink("external", text=text)
        return KeyLink("literal", text=text)
    kind, reference = markers[0]
    key, attribute = reference.split(".", 1)
    if text == f"{_MARK}{kind}:{reference}{_MARK}":
        return KeyLink("template", key, attribute if kind == "other" else kind)
    built = re.fullmatch(
        r"arn:[a-z0-9-]+:kms:[a-z0-9-]+:\d{12}:key/" + re.escape(_MARK + f"id:{reference}" + _MARK),
        text,
    )
    if built is not None and kind == "id":
        return KeyLink("template", key, "arn")
    readable = _KEY_MARKER.sub(lambda m: f"<{m.group(2)}>", text)
    return KeyLink("template", key, f"built as {readable}")
