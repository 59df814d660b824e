"""Generate ``src/handler/body_validators.py`` from the request-body schemas (never by hand).

    python scripts/body_schemas.py            # (re)write src/handler/body_validators.py
    python scripts/body_schemas.py --check    # exit 1 when the committed module is stale
    python scripts/body_schemas.py --handler-dir DIR

Each ``schemas/NAME.json`` of the handler is a JSON Schema (the subset below) describing
one request body; a route names it with ``JsonBody(schema="NAME")``. This script checks
the file, then has fastjsonschema (what Powertools' validation utility uses) write the
validator code now rather than compile it in the function at cold start:

* one validator per node of the schema (the body, every property, every array's
  items), because fastjsonschema stops at the first error and the function reports every
  problem: ``body_schema`` asks the body's validator first and, only when it refuses,
  walks the nodes, asking each one's validator;
* every string node also gets a ``format`` that refuses lone surrogates (legal ``\\ud800``
  escapes in JSON text that are not Unicode characters); the schema file does not say it,
  the function enforces it for every string;
* every ``pattern`` is compiled with its ECMA-262 meaning (:func:`python_pattern`), the
  dialect of JSON Schema and of the gateway's model, not Python's Unicode-aware one;
* fastjsonschema's output is renamed (several validators share one module), its
  exception import replaced by a small class of the module's own, and each raise reduced
  to the rule that failed (the message fastjsonschema builds can quote the value, and
  nothing reads it), so the function never imports fastjsonschema, compiles nothing at
  run time, and a refusal costs little.

The supported subset, and why it is strict: every value a client can send is bounded.
Objects are closed (``additionalProperties: false``) with ``properties`` and optional
``required``; arrays need ``maxItems`` (``minItems`` optional) and ``items``; strings need
``maxLength`` (``minLength``, ``pattern``, ``enum`` optional); integers and numbers need a
lower and an upper bound (``minimum``/``exclusiveMinimum``, ``maximum``/``exclusiveMaximum``;
``enum`` optional); booleans take nothing more. ``title``, ``description``, ``examples``
and ``$comment`` are allowed anywhere; the body's ``title`` names its OpenAPI component.
Anything else - ``$ref``, combinators, ``format``, ``default``, a list of types - is an error
here, with the file and JSON pointer, rather than a rule the function would silently skip.
"""

from __future__ import annotations

import ast
import json
import pprint
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import fastjsonschema

from sam_project.errors import OneLineArgumentParser, UserError
from sam_project.files import publish_generated

REPO: Final = Path(__file__).resolve().parents[1]
HANDLER_DIR: Final = REPO / "src" / "handler"
SCHEMAS_SUBDIR: Final = "schemas"
OUTPUT_NAME: Final = "body_validators.py"
FASTJSONSCHEMA_VERSION: Final = "2.22.3"  # the pinned dev dependency this output comes from

UNICODE_FORMAT: Final = "unicode-text"
UNICODE_TEXT: Final = r"^[^\ud800-\udfff]*\Z"
DRAFT_2020_12: Final = "https://json-schema.org/draft/2020-12/schema"

ANNOTATIONS: Final = frozenset({"title", "description", "examples", "$comment"})
KEYWORDS: Final[Mapping[str, frozenset[str]]] = {
    "object": frozenset({"type", "properties", "required", "additionalProperties"}),
    "array": frozenset({"type", "items", "minItems", "maxItems"}),
    "string": frozenset({"type", "minLength", "maxLength", "pattern", "enum"}),
    "integer": frozenset(
        {"type", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "enum"}
    ),
    "number": frozenset(
        {"type", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "enum"}
    ),
    "boolean": frozenset({"type"}),
}
SCHEMA_NAME: Final = re.compile(r"[a-z][a-z0-9_]*")
PROPERTY_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")
TITLE: Final = re.compile(r"[A-Z][A-Za-z0-9]*")


class SchemaError(UserError, ValueError):
    """A schema file outside the supported subset (message names the file and pointer)."""


