"""Hostile files never take policy_gen down (issue 17, items 6, 7 and 10).

Every probe is a real command line in a child process with bounded memory
(``bad_input.refused``): exit 2, one line, no traceback, nothing written. Each names
what it guards, and fails if that guard is removed: without the regular-file check a
device or FIFO gives a different message (or hangs until the timeout), without the
read bound a sparse file exhausts the child's memory, without the alias bound an
alias bomb does, and without the one-line write error a read-only target prints a
traceback.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.unit.policy_gen.bad_input import ROOT, refused

ACCOUNT = "111122223333"
TEMPLATE = str(ROOT / "template.yaml")
RENDER = [
    "render",
    "--template",
    TEMPLATE,
    "--config-file",
    str(ROOT / "samconfig.toml"),
    "--account",
    ACCOUNT,
    "--region",
    "us-east-1",
]
VALIDATE = ["validate", "--region", "us-east-1", "--account", ACCOUNT, "--log-group", "/a"]
ZERO = "/dev/zero"


def laughs(anchor: str = "bomb", levels: int = 9) -> str:
    """YAML lines defining ``&anchor``, a list that expands to 9**levels strings."""
    lines = ["x0: &x0 [" + ", ".join(["lol"] * 9) + "]"]
    for level in range(1, levels):
        lines.append(f"x{level}: &x{level} [" + ", ".join([f"*x{level - 1}"] * 9) + "]")
    lines.append(f"x{levels}: &{anchor} [" + ", ".join([f"*x{levels - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def bomb_template(where: str) -> str:
    """A template (with its own Parameters) whose ``where`` is the alias bomb."""
    group_name = "*bomb" if where == "LogGroupName" else "/stack/fn"
    policy = "*bomb" if where == "KeyPolicy" else "{}"
    return (
        "Metadata:\n" + "".join(f"  {line}\n" for line in laughs().splitlines()) + "Resources:\n"
        "  Key:\n"
        "    Type: AWS::KMS::Key\n"
        f"    Properties: {{KeyPolicy: {policy}}}\n"
        "  Group:\n"
        "    Type: AWS::Logs::LogGroup\n"
        f"    Properties: {{LogGroupName: {group_name}, KmsKeyId: !GetAtt Key.Arn}}\n"
    )


def link(target: str) -> Callable[[Path], None]:
    return lambda path: path.symlink_to(target)


def fifo(path: Path) -> None:
    os.mkfifo(path)


def directory(path: Path) -> None:
    path.mkdir()


def sparse(path: Path) -> None:
    """64 GiB that cost nothing on disk; read whole, it would exhaust memory."""
    with path.open("wb") as stream:
        stream.truncate(64 << 30)


def text(content: str) -> Callable[[Path], None]:
    return lambda path: path.write_text(content)


# (probe, file to create in the working directory and how, command line, fragment)
FILE_PROBES: list[tuple[str, str, Callable[[Path], None] | None, list[str], str]] = [
    # item 6: templates
    ("template is /dev/zero", "", None, ["check-template", ZERO], "character device"),
    ("template links to /dev/zero", "t.yaml", link(ZERO), ["check-template", "t.yaml"], "character device"),
    ("template is a FIFO", "t.yaml", fifo, ["check-template", "t.yaml"], "FIFO"),
    ("template is a directory", "t.yaml", directory, ["check-template", "t.yaml"], "directory"),
    ("template is 64 GiB", "t.yaml", sparse, ["check-template", "t.yaml"], "larger than 1048576"),
    ("render template is a FIFO", "t.yaml", fifo, [*RENDER[:1], "--template", "t.yaml", *RENDER[3:]], "FIFO"),
    # item 6: policies
    ("policy is /dev/zero", "", None, [*VALIDATE, "--policy", ZERO], "character device"),
    ("policy links to /dev/zero", "p.json", link(ZERO), [*VALIDATE, "--policy", "p.json"], "character device"),
    ("policy is a FIFO", "p.json", fifo, ["simulate", "--policy", "p.json", "--principal", "*", "--action", "kms:Decrypt"], "FIFO"),
    ("explain policy is a FIFO", "p.json", fifo, ["explain", *VALIDATE[1:], "--policy", "p.json"], "FIFO"),
    ("policy is 64 GiB", "p.json", sparse, [*VALIDATE, "--policy", "p.json"], "larger than 1048576"),
    # item 6: parameter files
    ("parameters link to /dev/zero", "p.yaml", link(ZERO), ["check-template", TEMPLATE, "--parameter-overrides", "file://p.yaml"], "character device"),
    ("parameters are a FIFO", "p.yaml", fifo, ["check-template", TEMPLATE, "--parameter-overrides", "file://p.yaml"], "FIFO"),
    ("parameters are 64 GiB", "p.yaml", sparse, ["check-template", TEMPLATE, "--parameter-overrides", "file://p.yaml"], "larger than"),
    ("parameters are /dev/zero", "", None, ["check-template", TEMPLATE, "--parameter-overrides", f"file://{ZERO}"], "unsupported extension"),
    ("render parameters are a FIFO", "p.yaml", fifo, [*RENDER, "--parameter-overrides", "file://p.yaml", "--out", "out.yaml"], "FIFO"),
    # item 6: samconfig
    ("samconfig is a FIFO", "s.toml", fifo, [*RENDER[:3], "--config-file", "s.toml", *RENDER[5:]], "FIFO"),
    ("samconfig links to /dev/zero", "s.toml", link(ZERO), [*RENDER[:3], "--config-file", "s.toml", *RENDER[5:]], "character device"),
    # item 7: alias bombs
    ("alias bomb in a template", "t.yaml", text(bomb_template("Metadata")), ["check-template", "t.yaml"], "alias bomb"),
    ("alias bomb as LogGroupName", "t.yaml", text(bomb_template("LogGroupName")), ["check-template", "t.yaml"], "alias bomb"),
    ("alias bomb as inline KeyPolicy", "t.yaml", text(bomb_template("KeyPolicy")), ["check-template", "t.yaml"], "alias bomb"),
    ("alias bomb in a parameter file", "p.yaml", text(laughs() + "KeyPolicy: *bomb\n"), ["check-template", TEMPLATE, "--parameter-overrides", "file://p.yaml"], "alias bomb"),
    ("alias bomb in render's parameter file", "p.yaml", text(laughs() + "KeyPolicy: *bomb\n"), [*RENDER, "--parameter-overrides", "file://p.yaml", "--out", "out.yaml"], "alias bomb"),
    ("alias inside itself", "t.yaml", text("Resources: &r\n  Loop: *r\n"), ["check-template", "t.yaml"], "contains it"),
    # item 10: writing where nothing can be written
    ("render into /proc", "", None, [*RENDER, "--out", "/proc/policy_gen-probe.yaml"], "cannot create a file in '/proc'"),
    ("render under a file", "f", text("a file\n"), [*RENDER, "--out", "f/out.yaml"], "not a directory"),
    ("render onto a directory", "out.json", directory, [*RENDER, "--out", "out.json"], "Is a directory"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "file_name", "make", "args", "fragment"), FILE_PROBES, ids=[p[0] for p in FILE_PROBES]
)
def test_hostile_file(
    tmp_path: Path,
    name: str,
    file_name: str,
    make: Callable[[Path], None] | None,
    args: list[str],
    fragment: str,
) -> None:
    if make is not None:
        make(tmp_path / file_name)
    result = refused(tmp_path, args)
    assert fragment in result.line, (name, result.line)
    print(f"{name}: {result.seconds:.2f} s: {result.line}")  # the measured time, for the record


def test_policy_on_stdin_from_dev_zero_is_cut_at_the_limit(tmp_path: Path) -> None:
    with open(ZERO, "rb") as endless:
        result = refused(tmp_path, [*VALIDATE, "--policy", "-"], stdin=endless)
    assert "policy from stdin is larger than 1048576 bytes" in result.line
