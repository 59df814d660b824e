"""The deploy rehearsal end to end: ``python -m deployment rehearse`` on moto.

One real run (module-scoped; about half a minute): moto's server on a free
localhost port, policy_gen's render for moto's account, ``sam package`` and
``sam deploy`` of the SAM-translated template, then every check. The run uses
``--keep``, so the tests can also prove the checks are not vacuous: they
change the live resources on the emulator and watch the checks fail; and
the ``AWS_SAM_STACK_NAME`` path, aimed at the same emulator, must read every
property live (no template fallback), so moto's gaps show up there as FAILs.
The emulator is stopped by its PID when the module is done.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from deployment.checks import run_checks
from deployment.emulator import EMULATOR_GAPS, GAPS_VERIFIED_WITH_MOTO, emulator_session
from deployment.moto_server import is_ready, pid_alive
from deployment.results import CheckResult
from deployment.stack_spec import KEY_ID
from deployment.target import Target

REPO = Path(__file__).resolve().parents[2]
STACK = "rehearsal-it"
# The run deploys, under STACK, a key policy rendered for samconfig's default stack
# name: what `sam deploy --guided` with a stack name of one's own does with
# params/default.yaml. The stack-name guard must make that deploy work.
RENDERED_FOR = "secure-api-dev"
RUN_TIMEOUT_S = 600

# Where each check must run on moto 5.2.5 (see EMULATOR_GAPS).
EXPECTED_WHERE = {
    "stack.status": "emulator",
    "stack.rendered_for_target": "emulator",
    "kms.rotation": "emulator",
    "kms.key_state": "emulator",
    "kms.key_spec": "transformed template",
    "kms.policy_matches_render": "emulator",
    "kms.policy_validates": "emulator",
    "logs.function.retention": "emulator",
    "logs.function.kms_key": "transformed template",
    "logs.access.retention": "emulator",
    "logs.access.kms_key": "transformed template",
    "logs.execution.retention": "emulator",
    "logs.execution.kms_key": "transformed template",
    "logs.execution_delivery": "transformed template",
    "sns.alarm_topic": "emulator",
    "cloudwatch.alarm_actions": "transformed template",
    "lambda.runtime": "emulator",
    "lambda.architecture": "transformed template",
    "lambda.logging_config": "transformed template",
    "lambda.tracing": "transformed template",
    "apigateway.api_exists": "emulator",
    "apigateway.regional": "transformed template",
    "apigateway.stage_access_logs": "transformed template",
    "apigateway.stage_tracing": "transformed template",
    "stack.outputs": "transformed template",
    # moto imports no OpenAPI Body: authorizers, policy, validators, models.
    "apigateway.authorization": "transformed template",
    "apigateway.request_validation": "transformed template",
}


class Run:
    """One finished ``python -m deployment rehearse --keep`` run."""

    def __init__(self, completed: subprocess.CompletedProcess[str], report: dict[str, Any]):
        self.completed = completed
        self.report = report
        self.checks = {check["id"]: check for check in report["checks"]}
        self.real_stack_mode: tuple[subprocess.CompletedProcess[str], dict[str, Any]]

    @property
    def output(self) -> str:
        return self.completed.stdout

    @property
    def pid(self) -> int:
        return int(self.report["emulator"]["pid"])


def _stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 15
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if pid_alive(pid):
        os.kill(pid, signal.SIGKILL)


def _real_stack_mode(
    endpoint_url: str, work: Path
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """The rehearsal with AWS_SAM_STACK_NAME set, its default session sent to the
    emulator by AWS_ENDPOINT_URL alone (no user profile can leak in)."""
    report_path = work / "live.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        {
            "AWS_SAM_STACK_NAME": STACK,
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(work / "none"),
            "AWS_SHARED_CREDENTIALS_FILE": str(work / "none"),
            "SAM_CLI_TELEMETRY": "0",
        }
    )
    completed = subprocess.run(
        [sys.executable, "-m", "deployment", "rehearse", "--report", str(report_path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    if not report_path.exists():
        pytest.fail(f"no report written:\n{completed.stdout}\n{completed.stderr}")
    return completed, json.loads(report_path.read_text())


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    report_path = tmp_path_factory.mktemp("rehearsal") / "report.json"
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
    env.pop("AWS_SAM_STACK_NAME", None)  # this module always rehearses on the emulator
    command = [sys.executable, "-m", "deployment", "rehearse", "--stack-name", STACK]
    command += ["--rendered-for-stack", RENDERED_FOR, "--keep", "--report", str(report_path)]
    completed = subprocess.run(
        command,
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    if not report_path.exists():
        pytest.fail(f"no report written:\n{completed.stdout}\n{completed.stderr}")
    result = Run(completed, json.loads(report_path.read_text()))
    try:
        if result.report.get("endpoint_url"):
            result.real_stack_mode = _real_stack_mode(
                result.report["endpoint_url"], report_path.parent
            )
        yield result
    finally:
        emulator = result.report.get("emulator") or {}
        if emulator.get("pid"):
            _stop(int(emulator["pid"]))
            assert not pid_alive(int(emulator["pid"]))
        if result.report.get("work_dir"):
            shutil.rmtree(result.report["work_dir"], ignore_errors=True)


def test_the_rehearsal_passes(run: Run) -> None:
    assert run.completed.returncode == 0, run.output + run.completed.stderr
    assert run.report["ok"] is True
    assert run.report["failed_step"] is None
    assert run.report["mode"] == "emulator"
    assert (run.report["account"], run.report["region"]) == ("123456789012", "us-east-1")
    assert run.report["endpoint_url"].startswith("http://localhost:")


def test_a_policy_rendered_for_another_stack_name_covers_the_log_groups(run: Run) -> None:
    """The stack-name guard, by construction, on the emulator: the parameter file was
    rendered for RENDERED_FOR and deployed as STACK; the log groups are named after the
    rendered PolicyStackName, so the live key policy validates for the live groups."""
    work = Path(run.report["work_dir"])
    values = yaml.safe_load((work / "params" / "rehearsal.yaml").read_text())
    assert values["PolicyStackName"] == RENDERED_FOR
    assert run.checks["stack.status"]["detail"] == f"stack {STACK} is CREATE_COMPLETE"
    target = Target(emulator_session(), STACK, endpoint_url=run.report["endpoint_url"])
    names = {target.physical_id(logical) for logical in ("FunctionLogGroup", "AccessLogGroup")}
    assert names == {f"/{RENDERED_FOR}/function", f"/{RENDERED_FOR}/api-access"}
    validates = run.checks["kms.policy_validates"]
    assert validates["status"] == "PASS", validates["detail"]
    assert f"/{RENDERED_FOR}/function" in validates["detail"]


@pytest.mark.parametrize("check_id", sorted(EXPECTED_WHERE))
def test_each_check_passed_where_expected(run: Run, check_id: str) -> None:
    check = run.checks[check_id]
    assert check["status"] == "PASS", check["detail"]
    assert check["where"] == EXPECTED_WHERE[check_id], check["detail"]
    if check["where"] == "transformed template":
        # A template check always names the emulator gap that made it one.
        assert check["emulator_gap"] in EMULATOR_GAPS
        assert check["gap_description"]


def test_no_check_is_missing_or_unexpected(run: Run) -> None:
    assert set(run.checks) == set(EXPECTED_WHERE)
    assert run.report["summary"] == {
        "passed": len(EXPECTED_WHERE),
        "failed": 0,
        "not_run": 0,
        "ran_on": {"emulator": 12, "transformed template": 15},
    }


def test_every_step_ran_in_order_with_timings(run: Run) -> None:
    steps = [(s["name"], s["status"]) for s in run.report["steps"]]
    names = [name for name, _ in steps]
    assert names == [
        "prepare",
        "build",
        "start emulator",
        "render key policy (policy_gen)",
        "package (sam package)",
        "transform (SAM translator)",
        "adapt for the emulator",
        "deploy (sam deploy)",
    ]
    assert all(status in ("ok", "skipped") for _, status in steps)
    assert all(s["seconds"] >= 0 for s in run.report["steps"])
    for name in names:
        assert f"==> {name} ..." in run.output
    assert "RESULT: PASS" in run.output
    assert "CHECK" in run.output and "WHERE" in run.output


def test_the_emulator_adaptations_are_reported(run: Run) -> None:
    emulator = run.report["emulator"]
    assert emulator["moto_version"] == GAPS_VERIFIED_WITH_MOTO
    assert any("TagKey" in change for change in emulator["adaptations"])
    assert any("AWS::ApiGateway::Deployment" in change for change in emulator["adaptations"])
    absent = emulator["resources_absent"]
    assert "ApiStage" in absent["not created by the emulator"]
    assert "ApiGatewayAccount" in absent["condition false (not created in AWS either)"]


def test_keep_leaves_the_emulator_running_and_says_how_to_stop_it(run: Run) -> None:
    assert run.report["emulator"]["kept_running"] is True
    assert pid_alive(run.pid)
    assert is_ready(run.report["endpoint_url"])
    assert f"kill {run.pid}" in run.output


# --- the checks are not vacuous: drift the live resources and watch them fail ---------------


@pytest.fixture(scope="module")
def drifted(run: Run) -> dict[str, CheckResult]:
    work = Path(run.report["work_dir"])
    values = yaml.safe_load((work / "params" / "rehearsal.yaml").read_text())
    target = Target(
        emulator_session(),
        STACK,
        endpoint_url=run.report["endpoint_url"],
        emulated=True,
        transformed=json.loads((work / "transformed.json").read_text()),
        expected_policy=json.loads(values["KeyPolicy"]),
    )
    kms = target.client("kms")
    key_id = target.physical_id(KEY_ID)
    policy = json.loads(values["KeyPolicy"])
    # Another account's log groups instead of ours: Logs is denied for the stack's groups.
    policy["Statement"][1]["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"] = [
        f"arn:aws:logs:us-east-1:999988887777:log-group:/{STACK}/function",
        f"arn:aws:logs:us-east-1:999988887777:log-group:/{STACK}/api-access",
    ]
    kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=json.dumps(policy))
    kms.disable_key_rotation(KeyId=key_id)
    target.client("logs").put_retention_policy(
        logGroupName=target.physical_id("FunctionLogGroup"), retentionInDays=30
    )
    # The alarm topic moved to another key: CloudWatch's grant on ours no longer helps it.
    target.client("sns").set_topic_attributes(
        TopicArn=target.physical_id("AlarmTopic"),
        AttributeName="KmsMasterKeyId",
        AttributeValue="alias/aws/sns",
    )
    results = run_checks(
        Target(
            target.session,
            STACK,
            endpoint_url=target.endpoint_url,
            emulated=True,
            transformed=target.transformed,
            expected_policy=target.expected_policy,
        )
    )
    return {result.check_id: result for result in results}


@pytest.mark.parametrize(
    "check_id",
    ["kms.policy_matches_render", "kms.rotation", "logs.function.retention", "sns.alarm_topic"],
)
def test_live_drift_fails_on_the_emulator(drifted: dict[str, CheckResult], check_id: str) -> None:
    assert drifted[check_id].status == "FAIL", drifted[check_id].detail
    assert drifted[check_id].where == "emulator"


def test_a_live_policy_for_the_wrong_log_groups_fails_validation(
    drifted: dict[str, CheckResult],
) -> None:
    check = drifted["kms.policy_validates"]
    assert check.where == "emulator"
    assert check.status == "FAIL", check.detail


def test_untouched_resources_still_pass(drifted: dict[str, CheckResult]) -> None:
    assert drifted["logs.access.retention"].status == "PASS"
    assert drifted["lambda.runtime"].status == "PASS"


# --- the AWS_SAM_STACK_NAME path never falls back to the template ------------------------------


def test_real_stack_mode_reads_only_live_resources(run: Run) -> None:
    """``AWS_SAM_STACK_NAME`` with boto3's default session, aimed at the kept
    emulator through the standard ``AWS_ENDPOINT_URL`` variable (before any
    drift test touched it): every check must read live resources (``aws``), so
    the properties moto does not keep FAIL instead of being checked on a template."""
    completed, report = run.real_stack_mode
    assert report["mode"] == "aws"
    assert report["endpoint_url"] is None
    checks = {check["id"]: check for check in report["checks"]}
    assert {check["where"] for check in checks.values()} == {"aws"}
    assert all(check["emulator_gap"] is None for check in checks.values())
    # moto hard-codes a SYMMETRIC_DEFAULT/ENCRYPT_DECRYPT key, so kms.key_spec passes
    # live -- which is exactly why, on the emulator, it is checked on the template.
    passes_live = {c for c, where in EXPECTED_WHERE.items() if where == "emulator"}
    passes_live.add("kms.key_spec")
    for check_id in EXPECTED_WHERE:
        expected = "PASS" if check_id in passes_live else "FAIL"
        assert checks[check_id]["status"] == expected, (check_id, checks[check_id]["detail"])
    assert completed.returncode == 1
    assert "RESULT: FAIL" in completed.stdout
