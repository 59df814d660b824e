"""Multi-region: one stack, key and policy per region, rehearsed in turn on the emulator."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from deployment.regions import RegionRun, execute, plan

ROOT = Path(__file__).resolve().parents[2]
ENVS = ("prod-us-east-1", "prod-eu-west-1")


def test_deploy_plan_comes_from_samconfig() -> None:
    runs = plan(ENVS, "deploy", ROOT / "samconfig.toml", Path("build"))
    assert [(r.env, r.region, r.stack_name) for r in runs] == [
        ("prod-us-east-1", "us-east-1", "secure-api-prod"),
        ("prod-eu-west-1", "eu-west-1", "secure-api-prod"),
    ]
    assert runs[1].commands[0][-3:] == ("render", "--config-env", "prod-eu-west-1")
    sam, *deploy = runs[1].commands[-1]
    assert Path(sam).name == "sam"
    assert deploy == ["deploy", "--config-env", "prod-eu-west-1"]


def test_a_missing_tool_fails_that_region_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "no-such-sam")
    run = RegionRun("e", "eu-west-1", "s", ((missing, "deploy"), ("never", "reached")))
    [(_, code, _)] = execute([run], dry_run=False)
    assert code == 127
    out = capsys.readouterr().out
    assert f"cannot run {missing}: No such file or directory" in out
    assert "never reached" not in out


def test_two_environments_in_one_region_are_refused() -> None:
    from sam_project.errors import UserError

    with pytest.raises(UserError, match="one per region"):
        plan(("default", "prod"), "deploy", ROOT / "samconfig.toml", Path("build"))


def test_malformed_region_in_samconfig_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "samconfig.toml"
    config.write_text(
        'version = 0.1\n[x.global.parameters]\nregion = "eu west 1"\nstack_name = "s"\n'
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "localapi",
            "regions",
            "--envs",
            "x",
            "--dry-run",
            "--config-file",
            str(config),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "localapi regions: error: invalid region 'eu west 1': expected a region name such as "
        "us-east-1, cn-north-1 or us-gov-west-1"
    ]
    assert result.stdout == ""


def test_bad_usage_is_one_line_exit_2() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "localapi", "regions", "--envs", "x", "--mode", "bogus"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "invalid choice: 'bogus'" in result.stderr


def test_rehearsal_in_each_region_renders_that_regions_policy(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "localapi",
            "regions",
            "--envs",
            *ENVS,
            "--mode",
            "rehearse",
            "--report-dir",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    for env, region in zip(ENVS, ("us-east-1", "eu-west-1"), strict=True):
        report = json.loads((tmp_path / f"rehearsal-{env}.json").read_text())
        assert report["region"] == region
        assert all(check["status"] == "PASS" for check in report["checks"]), env
        assert f"logs.{region}.amazonaws.com" in result.stdout
    assert result.stdout.count(" ok (") >= 2
