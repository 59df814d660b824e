"""The rehearsal's bookkeeping, without an emulator: verdicts, report, fallbacks.

What matters most here is honesty: NOT RUN is never a pass, a check says where
it ran exactly when it ran, a property is read from the transformed template
only for a *known* emulator gap (never against real AWS), and the report file
is replaced atomically.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from deployment import checks, rehearsal, rehearsal_cli
from deployment.adapt import adapt_for_emulator
from deployment.checks import CHECKS, Check, not_run, run_check
from deployment.console import Console
from deployment.emulator import EMULATOR_GAPS, emulator_env, moto_error
from deployment.moto_server import MotoServer, is_ready, pid_alive
from deployment.output import format_table, summary_line
from deployment.results import (
    AWS,
    EMULATOR,
    FAIL,
    NOT_RUN,
    PASS,
    TEMPLATE,
    CheckFailed,
    CheckNotRun,
    CheckResult,
    Outcome,
    Report,
    write_report,
)
from deployment.target import Target
from deployment.template_values import (
    PlannedStack,
    TemplateValues,
    effective_parameters,
    template_references,
)

KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"


def result(status: str, where: str | None = "emulator", check_id: str = "c") -> CheckResult:
    return CheckResult(check_id, "title", status, where, "detail")  # type: ignore[arg-type]


# --- verdicts ------------------------------------------------------------------------------


def test_all_passed_is_ok() -> None:
    report = Report("emulator", "s", checks=[result(PASS), result(PASS, TEMPLATE)])
    assert report.ok
    assert report.exit_code == 0


def test_not_run_is_never_counted_as_a_pass() -> None:
    report = Report("emulator", "s", checks=[result(PASS), result(NOT_RUN, None)])
    assert report.counts() == {PASS: 1, FAIL: 0, NOT_RUN: 1}
    assert report.as_json()["summary"]["passed"] == 1
    assert report.as_json()["summary"]["not_run"] == 1
    # Exit 0 requires only that every check that RAN passed; the NOT RUN stays visible.
    assert report.ok


def test_nothing_ran_is_not_ok() -> None:
    report = Report("emulator", "s", checks=[result(NOT_RUN, None), result(NOT_RUN, None)])
    assert not report.ok
    assert report.exit_code == 1


def test_no_checks_is_not_ok() -> None:
    assert not Report("emulator", "s").ok


def test_a_failure_fails_the_rehearsal() -> None:
    report = Report("emulator", "s", checks=[result(PASS), result(FAIL)])
    assert not report.ok
    assert report.exit_code == 1


def test_a_failed_step_fails_the_rehearsal_even_if_checks_passed() -> None:
    report = Report("emulator", "s", checks=[result(PASS)], failed_step="deploy (sam deploy)")
    assert not report.ok
    assert report.as_json()["failed_step"] == "deploy (sam deploy)"


def test_where_is_given_exactly_when_the_check_ran() -> None:
    with pytest.raises(ValueError, match="where"):
        result(NOT_RUN, EMULATOR)
    with pytest.raises(ValueError, match="where"):
        result(PASS, None)
    with pytest.raises(ValueError, match="where"):
        result(FAIL, None)


def test_where_counts_skip_checks_that_did_not_run() -> None:
    report = Report(
        "emulator",
        "s",
        checks=[result(PASS), result(PASS, TEMPLATE), result(NOT_RUN, None), result(FAIL)],
    )
    assert report.where_counts() == {EMULATOR: 2, TEMPLATE: 1}


def test_not_run_lists_every_check_with_the_reason() -> None:
    results = not_run("step 'deploy' failed")
    assert [r.check_id for r in results] == [c.check_id for c in CHECKS]
    assert all(r.status == NOT_RUN and r.where is None for r in results)
    assert all(r.detail == "step 'deploy' failed" for r in results)


# --- run_check -------------------------------------------------------------------------------


def fake_session() -> boto3.session.Session:
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )


def run(function: Any, *, emulated: bool = True) -> CheckResult:
    target = Target(fake_session(), "stack", emulated=emulated, transformed={})
    return run_check(Check("x", "x", function), target)


def test_run_check_not_run() -> None:
    def check(target: Target) -> Outcome:
        raise CheckNotRun("no transformed template")

    outcome = run(check)
    assert (outcome.status, outcome.where, outcome.detail) == (
        NOT_RUN,
        None,
        "no transformed template",
    )


def test_run_check_failed_is_a_fail_on_the_live_target() -> None:
    def check(target: Target) -> Outcome:
        raise CheckFailed("no physical resource for LogsKey")

    assert (run(check).status, run(check).where) == (FAIL, EMULATOR)
    assert (run(check, emulated=False).status, run(check, emulated=False).where) == (FAIL, AWS)


def test_run_check_bug_is_a_visible_fail_not_a_pass() -> None:
    def check(target: Target) -> Outcome:
        raise KeyError("Arn")

    outcome = run(check)
    assert outcome.status == FAIL
    assert "KeyError" in outcome.detail


def test_run_check_keeps_where_and_gap_of_the_outcome() -> None:
    def check(target: Target) -> Outcome:
        return Outcome(True, TEMPLATE, "declared", gap="logs-kms-key")

    outcome = run(check)
    assert (outcome.status, outcome.where, outcome.gap) == (PASS, TEMPLATE, "logs-kms-key")
    assert outcome.as_json()["gap_description"] == EMULATOR_GAPS["logs-kms-key"]


# --- template fallback only for known gaps, never against AWS ------------------------------


TRANSFORMED: dict[str, Any] = {
    "Parameters": {"LogLevel": {"Type": "String"}},
    "Resources": {
        "LogsKey": {"Type": "AWS::KMS::Key", "Properties": {}},
        "FunctionLogGroup": {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {
                "LogGroupName": {"Fn::Sub": "/${AWS::StackName}/function"},
                "KmsKeyId": {"Fn::GetAtt": ["LogsKey", "Arn"]},
            },
        },
    },
    "Conditions": {
        "IsDebug": {"Fn::Equals": [{"Ref": "LogLevel"}, "DEBUG"]},
        "NotDebug": {"Fn::Not": [{"Condition": "IsDebug"}]},
    },
}


class FakeTarget(Target):
    """A Target whose AWS reads come from dicts (what an emulator or AWS returned)."""

    def __init__(self, group: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(fake_session(), "stack", **kwargs)
        self.group = group

    def account(self) -> str:
        return "123456789012"

    def key_arn(self) -> str:
        return KEY_ARN

    def log_group(self, logical_id: str) -> dict[str, Any]:
        return self.group

    def parameters(self) -> dict[str, str]:
        return {"LogLevel": "DEBUG"}

    def physical_id(self, logical_id: str) -> str:
        return {"FunctionLogGroup": "/stack/function", "LogsKey": "key-id"}[logical_id]


def key_check(target: Target) -> CheckResult:
    return run_check(
        Check(
            "logs.function.kms_key",
            "t",
            lambda t: checks._check_log_group_key(t, "FunctionLogGroup"),
        ),
        target,
    )


def test_against_aws_a_missing_kms_key_id_is_a_fail_not_a_template_check() -> None:
    target = FakeTarget({"logGroupName": "/stack/function"}, transformed=TRANSFORMED)
    outcome = key_check(target)
    assert (outcome.status, outcome.where) == (FAIL, AWS)


def test_against_aws_the_live_kms_key_id_is_compared() -> None:
    target = FakeTarget({"logGroupName": "/stack/function", "kmsKeyId": KEY_ARN})
    outcome = key_check(target)
    assert (outcome.status, outcome.where) == (PASS, AWS)


def test_on_the_emulator_a_known_gap_is_checked_on_the_transformed_template() -> None:
    target = FakeTarget({"logGroupName": "/stack/function"}, emulated=True, transformed=TRANSFORMED)
    outcome = key_check(target)
    assert (outcome.status, outcome.where, outcome.gap) == (PASS, TEMPLATE, "logs-kms-key")
    assert KEY_ARN in outcome.detail


def test_on_the_emulator_a_template_pointing_elsewhere_fails() -> None:
    broken = json.loads(json.dumps(TRANSFORMED))
    broken["Resources"]["FunctionLogGroup"]["Properties"]["KmsKeyId"] = {"Ref": "LogsKey"}
    target = FakeTarget({"logGroupName": "/stack/function"}, emulated=True, transformed=broken)
    outcome = key_check(target)
    assert (outcome.status, outcome.where) == (FAIL, TEMPLATE)


def test_on_the_emulator_without_a_transformed_template_the_check_is_not_run() -> None:
    target = FakeTarget({"logGroupName": "/stack/function"}, emulated=True)
    outcome = key_check(target)
    assert (outcome.status, outcome.where) == (NOT_RUN, None)
    assert "no transformed template" in outcome.detail


def test_template_values_resolve_sub_getatt_and_conditions() -> None:
    target = FakeTarget({}, emulated=True, transformed=TRANSFORMED)
    values = TemplateValues(target)
    assert values.resolve({"Fn::Sub": "/${AWS::StackName}/function"}) == "/stack/function"
    assert values.resolve({"Fn::GetAtt": "LogsKey.Arn"}) == KEY_ARN
    assert (
        values.resolve({"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}"})
        == "arn:aws:logs:us-east-1:123456789012"
    )
    local = {"Fn::Sub": ["${AWS::Partition}:${V}", {"V": {"Ref": "LogLevel"}}]}
    assert values.resolve(local) == "aws:DEBUG"
    assert values.resolve({"Fn::Sub": "${!Literal}"}) == "${Literal}"
    assert values.condition("IsDebug") is True
    assert values.condition("NotDebug") is False
    with pytest.raises(CheckFailed):
        values.resolve({"Fn::ImportValue": "x"})


def test_template_references() -> None:
    value = {
        "Fn::Sub": [
            "https://${Api}.execute-api.${AWS::Region}.${Local}/${Fn.Arn}",
            {"Local": {"Ref": "Param"}},
        ]
    }
    assert template_references(value) == {"Api", "AWS::Region", "Fn", "Param"}
    assert template_references({"Fn::GetAtt": ["Key", "Arn"]}) == {"Key"}


# --- adapting the template for moto ---------------------------------------------------------


def test_adapt_rewrites_kms_tags_and_drops_the_body_deployment_only() -> None:
    transformed = {
        "Resources": {
            "Key": {
                "Type": "AWS::KMS::Key",
                "Properties": {"Tags": [{"Key": "Environment", "Value": "dev"}]},
            },
            "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Body": {"paths": {}}}},
            "Other": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "x"}},
            "ApiDeployment1": {
                "Type": "AWS::ApiGateway::Deployment",
                "Properties": {"RestApiId": {"Ref": "Api"}},
            },
            "OtherDeployment": {
                "Type": "AWS::ApiGateway::Deployment",
                "Properties": {"RestApiId": {"Ref": "Other"}},
            },
            "Stage": {
                "Type": "AWS::ApiGateway::Stage",
                "DependsOn": ["ApiDeployment1", "Api"],
                "Properties": {},
            },
        }
    }
    original = json.dumps(transformed, sort_keys=True)
    adapted, changes = adapt_for_emulator(transformed)
    assert json.dumps(transformed, sort_keys=True) == original  # the checks read this one
    resources = adapted["Resources"]
    assert resources["Key"]["Properties"]["Tags"] == [{"TagKey": "Environment", "TagValue": "dev"}]
    assert "ApiDeployment1" not in resources
    assert "OtherDeployment" in resources
    assert resources["Stage"]["DependsOn"] == ["Api"]
    assert len(changes) == 2


# --- report file and output -----------------------------------------------------------------


def test_write_report_is_atomic_and_leaves_no_temp_files(tmp_path: Path) -> None:
    path = tmp_path / "out" / "report.json"
    report = Report("emulator", "s", checks=[result(PASS), result(NOT_RUN, None)])
    write_report(path, report)
    data = json.loads(path.read_text())
    assert data["ok"] is True
    assert data["checks"][1] == {
        "id": "c",
        "title": "title",
        "status": "NOT RUN",
        "where": None,
        "detail": "detail",
        "seconds": 0.0,
        "emulator_gap": None,
        "gap_description": None,
    }
    assert sorted(p.name for p in path.parent.iterdir()) == ["report.json"]


def test_write_report_failure_keeps_the_previous_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "report.json"
    path.write_text('{"previous": true}\n')

    def broken_replace(source: str, destination: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_report(path, Report("emulator", "s", checks=[result(FAIL)]))
    assert json.loads(path.read_text()) == {"previous": True}
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_table_shows_where_and_reasons() -> None:
    checks = [
        result(PASS, EMULATOR, "kms.rotation"),
        CheckResult("logs.kms", "t", PASS, TEMPLATE, "declared", gap="logs-kms-key"),
        CheckResult("stack.outputs", "t", NOT_RUN, None, "step 'deploy' failed"),
    ]
    lines = format_table(checks)
    assert lines[0].split() == ["CHECK", "STATUS", "WHERE", "DETAIL"]
    text = "\n".join(lines)
    assert "NOT RUN stack.outputs: step 'deploy' failed" in text
    assert EMULATOR_GAPS["logs-kms-key"] in text
    report = Report("emulator", "s", checks=checks)
    assert summary_line(report).startswith("RESULT: PASS: 2 passed, 0 failed, 1 not run")


def test_bad_usage_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        rehearsal_cli.main(["--no-such-option"], stream=io.StringIO())
    assert exit_info.value.code == 2
    assert "see --help" in capsys.readouterr().err


def test_malformed_region_exits_2_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_info:
        rehearsal_cli.main(["--region", "bad region", "--project-root", str(tmp_path)], stream=out)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "invalid region 'bad region'" in err
    assert len(err.strip().splitlines()) == 1
    assert out.getvalue() == ""  # no emulator, no step started


def test_failed_step_gives_not_run_checks_and_exit_1(tmp_path: Path) -> None:
    report_path = tmp_path / "report.json"
    out = io.StringIO()
    code = rehearsal_cli.main(
        ["--template", str(tmp_path / "missing.yaml"), "--report", str(report_path)], stream=out
    )
    assert code == 1
    data = json.loads(report_path.read_text())
    shutil.rmtree(data["work_dir"])  # kept for debugging on failure; not needed here
    assert data["failed_step"] == "build"
    assert data["summary"] == {
        "passed": 0,
        "failed": 0,
        "not_run": len(CHECKS),
        "ran_on": {},
    }
    assert all(c["status"] == "NOT RUN" and c["where"] is None for c in data["checks"])
    assert "pid" not in (data["emulator"] or {})  # it stopped before starting the emulator
    assert "==> build ... FAILED" in out.getvalue()


def test_emulator_env_cannot_reach_real_aws(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "https://s3.amazonaws.com")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "real-token")
    env = emulator_env("http://localhost:1234", tmp_path)
    assert env["AWS_ENDPOINT_URL"] == "http://localhost:1234"
    assert not {"AWS_PROFILE", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN"} & set(env)
    assert env["AWS_CONFIG_FILE"] == env["AWS_SHARED_CREDENTIALS_FILE"]
    assert not Path(env["AWS_CONFIG_FILE"]).exists()
    assert "localhost" in env["NO_PROXY"].split(",")


# --- the emulator process -------------------------------------------------------------------


def test_moto_server_starts_on_localhost_and_stops_by_pid(tmp_path: Path) -> None:
    with MotoServer(tmp_path / "moto.log") as server:
        assert server.endpoint_url.startswith("http://localhost:")
        assert is_ready(server.endpoint_url)
        pid, port = server.pid, server.port
        assert pid is not None and port is not None
        assert pid_alive(pid)
    assert not pid_alive(pid)
    with socket.socket() as sock:  # the port is free again
        sock.bind(("127.0.0.1", port))


def test_adapt_drops_only_list_items_whose_condition_selects_no_value() -> None:
    policies = [
        {"PolicyName": "always"},
        {"Fn::If": ["IsDebug", {"PolicyName": "debug"}, {"Ref": "AWS::NoValue"}]},
        {"Fn::If": ["NotDebug", {"PolicyName": "quiet"}, {"Ref": "AWS::NoValue"}]},
        {"Fn::If": ["Unknown", {"PolicyName": "kept"}, {"Ref": "AWS::NoValue"}]},
    ]
    transformed = {
        **TRANSFORMED,
        "Resources": {"Role": {"Type": "AWS::IAM::Role", "Properties": {"Policies": policies}}},
    }
    planned = PlannedStack(transformed, "stack", {"LogLevel": "DEBUG"})
    adapted, changes = adapt_for_emulator(transformed, planned)
    kept = adapted["Resources"]["Role"]["Properties"]["Policies"]
    assert kept == [policies[0], policies[1], policies[3]]  # NotDebug is false here
    assert changes == [
        "Role: 1 list item(s) whose Fn::If resolves to AWS::NoValue removed "
        f"({EMULATOR_GAPS['novalue-in-lists']})"
    ]
    assert len(transformed["Resources"]["Role"]["Properties"]["Policies"]) == 4


def test_effective_parameters_take_defaults_like_cloudformation() -> None:
    template = {
        "Parameters": {
            "A": {"Type": "String", "Default": "x"},
            "B": {"Type": "Number", "Default": 7},
            "C": {"Type": "CommaDelimitedList", "Default": ["p", "q"]},
            "D": {"Type": "String"},
        }
    }
    assert effective_parameters(template, {"A": "given", "Z": "undeclared"}) == {
        "A": "given",
        "B": "7",
        "C": "p,q",
    }


def test_moto_error_names_the_emulator_crash(tmp_path: Path) -> None:
    log = tmp_path / "moto.log"
    log.write_text(
        '127.0.0.1 - - "POST / HTTP/1.1" 200 -\n'
        "Traceback (most recent call last):\n"
        '  File "/x/site-packages/moto/core/responses.py", line 456, in call_action\n'
        '  File "/x/site-packages/moto/iam/models.py", line 792, in create_from_cloudformation_json\n'
        '    policy_name = policy["PolicyName"]\n'
        "TypeError: 'NoneType' object is not subscriptable\n"
        '127.0.0.1 - - "POST / HTTP/1.1" 500 -\n'
    )
    assert moto_error(log) == (
        "TypeError: 'NoneType' object is not subscriptable "
        "(at moto/iam/models.py:792 create_from_cloudformation_json)"
    )
    log.write_text('127.0.0.1 - - "POST / HTTP/1.1" 200 -\n')
    assert moto_error(log) is None


def test_missing_runtime_interpreter_fails_the_build_step_in_one_line(tmp_path: Path) -> None:
    """No build yet and no python3.13 on this machine: the build step says so in
    one line (localapi build's own message), and no emulator is started."""
    if any(Path(d, "python3.13").exists() for d in ("/usr/bin", "/usr/local/bin")):
        pytest.skip("a system python3.13 exists; cannot simulate its absence")
    root = tmp_path / "project"
    shutil.copytree(Path(__file__).resolve().parents[2] / "fixtures" / "localapi", root)
    report_path = tmp_path / "report.json"
    env = {
        **os.environ,
        "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
        "PYENV_ROOT": str(tmp_path / "no-pyenv"),
        "SAM_CLI_TELEMETRY": "0",
    }
    env.pop("AWS_SAM_STACK_NAME", None)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "localapi",
            "rehearse",
            "--project-root",
            str(root),
            "--report",
            str(report_path),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    data = json.loads(report_path.read_text())
    shutil.rmtree(data["work_dir"])
    assert data["failed_step"] == "build"
    [failed] = [line for line in result.stdout.splitlines() if line.startswith("==> build")]
    assert "FAILED" in failed and "localapi: error: python3.13 not found" in failed
    assert data["steps"][-1]["detail"].count("\n") == 0
    assert "pid" not in (data["emulator"] or {})


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--stack-name", "my stack"], "invalid stack name 'my stack'"),
        (["--stack-name", "1abc"], "invalid stack name '1abc'"),
        (["--stack-name", "a" * 129], "invalid stack name"),
        (["--config-env", "nosuch"], "unknown config env 'nosuch'"),
    ],
)
def test_bad_stack_name_or_config_env_exits_2_before_any_work(
    args: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Names AWS would refuse (moto takes them) and unknown samconfig environments
    are usage errors: one line, exit 2, no emulator started."""
    out = io.StringIO()
    root = Path(__file__).resolve().parents[3]
    with pytest.raises(SystemExit) as exit_info:
        rehearsal_cli.main([*args, "--project-root", str(root)], stream=out)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert needle in err
    assert out.getvalue() == ""


@pytest.mark.parametrize("stack_name", ["s", "My-Stack", "S" + "a" * 126 + "-"])
def test_artifact_bucket_is_a_valid_s3_name_for_any_stack_name(
    stack_name: str, tmp_path: Path
) -> None:
    options = rehearsal.Options(project_root=tmp_path, stack_name=stack_name)
    bucket = rehearsal.Rehearsal(
        options, Report("emulator", stack_name), Console(io.StringIO()), tmp_path
    ).bucket
    assert 3 <= len(bucket) <= 63
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]*[a-z0-9]", bucket), bucket
