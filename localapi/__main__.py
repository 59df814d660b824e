"""``python -m localapi``: serve the built API locally without Docker, or build it first.

Errors a user can fix (bad flag, missing template, missing python3.13, native
code for another architecture) are printed as one line and exit 2, never as a
traceback; a function that cannot start exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from localapi import __version__
from localapi.runtime import (
    LocalApiError,
    find_interpreter,
    host_platform,
    iter_python_runtimes,
    normalize_arch,
)
from policy_gen.errors import OneLineArgumentParser

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

    examples:
      python -m localapi build
      python -m localapi serve
      python -m localapi serve --port 3001 --workers 4 --env-vars env.json \\
          --parameter-overrides EnvironmentSuffix=dev LogLevel=DEBUG
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


def _port(text: str) -> int:
    value = _positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a TCP port")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The CLI: ``serve`` and ``build``."""
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
    serve.add_argument("--port", "-p", type=_port, default=3000, help="TCP port (default: 3000)")
    serve.add_argument(
        "--env-vars",
        "-n",
        type=Path,
        metavar="FILE",
        help='JSON overrides in SAM\'s format: {"FunctionLogicalId": {"VAR": "v"}, "Parameters": {...}}',
    )
    serve.add_argument(
        "--parameter-overrides",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="template parameter values, e.g. EnvironmentSuffix=dev (also ParameterKey=K,ParameterValue=V)",
    )
    serve.add_argument(
        "--workers",
        type=_positive_int,
        default=2,
        metavar="N",
        help="warm worker processes per function, started eagerly (default: 2)",
    )
    serve.add_argument(
        "--engine",
        choices=("auto", "docker", "process"),
        default="auto",
        help="docker: hand over to `sam local start-api`; process: worker processes; "
        "auto (default): docker when `docker info` answers, else process",
    )
    serve.add_argument(
        "--config-file",
        type=Path,
        default=None,
        metavar="FILE",
        help="samconfig file whose [ENV.local_start_api] / [ENV.global] parameters apply, "
        "as with sam (default: ./samconfig.toml when present)",
    )
    serve.add_argument(
        "--config-env",
        default="default",
        metavar="ENV",
        help="samconfig environment (default: default); --parameter-overrides replaces its "
        "parameter_overrides, as on the sam command line",
    )
    serve.add_argument(
        "--region",
        default=None,
        help="AWS_REGION the function sees (default: $AWS_REGION, $AWS_DEFAULT_REGION or us-east-1)",
    )

    # Listed for --help only; main() hands `demo`/`rehearse ...` over untouched.
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
        help="deploy rehearsal on the embedded AWS emulator (localapi.rehearsal; see `rehearse --help`)",
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


def cmd_serve(args: argparse.Namespace) -> int:
    """Validate everything that can be validated before starting anything."""
    from localapi import server  # noqa: PLC0415 -- samcli import is slow; --help stays fast

    host = server.check_host(args.host)
    template = server.resolve_template(args.template)
    config_file: Path = args.config_file or Path("samconfig.toml")
    config = server.samconfig_parameters(
        config_file, args.config_env, explicit=args.config_file is not None
    )
    # SAM's precedence: a command-line value replaces the samconfig one outright.
    if args.parameter_overrides:
        overrides = server.parse_parameter_overrides(args.parameter_overrides)
        source = "--parameter-overrides"
    elif config.get("parameter_overrides"):
        overrides = server.parse_parameter_overrides(config["parameter_overrides"])
        source = f"{config_file} [{args.config_env}]"
    else:
        overrides, source = {}, "template defaults"
    opts = server.ServeOptions(
        template=template,
        host=host,
        port=args.port,
        env_vars_file=args.env_vars.resolve() if args.env_vars else None,
        env_vars=server.load_env_vars(args.env_vars),
        parameter_overrides=overrides,
        parameter_items=list(args.parameter_overrides),
        workers=args.workers,
        engine=args.engine,
        region=args.region or str(config.get("region") or "") or server.default_region(),
        config_file=config_file.resolve() if config_file.is_file() else None,
        config_env=args.config_env,
        parameter_source=source,
        ready_hint=tuple(getattr(args, "ready_hint", ())),
    )
    try:
        return server.serve(opts)
    except server.ServerStartError as exc:
        print(f"localapi: error: {exc}", file=sys.stderr)
        return EXIT_START_FAILED


# --- build ------------------------------------------------------------------------


def _function_runtimes(template: Path) -> dict[str, tuple[str | None, str]]:
    """Logical id -> (Runtime, architecture), read with SAM's providers (Globals applied)."""
    from samcli.lib.providers.sam_function_provider import SamFunctionProvider  # noqa: PLC0415
    from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider  # noqa: PLC0415

    try:
        stacks, _ = SamLocalStackProvider.get_stacks(str(template))
    except Exception as exc:
        raise LocalApiError(f"cannot load template {template}: {exc}") from None
    provider = SamFunctionProvider(stacks, ignore_code_extraction_warnings=True)
    return {f.name: (f.runtime, f.architecture or "x86_64") for f in provider.get_all()}


