"""``python -m localapi build``: ``sam build`` with the real interpreter of every Python
runtime in the template first on PATH, optionally for this host's architecture, then
the functions' code precompiled to bytecode."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from localapi.runtime import (
    LocalApiError,
    find_interpreter,
    host_platform,
    iter_python_runtimes,
    normalize_arch,
)


def _function_runtimes(template: Path) -> dict[str, tuple[str | None, str]]:
    """Logical id -> (Runtime, architecture), read with SAM's providers (Globals applied)."""
    from samcli.lib.providers.sam_function_provider import SamFunctionProvider  # noqa: PLC0415
    from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider  # noqa: PLC0415

    try:
        stacks, _ = SamLocalStackProvider.get_stacks(
            str(template), language_extensions_enabled=True
        )
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
    # AWS::LanguageExtensions expanded locally, as samconfig.toml's language_extensions
    # asks (templates without the transform are unaffected).
    env = dict(os.environ, PATH=path, SAM_CLI_TELEMETRY="0", SAM_CLI_ENABLE_LANGUAGE_EXTENSIONS="1")
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
