"""scripts/api_models.py: template.yaml's request models and body-route events come from the
handler's routes and schema files, in JSON Schema draft 4, and are never stale.

Probes kept as tests: a keyword without a draft 4 equivalent, a body route without a
schema, a template without the markers, a hand-edited model.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import HANDLER_DIR, REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "scripts"))
from api_models import (
    DRAFT_4,
    BodyRoute,
    ModelError,
    event_name,
    model_of,
    parent_paths,
    render_events,
    to_draft4,
)

GENERATOR = REPO_ROOT / "scripts" / "api_models.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(GENERATOR), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO_ROOT,
        check=False,
    )


def test_the_committed_template_is_current() -> None:
    result = _run("--check")
    assert result.returncode == 0, result.stderr


def test_draft_2020_keywords_become_draft_4() -> None:
    node = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "T",
        "type": "object",
        "$comment": "dropped",
        "properties": {
            "n": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 10},
            "s": {"type": "string", "maxLength": 3, "examples": ["abc"]},
            "i": {"type": "integer", "minimum": 1, "maximum": 9},
        },
        "required": [],
        "additionalProperties": False,
    }
    assert model_of("t", node) == {
        "$schema": DRAFT_4,
        "title": "T",
        "type": "object",
        "properties": {
            "n": {
                "type": "number",
                "minimum": 0,
                "exclusiveMinimum": True,
                "maximum": 10,
                "exclusiveMaximum": True,
            },
            "s": {"type": "string", "maxLength": 3},
            # 2020-12's integer admits 3.0 and 1e2, draft 4's does not.
            "i": {"type": "number", "minimum": 1, "maximum": 9, "multipleOf": 1},
        },
        "additionalProperties": False,
    }


@pytest.mark.parametrize("keyword", ["format", "$ref", "oneOf", "const", "default"])
def test_a_keyword_without_a_draft_4_equivalent_is_refused_with_its_place(keyword: str) -> None:
    node = {"type": "object", "properties": {"a": {"type": "string", keyword: "x"}}}
    with pytest.raises(
        ModelError, match=re.escape(f"schemas/t.json at /properties/a: {keyword!r}")
    ):
        to_draft4(node, "", "schemas/t.json")


def test_event_names_and_the_resources_a_path_creates() -> None:
    assert event_name("POST", "/echo") == "PostEcho"
    assert event_name("ANY", "/items/{item_id}/parts") == "AnyItemsItemIdParts"
    assert parent_paths("/items/{item_id}/parts") == [
        "/items",
        "/items/{item_id}",
        "/items/{item_id}/parts",
    ]


def _copy(tmp_path: Path) -> tuple[Path, Path]:
    handler = tmp_path / "handler"
    shutil.copytree(HANDLER_DIR, handler, ignore=shutil.ignore_patterns("__pycache__"))
    template = tmp_path / "template.yaml"
    shutil.copyfile(REPO_ROOT / "template.yaml", template)
    return handler, template


def test_a_hand_edited_model_is_stale_and_regenerated(tmp_path: Path) -> None:
    handler, template = _copy(tmp_path)
    text = template.read_text(encoding="utf-8")
    template.write_text(text.replace('"maxLength": 1024', '"maxLength": 4096'), encoding="utf-8")
    stale = _run("--check", "--handler-dir", str(handler), "--template", str(template))
    assert stale.returncode == 1 and "stale" in stale.stderr
    assert _run("--handler-dir", str(handler), "--template", str(template)).returncode == 0
    assert template.read_text(encoding="utf-8") == text


def test_a_body_route_without_a_schema_is_refused(tmp_path: Path) -> None:
    handler, template = _copy(tmp_path)
    (handler / "routes" / "raw.py").write_text(
        "from aws_lambda_powertools.event_handler.router import APIGatewayRouter\n"
        "router = APIGatewayRouter()\n\n"
        "@router.post('/raw')\n"
        "def raw() -> dict[str, str]:\n"
        "    return {}\n",
        encoding="utf-8",
    )
    result = _run("--handler-dir", str(handler), "--template", str(template))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "api_models: route POST /raw takes a body but names no schema: the gateway could not "
        'validate it; give it JsonBody(schema="NAME")'
    ]


def test_a_template_without_the_markers_is_refused(tmp_path: Path) -> None:
    handler, template = _copy(tmp_path)
    text = template.read_text(encoding="utf-8")
    template.write_text(text.replace("      # <<< models\n", ""), encoding="utf-8")
    result = _run("--handler-dir", str(handler), "--template", str(template))
    assert result.returncode == 2 and "marker lines" in result.stderr
    assert "Traceback" not in result.stderr


def test_two_routes_that_would_share_an_event_name_are_refused() -> None:
    routes = [BodyRoute("POST", "/a-b", "s"), BodyRoute("POST", "/a_b", "s")]
    with pytest.raises(ModelError, match=r"PostAB \(POST /a_b\)"):
        render_events(routes, {"s": "S"})
    # One ANY per resource, parents first created once.
    text = render_events(
        [BodyRoute("POST", "/items/{id}", "s"), BodyRoute("PUT", "/items/{id}", "s")], {"s": "S"}
    )
    assert text.count("Method: ANY") == 2 and text.count("Model: S") == 2
