"""``python -m localapi demo`` (``python -m deployment demo``): the main job on the embedded default, no AWS account.

One command a newcomer can run on a fresh machine: render and prove the key
policy, build, rehearse the deploy on the embedded emulator, then serve the API
on 127.0.0.1 until interrupted. Each step shows progress and its time; a step
that fails stops the run with its reason (the tools print their own one-line
errors) and the step's exit code.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

# The rehearsal's own account and default region, so the policy rendered here is the
# one the rehearsal step deploys.
from deployment.emulator import EMULATOR_ACCOUNT, EMULATOR_REGION
from localapi.cli import EXIT_USAGE, cmd_serve, tcp_port
from localapi.cli import build_parser as serve_parser
from localapi.runtime import LocalApiError
from policy_gen.errors import OneLineArgumentParser

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


def _steps(args: argparse.Namespace) -> list[tuple[str, list[str]]]:
    python = sys.executable
    steps = [
        (
            f"render and validate the key policy (account {EMULATOR_ACCOUNT}, {EMULATOR_REGION})",
            [
                python,
                "-m",
                "policy_gen",
                "render",
                "--config-env",
                "default",
                "--account",
                EMULATOR_ACCOUNT,
                "--region",
                EMULATOR_REGION,
            ],
        ),
        ("build (sam build with the function's python3.13)", [python, "-m", "localapi", "build"]),
    ]
    if not args.skip_rehearsal:
        steps.append(
            (
                "deploy rehearsal on the embedded AWS emulator (moto)",
                [python, "-m", "localapi", "rehearse", "--report", str(args.report)],
            )
        )
    return steps


def run_steps(args: argparse.Namespace) -> int:
    """Run every preparatory step in order; stop at the first failure."""
    steps = _steps(args)
    total = len(steps) + (0 if args.no_serve else 1)
    for number, (title, command) in enumerate(steps, start=1):
        print(f"==> [{number}/{total}] {title}", flush=True)
        started = time.monotonic()
        code = subprocess.call(command)
        elapsed = time.monotonic() - started
        if code != 0:
            print(
                f"demo: step {number} ({title}) failed with exit code {code} after "
                f"{elapsed:.1f}s; see its message above",
                file=sys.stderr,
            )
            return code
        print(f"    done in {elapsed:.1f}s", flush=True)
    return 0


def build_parser(prog: str = "python -m deployment demo") -> argparse.ArgumentParser:
    parser = OneLineArgumentParser(
        prog=prog,
        description=(
            "Render and validate the KMS key policy for the embedded default account, build "
            "the function, rehearse the deploy on an embedded AWS emulator (moto), then serve "
            "the API on 127.0.0.1 until Ctrl+C. Needs no AWS account and no Docker."
        ),
    )
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
    except LocalApiError as error:
        print(f"localapi: error: {error}", file=sys.stderr)
        return EXIT_USAGE
