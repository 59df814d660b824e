"""The config reader: where check-template finds its settings, and every way to get them
wrong answered with one line naming the file, key or value and what was expected."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from policy_gen.project_config import (
    Override,
    Settings,
    find_config,
    load_settings,
    parse_config_text,
    parse_severity_options,
)
from sam_project.errors import UserError

KNOWN = ["LAMBDA_AUTO_LOGGROUP", "LOGGROUP_UNENCRYPTED", "LOGS_DENIED"]


def repo(tmp_path: Path) -> Path:
    """A repository root: the upward search stops at the directory holding .git."""
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    return root


def settings(
    start: Path, *options: str, config: str | None = None, no_config: bool = False
) -> Settings:
    return load_settings(
        severity_options=list(options), config=config, no_config=no_config, known=KNOWN,
        start=start,
    )  # fmt: skip


def test_the_policy_gen_file_is_found_from_a_subdirectory(tmp_path: Path) -> None:
    root = repo(tmp_path)
    (root / ".policy-gen.toml").write_text('[severity]\nLAMBDA_AUTO_LOGGROUP = "warning"\n')
    deep = root / "infra" / "stacks"
    deep.mkdir(parents=True)
    found = settings(deep)
    assert found.config_file == root / ".policy-gen.toml"
    assert found.overrides == {
        "LAMBDA_AUTO_LOGGROUP": Override("warning", str(root / ".policy-gen.toml"))
    }


def test_the_nearest_file_wins_and_policy_gen_toml_before_pyproject(tmp_path: Path) -> None:
    root = repo(tmp_path)
    (root / ".policy-gen.toml").write_text('[severity]\nLOGS_DENIED = "note"\n')
    sub = root / "sub"
    sub.mkdir()
    (sub / "pyproject.toml").write_text('[tool.policy-gen.severity]\nLOGS_DENIED = "off"\n')
    assert settings(sub).overrides["LOGS_DENIED"].level == "off"
    (sub / ".policy-gen.toml").write_text('[severity]\nLOGS_DENIED = "warning"\n')
    assert settings(sub).overrides["LOGS_DENIED"].level == "warning"


def test_a_pyproject_without_our_table_is_not_ours(tmp_path: Path) -> None:
    root = repo(tmp_path)
    (root / ".policy-gen.toml").write_text('[severity]\nLOGS_DENIED = "note"\n')
    sub = root / "pkg"
    sub.mkdir()
    (sub / "pyproject.toml").write_text("[tool.ruff]\nline-length = 100\n")
    assert find_config(sub) == root / ".policy-gen.toml"
    # Not even a broken pyproject of someone else's stops the search.
    (sub / "pyproject.toml").write_text("[tool.ruff\n")
    assert find_config(sub) == root / ".policy-gen.toml"


def test_the_search_stops_at_the_repository_root(tmp_path: Path) -> None:
    (tmp_path / ".policy-gen.toml").write_text('[severity]\nLOGS_DENIED = "off"\n')
    root = repo(tmp_path)  # tmp_path/repo, whose parent holds a config: not ours to read
    assert find_config(root) is None
    assert settings(root).overrides == {}


def test_command_line_wins_over_the_file_and_no_config_reads_none(tmp_path: Path) -> None:
    root = repo(tmp_path)
    (root / ".policy-gen.toml").write_text(
        '[severity]\nLOGS_DENIED = "note"\nLAMBDA_AUTO_LOGGROUP = "off"\n'
    )
    found = settings(root, "logs_denied=Error")
    assert found.overrides["LOGS_DENIED"] == Override("error", "--severity")
    assert found.overrides["LAMBDA_AUTO_LOGGROUP"].level == "off"
    assert settings(root, no_config=True).overrides == {}


def test_an_explicit_config_path_of_any_name(tmp_path: Path) -> None:
    root = repo(tmp_path)
    elsewhere = tmp_path / "ci-severities.toml"
    elsewhere.write_text('[severity]\nLOGGROUP_UNENCRYPTED = "warning"\n')
    found = settings(root, config=str(elsewhere))
    assert found.config_file == elsewhere
    assert found.overrides["LOGGROUP_UNENCRYPTED"].level == "warning"


@pytest.mark.parametrize(
    ("name", "text", "fragments"),
    [
        ("unknown code", '[severity]\nLAMBDA_AUTO_LOGGRUP = "off"\n',
         ["severity.LAMBDA_AUTO_LOGGRUP", "did you mean LAMBDA_AUTO_LOGGROUP", "expected one of"]),
        ("unknown level", '[severity]\nLOGS_DENIED = "info"\n',
         ["severity.LOGS_DENIED", "'info'", "error, warning, note, off"]),
        ("level not a string", "[severity]\nLOGS_DENIED = 1\n", ["LOGS_DENIED", "int"]),
        ("severity not a table", 'severity = "off"\n', ["severity is a str", "CODE = LEVEL"]),
        ("unknown top-level key", '[severities]\nLOGS_DENIED = "off"\n',
         ["unknown key 'severities'", "severity"]),
        ("bad TOML", "[severity\n", ["not valid TOML"]),
        ("a code twice", '[severity]\nLOGS_DENIED = "off"\nlogs_denied = "note"\n', ["set twice"]),
    ],
)  # fmt: skip
def test_config_mistakes_are_one_line_errors(
    tmp_path: Path, name: str, text: str, fragments: list[str]
) -> None:
    path = tmp_path / ".policy-gen.toml"
    path.write_text(text)
    with pytest.raises(UserError) as caught:
        parse_config_text(path.read_text(), path, KNOWN)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message, name
    for fragment in fragments:
        assert fragment in message, (name, message)


def test_pyproject_mistakes_name_the_tool_table(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    with pytest.raises(UserError, match=r"unknown key tool\.policy-gen\.'ignore'"):
        parse_config_text('[tool.policy-gen]\nignore = ["X"]\n', path, KNOWN)
    with pytest.raises(UserError, match=r"no \[tool\.policy-gen\] table"):
        parse_config_text("[tool.ruff]\n", path, KNOWN)


@pytest.mark.parametrize(
    ("item", "fragment"),
    [
        ("LOGS_DENIED", "expected CODE=LEVEL"),
        ("=warning", "expected CODE=LEVEL"),
        ("LOGS_DENIED=loud", "unknown severity 'loud'"),
        ("NOPE=off", "unknown finding code 'NOPE'"),
    ],
)
def test_severity_option_mistakes(item: str, fragment: str) -> None:
    with pytest.raises(UserError, match=fragment):
        parse_severity_options([item], KNOWN)


def test_the_last_severity_option_for_a_code_wins() -> None:
    found = parse_severity_options(["LOGS_DENIED=off", "LOGS_DENIED=note"], KNOWN)
    assert found == {"LOGS_DENIED": Override("note", "--severity")}


def test_hostile_config_files_are_refused_by_the_bounded_reader(tmp_path: Path) -> None:
    root = repo(tmp_path)
    huge = root / "huge.toml"
    with huge.open("wb") as stream:
        stream.truncate(64 << 30)  # sparse: reading it whole would exhaust memory
    with pytest.raises(UserError, match="larger than"):
        settings(root, config=str(huge))
    fifo = root / "fifo.toml"
    os.mkfifo(fifo)
    with pytest.raises(UserError, match="FIFO"):
        settings(root, config=str(fifo))
    with pytest.raises(UserError, match="not found"):
        settings(root, config=str(root / "absent.toml"))
    (root / "binary.toml").write_bytes(b"\xff\xfe\x00severity")
    with pytest.raises(UserError, match="not UTF-8"):
        settings(root, config=str(root / "binary.toml"))
    with pytest.raises(UserError, match="exclude each other"):
        settings(root, config=str(huge), no_config=True)


def test_a_config_name_that_is_no_regular_file_is_refused_not_skipped(tmp_path: Path) -> None:
    """A directory (or dangling link) named .policy-gen.toml would otherwise be passed
    over in silence, and a parent's or no config would apply instead."""
    root = repo(tmp_path)
    (root / ".policy-gen.toml").mkdir()
    with pytest.raises(UserError, match=r"\.policy-gen\.toml"):
        settings(root)
    (root / ".policy-gen.toml").rmdir()
    (root / ".policy-gen.toml").symlink_to(root / "missing.toml")
    with pytest.raises(UserError, match=r"\.policy-gen\.toml"):
        settings(root)
