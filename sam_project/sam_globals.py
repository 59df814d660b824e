"""A resource's property as SAM deploys it: the template's ``Globals`` merged in.

Checks that read a function's settings from the template (does it log to a log group
of its own?) must see what SAM will deploy, not the shorthand. The rules are SAM's
(AWS SAM developer guide, "Globals section of the AWS SAM template"; the translator's
``samtranslator/plugins/globals``), and a contract test compares this module with the
translator installed in the dev environment:

* ``Globals.<Section>`` applies only to ``AWS::Serverless::<Section>`` resources: a
  plain ``AWS::Lambda::Function`` never gets ``Globals.Function``;
* the ``IgnoreGlobals`` resource attribute drops every global (``"*"``) or the listed ones;
* merging a global value with the resource's own: maps are merged key by key
  (recursively), lists are concatenated (global first), and anything else, including
  an intrinsic function (a one-key map ``Ref``/``Condition``/``Fn::*``) or two values
  of different kinds, is the resource's own value.

``Function.Architectures`` is replaced, not concatenated (the translator's one custom
rule for functions); it is the only exception this module needs to know.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

SERVERLESS_PREFIX: Final = "AWS::Serverless::"
# Properties SAM replaces instead of merging (samtranslator CUSTOM_STRATEGIES).
REPLACED: Final = frozenset({"Function.Architectures"})
_ABSENT: Final = object()


def _kind(value: object) -> str:
    if isinstance(value, Mapping):
        if len(value) == 1:
            (key,) = value
            if key in ("Ref", "Condition") or str(key).startswith("Fn::"):
                return "primitive"  # an intrinsic resolves to a value at deploy time
        return "map"
    return "list" if isinstance(value, list) else "primitive"


def merge(global_value: Any, local_value: Any) -> Any:
    """A global value merged with a resource's own, as SAM merges them."""
    kind = _kind(global_value)
    if kind != _kind(local_value) or kind == "primitive":
        return local_value
    if kind == "list":
        return [*global_value, *local_value]
    merged = dict(global_value)
    for key, value in local_value.items():
        merged[key] = merge(merged[key], value) if key in merged else value
    return merged


def _globals_for(
    template: Mapping[str, Any], resource: Mapping[str, Any]
) -> tuple[str, dict[str, Any]]:
    """The Globals section that applies to ``resource`` and its properties, after
    ``IgnoreGlobals``; ("", {}) for a resource SAM's Globals never touch."""
    kind = str(resource.get("Type", ""))
    if not kind.startswith(SERVERLESS_PREFIX):
        return "", {}
    section = kind.removeprefix(SERVERLESS_PREFIX)
    globals_section = template.get("Globals")
    values = globals_section.get(section) if isinstance(globals_section, Mapping) else None
    if not isinstance(values, Mapping):
        return section, {}
    ignored = resource.get("IgnoreGlobals")
    if ignored == "*":
        return section, {}
    dropped = set(ignored) if isinstance(ignored, list) else set()
    return section, {key: value for key, value in values.items() if key not in dropped}


def deployed_property(template: Mapping[str, Any], resource: Mapping[str, Any], name: str) -> Any:
    """Property ``name`` of ``resource`` once SAM has applied the template's Globals;
    None when neither sets it."""
    section, applied = _globals_for(template, resource)
    properties = resource.get("Properties")
    own = properties.get(name, _ABSENT) if isinstance(properties, Mapping) else _ABSENT
    global_value = applied.get(name, _ABSENT)
    if global_value is _ABSENT:
        return None if own is _ABSENT else own
    if own is _ABSENT:
        return global_value
    if f"{section}.{name}" in REPLACED:
        return own
    return merge(global_value, own)
