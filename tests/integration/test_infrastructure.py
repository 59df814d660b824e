"""The post-deploy infrastructure checks as pytest tests.

* ``AWS_SAM_STACK_NAME`` set: against that REAL stack, with boto3's default
  session and no endpoint override; every check reads live resources and must
  say so (``where`` = ``aws``). The key policy is compared with the one
  ``policy_gen render`` produces for the credentials' account and region.
* Otherwise: against the rehearsal stack on moto (``deployment.rehearsal``),
  deployed once for this module; properties moto is known not to keep are
  checked on the SAM-translated template, and each such test says which gap
  made it one. The emulator is stopped by its PID at the end.

A check that cannot run is skipped with its reason, never passed.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from deployment import rehearsal
from deployment.checks import CHECKS, Check, run_check
from deployment.console import Console
from deployment.emulator import EMULATOR_GAPS
from deployment.moto_server import pid_alive
from deployment.results import AWS, EMULATOR, NOT_RUN, PASS, TEMPLATE
from deployment.target import Target

REPO = Path(__file__).resolve().parents[2]
REAL_STACK = os.environ.get(rehearsal.REAL_STACK_ENV) or None


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    output = io.StringIO()
    console = Console(output)
    if REAL_STACK:
        options = rehearsal.Options(project_root=REPO, real_stack=REAL_STACK)
        report, found = rehearsal.aws_rehearsal(options, console)
        if found is None:
            pytest.fail(f"cannot read stack {REAL_STACK}: {report.steps[-1].detail}")
        yield found
        return
    options = rehearsal.Options(project_root=REPO, stack_name="infrastructure-it")
    with rehearsal.emulator_rehearsal(options, console) as (report, deployed):
        try:
            if deployed is None:
                pytest.fail(
                    f"the rehearsal deploy failed at step {report.failed_step!r}:\n"
                    f"{output.getvalue()}"
                )
            yield deployed
        finally:
            pid = (report.emulator or {}).get("pid")
            work_dir = report.work_dir
    assert pid is None or not pid_alive(int(pid)), "the emulator outlived the rehearsal"
    if work_dir:
        shutil.rmtree(work_dir, ignore_errors=True)


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.check_id)
def test_infrastructure(target: Target, check: Check) -> None:
    result = run_check(check, target)
    if result.status == NOT_RUN:
        # On the emulator every check runs (live or on the transformed template): a NOT
        # RUN there is a regression, not a skip. Only a real stack may lack something.
        if not REAL_STACK:
            pytest.fail(f"{check.title}: NOT RUN on the emulator: {result.detail}")
        pytest.skip(f"NOT RUN: {result.detail}")
    assert result.status == PASS, f"{check.title}: {result.detail}"
    if REAL_STACK:
        assert result.where == AWS
        assert result.gap is None
    elif result.where == TEMPLATE:
        assert result.gap in EMULATOR_GAPS, "a template check must name its gap"
    else:
        assert result.where == EMULATOR
