"""The one render -> build -> deploy sequence: the render runs in process and gives
exactly what ``policy_gen render`` gives; a refused input is one line; the steps
stop at the first failure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from deployment import sequence
from deployment.emulator import EMULATOR_ACCOUNT, EMULATOR_REGION
from deployment.sequence import Ran, Step, render_build_deploy, run_in_order

REPO = Path(__file__).resolve().parents[3]


def test_the_sequence_is_render_build_deploy() -> None:
    deploy = Step("deploy", ("sam", "deploy"))
    steps = render_build_deploy("prod", deploy, account=EMULATOR_ACCOUNT, region="eu-west-1")
    assert [step.title.split()[0] for step in steps] == ["render", "build", "deploy"]
    assert steps[0].call is not None  # in process
    # Shown (regions' "$ ..." lines, --dry-run) as the command that does the same.
    assert steps[0].command[1:] == (
        "-m", "policy_gen", "render", "--config-env", "prod", "--account", EMULATOR_ACCOUNT,
        "--region", "eu-west-1",
    )  # fmt: skip
    assert steps[1].command[1:] == ("-m", "localapi", "build", "--config-env", "prod")
    assert steps[2] is deploy
    assert len(render_build_deploy("prod", None)) == 2


def test_in_process_render_gives_what_the_cli_renders() -> None:
    rendered = sequence.render(
        "default", account=EMULATOR_ACCOUNT, region=EMULATOR_REGION, project_root=REPO
    )
    cli = subprocess.run(
        [
            *(sys.executable, "-m", "policy_gen", "render", "--config-env", "default"),
            *("--account", EMULATOR_ACCOUNT, "--region", EMULATOR_REGION, "--out", "-"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    assert rendered.policy == json.loads(cli.stdout)
    lines = sequence.describe(rendered)
    assert f"logs.{EMULATOR_REGION}.amazonaws.com" in lines[0]
    assert "0 error(s)" in lines[1]


def test_a_refused_render_is_one_line_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(REPO)
    step = sequence.render_step("no-such-env", account=EMULATOR_ACCOUNT, region=EMULATOR_REGION)
    assert step.run() == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip().splitlines() == [
        "policy_gen render: error: unknown config env 'no-such-env' in samconfig.toml: "
        "expected one of default, prod, prod-eu-west-1, prod-us-east-1"
    ]


def test_steps_stop_at_the_first_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[int] = []
    steps = [
        Step("ok", ("true",), call=lambda: 0),
        Step("missing", (str(tmp_path / "no-such-tool"), "x")),
        Step("never", ("true",), call=lambda: seen.append(3) or 0),
    ]
    finished: list[Ran] = []
    ran = run_in_order(
        steps, starting=lambda n, s: seen.append(n), finished=lambda n, r: finished.append(r)
    )
    assert [r.code for r in ran] == [0, 127]
    assert seen == [1, 2] and finished == ran
    assert "cannot run" in capsys.readouterr().out
    assert [r.code for r in run_in_order(steps, starting=lambda n, s: None, dry_run=True)] == [
        0,
        0,
        0,
    ]
