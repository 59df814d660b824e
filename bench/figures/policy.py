"""6. policy_gen: ``check-template`` against ``cfn-lint`` on the same template, and
``validate`` throughput.

Both commands run as whole processes of the dev interpreter (what ``make test`` and a
pre-commit hook pay), alternating, repeated; CPU time (user + system) is the headline,
wall clock is shown next to it. ``validate`` runs in process on the policy
that ``render`` wrote to ``params/default.yaml`` (policies per second, and the KMS
simulations per second that it implies), next to the same validation as one
``python -m policy_gen validate`` process per policy.
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any

import yaml

from bench.figures.common import (
    DEV_PYTHON,
    REPO,
    ProcessTime,
    Summary,
    Workspace,
    fmt_ratio,
    ratio,
    say,
    timed_run,
)

PARAMS = REPO / "params" / "default.yaml"
STACK = "secure-api-dev"
ACCOUNT = "123456789012"
REGION = "us-east-1"
LOG_GROUPS = (f"/{STACK}/function", f"/{STACK}/api-access")
CFN_LINT = DEV_PYTHON.parent / "cfn-lint"


def ensure_params() -> None:
    if PARAMS.exists():
        return
    say("policy: params/default.yaml missing; running policy_gen render")
    subprocess.run(
        [str(DEV_PYTHON), "-m", "policy_gen", "render", "--account", ACCOUNT, "--region", REGION],
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=300,
    )


@dataclass
class PolicyResult:
    check_template: list[ProcessTime] = field(default_factory=list)
    cfn_lint: list[ProcessTime] = field(default_factory=list)
    exit_codes: dict[str, int] = field(default_factory=dict)
    validate_per_s: list[float] = field(default_factory=list)
    validate_cli: list[ProcessTime] = field(default_factory=list)
    simulations_per_policy: int = 0
    policy_valid: bool = False

    @staticmethod
    def seconds(runs: list[ProcessTime], *, wall: bool = False) -> Summary:
        return Summary.of((r.wall_ms if wall else r.cpu_ms) / 1000 for r in runs)

    def check_ratio(self, *, wall: bool = False) -> float:
        return ratio(
            self.seconds(self.check_template, wall=wall).median,
            self.seconds(self.cfn_lint, wall=wall).median,
        )

    def cli_per_s(self) -> Summary:
        """One ``validate`` process per policy, in wall clock: what a loop over files pays."""
        return Summary.of(1000 / r.wall_ms for r in self.validate_cli)

    @property
    def validate_ratio(self) -> float:
        """In-process throughput over one-process-per-policy throughput."""
        return ratio(Summary.of(self.validate_per_s).median, self.cli_per_s().median)

    def as_json(self) -> dict[str, Any]:
        return {
            "check_template_cpu_s": self.seconds(self.check_template).as_json(),
            "cfn_lint_cpu_s": self.seconds(self.cfn_lint).as_json(),
            "check_ratio_cpu": self.check_ratio(),
            "check_template_wall_s": self.seconds(self.check_template, wall=True).as_json(),
            "cfn_lint_wall_s": self.seconds(self.cfn_lint, wall=True).as_json(),
            "check_ratio_wall": self.check_ratio(wall=True),
            "exit_codes": self.exit_codes,
            "validate_policies_per_s": Summary.of(self.validate_per_s).as_json(),
            "validate_cli_policies_per_s": self.cli_per_s().as_json(),
            "validate_ratio": self.validate_ratio,
            "simulations_per_policy": self.simulations_per_policy,
            "policy_valid": self.policy_valid,
        }


def _validate_in_process(
    document: object, batches: int, budget_s: float
) -> tuple[list[float], Any]:
    from policy_gen.partitions import resolve_partition
    from policy_gen.validate import Target, validate

    target = Target.checked(resolve_partition(None, REGION, None), REGION, ACCOUNT, LOG_GROUPS)
    report = validate(document, target)  # warm-up; also what we report on
    rates = []
    for _ in range(batches):
        count = 0
        start = time.perf_counter()
        while count < 100_000:
            validate(document, target)
            count += 1
            if time.perf_counter() - start >= budget_s:
                break
        rates.append(count / (time.perf_counter() - start))
    return rates, report


def run(ws: Workspace, repeats: int, budget_s: float) -> PolicyResult:
    ensure_params()
    result = PolicyResult()
    check_cmd = [
        str(DEV_PYTHON), "-m", "policy_gen", "check-template", "template.yaml",
        "--parameter-overrides", f"file://{PARAMS}", "--stack-name", STACK,
    ]  # fmt: skip
    lint_cmd = [str(CFN_LINT), "template.yaml"]
    for i in range(repeats):
        say(f"policy: check-template vs cfn-lint, round {i + 1}/{repeats}")
        order = [("check-template", check_cmd), ("cfn-lint", lint_cmd)]
        if i % 2:
            order.reverse()
        for name, cmd in order:
            took = timed_run(cmd, None, ok_codes=(0, 1))  # 1 = findings; 2+ = broken
            (result.check_template if name == "check-template" else result.cfn_lint).append(took)
            result.exit_codes[name] = took.returncode

    params = yaml.safe_load(PARAMS.read_text())
    document = json.loads(params["KeyPolicy"])
    policy_file = ws.root / "policy.json"
    policy_file.write_text(params["KeyPolicy"])
    say("policy: validate throughput in process")
    result.validate_per_s, report = _validate_in_process(document, repeats, budget_s)
    result.simulations_per_policy = len(report.simulations)
    result.policy_valid = bool(report.valid)
    validate_cmd = [
        str(DEV_PYTHON), "-m", "policy_gen", "validate", "--policy", str(policy_file),
        "--region", REGION, "--account", ACCOUNT,
    ]  # fmt: skip
    for group in LOG_GROUPS:
        validate_cmd += ["--log-group", group]
    for _ in range(repeats):
        result.validate_cli.append(timed_run(validate_cmd, None, ok_codes=(0, 1)))
    say(
        f"policy: check-template CPU {result.seconds(result.check_template).fmt(2)} s vs "
        f"cfn-lint {result.seconds(result.cfn_lint).fmt(2)} s, ratio "
        f"{fmt_ratio(result.check_ratio())} (wall {fmt_ratio(result.check_ratio(wall=True))}); "
        f"validate {Summary.of(result.validate_per_s).fmt(0)} policies/s"
    )
    return result
