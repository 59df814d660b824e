"""scripts/body_schemas.py: the committed validators are current, and schema files outside
the supported subset are refused with the file and JSON pointer, never half-enforced.

Also: the function itself never imports fastjsonschema or pydantic (the generated code
carries what it needs), so neither adds to the cold start.
"""

from __future__ import annotations

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
