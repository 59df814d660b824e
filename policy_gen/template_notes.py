"""What ``check-template`` cannot see inside a template, each said in one line.

Why: a check that skips a nested stack, an included snippet or a value fetched at deploy
without a word reads as "all clear". Each of these is a note (severity ``note``, so it
never fails a run) that names the resource and why it is not checked, and it reaches the
text, JSON and SARIF outputs alike because it is an ordinary finding.

Sources: CloudFormation user guide, "Nested stacks" (``AWS::CloudFormation::Stack``) and
the SAM specification (``AWS::Serverless::Application``): the child template is a stack
of its own; "AWS::Include transform": the snippet is fetched from S3 when the template is
processed; "Get values stored in other services using dynamic references":
``{{resolve:...}}`` is resolved at deploy.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policy_gen.symbols import DYNAMIC_REFERENCE
from policy_gen.template import Resolver
from policy_gen.validate import Finding

NESTED_STACKS = {
    "AWS::CloudFormation::Stack": "TemplateURL",
    "AWS::Serverless::Application": "Location",
}
# Transforms this check applies itself: SAM's resources are read as SAM deploys them,
# and AWS::LanguageExtensions' Fn::ForEach is expanded (policy_gen.foreach).
KNOWN_TRANSFORMS = ("AWS::Serverless-2016-10-31", "AWS::LanguageExtensions")


def note(code: str, message: str) -> Finding:
    return Finding(code, "note", message, None)


def _where(value: Any, resolver: Resolver | None = None) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and "ApplicationId" in value:
        return f"{value.get('ApplicationId')} {value.get('SemanticVersion', '')}".strip()
    if resolver is not None and resolver.symbols is not None and value is not None:
        text = resolver.resolve_text(value)
        if isinstance(text, str):
            return resolver.symbols.display(text)
    return "a location computed at deploy"


def nested_stack_notes(
    template: Mapping[str, Any], resolver: Resolver | None = None
) -> list[tuple[str, Finding]]:
    found = []
    for logical_id, resource in template["Resources"].items():
        if not isinstance(resource, Mapping):
            continue
        location_property = NESTED_STACKS.get(str(resource.get("Type")))
        if location_property is None:
            continue
        location = (resource.get("Properties") or {}).get(location_property)
        found.append(
            (
                logical_id,
                note(
                    "NESTED_STACK_NOT_CHECKED",
                    f"nested stack {logical_id} ({resource['Type']}, {location_property} "
                    f"{_where(location, resolver)}) is deployed as a stack of its own: its keys and log "
                    "groups are not checked here; run check-template on its template",
                ),
            )
        )
    return found


def _includes(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        transform = value.get("Fn::Transform")
        if isinstance(transform, Mapping) and transform.get("Name") == "AWS::Include":
            where = f"{path}.Fn::Transform" if path else "Fn::Transform"
            yield where, (transform.get("Parameters") or {}).get("Location")
        for key, item in value.items():
            yield from _includes(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _includes(item, f"{path}[{index}]")


def transform_notes(template: Mapping[str, Any]) -> list[tuple[str, Finding]]:
    """``AWS::Include`` snippets and macros: applied by CloudFormation, not here."""
    found = []
    declared = template.get("Transform")
    for item in declared if isinstance(declared, list) else [declared]:
        name = item.get("Name") if isinstance(item, Mapping) else item
        if not isinstance(name, str) or name in KNOWN_TRANSFORMS:
            continue
        if name == "AWS::Include":
            location = ((item or {}).get("Parameters") or {}).get("Location")
            text = f"AWS::Include of {_where(location)} is applied by CloudFormation when it "
            text += "processes the template: the included snippet is not checked"
        else:
            text = f"macro {name} transforms the template at deploy: checked as written, "
            text += "before the macro runs"
        found.append(("Transform", note("TRANSFORM_NOT_CHECKED", text)))
    for path, location in _includes({k: v for k, v in template.items() if k != "Transform"}, ""):
        resource = path.split(".")[1] if path.startswith("Resources.") else path
        found.append(
            (
                resource,
                note(
                    "TRANSFORM_NOT_CHECKED",
                    f"Fn::Transform AWS::Include at {path} inserts {_where(location)} when "
                    "CloudFormation processes the template: the included snippet is not checked",
                ),
            )
        )
    return found


def foreach_notes(template: Mapping[str, Any]) -> list[tuple[str, Finding]]:
    notes: list[str] = getattr(template, "language_notes", [])
    found = []
    for text in notes:
        loop = text.split()[2]  # "Fn::ForEach loop NAME in ..."
        found.append((f"Fn::ForEach::{loop}", note("FOREACH_EXPANDED", text)))
    return found


def dynamic_reference_notes(resource: str, value: Any, what: str) -> list[tuple[str, Finding]]:
    """One note per ``{{resolve:...}}`` in ``value`` (as written in the template)."""
    found: list[str] = []

    def walk(item: Any) -> None:
        if isinstance(item, str):
            found.extend(m for m in DYNAMIC_REFERENCE.findall(item) if m not in found)
        elif isinstance(item, Mapping):
            for element in item.values():
                walk(element)
        elif isinstance(item, list):
            for element in item:
                walk(element)

    walk(value)
    return [
        (
            resource,
            note(
                "DYNAMIC_REFERENCE",
                f"{what} uses the dynamic reference {reference}: resolved at deploy, not "
                "checked; simulated with a stand-in that equals only itself",
            ),
        )
        for reference in found
    ]
