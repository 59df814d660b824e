"""Request bodies checked against their JSON Schema files, every problem reported at once.

A body is described once, in ``schemas/NAME.json``: scripts/body_schemas.py turns the file
into validator code ahead of time (fastjsonschema's ``compile_to_code``, committed as
:mod:`body_validators`, so nothing is compiled at cold start) and scripts/openapi.py puts
the same schema into ``openapi.json``. A route names its schema with
``JsonBody(schema="NAME")``.

Why a walk on top of the generated code: fastjsonschema stops at the first error, and a
client fixing a form wants every problem in one answer. Every node of a schema (the body,
each property, each array's items) has its own generated validator. The body's decides;
only when it refuses does :func:`validate_object` walk the schema: objects and arrays are
taken apart here (each missing or unknown field, the array's length), each child is asked
its own validator, and each refusing leaf gives one problem for the rule that failed.

What a problem never contains: the value. Messages are written from the schema's rule (a
length says how long the value is, never what it says), not from fastjsonschema's message,
which can quote it. Unknown field names are echoed, truncated. The walk never goes deeper
than the schema, never looks past an array's ``maxItems``, and stops at
:data:`MAX_REPORTED_PROBLEMS`, so a hostile body cannot make the answer, or the work, large.

Lengths are counted in Unicode code points, as both Python's ``len`` and JSON Schema's
``minLength``/``maxLength`` count them; a string holding a lone surrogate (a legal
``\\ud800`` escape in JSON text that is not a character) is refused everywhere.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from typing import Any, Final

from api_errors import ErrorDetail
from body_validators import SCHEMAS, VALIDATORS, JsonSchemaValueException

# Cap on the number of problems reported back, so a body with thousands of unknown keys
# cannot make the error response (and the work to build it) large.
MAX_REPORTED_PROBLEMS: Final = 20
# Unknown field names are client input that we echo in ``details``: keep them short.
MAX_REPORTED_NAME_CHARS: Final = 64

_ARTICLES: Final = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean (true or false)",
    "object": "an object",
    "array": "an array",
}


class _Node:
    """One schema node: as written in its file (for messages) and its generated validator.

    Plain classes here, not dataclasses: each dataclass adds about a millisecond to the
    cold start (its methods are generated and compiled at import).
    """

    __slots__ = ("check", "items", "kind", "names", "properties", "schema")

    def __init__(
        self,
        schema: Mapping[str, Any],
        check: Callable[[Any], Any],
        properties: tuple[tuple[str, _Node], ...],
        items: _Node | None,
    ) -> None:
        self.schema = schema
        self.kind = str(schema["type"])
        self.check = check
        self.properties = properties
        self.names = frozenset(name for name, _ in properties)
        self.items = items


class BodySchema:
    """A request-body schema, loaded from the generated module by :func:`load`."""

    __slots__ = ("name", "root", "title")

    def __init__(self, name: str, title: str, root: _Node) -> None:
        self.name = name
        self.title = title
        self.root = root


def _node(
    schema: Mapping[str, Any], validators: Mapping[str, Callable[[Any], Any]], at: str
) -> _Node:
    properties = tuple(
        (name, _node(child, validators, f"{at}/properties/{name}"))
        for name, child in schema.get("properties", {}).items()
    )
    items = _node(schema["items"], validators, f"{at}/items") if "items" in schema else None
    return _Node(schema, validators[at], properties, items)


_LOADED: dict[str, BodySchema] = {}


def load(name: str) -> BodySchema:
    """The schema of ``schemas/NAME.json``, as generated; a missing one fails at import time."""
    loaded = _LOADED.get(name)
    if loaded is None:
        if name not in SCHEMAS:
            raise LookupError(
                f"no generated validator for schemas/{name}.json: add the file and run "
                "`make generate`"
            )
        document = SCHEMAS[name]
        loaded = BodySchema(name, str(document["title"]), _node(document, VALIDATORS[name], ""))
        _LOADED[name] = loaded
    return loaded


def json_schema(schema: BodySchema) -> dict[str, Any]:
    """The schema file's content (a copy): what openapi.json documents for the body."""
    return copy.deepcopy(dict(SCHEMAS[schema.name]))


# --------------------------------------------------------------------------- messages


def _display_name(name: str) -> str:
    """An unknown key as reported back: truncated, because it is untrusted client input."""
    if len(name) <= MAX_REPORTED_NAME_CHARS:
        return name
    return name[:MAX_REPORTED_NAME_CHARS] + "..."


def _number(value: object) -> str:
    return json.dumps(value)


