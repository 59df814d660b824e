"""The one --parameter-overrides parser: the values SAM CLI's own parser reads.

SAM CLI (installed in the dev environment) is the oracle: every accepted form is compared
with ``samcli.cli.types.CfnParameterOverridesType``, so a change on either side fails here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from samcli.cli.types import CfnParameterOverridesType

from sam_project.errors import UserError
from sam_project.overrides import parse_parameter_overrides, split_overrides


def sam_reads(items: Any) -> dict[str, str]:
    return {
        str(k): str(v) for k, v in CfnParameterOverridesType().convert(items, None, None).items()
    }


SAME_AS_SAM = [
    ["A=1"],
    ["A=1 B=2", "C=3"],
    ["B=x=y"],
    ['B="two words"'],
    ["C='3'"],
    ['D="a \\"quoted\\" word"'],
    ["E=with\\ space"],
    ["ParameterKey=C,ParameterValue=plain"],
    ['ParameterKey=C,ParameterValue="a b" ParameterKey=D,ParameterValue=d'],
    ["A=1", "A=2"],
]


@pytest.mark.parametrize("items", SAME_AS_SAM, ids=[repr(i) for i in SAME_AS_SAM])
def test_literal_forms_match_sam(items: list[str]) -> None:
    assert parse_parameter_overrides(items) == sam_reads(items)


def test_where_we_differ_from_sam_on_purpose() -> None:
    """SAM keeps ``{`` of a pasted JSON value (aws-sam-cli #1602) and refuses an empty item;
    the shell already split our arguments, so the value is taken whole and "" is nothing."""
    pasted = 'KeyPolicy={"Version":"2012-10-17","Statement":[]}'
    assert sam_reads([pasted]) == {"KeyPolicy": "{"}
    assert parse_parameter_overrides([pasted]) == {"KeyPolicy": pasted.split("=", 1)[1]}
    assert parse_parameter_overrides(["A=1 junk"]) == {"A": "1 junk"}
    assert parse_parameter_overrides(["", "  "]) == {}


def test_files_match_sam(tmp_path: Path) -> None:
    """YAML and TOML files, nested file:// relative to the including file, lists, nulls."""
    nested = tmp_path / "sub"
    nested.mkdir()
    (nested / "more.toml").write_text('Deep = "yes"\nNumber = 7\n')
    (tmp_path / "params.yaml").write_text(
        "Stage: from-file\nOther: 1\nEmpty:\nList: [a, ' b', '']\n$include: file://sub/more.toml\n"
    )
    (tmp_path / "list.yml").write_text("- X=1 Y=2\n- file://params.yaml\n")
    items = ["A=1", f"file://{tmp_path / 'list.yml'}"]
    assert parse_parameter_overrides(items) == sam_reads(items)
    assert parse_parameter_overrides(items)["Deep"] == "yes"


def test_split_keeps_files_unread() -> None:
    """samconfig names params/ENV.yaml before render has written it: not read, listed."""
    split = split_overrides(['A=1 B="two words"', "file://params/missing.yaml", "C='3'"])
    assert split.values == {"A": "1", "B": "two words", "C": "3"}
    assert split.files == ("params/missing.yaml",)


@pytest.mark.parametrize(
    ("items", "fragment"),
    [
        (["novalue"], "not a valid format"),
        (["=1"], "not a valid format"),
        ([42], "expected Name=Value"),
    ],
)
def test_bad_items_are_one_line_errors(items: list[Any], fragment: str) -> None:
    with pytest.raises(UserError, match=fragment) as caught:
        parse_parameter_overrides(items)
    assert "\n" not in str(caught.value)


def test_hostile_files_are_refused(tmp_path: Path) -> None:
    """Missing, a directory, a FIFO (a read would block forever), too big, wrong suffix,
    not YAML, a loop of includes: each a one-line error, nothing read without bound."""
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    folder = tmp_path / "folder.yaml"
    folder.mkdir()
    big = tmp_path / "big.yaml"
    big.write_bytes(b"A: " + b"x" * (2 << 20))
    loop = tmp_path / "loop.yaml"
    loop.write_text(f"- file://{loop}\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("A: [unclosed\n")
    json_file = tmp_path / "p.json"
    json_file.write_text("{}")
    cases = {
        tmp_path / "missing.yaml": "no such file",
        fifo: "not a regular file",
        folder: "not a regular file",
        big: "larger than",
        loop: "includes itself",
        bad: "not valid YAML",
        json_file: "unsupported extension",
    }
    for path, fragment in cases.items():
        with pytest.raises(UserError, match=fragment):
            parse_parameter_overrides([f"file://{path}"])
    with pytest.raises(UserError, match="/dev/zero"):
        parse_parameter_overrides(["file:///dev/zero"])


def test_a_missing_rendered_parameter_file_says_how_to_write_it(tmp_path: Path) -> None:
    """samconfig names params/ENV.yaml before the first render: the error says what writes it."""
    missing = tmp_path / "params" / "prod.yaml"
    with pytest.raises(
        UserError, match=r"run `python -m policy_gen render --config-env prod` first"
    ):
        parse_parameter_overrides([f"file://{missing}"])
    with pytest.raises(UserError) as other:
        parse_parameter_overrides([f"file://{tmp_path / 'elsewhere.yaml'}"])
    assert "policy_gen render" not in str(other.value)
