"""Request schema for ``POST /echo``, kept as a table, plus a small hand-written validator.

Why not pydantic (or Powertools' ``enable_validation``, which needs it)? pydantic ships
native wheels that must match the Lambda architecture and adds tens of milliseconds to
every cold start, for a body with two fields. The table below is the single source of
truth: :func:`validate_object` enforces it and :func:`json_schema` renders it as the
JSON Schema that an OpenAPI document can embed, so the two cannot drift apart.

Lengths are counted in Unicode code points, which is what both Python's ``len`` and JSON
Schema's ``minLength``/``maxLength`` count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

from api_errors import ErrorDetail

FieldKind = Literal["string", "string_array"]

# Cap on the number of problems reported back, so a body with thousands of unknown keys
# cannot make the error response (and the work to build it) large.
MAX_REPORTED_PROBLEMS: Final = 20
# Unknown field names are client input that we echo in ``details``: keep them short.
MAX_REPORTED_NAME_CHARS: Final = 64


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One property of a JSON object body.

    ``min_length``/``max_length`` bound each string (for ``string_array``: each item);
    ``max_items`` bounds the array length and is ignored for plain strings.
    """

    name: str
    kind: FieldKind
    required: bool
    min_length: int
    max_length: int
    description: str
    max_items: int = 0


@dataclass(frozen=True, slots=True)
class ObjectSchema:
    """A JSON object with a closed set of properties (no additional fields allowed)."""

    title: str
    fields: tuple[FieldSpec, ...]


ECHO_REQUEST: Final = ObjectSchema(
    title="EchoRequest",
    fields=(
        FieldSpec(
            name="message",
            kind="string",
            required=True,
            min_length=1,
            max_length=1024,
            description="Text to echo back.",
        ),
        FieldSpec(
            name="tags",
            kind="string_array",
            required=False,
            min_length=1,
            max_length=64,
            max_items=10,
            description="Optional labels echoed back unchanged.",
        ),
    ),
)


def _is_unicode_text(value: str) -> bool:
    """False for strings holding lone surrogates (legal ``\\ud800`` escapes in JSON text).

    They are not Unicode characters, cannot be encoded as UTF-8 and break downstream
    consumers, so they are rejected like any other invalid value.
    """
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_string(value: object, path: str, spec: FieldSpec, what: str) -> ErrorDetail | None:
    if not isinstance(value, str):
        return {"field": path, "problem": f"{what} must be a string"}
    if not spec.min_length <= len(value) <= spec.max_length:
        return {
            "field": path,
            "problem": (
                f"{what} must be {spec.min_length} to {spec.max_length} characters long"
                f" (got {len(value)})"
            ),
        }
    if not _is_unicode_text(value):
        return {"field": path, "problem": f"{what} must be valid Unicode text"}
    return None


def _check_field(value: object, spec: FieldSpec) -> list[ErrorDetail]:
    path = f"$.{spec.name}"
    if spec.kind == "string":
        problem = _check_string(value, path, spec, "value")
        return [problem] if problem else []
    # string_array
    if not isinstance(value, list):
        return [{"field": path, "problem": "value must be an array of strings"}]
    problems: list[ErrorDetail] = []
    if len(value) > spec.max_items:
        problems.append(
            {
                "field": path,
                "problem": f"array must have at most {spec.max_items} items (got {len(value)})",
            }
        )
    for index, item in enumerate(value[: spec.max_items]):
        problem = _check_string(item, f"{path}[{index}]", spec, "item")
        if problem:
            problems.append(problem)
    return problems


def _display_name(name: str) -> str:
    """An unknown key as reported back: truncated, because it is untrusted client input."""
    if len(name) <= MAX_REPORTED_NAME_CHARS:
        return name
    return name[:MAX_REPORTED_NAME_CHARS] + "..."


def validate_object(schema: ObjectSchema, data: object) -> list[ErrorDetail]:
    """Every way ``data`` violates ``schema``, in a stable order; empty when it is valid.

    Problems never quote the offending values (only lengths and field names), so an error
    response cannot be used to reflect arbitrary content back to a browser.
    """
    if not isinstance(data, dict):
        return [{"field": "$", "problem": "body must be a JSON object"}]
    problems: list[ErrorDetail] = []
    known = {spec.name for spec in schema.fields}
    for spec in schema.fields:
        if spec.name in data:
            problems.extend(_check_field(data[spec.name], spec))
        elif spec.required:
            problems.append({"field": f"$.{spec.name}", "problem": "field is required"})
    problems.extend(
        {"field": f"$.{_display_name(key)}", "problem": "field is not allowed"}
        for key in data
        if key not in known
    )
    return problems[:MAX_REPORTED_PROBLEMS]


def json_schema(schema: ObjectSchema) -> dict[str, Any]:
    """Render the table as a JSON Schema (draft 2020-12 / OpenAPI 3.1) object schema."""
    properties: dict[str, Any] = {}
    for spec in schema.fields:
        string_schema = {
            "type": "string",
            "minLength": spec.min_length,
            "maxLength": spec.max_length,
        }
        if spec.kind == "string":
            properties[spec.name] = {**string_schema, "description": spec.description}
        else:
            properties[spec.name] = {
                "type": "array",
                "maxItems": spec.max_items,
                "items": string_schema,
                "description": spec.description,
            }
    return {
        "title": schema.title,
        "type": "object",
        "properties": properties,
        "required": [spec.name for spec in schema.fields if spec.required],
        "additionalProperties": False,
    }
