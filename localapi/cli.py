"""``python -m localapi``: serve the built API locally without Docker, or build it first.

Errors a user can fix (bad flag, missing template, missing python3.13, native
code for another architecture) are printed as one line and exit 2, never as a
traceback; a function that cannot start exits 1.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from localapi import __version__
from localapi.build import cmd_build
from sam_project.errors import OneLineArgumentParser, UserError
from sam_project.overrides import parse_parameter_overrides

EXIT_USAGE = 2
EXIT_START_FAILED = 1

SERVE_EPILOG = textwrap.dedent(
    """\
    The process engine is SAM CLI's own local API (route matching, API Gateway
    REST proxy events, response translation: LocalApigwService) with the
    Docker container replaced by warm worker processes of the function's
    runtime (python3.13 for Runtime: python3.13), found on PATH (pyenv shims
    skipped), in pyenv's versions, or in /usr/bin and /usr/local/bin.

    Functions get their template environment (with --parameter-overrides),
    Lambda's AWS_* variables with placeholder credentials, POWERTOOLS_TRACE_DISABLED
    (no X-Ray daemon locally) and --env-vars overrides in SAM's format:
      {"ApiFunction": {"LOG_LEVEL": "DEBUG"}, "Parameters": {"VAR": "all functions"}}

    A request past the function's Timeout, or a worker that crashes, gets 502;
    the worker is replaced and the server keeps serving. Like sam local, API
    keys and usage plans are not enforced.

    Before any function runs, requests meet API Gateway's limits: a body over
    10 MiB, or one whose event would be over Lambda's 6 MB, gets 413 (before the
    body is read when its size is declared); malformed HTTP gets 400; a body
    that is not UTF-8 reaches the function as UTF-8 text with U+FFFD, as a REST
    API without binary media types hands it on. The access log has method and
    path only, never the query string.

    examples:
      python -m localapi build
      python -m localapi serve
      python -m localapi serve --port 3001 --workers 4 --env-vars env.json \\
          --parameter-overrides EnvironmentSuffix=dev LogLevel=DEBUG
    """
)


INVOKE_EPILOG = textwrap.dedent(
    """\
    The function runs in a worker process of its runtime's interpreter with the
    template's environment (with --parameter-overrides), Lambda's AWS_* variables
    with placeholder credentials and --env-vars overrides, as with `serve`; its
    Timeout is enforced. A response with statusCode 4xx/5xx is a function that
    returned: exit 0.

    examples:
      python -m localapi invoke ApiFunction -e events/echo.json
      python -m localapi invoke -e - < events/health.json | jq .statusCode
      make invoke EVENT=events/echo.json
    """
)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def tcp_port(text: str) -> int:
    """argparse type: a TCP port number (1-65535)."""
    value = _positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a TCP port")
    return value


def _add_sam_local_options(parser: argparse.ArgumentParser, sam_command: str, section: str) -> None:
    """The options ``serve`` and ``invoke`` share with ``sam local start-api``/``invoke``."""
    parser.add_argument(
        "--env-vars",
        "-n",
        type=Path,
        metavar="FILE",
        help='JSON overrides in SAM\'s format: {"FunctionLogicalId": {"VAR": "v"}, "Parameters": {...}}',
    )
    parser.add_argument(
        "--parameter-overrides",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="template parameter values, e.g. EnvironmentSuffix=dev (also ParameterKey=K,ParameterValue=V)",
    )
    parser.add_argument(
        "--engine",
        choices=("auto", "docker", "process"),
        default="auto",
        help=f"docker: hand over to `sam local {sam_command}`; process: worker processes; "
        "auto (default): docker when `docker info` answers, else process",
    )
    parser.add_argument(
        "--config-file",
        type=Path,
        default=None,
        metavar="FILE",
        help=f"samconfig file whose [ENV.{section}] / [ENV.global] parameters apply, "
        "as with sam (default: ./samconfig.toml when present)",
    )
    parser.add_argument(
        "--config-env",
        default="default",
        metavar="ENV",
        help="samconfig environment (default: default); --parameter-overrides replaces its "
        "parameter_overrides, as on the sam command line",
    )
    parser.add_argument(
        "--region",
        default=None,
        help="AWS_REGION the function sees (default: $AWS_REGION, $AWS_DEFAULT_REGION or us-east-1)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The CLI: ``serve``, ``invoke`` and ``build``."""
    parser = OneLineArgumentParser(
        prog="python -m localapi",
        description="Serve the SAM-built REST API on 127.0.0.1 like `sam local start-api`, without Docker.",
    )
    parser.add_argument("--version", action="version", version=f"localapi {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineArgumentParser)

    serve = sub.add_parser(
        "serve",
        help="serve the built template's API (default 127.0.0.1:3000)",
        description="Serve the API of a built SAM template on a loopback address.",
        epilog=SERVE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument(
        "--template",
        "-t",
        type=Path,
        default=Path(".aws-sam/build/template.yaml"),
        help="built template (default: .aws-sam/build/template.yaml; run `python -m localapi build`)",
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="loopback address to bind (default: 127.0.0.1)"
    )
    serve.add_argument("--port", "-p", type=tcp_port, default=3000, help="TCP port (default: 3000)")
    serve.add_argument(
        "--workers",
        type=_positive_int,
        default=2,
        metavar="N",
        help="warm worker processes per function, started eagerly (default: 2)",
    )
    _add_sam_local_options(serve, "start-api", "local_start_api")

    invoke = sub.add_parser(
        "invoke",
        help="invoke one built function once with an event, like `sam local invoke`",
        description=(
            "Invoke a built function once, in its own runtime's interpreter, exactly as "
            "`serve` runs it (no Docker): the response JSON on stdout, the function's logs "
            "and REPORT line on stderr. Exit 0 the function returned, 1 it raised, timed "
            "out or crashed, 2 bad input."
        ),
        epilog=INVOKE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    invoke.add_argument(
        "function",
        nargs="?",
        metavar="FUNCTION_LOGICAL_ID",
        help="the function to invoke (default: the template's only function)",
    )
    invoke.add_argument(
        "--event",
        "-e",
        metavar="EVENT_FILE",
        help="JSON event file, or - for stdin (default: no event, {})",
    )
    invoke.add_argument(
        "--template",
        "-t",
        type=Path,
        default=Path(".aws-sam/build/template.yaml"),
        help="built template (default: .aws-sam/build/template.yaml; run `python -m localapi build`)",
    )
    _add_sam_local_options(invoke, "invoke", "local_invoke")

    # Listed for --help only; localapi.__main__ hands them to the deployment package.
    sub.add_parser(
        "regions",
        help="rehearse or deploy one stack per region (see `regions --help`)",
        add_help=False,
    )
    sub.add_parser(
        "demo",
        help="the main job: render + validate the key policy, build, rehearse, serve (see `demo --help`)",
        add_help=False,
    )
    sub.add_parser(
        "rehearse",
        help="deploy rehearsal on the embedded AWS emulator (deployment.rehearsal; see `rehearse --help`)",
        add_help=False,
    )

    build = sub.add_parser(
        "build",
        help="run `sam build` with the function runtimes' interpreters on PATH",
        description=(
            "Run `sam build` with the real interpreter of every Python runtime in the template "
            "first on PATH (the pyenv shim for python3.13 does not work), so the build uses "
            "the runtime's own Python. Extra arguments after `--` go to sam build."
        ),
    )
    build.add_argument(
        "--template", "-t", type=Path, default=Path("template.yaml"), help="source template"
    )
    build.add_argument(
        "--build-dir",
        type=Path,
        default=None,
        help="output directory (default: .aws-sam/build, or .aws-sam/build-host with --host-build)",
    )
    build.add_argument(
        "--host-build",
        action="store_true",
        help="build for THIS machine's architecture (for native dependencies that cannot run "
        "here otherwise); local testing only, the served banner says so; deploy the normal build",
    )
    build.add_argument(
        "--no-bytecode",
        action="store_true",
        help="skip precompiling the functions' code to .pyc after sam build (shipped by default: "
        "Lambda's code directory is read-only, so source compiles at every cold start)",
    )
    build.add_argument(
        "--config-env",
        default=None,
        metavar="ENV",
        help="samconfig.toml environment for sam build (parameter overrides, cached/parallel)",
    )
    build.add_argument("sam_args", nargs=argparse.REMAINDER, help="-- extra `sam build` arguments")
    return parser


# --- serve ------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace, ready_hint: Sequence[str] = ()) -> int:
    """Validate everything that can be validated before starting anything.

    ``ready_hint``: lines printed once the API answers (the demo's curl examples).
    """
    from localapi import server  # noqa: PLC0415 -- samcli import is slow; --help stays fast

    host = server.check_host(args.host)
    template = server.resolve_template(args.template)
    shared, source = _shared_options(args, "local_start_api")
    opts = server.ServeOptions(
        template=template,
        host=host,
        port=args.port,
        workers=args.workers,
        parameter_source=source,
        ready_hint=tuple(ready_hint),
        **shared,
    )
    try:
        return server.serve(opts)
    except server.ServerStartError as exc:
        print(f"localapi: error: {exc}", file=sys.stderr)
        return EXIT_START_FAILED


def _shared_options(args: argparse.Namespace, command: str) -> tuple[dict[str, Any], str]:
    """What ``serve`` and ``invoke`` take alike, and where the parameter values came from.

    ``command`` names samconfig's section (``local_start_api``, ``local_invoke``). SAM's
    precedence: a command-line value replaces the samconfig one outright; both are read
    with SAM's syntax (the kit's one parser, file:// included).
    """
    from localapi import server  # noqa: PLC0415 -- samcli import is slow; --help stays fast

    config_file: Path = args.config_file or Path("samconfig.toml")
    config = server.samconfig_parameters(
        config_file, args.config_env, explicit=args.config_file is not None, command=command
    )
    if args.parameter_overrides:
        overrides = parse_parameter_overrides(args.parameter_overrides)
        source = "--parameter-overrides"
    elif config.get("parameter_overrides"):
        overrides = parse_parameter_overrides(config["parameter_overrides"])
        source = f"{config_file} [{args.config_env}]"
    else:
        overrides, source = {}, "template defaults"
    shared = {
        "env_vars_file": args.env_vars.resolve() if args.env_vars else None,
        "env_vars": server.load_env_vars(args.env_vars),
        "parameter_overrides": overrides,
        "parameter_items": list(args.parameter_overrides),
        "engine": args.engine,
        "region": args.region or str(config.get("region") or "") or server.default_region(),
        "config_file": config_file.resolve() if config_file.is_file() else None,
        "config_env": args.config_env,
    }
    return shared, source


def cmd_invoke(args: argparse.Namespace) -> int:
    """``sam local invoke`` without Docker: validate, then run one invocation."""
    from localapi import invoke, server  # noqa: PLC0415 -- samcli import is slow

    template = server.resolve_template(args.template)
    shared, _source = _shared_options(args, "local_invoke")
    opts = invoke.InvokeOptions(
        template=template, function=args.function, event=args.event, **shared
    )
    return invoke.invoke(opts)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, dispatch, and turn expected errors into one line + exit 2."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "serve":
            return cmd_serve(args)
        if args.command == "invoke":
            return cmd_invoke(args)
        return cmd_build(args)
    except UserError as exc:
        print(f"localapi: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