def _range(schema: Mapping[str, Any]) -> str:
    if "minimum" in schema:
        lower = f"at least {_number(schema['minimum'])}"
    else:
        lower = f"greater than {_number(schema['exclusiveMinimum'])}"
    if "maximum" in schema:
        upper = f"at most {_number(schema['maximum'])}"
    else:
        upper = f"less than {_number(schema['exclusiveMaximum'])}"
    return f"{lower} and {upper}"


def _type_problem(node: _Node, subject: str) -> str:
    if node.kind == "array" and node.items is not None:
        return f"{subject} must be an array of {node.items.kind}s"
    return f"{subject} must be {_ARTICLES[node.kind]}"


def _leaf_problem(node: _Node, rule: str | None, subject: str, value: Any) -> str:
    """What is wrong with a string, number or boolean, from the rule fastjsonschema named."""
    schema = node.schema
    if rule == "type":
        return _type_problem(node, subject)
    if rule in ("minLength", "maxLength"):
        length = f"(got {len(value)})"
        if "minLength" in schema:
            bounds = f"{schema['minLength']} to {schema['maxLength']}"
            return f"{subject} must be {bounds} characters long {length}"
        return f"{subject} must be at most {schema['maxLength']} characters long {length}"
    if rule == "format":
        return f"{subject} must be valid Unicode text"
    if rule == "pattern":
        return f"{subject} must match the pattern {schema['pattern']}"
    if rule == "enum":
        return f"{subject} must be one of: {', '.join(_number(v) for v in schema['enum'])}"
    if rule in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return f"{subject} must be {_range(schema)}"
    return f"{subject} does not match the schema"


# --------------------------------------------------------------------------- the walk


def _walk(node: _Node, value: Any, path: str, subject: str, out: list[ErrorDetail]) -> None:
    """Add the problems of ``value`` (at JSONPath ``path``) to ``out``; none if it is valid."""
    try:
        node.check(value)
    except JsonSchemaValueException as refused:
        _problems(node, value, path, subject, refused.rule, out)


def _problems(
    node: _Node, value: Any, path: str, subject: str, rule: str | None, out: list[ErrorDetail]
) -> None:
    """The problems of a value ``node``'s validator refused (for breaking ``rule``)."""
    before = len(out)
    if node.kind == "object":
        _object_problems(node, value, path, subject, out)
    elif node.kind == "array":
        _array_problems(node, value, path, subject, out)
    else:
        out.append({"field": path, "problem": _leaf_problem(node, rule, subject, value)})
    if len(out) == before:  # refused, yet nothing found: say so rather than answer "valid"
        out.append({"field": path, "problem": f"{subject} does not match the schema"})


def _object_problems(
    node: _Node, value: Any, path: str, subject: str, out: list[ErrorDetail]
) -> None:
    if not isinstance(value, dict):
        problem = "body must be a JSON object" if path == "$" else _type_problem(node, subject)
        out.append({"field": path, "problem": problem})
        return
    required = node.schema.get("required", ())
    for name, child in node.properties:
        if len(out) >= MAX_REPORTED_PROBLEMS:
            return
        if name in value:
            _walk(child, value[name], f"{path}.{name}", "value", out)
        elif name in required:
            out.append({"field": f"{path}.{name}", "problem": "field is required"})
    for key in value:
        if len(out) >= MAX_REPORTED_PROBLEMS:
            return
        if key not in node.names:
            out.append({"field": f"{path}.{_display_name(key)}", "problem": "field is not allowed"})


def _array_problems(
    node: _Node, value: Any, path: str, subject: str, out: list[ErrorDetail]
) -> None:
    if not isinstance(value, list):
        out.append({"field": path, "problem": _type_problem(node, subject)})
        return
    max_items: int = node.schema["maxItems"]
    min_items: int = node.schema.get("minItems", 0)
    if len(value) > max_items:
        out.append(
            {
                "field": path,
                "problem": f"array must have at most {max_items} items (got {len(value)})",
            }
        )
    elif len(value) < min_items:
        out.append(
            {
                "field": path,
                "problem": f"array must have at least {min_items} items (got {len(value)})",
            }
        )
    if node.items is None:
        return
    for index, item in enumerate(value[:max_items]):
        if len(out) >= MAX_REPORTED_PROBLEMS:
            return
        _walk(node.items, item, f"{path}[{index}]", "item", out)


def validate_object(schema: BodySchema, data: object) -> list[ErrorDetail]:
    """Every way ``data`` breaks ``schema``, in a stable order; empty when it is valid.

    The order is the schema's: each declared field's problems (or "field is required"),
    then the unknown fields in the order the client sent them; at most
    :data:`MAX_REPORTED_PROBLEMS`.
    """
    try:
        schema.root.check(data)
    except JsonSchemaValueException as refused:
        problems: list[ErrorDetail] = []
        _problems(schema.root, data, "$", "body", refused.rule, problems)
        return problems[:MAX_REPORTED_PROBLEMS]
    return []