# --------------------------------------------------------------------------- reading


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise SchemaError("a JSON object repeats a key")
    return result


def read_schema(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(
            path.read_text(encoding="utf-8"), object_pairs_hook=_reject_duplicates
        )
    except (ValueError, SchemaError) as error:
        raise SchemaError(f"{path.name}: not valid JSON ({error})") from None
    if not isinstance(document, dict):
        raise SchemaError(f"{path.name}: the schema must be a JSON object")
    return document


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def check_node(node: object, pointer: str, where: str) -> None:
    """Refuse anything outside the supported subset, with the file and JSON pointer."""
    at = f"{where} at {pointer or '/'}"
    if not isinstance(node, dict):
        raise SchemaError(f"{at}: a schema must be a JSON object")
    kind = node.get("type")
    if not isinstance(kind, str) or kind not in KEYWORDS:
        raise SchemaError(f"{at}: 'type' must be one of {', '.join(sorted(KEYWORDS))}")
    unknown = sorted(set(node) - KEYWORDS[kind] - ANNOTATIONS - {"$schema"})
    if unknown:
        raise SchemaError(f"{at}: unsupported keyword(s) for type {kind}: {', '.join(unknown)}")
    if "$schema" in node and (pointer or node["$schema"] != DRAFT_2020_12):
        raise SchemaError(f"{at}: '$schema' may only be {DRAFT_2020_12}, on the body")
    if "enum" in node:
        _check_enum(node["enum"], kind, at)
    if kind == "object":
        _check_object(node, pointer, where, at)
    elif kind == "array":
        if not _is_count(node.get("maxItems")):
            raise SchemaError(f"{at}: an array needs 'maxItems' (a count)")
        if "minItems" in node and not (
            _is_count(node["minItems"]) and node["minItems"] <= node["maxItems"]
        ):
            raise SchemaError(f"{at}: 'minItems' must be a count no larger than 'maxItems'")
        if "items" not in node:
            raise SchemaError(f"{at}: an array needs 'items'")
        check_node(node["items"], f"{pointer}/items", where)
    elif kind == "string":
        if not _is_count(node.get("maxLength")):
            raise SchemaError(f"{at}: a string needs 'maxLength' (a count)")
        if "minLength" in node and not (
            _is_count(node["minLength"]) and node["minLength"] <= node["maxLength"]
        ):
            raise SchemaError(f"{at}: 'minLength' must be a count no larger than 'maxLength'")
        if "pattern" in node:
            if not isinstance(node["pattern"], str):
                raise SchemaError(f"{at}: 'pattern' must be a string")
            try:
                re.compile(node["pattern"])
                re.compile(python_pattern(node["pattern"], at))
            except re.error as error:
                raise SchemaError(f"{at}: 'pattern' is not a valid regex ({error})") from None
    elif kind in ("integer", "number"):
        _check_bounds(node, at)


def _check_enum(values: object, kind: str, at: str) -> None:
    expected = {"string": str, "integer": int, "number": int | float}.get(kind)
    if (
        expected is None
        or not isinstance(values, list)
        or not values
        or not all(isinstance(v, expected) and not isinstance(v, bool) for v in values)
    ):
        raise SchemaError(f"{at}: 'enum' must be a non-empty list of {kind} values")


def _check_bounds(node: Mapping[str, Any], at: str) -> None:
    lower = [key for key in ("minimum", "exclusiveMinimum") if key in node]
    upper = [key for key in ("maximum", "exclusiveMaximum") if key in node]
    if len(lower) != 1 or len(upper) != 1:
        raise SchemaError(
            f"{at}: a number needs one lower bound (minimum or exclusiveMinimum) and one "
            "upper bound (maximum or exclusiveMaximum)"
        )
    if not all(_is_number(node[key]) for key in (*lower, *upper)):
        raise SchemaError(f"{at}: bounds must be numbers")
    if node[lower[0]] > node[upper[0]]:
        raise SchemaError(f"{at}: the lower bound is above the upper bound")


def _check_object(node: Mapping[str, Any], pointer: str, where: str, at: str) -> None:
    if node.get("additionalProperties") is not False:
        raise SchemaError(f"{at}: objects must be closed ('additionalProperties': false)")
    properties = node.get("properties")
    if not isinstance(properties, dict) or not properties:
        raise SchemaError(f"{at}: an object needs 'properties'")
    for name, child in properties.items():
        if not PROPERTY_NAME.fullmatch(name):
            raise SchemaError(
                f"{at}: property name {name!r} must be a letter or _, then letters, digits, "
                "_ or - (at most 64)"
            )
        check_node(child, f"{pointer}/properties/{name}", where)
    required = node.get("required", [])
    if (
        not isinstance(required, list)
        or len(set(required)) != len(required)
        or not set(required) <= set(properties)
    ):
        raise SchemaError(f"{at}: 'required' must list declared properties, once each")


def check_schema(name: str, document: Mapping[str, Any]) -> None:
    where = f"{SCHEMAS_SUBDIR}/{name}.json"
    if not SCHEMA_NAME.fullmatch(name):
        raise SchemaError(f"{where}: file names are lower-case letters, digits and _")
    check_node(document, "", where)
    if document["type"] != "object":
        raise SchemaError(f"{where}: a request body must be an object")
    if not isinstance(document.get("title"), str) or not TITLE.fullmatch(document["title"]):
        raise SchemaError(f"{where}: the body needs a 'title' such as EchoRequest (OpenAPI name)")


# --------------------------------------------------------------------------- code


def nodes(document: Mapping[str, Any], pointer: str = "") -> Iterator[tuple[str, Any]]:
    """(JSON pointer, node) for the body and every property and items schema under it."""
    yield pointer, document
    for name, child in document.get("properties", {}).items():
        yield from nodes(child, f"{pointer}/properties/{name}")
    if "items" in document:
        yield from nodes(document["items"], f"{pointer}/items")


# ECMA-262's WhiteSpace and LineTerminator (ECMA-262, "WhiteSpace", "LineTerminators";
# Unicode category Zs): what ``\s`` matches in the dialect JSON Schema patterns use.
ECMA_SPACE: Final = "\t\n\x0b\x0c\r \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
# ECMA-262's ``.``: any character but a LineTerminator.
ECMA_DOT: Final = "[^\n\r\u2028\u2029]"


def python_pattern(pattern: str, at: str = "pattern") -> str:
    r"""``pattern`` with its ECMA-262 meaning, as Python's ``re`` reads it.

    JSON Schema patterns are ECMA-262 regular expressions (JSON Schema Validation draft
    04, section 5.2.3; 2020-12 keeps the dialect), and API Gateway checks the model with
    them; Python's ``re`` on ``str`` is Unicode-aware: its ``\d`` takes Arabic-Indic and
    full-width digits, ``\w`` accented letters, ``.`` a carriage return, so the function
    would accept what the gateway refuses. ASCII mode (``(?a)``) gives ``\d``, ``\w``,
    ``\b`` and their negations ECMA's sets; ``\s``/``\S`` and ``.`` are spelled out.
    ``\S`` inside a character class has no spelling here: refused.
    """
    out: list[str] = []
    in_class = False
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            escape = pattern[index : index + 2]
            index += 2
            if escape == "\\s":
                out.append(ECMA_SPACE if in_class else f"[{ECMA_SPACE}]")
            elif escape == "\\S" and in_class:
                raise SchemaError(f"{at}: '\\S' inside a character class is not supported")
            elif escape == "\\S":
                out.append(f"[^{ECMA_SPACE}]")
            else:
                out.append(escape)
            continue
        if in_class and char == "]":
            in_class = False
        elif not in_class and char == "[":
            in_class = True
            if pattern.startswith(("[]", "[^]"), index):
                # ECMA: an empty class (nothing, or anything); Python: a literal ']'.
                raise SchemaError(
                    f"{at}: '[]' and '[^]' mean different things in ECMA-262 and Python"
                )
        elif not in_class and char == ".":
            out.append(ECMA_DOT)
            index += 1
            continue
        out.append(char)
        index += 1
    return "(?a)" + "".join(out)


def compiled_form(node: Mapping[str, Any]) -> dict[str, Any]:
    """The node as the validator checks it: no annotations, strings refuse lone surrogates."""
    form: dict[str, Any] = {}
    for key, value in node.items():
        if key in ANNOTATIONS or key == "$schema":
            continue
        if key == "properties":
            form[key] = {name: compiled_form(child) for name, child in value.items()}
        elif key == "items":
            form[key] = compiled_form(value)
        elif key == "pattern":
            form[key] = python_pattern(value)
        else:
            form[key] = value
    if form["type"] == "string":
        form["format"] = UNICODE_FORMAT
    return form


class _Rename(ast.NodeTransformer):
    """Give one node's names their own prefix, and raise with the failing rule alone.

    fastjsonschema builds a message quoting the path (and for unknown keys, the keys) and
    a copy of the schema node at every raise; the function reads only ``rule``, so
    dropping the rest makes a refusal cheap and the module readable.
    """

    def __init__(self, names: Mapping[str, str]) -> None:
        self.names = names

    def visit_Call(self, node: ast.Call) -> ast.Call:
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id == "JsonSchemaValueException":
            rule = [keyword for keyword in node.keywords if keyword.arg == "rule"]
            if len(rule) != 1:
                raise SchemaError("fastjsonschema raised without naming the rule")
            node.args, node.keywords = [], rule
        return node

    def visit_Name(self, node: ast.Name) -> ast.Name:
        node.id = self.names.get(node.id, node.id)
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        node.name = self.names.get(node.name, node.name)
        self.generic_visit(node)
        return node


def validator_code(form: Mapping[str, Any], prefix: str) -> tuple[list[ast.stmt], str]:
    """fastjsonschema's code for one node, renamed under ``prefix``; and its entry point."""
    code = fastjsonschema.compile_to_code(
        dict(form), formats={UNICODE_FORMAT: UNICODE_TEXT}, use_default=False
    )
    module = ast.parse(code)
    kept: list[ast.stmt] = []
    names: dict[str, str] = {"REGEX_PATTERNS": f"_{prefix}_PATTERNS".upper()}
    for statement in module.body:
        if isinstance(statement, ast.FunctionDef):
            names[statement.name] = f"_{prefix}_{statement.name}"
            kept.append(statement)
        elif isinstance(statement, ast.Assign) and isinstance(statement.targets[0], ast.Name):
            target = statement.targets[0].id
            if target == "REGEX_PATTERNS":
                kept.append(statement)
            elif target not in ("VERSION", "NoneType"):
                raise SchemaError(f"unexpected assignment {target} in fastjsonschema's output")
        elif isinstance(statement, ast.Import | ast.ImportFrom):
            # re, decimal: imported once by the module header; fastjsonschema: replaced.
            imported = statement.module if isinstance(statement, ast.ImportFrom) else None
            if imported not in ("decimal", "fastjsonschema") and [
                alias.name for alias in statement.names
            ] != ["re"]:
                raise SchemaError(
                    f"unexpected import in fastjsonschema's output: {ast.unparse(statement)}"
                )
        else:
            raise SchemaError(
                f"unexpected statement in fastjsonschema's output: {ast.dump(statement)}"
            )
    if "validate" not in names:
        raise SchemaError("fastjsonschema's output has no validate()")
    renamed = [_Rename(names).visit(statement) for statement in kept]
    return renamed, names["validate"]


HEADER: Final = '''"""Request-body validators, generated by scripts/body_schemas.py from schemas/*.json.

Do not edit: change a schema file and run `make generate` (`make lint` fails while this
module is stale). fastjsonschema {version} wrote the validator functions (one per node of a
schema: the body, every property, every array's items); the script renamed them so that
they share this module, replaced fastjsonschema's exception with the class below and
reduced each raise to the rule that failed, so the function imports nothing of
fastjsonschema and compiles nothing at run time. body_schema.py is what uses them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any


class JsonSchemaValueException(ValueError):
    """A value broke a rule; ``rule`` names the schema keyword (never the value)."""

    def __init__(self, *, rule):
        self.rule = rule


NoneType = type(None)

'''


@dataclass(frozen=True)
class Generated:
    text: str
    schemas: tuple[str, ...]


def generate(handler_dir: Path) -> Generated:
    """The whole module text for every schema file of ``handler_dir``."""
    if fastjsonschema.VERSION != FASTJSONSCHEMA_VERSION:
        raise SchemaError(
            f"fastjsonschema {fastjsonschema.VERSION} is installed; the generated code is "
            f"pinned to {FASTJSONSCHEMA_VERSION} (run make setup)"
        )
    files = sorted((handler_dir / SCHEMAS_SUBDIR).glob("*.json"))
    documents: dict[str, dict[str, Any]] = {}
    titles: dict[str, str] = {}
    for path in files:
        document = read_schema(path)
        check_schema(path.stem, document)
        if document["title"] in titles:
            raise SchemaError(
                f"{path.name}: title {document['title']} is also the title of "
                f"{titles[document['title']]}.json"
            )
        titles[document["title"]] = path.stem
        documents[path.stem] = document

    statements: list[ast.stmt] = []
    entry_points: dict[str, dict[str, str]] = {}
    for name, document in documents.items():
        entry_points[name] = {}
        for index, (pointer, node) in enumerate(nodes(document)):
            code, entry = validator_code(compiled_form(node), f"{name}_{index}")
            statements.extend(code)
            entry_points[name][pointer] = entry

    body = "\n\n".join(ast.unparse(statement) for statement in statements)
    schemas_literal = (
        "{\n"
        + "".join(
            f"    {name!r}: (\n"
            + "".join(
                f"        {line}\n"
                for line in pprint.pformat(document, sort_dicts=False, width=88).splitlines()
            )
            + "    ),\n"
            for name, document in documents.items()
        )
        + "}"
    )
    table = (
        "{\n"
        + "".join(
            f"    {name!r}: {{\n"
            + "".join(f"        {pointer!r}: {entry},\n" for pointer, entry in pointers.items())
            + "    },\n"
            for name, pointers in entry_points.items()
        )
        + "}"
    )
    text = (
        HEADER.format(version=FASTJSONSCHEMA_VERSION)
        + "# The schema files as written: messages and openapi.json are built from these.\n"
        + f"SCHEMAS: dict[str, dict[str, Any]] = {schemas_literal}\n\n\n"
        + body
        + "\n\n\n# Per schema, the validator of each node, by JSON pointer ('' is the body).\n"
        + f"VALIDATORS: dict[str, dict[str, Callable[[Any], Any]]] = {table}\n"
    )
    return Generated(text, tuple(documents))


# --------------------------------------------------------------------------- output


def main(argv: list[str] | None = None) -> int:
    parser = OneLineArgumentParser(description=__doc__.split("\n\n", 1)[0] if __doc__ else "")
    parser.add_argument(
        "--handler-dir",
        type=Path,
        default=HANDLER_DIR,
        help="the function's code directory (default: src/handler)",
    )
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the module differs from a fresh render"
    )
    args = parser.parse_args(argv)
    handler_dir: Path = args.handler_dir
    output = handler_dir / OUTPUT_NAME
    try:
        generated = generate(handler_dir)
    except SchemaError as error:
        print(f"body_schemas: {error}", file=sys.stderr)
        return 2
    return publish_generated(
        output,
        generated.text,
        check=args.check,
        tool="body_schemas",
        regenerate="make generate",
        detail=f" ({', '.join(generated.schemas) or 'no schemas'})",
    )


if __name__ == "__main__":
    sys.exit(main())
