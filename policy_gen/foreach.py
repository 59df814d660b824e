"""``Fn::ForEach`` loops expanded the way the ``AWS::LanguageExtensions`` transform does.

Why: a template that declares its log groups or functions in a loop has no resource with
a ``Type`` until the transform runs, so without expanding it every check would miss them
(or call the template malformed). The rules come from the CloudFormation template
reference, "Fn::ForEach":

* ``"Fn::ForEach::LoopName": [Identifier, Collection, {OutputKey: OutputValue}]`` may
  appear in ``Conditions``, ``Outputs`` and ``Resources``, including resource
  properties, and loops may be nested;
* the collection is a list of strings or a ``Ref`` to a ``CommaDelimitedList``
  parameter;
* every ``${Identifier}`` and ``&{Identifier}`` in the output key and value is replaced
  by the item (``&{}`` with its non-alphanumeric characters removed), and a
  ``Ref`` to the identifier is the item itself;
* the template must declare the ``AWS::LanguageExtensions`` transform.

A collection this check cannot know (a parameter without default) leaves its loop
unexpanded and says so; the template stays readable.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from sam_project.errors import UserError

PREFIX = "Fn::ForEach::"
TRANSFORM = "AWS::LanguageExtensions"
SECTIONS = ("Conditions", "Resources", "Outputs")
# The expanded template must fit CloudFormation's quotas (CloudFormation user guide,
# "Understand CloudFormation quotas": 1 MB template body through S3), which apply to the
# result of the transform (Fn::ForEach reference). Expansion stops past twice that, as
# JSON text, so a loop bomb costs bounded time and memory.
MAX_EXPANDED_CHARACTERS = 2 * 1_048_576


class Template(dict[str, Any]):
    """A parsed template that remembers what the transform expansion did."""

    language_notes: list[str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.language_notes = []


def _transforms(data: Mapping[str, Any]) -> list[str]:
    declared = data.get("Transform")
    if isinstance(declared, str):
        return [declared]
    if isinstance(declared, list):
        return [item for item in declared if isinstance(item, str)]
    return []


def _has_loop(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any(
            (isinstance(k, str) and k.startswith(PREFIX)) or _has_loop(v) for k, v in value.items()
        )
    if isinstance(value, list):
        return any(_has_loop(item) for item in value)
    return False


def expand_language_extensions(data: dict[str, Any], source: str) -> dict[str, Any]:
    """``data`` with every ``Fn::ForEach`` expanded (a :class:`Template`); unchanged when
    it has no loop."""
    if not any(_has_loop(data.get(section)) for section in SECTIONS):
        return data
    if TRANSFORM not in _transforms(data):
        raise UserError(
            f"{source} uses Fn::ForEach without the {TRANSFORM} transform: CloudFormation "
            f"refuses it; add Transform: {TRANSFORM}"
        )
    expanded = Template(data)
    expander = _Expander(data, source, expanded.language_notes)
    try:
        for section in SECTIONS:
            value = data.get(section)
            if isinstance(value, Mapping):
                expanded[section] = expander.mapping(value, section)
    except RecursionError:
        raise UserError(f"{source}: Fn::ForEach loops are nested too deeply to expand") from None
    return expanded


class _Expander:
    def __init__(self, data: Mapping[str, Any], source: str, notes: list[str]) -> None:
        self.parameters = data.get("Parameters") or {}
        self.source = source
        self.notes = notes
        self.budget = MAX_EXPANDED_CHARACTERS

    def mapping(self, value: Mapping[str, Any], where: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(key, str) and key.startswith(PREFIX):
                for out_key, out_value in self.loop(key, item, where).items():
                    if out_key in out or out_key in value:
                        raise UserError(
                            f"{self.source}: {key} produces {out_key!r} in {where}, which "
                            "already exists"
                        )
                    out[out_key] = out_value
            else:
                out[key] = self.value(item, where)
        return out

    def value(self, item: Any, where: str) -> Any:
        if isinstance(item, Mapping):
            return self.mapping(item, where)
        if isinstance(item, list):
            return [self.value(element, where) for element in item]
        return item

    def loop(self, key: str, argument: Any, where: str) -> dict[str, Any]:
        name = key[len(PREFIX) :]
        if (
            not isinstance(argument, list)
            or len(argument) != 3
            or not isinstance(argument[0], str)
            or not isinstance(argument[2], Mapping)
        ):
            raise UserError(
                f"{self.source}: {key} takes [Identifier, Collection, {{OutputKey: OutputValue}}]"
            )
        identifier, collection, fragment = argument
        items = self.collection(collection)
        if items is None:
            self.notes.append(
                f"Fn::ForEach loop {name} in {where} was not expanded: its collection "
                f"{collection} is not known before deploy (a parameter without Default, or an "
                "intrinsic function); what the loop declares is not checked"
            )
            return {}
        out: dict[str, Any] = {}
        size = len(json.dumps(fragment, default=str))
        for item in items:
            self.budget -= size + len(item) * 8
            if self.budget < 0:
                raise UserError(
                    f"{self.source}: {key} expands beyond {MAX_EXPANDED_CHARACTERS} characters; "
                    "CloudFormation's quotas (1 MB template, 500 resources) apply to the "
                    "expanded template, so it would refuse it"
                )
            replaced = _substitute(fragment, identifier, item)
            for out_key, out_value in self.mapping(replaced, where).items():
                if out_key in out:
                    raise UserError(f"{self.source}: {key} produces {out_key!r} twice in {where}")
                out[out_key] = out_value
        self.notes.append(
            f"Fn::ForEach loop {name} in {where} expanded over {len(items)} item(s) "
            f"({', '.join(items)}) as the {TRANSFORM} transform does: {', '.join(out) or 'nothing'}"
        )
        return out

    def collection(self, collection: Any) -> list[str] | None:
        if isinstance(collection, list):
            if not all(isinstance(item, (str, int, float)) for item in collection):
                return None
            return [str(item) for item in collection]
        if isinstance(collection, Mapping) and set(collection) == {"Ref"}:
            spec = self.parameters.get(collection["Ref"])
            if isinstance(spec, Mapping) and "Default" in spec:
                default = spec["Default"]
                values = default if isinstance(default, list) else str(default).split(",")
                return [str(value).strip() for value in values]
        return None


def _substitute(value: Any, identifier: str, item: str) -> Any:
    """The fragment with the identifier replaced by ``item`` (keys and values)."""
    if isinstance(value, str):
        text = value.replace("${" + identifier + "}", item)
        return text.replace("&{" + identifier + "}", re.sub(r"[^A-Za-z0-9]", "", item))
    if isinstance(value, list):
        return [_substitute(element, identifier, item) for element in value]
    if isinstance(value, Mapping):
        if set(value) == {"Ref"} and value["Ref"] == identifier:
            return item
        return {
            _substitute(key, identifier, item): _substitute(element, identifier, item)
            for key, element in value.items()
        }
    return value
