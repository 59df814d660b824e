"""The one YAML loader and the one JSON parser: aliases bounded, repeated keys kept
for the checkers, CloudFormation's short tags only where a template is read."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from sam_project.documents import (
    MAX_ALIAS_EXPANSION,
    DuplicateKeyDict,
    duplicate_keys,
    load_yaml,
    parse_json,
    rebuilt,
    walk,
)
from sam_project.errors import UserError
from tests.unit.bounded_child import python_command

ROOT = Path(__file__).resolve().parents[3]


def laughs(levels: int, width: int = 9) -> str:
    """The classic alias bomb: each level lists the previous one ``width`` times."""
    lines = ["l0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, levels + 1):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_refused_naming_the_document() -> None:
    with pytest.raises(UserError, match=r"^bomb\.yaml is refused: .*alias bomb") as caught:
        load_yaml(laughs(9), "bomb.yaml", short_tags=True)
    assert "\n" not in str(caught.value)


def test_the_bound_is_exact() -> None:
    """A block of 99 nodes (a list of 98 scalars) referenced n times adds 99 * (n - 1)
    nodes: 102 references stay within 10,000, 103 do not."""
    assert MAX_ALIAS_EXPANSION == 10_000
    block = "base: &b [" + ", ".join(["x"] * 98) + "]\n"

    def uses(count: int) -> str:
        return block + "uses: [" + ", ".join(["*b"] * (count - 1)) + "]\n"

    loaded = load_yaml(uses(102), "ok.yaml")
    assert isinstance(loaded, dict) and len(loaded["uses"]) == 101
    with pytest.raises(UserError, match="10098 more nodes"):
        load_yaml(uses(103), "over.yaml")


def test_an_alias_inside_itself_is_refused() -> None:
    for text in ("a: &a [1, *a]", "a: &a {b: *a}"):
        with pytest.raises(UserError, match="contains it"):
            load_yaml(text, "loop.yaml")


def test_merge_key_bombs_are_refused_in_a_child_with_bounded_memory() -> None:
    """``<<`` merges copy key/value pairs while constructing, so this bomb costs memory in
    PyYAML itself: it runs in a child process limited to 512 MiB of address space, where
    a regression fails instead of taking the machine down."""
    lines = ["m0: &m0 {" + ", ".join(f"k{i}: v" for i in range(9)) + "}"]
    for level in range(1, 10):
        lines.append(f"m{level}: &m{level} {{<<: [" + ", ".join([f"*m{level - 1}"] * 9) + "]}")
    code = (
        "import sys\n"
        "from sam_project.documents import load_yaml\n"
        "from sam_project.errors import UserError\n"
        "try:\n"
        "    load_yaml(sys.stdin.read(), 'merge.yaml')\n"
        "except UserError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run(
        python_command(code, 512 << 20),
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "alias bomb" in result.stdout


def test_repeated_keys_are_remembered_not_refused() -> None:
    data = load_yaml("A: 1\nA: 2\nB: {C: 1, C: 2, D: 3}\nE: {x: 1}\n", "doc.yaml")
    assert isinstance(data, DuplicateKeyDict)
    assert data == {"A": 2, "B": {"C": 2, "D": 3}, "E": {"x": 1}}
    assert duplicate_keys(data) == ("A",)
    assert duplicate_keys(data["B"]) == ("C",)
    assert type(data["E"]) is dict  # mappings without repeats stay plain
    parsed = parse_json('{"Statement": [], "Statement": [{"a": 1, "a": 2}]}', "p.json")
    assert duplicate_keys(parsed) == ("Statement",)
    assert isinstance(parsed, dict)
    assert duplicate_keys(parsed["Statement"][0]) == ("a",)


def test_a_merge_override_is_not_a_repeat() -> None:
    data = load_yaml("base: &b {x: 1, y: 2}\nover: {<<: *b, x: 3}\n", "doc.yaml")
    assert isinstance(data, dict)
    assert data["over"] == {"x": 3, "y": 2}
    assert duplicate_keys(data["over"]) == ()


def test_rebuilt_mappings_keep_their_repeats() -> None:
    original = parse_json('{"a": 1, "a": 2}', "p.json")
    assert duplicate_keys(rebuilt(original, {"a": "resolved"})) == ("a",)
    assert type(rebuilt({"a": 1}, {"a": 2})) is dict


def test_short_tags_only_in_templates() -> None:
    assert load_yaml("k: !GetAtt Key.Arn", "t.yaml", short_tags=True) == {
        "k": {"Fn::GetAtt": ["Key", "Arn"]}
    }
    with pytest.raises(UserError, match=r"params\.yaml is not valid YAML: .*!GetAtt"):
        load_yaml("k: !GetAtt Key.Arn", "params.yaml")


@pytest.mark.parametrize("short_tags", [True, False])
def test_unquoted_dates_stay_the_text_written(short_tags: bool) -> None:
    """CloudFormation has no timestamp type: ``Version: 2012-10-17`` is the string."""
    text = "Version: 2012-10-17\nAt: 2010-09-09T00:00:00Z\nQuoted: '2012-10-17'\n"
    assert load_yaml(text, "t.yaml", short_tags=short_tags) == {
        "Version": "2012-10-17",
        "At": "2010-09-09T00:00:00Z",
        "Quoted": "2012-10-17",
    }


def test_json_errors_are_one_line() -> None:
    with pytest.raises(UserError, match="p.json is not valid JSON: .* at line 1 column"):
        parse_json('{"a": ', "p.json")
    with pytest.raises(UserError, match="nested too deeply"):
        parse_json("[" * 100_000 + "]" * 100_000, "p.json")


def test_walk_visits_every_value_once_with_its_path() -> None:
    shared = {"k": 1}
    paths = [path for path, _ in walk({"a": [shared, shared], "b": 2})]
    assert paths == ["", "a", "a[0]", "a[0].k", "a[1]", "b"]