def host_template(template: Path, arch: str, dest: Path) -> dict[str, str]:
    """Write a copy of ``template`` whose functions all target ``arch``; return their real targets."""
    from samcli.yamlhelper import yaml_dump, yaml_parse  # noqa: PLC0415 -- keeps !Ref/!Sub tags

    doc = yaml_parse(template.read_text(encoding="utf-8"))
    targets = {name: normalize_arch(a) for name, (_rt, a) in _function_runtimes(template).items()}
    lambda_arch = "arm64" if arch == "arm64" else "x86_64"
    globals_fn = (doc.get("Globals") or {}).get("Function")
    if isinstance(globals_fn, dict) and "Architectures" in globals_fn:
        globals_fn["Architectures"] = [lambda_arch]
    for resource in (doc.get("Resources") or {}).values():
        if isinstance(resource, dict) and resource.get("Type") in (
            "AWS::Serverless::Function",
            "AWS::Lambda::Function",
        ):
            resource.setdefault("Properties", {})["Architectures"] = [lambda_arch]
    dest.write_text(yaml_dump(doc), encoding="utf-8")
    return targets


def precompile(build_dir: Path, interpreters: Sequence[Any]) -> None:
    """Compile each function's code to bytecode with its own runtime's interpreter.

    Lambda's code directory is read-only, so without shipped .pyc files every cold
    start compiles every imported module from source: bench/ measured that as about
    half of the handler's import cost. ``unchecked-hash`` pyc files are used without
    comparing source timestamps (zip extraction does not preserve them reliably).
    A file that does not compile (vendored test data, other Python versions) is
    left as source; that costs nothing but its own compile at import.
    """
    built = build_dir / "template.yaml"
    if not built.is_file():
        return
    by_runtime = {i.runtime: i for i in interpreters}
    for logical_id, (runtime, _arch) in _function_runtimes(built).items():
        interpreter = by_runtime.get(runtime or "")
        code_dir = build_dir / logical_id
        if interpreter is None or not code_dir.is_dir():
            continue
        result = subprocess.run(
            [
                str(interpreter.path),
                "-m",
                "compileall",
                "-q",
                "-j",
                "0",
                "--invalidation-mode",
                "unchecked-hash",
                str(code_dir),
            ],
            check=False,
            capture_output=True,
            text=True,
        )
        note = "" if result.returncode == 0 else " (some files kept as source)"
        print(f"localapi: precompiled {code_dir} for {runtime}{note}", flush=True)


def cmd_build(args: argparse.Namespace) -> int:
    """``sam build`` with the right interpreters first on PATH (and, optionally, for this host)."""
    from localapi.runtime import sam_executable  # noqa: PLC0415
    from localapi.server import BUILD_DIR, HOST_BUILD_DIR, HOST_BUILD_MARKER  # noqa: PLC0415

    template: Path = args.template
    if not template.is_file():
        raise LocalApiError(
            f"template {template} not found (run from the project root or pass --template)"
        )
    runtimes = iter_python_runtimes(rt for rt, _arch in _function_runtimes(template).values())
    interpreters = [find_interpreter(rt) for rt in runtimes]
    path = os.pathsep.join([*(str(i.bin_dir) for i in interpreters), os.environ.get("PATH", "")])
    env = dict(os.environ, PATH=path, SAM_CLI_TELEMETRY="0")
    extra = [a for a in args.sam_args if a != "--"]
    if args.config_env:
        extra = ["--config-env", args.config_env, *extra]
    cmd = [sam_executable(), "build"]
    for interp in interpreters:
        print(f"localapi: {interp.runtime} -> {interp.path}", flush=True)
    if not args.host_build:
        cmd += ["--template", str(template)]
        if args.build_dir:
            cmd += ["--build-dir", str(args.build_dir)]
        print(f"localapi: {' '.join(['sam', *cmd[1:], *extra])}", flush=True)
        code = subprocess.run([*cmd, *extra], env=env, check=False).returncode
        if code == 0 and not args.no_bytecode:
            precompile(args.build_dir or BUILD_DIR, interpreters)
        return code

    _os, arch = host_platform()
    build_dir: Path = args.build_dir or HOST_BUILD_DIR
    with tempfile.TemporaryDirectory(prefix="localapi-host-") as tmp:
        derived = Path(tmp) / "template.yaml"
        targets = host_template(template, arch, derived)
        cmd += [
            "--template",
            str(derived),
            "--base-dir",
            str(template.resolve().parent),
            "--build-dir",
            str(build_dir),
            "--cache-dir",
            str(Path(".aws-sam") / "cache-host"),
        ]
        print(f"localapi: host build for {arch} (targets: {targets}) -> {build_dir}", flush=True)
        code = subprocess.run([*cmd, *extra], env=env, check=False).returncode
    if code == 0:
        (build_dir / HOST_BUILD_MARKER).write_text(
            json.dumps({"host_architecture": arch, "target_architectures": targets}, indent=2)
            + "\n",
            encoding="utf-8",
        )
        print(
            f"localapi: serve it with `python -m localapi serve --template {build_dir / 'template.yaml'}` "
            "(local testing only; deploy the normal build)",
            flush=True,
        )
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, dispatch, and turn expected errors into one line + exit 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["regions"]:  # multi-region rehearse/deploy (deployment.regions)
        from deployment import regions  # noqa: PLC0415

        return regions.main(argv[1:])
    if argv[:1] == ["demo"]:  # the README's main command (deployment.demo)
        from deployment import demo  # noqa: PLC0415

        return demo.main(argv[1:])
    if argv[:1] == ["rehearse"]:  # its own CLI, owned by deployment.rehearsal_cli
        from deployment import rehearsal_cli  # noqa: PLC0415 -- boto3/moto imports only when asked

        return rehearsal_cli.main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        if args.command == "serve":
            return cmd_serve(args)
        return cmd_build(args)
    except LocalApiError as exc:
        print(f"localapi: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
