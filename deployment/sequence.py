"""The one render -> build -> deploy sequence, each step spelled once.

Every way to a deployed stack takes the same steps in the same order:

1. render the key policy for the stack's account and region, in this process
   (``policy_gen.environment``: validated, written as the SAM parameter file
   ``params/ENV.yaml``, or handed straight to the rehearsal);
2. build with the function runtime's own interpreter (``python -m localapi build``);
3. deploy with SAM CLI: to real AWS (``sam deploy --config-env ENV``), or to
   the embedded emulator (the rehearsal: ``sam package`` then ``sam deploy``
   of the translated template, then the checks).

The demo and ``regions`` run the steps as they are (``render_build_deploy``),
streamed to the terminal (``run_in_order``); the rehearsal runs the same
commands as its own logged steps.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from localapi.runtime import LocalApiError, sam_executable
from policy_gen.environment import (
    DEFAULT_TEMPLATE,
    RenderedEnvironment,
    default_output,
    render_environment,
)
from sam_project.errors import UserError
from sam_project.samconfig import DEFAULT_CONFIG_FILE

# What a missing tool exits with in a shell; what a refused input exits with.
EXIT_NOT_FOUND = 127
EXIT_USAGE = 2


@dataclass(frozen=True)
class Step:
    """One step: what it does, in words, and the command line that does it.

    ``call``, when given, does the same in this process (``render``: the function
    ``policy_gen render`` itself calls); ``command`` is then what it is shown as.
    """

    title: str
    command: tuple[str, ...]
    call: Callable[[], int] | None = None

    @property
    def shown(self) -> str:
        return " ".join(self.command)

    def run(self) -> int:
        """Run it with the terminal as its output; a missing tool is one line, exit 127."""
        if self.call is not None:
            return self.call()
        try:
            return subprocess.call(list(self.command))
        except OSError as error:
            print(f"    cannot run {self.command[0]}: {error.strerror}", flush=True)
            return EXIT_NOT_FOUND


def sam() -> str:
    """The pinned SAM CLI; when none is installed, plain ``sam`` (its step then fails
    in one line when it runs, instead of the whole plan failing up front)."""
    try:
        return sam_executable()
    except LocalApiError:
        return "sam"


def render_command(
    config_env: str, *, account: str | None = None, region: str | None = None
) -> list[str]:
    """The ``policy_gen render`` command line that does what ``render_step`` does:
    samconfig's values for ``config_env``, the credentials' account (STS) unless
    ``account`` is given, written to ``params/ENV.yaml``."""
    command = [sys.executable, "-m", "policy_gen", "render", "--config-env", config_env]
    if account is not None:
        command += ["--account", account]
    if region is not None:
        command += ["--region", region]
    return command


def render(
    config_env: str,
    *,
    account: str | None = None,
    region: str | None = None,
    stack_name: str | None = None,
    template: Path | None = None,
    project_root: Path | None = None,
) -> RenderedEnvironment:
    """The key policy ``policy_gen render`` would write, rendered and validated in this
    process (samconfig.toml of ``project_root``, default the current directory).

    A policy that fails validation is refused, as ``render`` refuses it: UserError.
    """
    config = Path(DEFAULT_CONFIG_FILE)
    if project_root is not None and (project_root / DEFAULT_CONFIG_FILE).is_file():
        config = project_root / DEFAULT_CONFIG_FILE
    rendered = render_environment(
        config_file=config,
        config_env=config_env,
        template=template or (project_root or Path()) / DEFAULT_TEMPLATE,
        stack_name=stack_name,
        region=region,
        account=account,
    )
    if not rendered.valid:
        errors = [
            f"{f.code}: {f.message}" for f in rendered.report.findings if f.severity == "error"
        ]
        raise UserError(f"refusing a key policy that fails validation: {'; '.join(errors[:3])}")
    return rendered


def describe(rendered: RenderedEnvironment) -> list[str]:
    """What was rendered, for whom, and how it validated."""
    errors = sum(1 for f in rendered.report.findings if f.severity == "error")
    warnings = len(rendered.report.findings) - errors
    return [
        f"key policy of {rendered.key_logical_id} for stack {rendered.stack_name} in "
        f"{rendered.partition.name}/{rendered.region}/{rendered.account}; Logs principal "
        f"{rendered.logs_principal}",
        f"log groups {', '.join(rendered.log_groups)}; validation: {errors} error(s), "
        f"{warnings} warning(s); KeyPolicy {rendered.parameter_bytes}/4096 bytes",
    ]


def render_step(config_env: str, *, account: str | None = None, region: str | None = None) -> Step:
    """Render in process and write ``params/ENV.yaml``, where samconfig's ``file://``
    entry makes ``sam build``/``sam deploy`` read it."""

    def call() -> int:
        try:
            rendered = render(config_env, account=account, region=region)
        except UserError as error:
            print(f"policy_gen render: error: {error}", file=sys.stderr, flush=True)
            return EXIT_USAGE
        path = default_output(config_env)
        rendered.write(path)
        for line in [*describe(rendered), f"written to {path}"]:
            print(f"    {line}", flush=True)
        return 0

    rendered_for = f" (account {account}, {region})" if account and region else ""
    command = render_command(config_env, account=account, region=region)
    return Step(f"render and validate the key policy{rendered_for}", tuple(command), call)


def build_command(
    config_env: str | None = None, parameter_overrides: Sequence[str] = ()
) -> list[str]:
    """``localapi build`` (sam build with the runtime's own interpreter first on PATH)."""
    command = [sys.executable, "-m", "localapi", "build"]
    if config_env is not None:
        command += ["--config-env", config_env]
    if parameter_overrides:
        command += ["--", "--parameter-overrides", *parameter_overrides]
    return command


def deploy_command(config_env: str) -> list[str]:
    """``sam deploy`` to real AWS, every setting from samconfig's ``config_env``."""
    return [sam(), "deploy", "--config-env", config_env]


def package_command(
    sam_cli: str, template: Path, *, bucket: str, prefix: str, out: Path, region: str
) -> list[str]:
    """``sam package``: upload the built code, write the template that names it."""
    return [
        *_with_artifacts(sam_cli, "package", template, bucket, prefix, region),
        "--output-template-file", str(out),
        "--no-progressbar",
    ]  # fmt: skip


def deploy_template_command(
    sam_cli: str,
    template: Path,
    *,
    stack_name: str,
    bucket: str,
    region: str,
    parameter_overrides: Sequence[str],
) -> list[str]:
    """``sam deploy`` of an explicit template, with no samconfig settings (the rehearsal)."""
    return [
        *_with_artifacts(sam_cli, "deploy", template, bucket, stack_name, region),
        "--stack-name", stack_name,
        "--capabilities", "CAPABILITY_IAM",
        "--no-confirm-changeset",
        "--no-fail-on-empty-changeset",
        "--parameter-overrides", *parameter_overrides,
    ]  # fmt: skip


def _with_artifacts(
    sam_cli: str, command: str, template: Path, bucket: str, prefix: str, region: str
) -> list[str]:
    return [
        sam_cli, command,
        "--template-file", str(template),
        "--s3-bucket", bucket,
        "--s3-prefix", prefix,
        "--region", region,
    ]  # fmt: skip


def rehearse_command(
    *,
    config_env: str | None = None,
    region: str | None = None,
    stack_name: str | None = None,
    report: Path | None = None,
) -> list[str]:
    """The deploy rehearsal: build if needed, render, deploy to the emulator, check."""
    command = [sys.executable, "-m", "localapi", "rehearse"]
    for flag, value in (
        ("--config-env", config_env),
        ("--region", region),
        ("--stack-name", stack_name),
        ("--report", report),
    ):
        if value is not None:
            command += [flag, str(value)]
    return command


def render_build_deploy(
    config_env: str,
    deploy: Step | None,
    *,
    account: str | None = None,
    region: str | None = None,
) -> list[Step]:
    """The sequence for samconfig environment ``config_env``: the policy rendered for
    ``account``/``region`` (default: the credentials' and samconfig's), written to
    ``params/ENV.yaml`` where samconfig's ``file://`` entry reads it, then the build,
    then ``deploy`` (None: stop after the build)."""
    steps = [
        render_step(config_env, account=account, region=region),
        Step("build (sam build with the function's python3.13)", tuple(build_command(config_env))),
    ]
    return steps if deploy is None else [*steps, deploy]


@dataclass(frozen=True)
class Ran:
    step: Step
    code: int
    seconds: float


def run_in_order(
    steps: Sequence[Step],
    *,
    starting: Callable[[int, Step], None],
    finished: Callable[[int, Ran], None] = lambda number, ran: None,
    dry_run: bool = False,
) -> list[Ran]:
    """Run the steps in order and stop at the first that fails (its code is last)."""
    ran: list[Ran] = []
    for number, step in enumerate(steps, start=1):
        starting(number, step)
        started = time.monotonic()
        code = 0 if dry_run else step.run()
        ran.append(Ran(step, code, time.monotonic() - started))
        finished(number, ran[-1])
        if code != 0:
            break
    return ran
