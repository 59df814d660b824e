"""Run every benchmark, each next to its baseline, and write the results.

    .venv/bin/python bench/run.py [--quick] [--repeat N] [--results-dir DIR]
                                  [--skip-local-api] [--only cold,request,package,localapi,policy]

Writes ``latest.md`` (the table, also printed), ``latest.json`` (every number), and the
charts ``cold_start.png`` and ``latency.png`` into the results directory (default
``bench/results``), each atomically. ``--quick`` is a smoke run with tiny repetition
counts for CI: its figures are noisy and, like every figure here, never asserted.
Progress goes to stderr. See bench/README.md for the method.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``bench`` and the project importable
    _here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if p != _here]
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.figures import cold_start, deps, local_api, package, per_request, policy
from bench.figures.common import (
    BUILD_DIR,
    BUILT_FUNCTION,
    DEV_PYTHON,
    REPO,
    Workspace,
    bytecode_state,
    find_python313,
    machine_info,
    our_sources,
    say,
)
from bench.figures.report import Report
from sam_project.files import write_atomically

SECTIONS = ("cold", "request", "package", "localapi", "policy")


@dataclass(frozen=True)
class Plan:
    """Repetition counts; every loop in bench/ is bounded by these."""

    cold_rounds: int
    request_processes: int
    request_iterations: int
    request_warmup: int
    memory_runs: int
    memory_requests: int
    profile_requests: int
    localapi_load: local_api.Load
    spawn_load: local_api.Load
    policy_repeats: int
    validate_budget_s: float

    @classmethod
    def for_args(cls, quick: bool, repeat: int | None) -> Plan:
        if quick:
            n = repeat or 2
            return cls(
                cold_rounds=n,
                request_processes=1,
                request_iterations=50,
                request_warmup=5,
                memory_runs=1,
                memory_requests=1000,
                profile_requests=300,
                localapi_load=local_api.Load(30, 1, 30, 5),
                spawn_load=local_api.Load(3, 1, 4, 1),
                policy_repeats=1,
                validate_budget_s=0.2,
            )
        n = repeat or 10
        return cls(
            cold_rounds=n,
            request_processes=n,
            request_iterations=300,
            request_warmup=30,
            memory_runs=min(n, 3),
            memory_requests=1000,
            profile_requests=3000,
            localapi_load=local_api.Load(300, min(n, 5), 300, 20),
            spawn_load=local_api.Load(20, min(n, 3), 12, 2),
            policy_repeats=min(n, 5),
            validate_budget_s=1.0,
        )


def ensure_build() -> None:
    """Render the policy and ``sam build`` when the build output is missing."""
    if (BUILD_DIR / "template.yaml").exists() and (BUILT_FUNCTION / "app.py").exists():
        return
    say("no build output: rendering the policy and running `python -m localapi build`")
    for cmd in (
        [str(DEV_PYTHON), "-m", "policy_gen", "render", "--account", "123456789012",
         "--region", "us-east-1"],
        [str(DEV_PYTHON), "-m", "localapi", "build"],
    ):  # fmt: skip
        subprocess.run(cmd, cwd=REPO, check=True, timeout=900)


def build_state() -> str:
    src = REPO / "src" / "handler"
    stale = [
        name
        for name in our_sources()
        if (src / name).exists()
        and (
            not (BUILT_FUNCTION / name).exists()
            or (src / name).read_bytes() != (BUILT_FUNCTION / name).read_bytes()
        )
    ]
    if stale:
        return f"differs from src/handler in {', '.join(stale)}: run `python -m localapi build`"
    return "handler sources identical to src/handler"


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run.py", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument("--quick", action="store_true", help="tiny repetition counts (CI smoke)")
    parser.add_argument(
        "--repeat", type=int, default=None, help="rounds per figure (default 10; quick 2)"
    )
    parser.add_argument("--results-dir", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--skip-local-api", action="store_true", help="no servers started")
    parser.add_argument(
        "--only", default=",".join(SECTIONS), help=f"comma-separated subset of {','.join(SECTIONS)}"
    )
    args = parser.parse_args(argv)
    if args.repeat is not None and not 1 <= args.repeat <= 100:
        parser.error("--repeat must be between 1 and 100")
    args.sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s) {', '.join(sorted(unknown))}")
    if args.skip_local_api and "localapi" in args.sections:
        args.sections.remove("localapi")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    plan = Plan.for_args(args.quick, args.repeat)
    started = time.monotonic()
    results_dir: Path = args.results_dir.resolve()
    results_dir.mkdir(parents=True, exist_ok=True)

    ensure_build()
    python313 = find_python313()
    info = machine_info(python313)
    info["commit"] = git_commit()
    info["build_state"] = build_state()
    mode = f"{'quick' if args.quick else 'full'} run, sections {','.join(args.sections)}"
    report = Report(info, mode)
    say(f"{mode}; python3.13 = {python313}; {info['build_state']}")

    ws = Workspace.create(
        deps.installed("baseline", deps.BASELINE_REQUIREMENTS),
        deps.installed("runtime-sdk", deps.RUNTIME_SDK_REQUIREMENTS, compile_with=python313),
    )
    info["build_bytecode"] = bytecode_state(python313, ws.code)
    say(f"build bytecode: {info['build_bytecode']}")
    timings: dict[str, float] = {}
    running: list[tuple[str, float]] = []

    def timed(section: str) -> bool:
        """Whether ``section`` runs; closes the timing of the section before it."""
        now = time.monotonic()
        if running:
            name, began = running.pop()
            timings[name] = now - began
        if section in args.sections:
            running.append((section, now))
            return True
        return False

    try:
        if timed("cold"):
            report.cold = cold_start.run(python313, ws, plan.cold_rounds)
        if timed("request"):
            report.requests = per_request.run(
                python313,
                ws,
                processes=plan.request_processes,
                iterations=plan.request_iterations,
                warmup=plan.request_warmup,
                memory_runs=plan.memory_runs,
                memory_requests=plan.memory_requests,
                profile_requests=plan.profile_requests,
            )
        if timed("package"):
            report.package = package.run(ws)
        if timed("localapi"):
            report.local_api = local_api.run(python313, ws, plan.localapi_load, plan.spawn_load)
        if timed("policy"):
            report.policy = policy.run(ws, plan.policy_repeats, plan.validate_budget_s)
        timed("end")
    finally:
        ws.remove()
    info["section_s"] = ", ".join(f"{name} {secs:.0f} s" for name, secs in timings.items())

    info["loadavg_at_end"] = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    info["elapsed_s"] = f"{time.monotonic() - started:.0f}"
    markdown = report.markdown()
    raw = {
        "info": info,
        "plan": asdict(plan),
        "cold_start": report.cold.as_json() if report.cold else None,
        "per_request": report.requests.as_json() if report.requests else None,
        "package": report.package.as_json() if report.package else None,
        "local_api": report.local_api.as_json() if report.local_api else None,
        "policy": report.policy.as_json() if report.policy else None,
    }
    write_atomically(results_dir / "latest.json", json.dumps(raw, indent=1, default=str) + "\n")
    write_atomically(results_dir / "latest.md", markdown)
    for chart in report.charts(results_dir):
        say(f"wrote {chart}")
    say(f"wrote {results_dir / 'latest.md'} in {info['elapsed_s']} s")
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
