"""``python -m deployment``: the same commands as ``python -m localapi demo|rehearse|regions``,
the same one-line usage errors, named after the command the user typed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def run(*args: str, module: str = "deployment") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
        check=False,
    )


def test_help_lists_the_commands() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in ("demo", "rehearse", "regions"):
        assert command in result.stdout


@pytest.mark.parametrize("args", [(), ("bogus",), ("serve",)])
def test_no_or_unknown_command_is_one_line_exit_2(args: tuple[str, ...]) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("python -m deployment: error:")


@pytest.mark.parametrize("module", ["deployment", "localapi"])
@pytest.mark.parametrize("command", ["demo", "rehearse", "regions"])
def test_usage_names_the_command_as_typed(module: str, command: str) -> None:
    result = run(command, "--help", module=module)
    assert result.returncode == 0
    assert result.stdout.startswith(f"usage: python -m {module} {command}")


@pytest.mark.parametrize("module", ["deployment", "localapi"])
def test_bad_flag_is_one_line_exit_2_before_any_work(module: str) -> None:
    result = run("rehearse", "--stack-nmae", "x", module=module)
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"python -m {module} rehearse: error: unrecognized arguments")


def test_regions_error_prefix_follows_the_command(tmp_path: Path) -> None:
    config = tmp_path / "samconfig.toml"
    config.write_text('version = 0.1\n[x.global.parameters]\nregion = "eu-west-1"\n')
    result = run("regions", "--envs", "x", "--dry-run", "--config-file", str(config))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "deployment regions: error: samconfig env 'x' needs region and stack_name"
    ]


def test_regions_deploy_without_credentials_fails_that_region_in_one_line(tmp_path: Path) -> None:
    """The in-process render needs the account (STS): no credentials is one line and the
    region stops there (no build, no deploy). Run in an empty directory, so even a
    machine with credentials could go no further than a failing build."""
    (tmp_path / "samconfig.toml").write_text(
        'version = 0.1\n[x.global.parameters]\nregion = "eu-west-1"\nstack_name = "s"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        {
            "AWS_CONFIG_FILE": str(tmp_path / "none"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "SAM_CLI_TELEMETRY": "0",
        }
    )
    result = subprocess.run(
        [sys.executable, "-m", "localapi", "regions", "--envs", "x", "--mode", "deploy"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("policy_gen render: error: no --account given and STS")
    assert "localapi build" not in result.stdout
    assert "FAILED (exit 2)" in result.stdout
    assert not (tmp_path / "params").exists()
