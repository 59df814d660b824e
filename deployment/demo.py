"""``python -m localapi demo``: the main job on the embedded default, no AWS account.

One command a newcomer can run on a fresh machine: render and prove the key
policy, build, rehearse the deploy on the embedded emulator, then serve the API
on 127.0.0.1 until interrupted. Each step shows progress and its time; a step
that fails stops the run with its reason (the tools print their own one-line
errors) and the step's exit code. Also ``python -m deployment demo``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

# The rehearsal's own account and default region, so the policy rendered here is the
# one the rehearsal step deploys.
from deployment.emulator import EMULATOR_ACCOUNT, EMULATOR_REGION
from deployment.sequence import Ran, Step, rehearse_command, render_build_deploy, run_in_order
from localapi.cli import EXIT_USAGE, cmd_serve, tcp_port
from localapi.cli import build_parser as serve_parser
from sam_project.errors import OneLineArgumentParser, UserError

DEMO_API_KEY = "local-dev-key"

CURL_HINT = (
    "",
    "Try it from another terminal:",
    "  curl -s {url}/health",
    f"  curl -s {{url}}/ -H 'x-api-key: {DEMO_API_KEY}'",
    "  curl -s -X POST {url}/echo -H 'content-type: application/json' "
    f"-H 'x-api-key: {DEMO_API_KEY}' -d '{{\"message\": \"hello\"}}'",
    "(like sam local, the local API does not check API keys; the deployed API requires "
    "the x-api-key header on every route but /health)",
    "",
)


def _steps(args: argparse.Namespace) -> list[Step]:
    rehearse = Step(
        "deploy rehearsal on the embedded AWS emulator (moto)",
        tuple(rehearse_command(report=args.report)),
    )
    return render_build_deploy(
        "default",
        None if args.skip_rehearsal else rehearse,
        account=EMULATOR_ACCOUNT,
        region=EMULATOR_REGION,
    )


def run_steps(args: argparse.Namespace) -> int:
    """Run every preparatory step in order; stop at the first failure."""
    steps = _steps(args)
    total = len(steps) + (0 if args.no_serve else 1)

    def starting(number: int, step: Step) -> None:
        print(f"==> [{number}/{total}] {step.title}", flush=True)

    def finished(number: int, ran: Ran) -> None:
        if ran.code == 0:
            print(f"    done in {ran.seconds:.1f}s", flush=True)
            return
        print(
            f"demo: step {number} ({ran.step.title}) failed with exit code {ran.code} after "
            f"{ran.seconds:.1f}s; see its message above",
            file=sys.stderr,
        )

    ran = run_in_order(steps, starting=starting, finished=finished)
    return ran[-1].code if ran else 0


DESCRIPTION = (
    "Render and validate the KMS key policy for the embedded default account, build "
    "the function, rehearse the deploy on an embedded AWS emulator (moto), then serve "
    "the API on 127.0.0.1 until Ctrl+C. Needs no AWS account and no Docker."
)


def build_parser(prog: str = "python -m deployment demo") -> argparse.ArgumentParser:
    parser = OneLineArgumentParser(prog=prog, description=DESCRIPTION)
    parser.add_argument("--port", type=tcp_port, default=3000, help="local API port (default 3000)")
    parser.add_argument("--skip-rehearsal", action="store_true", help="skip the emulator deploy")
    parser.add_argument("--no-serve", action="store_true", help="stop after the rehearsal")
    parser.add_argument(
        "--report",
        type=Path,
        default=Path("build/rehearsal.json"),
        help="where the rehearsal writes its JSON report (default build/rehearsal.json)",
    )
    return parser


def main(argv: Sequence[str] | None = None, prog: str = "python -m deployment demo") -> int:
    args = build_parser(prog).parse_args(argv)
    code = run_steps(args)
    if code != 0 or args.no_serve:
        return code
    total = len(_steps(args)) + 1
    print(
        f"==> [{total}/{total}] serve the API on http://127.0.0.1:{args.port} (no Docker)",
        flush=True,
    )
    serve_args = serve_parser().parse_args(["serve", "--port", str(args.port)])
    try:
        return cmd_serve(serve_args, ready_hint=CURL_HINT)
    except UserError as error:
        print(f"localapi: error: {error}", file=sys.stderr)
        return EXIT_USAGE
