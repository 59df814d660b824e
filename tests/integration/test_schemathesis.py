"""schemathesis as a stranger runs it: ``schemathesis run openapi.json -c all`` with every phase.

The command line is the real CLI, run from the repository root (so ``schemathesis.toml``
applies) against the API of the ``api`` fixture (``python -m localapi serve`` on
loopback, or the stack named by ``AWS_SAM_STACK_NAME``)::

    schemathesis run openapi.json --url URL --checks all \\
        --phases examples,coverage,fuzzing --max-examples N --seed S

Every built-in check runs -- no 5xx, documented statuses, content types, headers and
bodies, invalid data rejected, valid data accepted, missing required headers, 405 with
``Allow`` for the methods API Gateway routes -- plus ``no_internal_details``
(tests/integration/schemathesis_hooks.py: no stack trace or internal path in any body).
0 failures and 0 errors are required, and at least ``SCHEMATHESIS_MIN_CASES`` generated
cases.

Locally, the API-key checks are the exception: the local API, like ``sam local``, does not
enforce API keys, so ``ignored_auth`` ("a request without the key is refused") is left
out and no ``x-api-key`` values are generated (otherwise ``missing_required_header`` and
``negative_data_rejection`` would send requests without the key and expect a refusal).
Against a stack every check runs, with the stack's key.

``make test`` runs a fixed-seed slice (the defaults below, a minute or less);
``make fuzz`` the full run (``SCHEMATHESIS_MAX_EXAMPLES=1200``, at least 1,000 cases, a
fresh seed each time, printed for replay). Figures go to ``build/schemathesis-stats.json``.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # conftest is not importable as a module here (no package); types only
    from conftest import ApiTarget

REPO = Path(__file__).resolve().parents[2]
OPENAPI = REPO / "openapi.json"
HOOKS = Path(__file__).with_name("schemathesis_hooks.py")
STATS = REPO / "build" / "schemathesis-stats.json"
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "150"))
MIN_CASES = int(os.environ.get("SCHEMATHESIS_MIN_CASES", "150"))
SEED = os.environ.get("SCHEMATHESIS_SEED", "20261201")  # "random": a fresh one, reported
RUN_TIMEOUT_S = 3600

pytestmark = pytest.mark.slow


def schemathesis_command(api: ApiTarget, report: Path) -> list[str]:
    """The CLI invocation: every check, every phase; the local exception for API keys."""
    command = [
        str(SCHEMATHESIS), "run", str(OPENAPI.relative_to(REPO)),
        "--url", api.base_url,
        "--checks", "all",
        "--phases", "examples,coverage,fuzzing",
        "--max-examples", str(MAX_EXAMPLES),
        "--continue-on-failure",
        "--generation-database", "none",  # no state from earlier runs: a seed replays a run
        "--no-color",
        "--report", "json", "--report-json-path", str(report),
    ]  # fmt: skip
    if SEED != "random":
        command += ["--seed", SEED]
    if api.local:
        command += ["--exclude-checks", "ignored_auth"]
        command += ["--generation-with-security-parameters", "false"]
    elif api.api_key:
        command += ["--header", f"x-api-key: {api.api_key}"]
    return command


def _write_stats(stats: dict[str, Any]) -> None:
    STATS.parent.mkdir(parents=True, exist_ok=True)
    tmp = STATS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")
    tmp.replace(STATS)


@pytest.mark.timeout(RUN_TIMEOUT_S + 300)  # make fuzz runs for minutes; pytest's default is 300 s
def test_the_api_passes_every_check_in_every_phase(api: ApiTarget, tmp_path: Path) -> None:
    report = tmp_path / "schemathesis.json"
    command = schemathesis_command(api, report)
    shown = shlex.join(
        ["schemathesis"]
        + [arg if not arg.startswith("x-api-key:") else "x-api-key: ***" for arg in command[1:]]
    )
    print(f"\n{shown}")
    started = time.monotonic()
    result = subprocess.run(
        command,
        cwd=REPO,
        env={**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS)},
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    summary = json.loads(report.read_text(encoding="utf-8")) if report.exists() else {}
    cases = summary.get("test_cases", {})
    stats = {
        "command": shown,
        "seed": summary.get("seed"),
        "generated": cases.get("generated", 0),
        "with_failures": cases.get("with_failures"),
        "errored": cases.get("errored"),
        "failures": summary.get("failures"),
        "errors": summary.get("errors"),
        "phases": {name: phase["status"] for name, phase in summary.get("phases", {}).items()},
        "max_examples_per_operation": MAX_EXAMPLES,
        "seconds": round(time.monotonic() - started, 1),
    }
    _write_stats(stats)
    print(json.dumps(stats))
    output = (result.stdout + result.stderr)[-6000:]
    assert result.returncode == 0, output
    assert summary.get("failures") == [] and summary.get("errors") == [], output
    assert cases.get("with_failures") == 0 and cases.get("errored") == 0, output
    assert stats["generated"] >= MIN_CASES, stats
    assert stats["phases"].get("coverage") == "success"
    assert stats["phases"].get("fuzzing") == "success"


def test_the_leak_check_would_catch_a_traceback() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("schemathesis_hooks_under_test", HOOKS)
    assert spec is not None and spec.loader is not None
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    trace = '{"error": "Traceback (most recent call last):\\n  File \\"/var/task/app.py\\""}'
    assert hooks.leaked_marker(trace) == "Traceback"
    assert hooks.leaked_marker('{"error": {"code": "NOT_FOUND"}}') is None
