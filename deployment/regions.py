"""``python -m localapi regions``: one stack per region, rehearsed or deployed in turn.

KMS keys and log groups are regional, so a multi-region deployment is N
independent stacks, each with its own key and its own rendered policy (the
policy names that region's Logs principal and log-group ARNs). This command runs
the same steps for every samconfig environment given and reports per region;
a failing region does not stop the others, and the exit code is 1 if any failed.

Modes:
  rehearse  the deploy rehearsal on the embedded emulator, in each region
  deploy    real AWS: render (in process, STS account) -> sam build -> sam deploy
  --dry-run prints the commands without running them (the render as the
            `policy_gen render` command that does the same)
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from deployment.sequence import (
    Step,
    deploy_command,
    rehearse_command,
    render_build_deploy,
    run_in_order,
)
from policy_gen.partitions import partition_for_region
from sam_project.errors import OneLineArgumentParser, UserError
from sam_project.samconfig import load_environment


@dataclass(frozen=True)
class RegionRun:
    env: str
    region: str
    stack_name: str
    commands: tuple[tuple[str, ...], ...]
    # How each command runs (the render in process); default: as a subprocess.
    steps: tuple[Step, ...] = ()

    def runnable(self) -> tuple[Step, ...]:
        return self.steps or tuple(Step(" ".join(command), command) for command in self.commands)


def plan(envs: Sequence[str], mode: str, config_file: Path, report_dir: Path) -> list[RegionRun]:
    """The commands for each environment, read from samconfig.toml (never retyped)."""
    runs = []
    for env in envs:
        settings = load_environment(config_file, env)
        if not settings.region or not settings.stack_name:
            raise UserError(f"samconfig env {env!r} needs region and stack_name")
        partition_for_region(settings.region)  # a malformed region: UserError, exit 2
        if mode == "rehearse":
            steps = [
                Step(
                    f"deploy rehearsal in {settings.region}",
                    tuple(
                        rehearse_command(
                            config_env=env,
                            region=settings.region,
                            stack_name=settings.stack_name,
                            report=report_dir / f"rehearsal-{env}.json",
                        )
                    ),
                )
            ]
        else:
            steps = render_build_deploy(
                env, Step(f"deploy to {settings.region}", tuple(deploy_command(env)))
            )
        commands = tuple(step.command for step in steps)
        runs.append(RegionRun(env, settings.region, settings.stack_name, commands, tuple(steps)))
    regions = [run.region for run in runs]
    duplicates = sorted({r for r in regions if regions.count(r) > 1})
    if duplicates:
        raise UserError(f"several environments target region {duplicates[0]}: one per region")
    return runs


def execute(runs: Sequence[RegionRun], dry_run: bool) -> list[tuple[RegionRun, int, float]]:
    results = []
    for number, run in enumerate(runs, start=1):
        print(
            f"==> [{number}/{len(runs)}] {run.env}: stack {run.stack_name} in {run.region}",
            flush=True,
        )
        ran = run_in_order(
            run.runnable(),
            starting=lambda _n, step: print(f"    $ {step.shown}", flush=True),
            dry_run=dry_run,
        )
        results.append((run, ran[-1].code if ran else 0, sum(r.seconds for r in ran)))
    return results


def summary(results: Sequence[tuple[RegionRun, int, float]], dry_run: bool) -> list[str]:
    lines = ["", f"{'ENV':<18} {'REGION':<16} {'STACK':<22} RESULT"]
    for run, code, seconds in results:
        verdict = "planned" if dry_run else ("ok" if code == 0 else f"FAILED (exit {code})")
        lines.append(
            f"{run.env:<18} {run.region:<16} {run.stack_name:<22} {verdict} ({seconds:.1f}s)"
        )
    return lines


def main(argv: Sequence[str] | None = None, prog: str = "python -m deployment regions") -> int:
    parser = OneLineArgumentParser(
        prog=prog,
        description="Rehearse or deploy the stack in several regions (one samconfig env each).",
    )
    parser.add_argument(
        "--envs",
        nargs="+",
        required=True,
        metavar="ENV",
        help="samconfig environments, one per region (e.g. prod-us-east-1)",
    )
    parser.add_argument("--mode", choices=("rehearse", "deploy"), default="rehearse")
    parser.add_argument("--config-file", type=Path, default=Path("samconfig.toml"))
    parser.add_argument("--report-dir", type=Path, default=Path("build"))
    parser.add_argument("--dry-run", action="store_true", help="print the commands only")
    args = parser.parse_args(argv)
    try:
        runs = plan(args.envs, args.mode, args.config_file, args.report_dir)
    except UserError as error:
        print(f"{prog.removeprefix('python -m ')}: error: {error}", file=sys.stderr)
        return 2
    results = execute(runs, args.dry_run)
    print("\n".join(summary(results, args.dry_run)))
    return 0 if all(code == 0 for _, code, _ in results) else 1
