"""``python -m localapi rehearse`` (``python -m deployment rehearse``): the deploy
rehearsal's command line.

Usage::

    python -m deployment rehearse [--template T] [--stack-name S] [--config-env E]
                                 [--region R] [--keep] [--report FILE]
    AWS_SAM_STACK_NAME=secure-api-dev python -m deployment rehearse --report out/live.json

Exit codes: 0 every check that ran passed (and at least one ran); 1 a step or a
check failed; 2 bad usage.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from deployment.checks import not_run, run_checks
from deployment.console import Console
from deployment.emulator import EMULATOR_ACCOUNT, EMULATOR_REGION
from deployment.output import format_table, summary_line
from deployment.rehearsal import (
    DEFAULT_STACK_NAME,
    REAL_STACK_ENV,
    Options,
    aws_rehearsal,
    emulator_rehearsal,
)
from deployment.results import Report, write_report
from policy_gen.inject import check_stack_name
from policy_gen.partitions import partition_for_region
from sam_project.errors import OneLineArgumentParser, UserError
from sam_project.samconfig import load_environment


def _region(text: str) -> str:
    """A well-formed region name, checked before the emulator starts (exit 2 otherwise)."""
    try:
        partition_for_region(text)
    except UserError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _stack_name(text: str) -> str:
    """A name CloudFormation accepts, checked before the emulator starts (exit 2 otherwise):
    moto would take names AWS refuses."""
    try:
        return check_stack_name(text)
    except UserError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def build_parser(prog: str = "python -m deployment rehearse") -> argparse.ArgumentParser:
    parser = OneLineArgumentParser(
        prog=prog,
        description=(
            "Deploy the built stack to an embedded AWS emulator (moto on localhost) with the "
            "real SAM CLI and run the post-deploy checks; with AWS_SAM_STACK_NAME set, run the "
            "same checks against that real stack instead. Exit 0 only if every check that "
            "ran passed."
        ),
    )
    parser.add_argument(
        "--template",
        type=Path,
        help="template to deploy (default: .aws-sam/build/template.yaml, built first if missing)",
    )
    parser.add_argument(
        "--stack-name",
        type=_stack_name,
        default=DEFAULT_STACK_NAME,
        help=f"emulator stack name (default: {DEFAULT_STACK_NAME})",
    )
    parser.add_argument(
        "--rendered-for-stack",
        type=_stack_name,
        metavar="NAME",
        help="render the key policy for stack NAME but deploy under --stack-name: what "
        "`sam deploy --guided` with a stack name of one's own does with params/ENV.yaml "
        "(default: the --stack-name)",
    )
    parser.add_argument(
        "--config-env",
        default="default",
        help="samconfig.toml environment for the parameter values (default: default)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="leave the emulator running and print its endpoint"
    )
    parser.add_argument(
        "--report", type=Path, metavar="FILE", help="write the JSON report here (atomically)"
    )
    parser.add_argument(
        "--region",
        type=_region,
        default=EMULATOR_REGION,
        help=f"the emulated region (default {EMULATOR_REGION}); one rehearsal per region",
    )
    parser.add_argument("--project-root", type=Path, default=Path.cwd(), help=argparse.SUPPRESS)
    return parser


def main(
    argv: Sequence[str] | None = None,
    stream: TextIO | None = None,
    prog: str = "python -m deployment rehearse",
) -> int:
    """Entry point: ``python -m deployment rehearse`` (or ``python -m localapi rehearse``)."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    config = args.project_root / "samconfig.toml"
    if config.is_file():  # an unknown --config-env is bad usage, found before any work
        try:
            load_environment(config, args.config_env)
        except UserError as error:
            parser.error(str(error))
    try:
        return rehearse(args, Console(stream))
    except KeyboardInterrupt:  # the emulator was already stopped by the with-block
        sys.stderr.write("rehearsal interrupted\n")
        return 130


def rehearse(args: argparse.Namespace, console: Console) -> int:
    """Run the rehearsal the parsed command line asks for; the exit code."""
    options = Options(
        project_root=args.project_root.resolve(),
        stack_name=args.stack_name,
        rendered_for_stack=args.rendered_for_stack,
        template=args.template,
        config_env=args.config_env,
        keep=args.keep,
        report_path=args.report,
        real_stack=os.environ.get(REAL_STACK_ENV) or None,
        region=args.region,
    )
    started = time.monotonic()
    if options.real_stack:
        console.line(
            f"Rehearsal against the REAL stack {options.real_stack} ({REAL_STACK_ENV} is set): "
            "no emulator, every check reads live resources"
        )
        report, target = aws_rehearsal(options, console)
        if target is not None:
            console.line("==> checks")
            report.checks = run_checks(target, console)
        else:
            report.checks = not_run(f"step '{report.failed_step}' failed")
        return finish(report, options, console, started)
    console.line(
        f"Deploy rehearsal of stack {options.stack_name} on an embedded AWS emulator "
        f"(moto on localhost, account {EMULATOR_ACCOUNT}, {options.region})"
    )
    with emulator_rehearsal(options, console) as (report, target):
        if target is not None:
            console.line("==> checks")
            report.checks = run_checks(target, console)
        else:
            report.checks = not_run(f"step '{report.failed_step}' failed")
    code = finish(report, options, console, started)
    if report.work_dir and not (options.keep or not report.ok):
        shutil.rmtree(report.work_dir, ignore_errors=True)
    elif report.work_dir:
        console.line(f"work files (templates, tool logs, moto log) kept in {report.work_dir}")
    if report.emulator.get("kept_running"):
        pid = report.emulator.get("pid")
        console.line(
            f"emulator left running: AWS_ENDPOINT_URL={report.endpoint_url} "
            f"AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "
            f"AWS_DEFAULT_REGION={options.region} (pid {pid}; stop it with: kill {pid})"
        )
    return code


def finish(report: Report, options: Options, console: Console, started: float) -> int:
    """Print the table and the verdict, write the report; the exit code."""
    report.seconds = time.monotonic() - started
    console.line("")
    for line in format_table(report.checks):
        console.line(line)
    console.line("")
    console.line(summary_line(report))
    if options.report_path is not None:
        write_report(options.report_path, report)
        console.line(f"report written to {options.report_path}")
    return report.exit_code
