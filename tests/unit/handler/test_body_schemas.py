"""scripts/body_schemas.py: the committed validators are current, and schema files outside
the supported subset are refused with the file and JSON pointer, never half-enforced.

Also: the function itself never imports fastjsonschema or pydantic (the generated code
carries what it needs), so neither adds to the cold start.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import BASE_ENV, HANDLER_DIR, REPO_ROOT

GENERATOR = REPO_ROOT / "scripts" / "body_schemas.py"
GENERATED = HANDLER_DIR / "body_validators.py"
OUTPUT = "body_validators.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(GENERATOR), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
        check=False,
    )


def _handler_with(tmp_path: Path, name: str, schema: Any) -> Path:
    handler = tmp_path / "handler"
    (handler / "schemas").mkdir(parents=True)
    (handler / "schemas" / f"{name}.json").write_text(json.dumps(schema), encoding="utf-8")
    return handler


def test_committed_validators_are_what_the_generator_writes(tmp_path: Path) -> None:
    copy = tmp_path / "handler"
    shutil.copytree(HANDLER_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    result = _run("--handler-dir", str(copy))
    assert result.returncode == 0, result.stderr
    assert (copy / "body_validators.py").read_text(encoding="utf-8") == GENERATED.read_text(
        encoding="utf-8"
    ), "body_validators.py is stale: run `make generate` and commit the result"


def test_check_mode_fails_on_a_stale_module(tmp_path: Path) -> None:
    handler = _handler_with(
        tmp_path,
        "thing",
        {
            "title": "Thing",
            "type": "object",
            "properties": {"name": {"type": "string", "maxLength": 3}},
            "additionalProperties": False,
        },
    )
    (handler / "body_validators.py").write_text("# stale\n", encoding="utf-8")
    result = _run("--check", "--handler-dir", str(handler))
    assert result.returncode == 1
    assert "stale" in result.stderr
    assert (handler / "body_validators.py").read_text(encoding="utf-8") == "# stale\n"


def _object(**properties: Any) -> dict[str, Any]:
    return {
        "title": "Thing",
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }


@pytest.mark.parametrize(
    ("schema", "fragment"),
    [
        (_object(name={"type": "string"}), "/properties/name: a string needs 'maxLength'"),
        (_object(n={"type": "integer", "minimum": 0}), "one lower bound"),
        (_object(n={"type": "number", "minimum": 5, "maximum": 1}), "lower bound is above"),
        (_object(tags={"type": "array", "items": {"type": "string", "maxLength": 2}}), "maxItems"),
        (_object(when={"type": "string", "maxLength": 9, "format": "date"}), "format"),
        (_object(x={"type": ["string", "null"], "maxLength": 1}), "'type' must be one of"),
        (_object(x={"$ref": "#/definitions/y"}), "'type' must be one of"),
        (_object(x={"type": "string", "maxLength": 2, "default": "a"}), "default"),
        (_object(x={"type": "string", "maxLength": 2, "pattern": "("}), "not a valid regex"),
        (_object(d={"type": "object", "properties": {"a": {"type": "boolean"}}}), "closed"),
        ({**_object(a={"type": "boolean"}), "required": ["b"]}, "'required' must list"),
        ({**_object(a={"type": "boolean"}), "title": "lower"}, "needs a 'title'"),
        (
            {"title": "Thing", "type": "array", "items": {"type": "boolean"}, "maxItems": 1},
            "object",
        ),
        (_object(**{"has space": {"type": "boolean"}}), "property name"),
    ],
)
def test_schemas_outside_the_subset_are_refused(tmp_path: Path, schema: Any, fragment: str) -> None:
    handler = _handler_with(tmp_path, "thing", schema)
    result = _run("--handler-dir", str(handler))
    assert result.returncode == 2, result.stdout
    assert result.stderr.startswith("body_schemas: schemas/thing.json")
    assert fragment in result.stderr
    assert not (handler / "body_validators.py").exists()


def test_duplicate_keys_in_a_schema_file_are_refused(tmp_path: Path) -> None:
    handler = tmp_path / "handler"
    (handler / "schemas").mkdir(parents=True)
    (handler / "schemas" / "thing.json").write_text('{"type": "object", "type": "array"}')
    result = _run("--handler-dir", str(handler))
    assert result.returncode == 2
    assert "repeats a key" in result.stderr


def test_the_function_imports_neither_fastjsonschema_nor_pydantic() -> None:
    assert "fastjsonschema" not in GENERATED.read_text(encoding="utf-8").split('"""', 2)[2]
    env = {**os.environ, **BASE_ENV, "PYTHONPATH": str(HANDLER_DIR)}
    probe = (
        "import sys, app, json;"
        "print(json.dumps(sorted(m for m in ('fastjsonschema', 'pydantic') if m in sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=HANDLER_DIR,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.splitlines()[-1]) == []


# Probe: JSON Schema patterns are ECMA-262 (what API Gateway's model checks); Python's re is
# Unicode-aware, so the function took Arabic-Indic digits for \d, accented letters for \w,
# a carriage return for '.', a no-break space for \S: bodies the gateway refuses.
PATTERN_CASES: list[tuple[str, list[str]]] = [
    ("^\\d{2,4}$", ["12", "\u0663\u0664", "\uff11\uff12", "1"]),
    ("^\\w+$", ["ab_1", "\u00e9", "\uff41", "a-b"]),
    ("^\\s*x$", [" x", "\u00a0x", "\x1cx", "\u2028x", "\u0085x", "\tx"]),
    ("^\\S+$", ["ab", "\u00a0", "\x1c", "\u0085", "a b"]),
    ("^a.b$", ["a-b", "a\rb", "a\u2028b", "a\nb", "a\u0085b"]),
    ("^[\\s-]+$", ["- ", "\u00a0", "\x1c"]),
    ("\\bcat\\b", ["a cat", "\u00e9cat", "cats"]),
    ("^\\D+$", ["a", "\u0663", "1"]),
    ("^[A-Z0-9-]+$", ["A-1", "A\n"]),
]


def _ecma_test(cases: list[list[str]]) -> list[bool]:
    """Each [pattern, text] through JavaScript's RegExp (ECMA-262), the real dialect."""
    script = (
        "const c = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "console.log(JSON.stringify(c.map(([p, v]) => new RegExp(p, 'u').test(v))));"
    )
    result = subprocess.run(
        ["node", "-e", script],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [bool(x) for x in json.loads(result.stdout)]


def test_patterns_mean_in_the_function_what_they_mean_at_the_gateway(tmp_path: Path) -> None:
    properties = {
        f"p{i}": {"type": "string", "maxLength": 64, "pattern": pattern}
        for i, (pattern, _) in enumerate(PATTERN_CASES)
    }
    schema = {
        "title": "Patterns",
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    handler = _handler_with(tmp_path, "patterns", schema)
    result = _run("--handler-dir", str(handler))
    assert result.returncode == 0, result.stderr
    spec = importlib.util.spec_from_file_location("probe_validators", handler / OUTPUT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    body_check = module.VALIDATORS["patterns"][""]

    def function_accepts(name: str, text: str) -> bool:
        try:
            body_check({name: text})
        except module.JsonSchemaValueException:
            return False
        return True

    pairs = [(i, p, text) for i, (p, texts) in enumerate(PATTERN_CASES) for text in texts]
    ecma = _ecma_test([[p, text] for _, p, text in pairs])
    got = {(p, text): function_accepts(f"p{i}", text) for i, p, text in pairs}
    assert got == dict(zip([(p, text) for _, p, text in pairs], ecma, strict=True))


@pytest.mark.parametrize("pattern", ["^[\\S]+$", "^[]a]$", "^[^]$"])
def test_patterns_without_one_meaning_in_both_dialects_are_refused(
    tmp_path: Path, pattern: str
) -> None:
    schema = {
        "title": "Thing",
        "type": "object",
        "properties": {"a": {"type": "string", "maxLength": 3, "pattern": pattern}},
        "additionalProperties": False,
    }
    result = _run("--handler-dir", str(_handler_with(tmp_path, "thing", schema)))
    assert result.returncode == 2, result.stdout
    assert result.stderr.startswith("body_schemas: schemas/thing.json")
    assert "/properties/a" in result.stderr
