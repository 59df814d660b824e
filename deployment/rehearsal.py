"""Deploy rehearsal: deploy the built stack to an embedded AWS emulator and check it.

Why: a deploy that fails after twenty minutes in a real account (a key policy
rendered for the wrong account, a log group that lost its key, an output
nobody declared) is the most expensive kind of mistake. The rehearsal runs the
real flow — the key policy rendered (policy_gen's render, in process) for the
emulator's account and region, the parameter file read by SAM CLI through
``file://``, ``sam package`` and ``sam deploy`` — against moto's server on
localhost, then runs the checks an operator would run after a real deploy.

Why the checks say *where* they ran: moto does not run the Serverless
transform and drops several properties (``EMULATOR_GAPS``; each entry was
verified against the pinned moto by deploying this template and reading
moto's source). The rehearsal therefore deploys the template already
transformed by the real SAM translator, and every property moto is known not
to keep is checked against that transformed template instead of the
emulator's resources — and reported as such. A check never passes without
having run: it is PASS, FAIL or NOT RUN (with the reason), and carries
``where`` = ``emulator``, ``transformed template`` or ``aws``.

The same check functions run against a REAL deployed stack when
``AWS_SAM_STACK_NAME`` is set: then there is no emulator and no transformed
template, and every check reads live resources (``where`` = ``aws``).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import yaml
from botocore.exceptions import BotoCoreError, ClientError

from deployment.adapt import adapt_for_emulator
from deployment.console import Console, skipped_step, step
from deployment.emulator import (
    EMULATOR_ACCOUNT,
    EMULATOR_GAPS,
    EMULATOR_REGION,
    GAPS_VERIFIED_WITH_MOTO,
    emulator_env,
    emulator_session,
    moto_error,
)
from deployment.moto_server import MotoServer
from deployment.results import CheckFailed, Report, StepFailed
from deployment.sequence import (
    build_command,
    deploy_template_command,
    describe,
    package_command,
    render,
)
from deployment.target import Target
from deployment.template_values import PlannedStack, TemplateValues
from deployment.tools import (
    run_tool,
    sam_executable,
)
from deployment.translate import transform_template
from policy_gen.environment import RenderedEnvironment
from policy_gen.inject import RENDERED_PARAMETERS
from sam_project.errors import UserError
from sam_project.files import write_atomically
from sam_project.overrides import parse_parameter_overrides
from sam_project.samconfig import load_environment

DEFAULT_STACK_NAME = "secure-api-rehearsal"
REAL_STACK_ENV = "AWS_SAM_STACK_NAME"

BUILD_TIMEOUT = 900
SAM_TIMEOUT = 600


@dataclass
class Options:
    project_root: Path
    stack_name: str = DEFAULT_STACK_NAME
    # The stack name the key policy is rendered for (None: stack_name): deploying a
    # parameter file rendered for one name under another, as `sam deploy --guided` can.
    rendered_for_stack: str | None = None
    template: Path | None = None
    config_env: str = "default"
    keep: bool = False
    report_path: Path | None = None
    real_stack: str | None = None
    # The emulated region: one rehearsal per region for multi-region deploys.
    region: str = EMULATOR_REGION


@dataclass
class Rehearsal:
    """State shared by the steps of one emulator rehearsal."""

    options: Options
    report: Report
    console: Console
    work_dir: Path
    server: MotoServer | None = None
    template: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    expected_policy: dict[str, Any] | None = None
    transformed: dict[str, Any] | None = None
    removed: set[str] = field(default_factory=set)
    parameters: dict[str, str] = field(default_factory=dict)

    @property
    def settings_file(self) -> Path:
        return self.work_dir / "params" / "settings.yaml"

    @property
    def policy_file(self) -> Path:
        return self.work_dir / "params" / "rehearsal.yaml"

    @property
    def parameter_overrides(self) -> list[str]:
        """What SAM reads, as in samconfig.toml: the environment's values, then
        policy_gen's parameter file (``file://``; later files win)."""
        return [f"file://{self.settings_file}", f"file://{self.policy_file}"]

    @property
    def bucket(self) -> str:
        """The artifact bucket: a valid S3 name (at most 63 characters) for any stack name."""
        return f"{self.options.stack_name.lower()[:50].rstrip('-')}-artifacts"

    def prepare(self) -> None:
        """Write the samconfig environment's non-policy values as a SAM parameter
        file: files avoid SAM CLI's command-line quoting entirely."""
        with step(self.report, self.console, "prepare") as details:
            config = self.options.project_root / "samconfig.toml"
            values: dict[str, str] = {}
            if config.is_file():
                environment = load_environment(config, self.options.config_env)
                values = {
                    k: v
                    for k, v in environment.parameter_overrides.items()
                    if k not in RENDERED_PARAMETERS
                }
                shown = ", ".join(f"{k}={v}" for k, v in values.items()) or "no values"
                details.append(f"samconfig env {self.options.config_env!r}: {shown}")
            else:
                details.append("no samconfig.toml: template defaults")
            header = (
                f"# The non-policy parameter values of samconfig env {self.options.config_env!r}, "
                "for the deploy rehearsal.\n"
            )
            body = yaml.safe_dump(values, default_style="'", sort_keys=False) if values else "{}\n"
            write_atomically(self.settings_file, header + body)
            details.append(f"work dir {self.work_dir}")

    def build(self) -> None:
        root = self.options.project_root
        if self.options.template is not None:
            template = self.options.template.resolve()
            if not template.is_file():
                with step(self.report, self.console, "build"):
                    raise StepFailed(f"--template {template} does not exist")
            self.template = template
            skipped_step(self.report, self.console, "build", f"using --template {template}")
            return
        built = root / ".aws-sam" / "build" / "template.yaml"
        if built.is_file():
            self.template = built
            note = f"using the existing build {built.relative_to(root)}"
            source = root / "template.yaml"
            if source.is_file() and source.stat().st_mtime > built.stat().st_mtime:
                note += " (older than template.yaml: rebuild if that matters)"
            skipped_step(self.report, self.console, "build", note)
            return
        with step(self.report, self.console, "build") as details:
            # Explicit overrides: samconfig's list names params/ENV.yaml, which exists
            # only after a render for an account; the build needs no key policy.
            overrides = self.parameter_overrides[:1]
            # localapi build finds the runtime's own interpreter (localapi.runtime).
            command = build_command(parameter_overrides=overrides)
            env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
            details.append("python -m localapi build")
            run_tool(
                command, cwd=root, env=env, log=self.work_dir / "build.log", timeout=BUILD_TIMEOUT
            )
            if not built.is_file():
                raise StepFailed(f"the build did not produce {built}")
            self.template = built
            details.append(f"built {built.relative_to(root)}")

    def start_emulator(self) -> None:
        with step(self.report, self.console, "start emulator") as details:
            self.server = MotoServer(self.work_dir / "moto.log")
            endpoint = self.server.start()
            self.env = emulator_env(endpoint, self.work_dir, self.options.region)
            version = importlib.metadata.version("moto")
            self.report.endpoint_url = endpoint
            self.report.emulator.update(
                {
                    "moto_version": version,
                    "gaps_verified_with_moto": GAPS_VERIFIED_WITH_MOTO,
                    "pid": self.server.pid,
                    "log": str(self.server.log_path),
                }
            )
            details.append(f"moto {version} at {endpoint} (pid {self.server.pid})")
            if version != GAPS_VERIFIED_WITH_MOTO:
                details.append(
                    f"warning: the emulator gaps were verified with moto "
                    f"{GAPS_VERIFIED_WITH_MOTO}; re-verify EMULATOR_GAPS for {version}"
                )

    def render(self) -> None:
        assert self.template is not None
        with step(self.report, self.console, "render key policy (policy_gen)") as details:
            rendered = render_or_fail(
                self.options.config_env,
                account=EMULATOR_ACCOUNT,
                region=self.options.region,
                stack_name=self.options.rendered_for_stack or self.options.stack_name,
                template=self.template,
                project_root=self.options.project_root,
            )
            rendered.write(self.policy_file)
            self.expected_policy = rendered.policy
            details.extend([*describe(rendered), f"written to {self.policy_file}"])

    def package(self) -> None:
        assert self.template is not None
        with step(self.report, self.console, "package (sam package)") as details:
            s3: Any = emulator_session(self.options.region).client(
                "s3", endpoint_url=self.report.endpoint_url
            )
            if self.options.region == "us-east-1":
                s3.create_bucket(Bucket=self.bucket)
            else:  # S3 wants the location everywhere but us-east-1
                s3.create_bucket(
                    Bucket=self.bucket,
                    CreateBucketConfiguration={"LocationConstraint": self.options.region},
                )
            packaged = self.work_dir / "packaged.yaml"
            command = package_command(
                sam_executable(),
                self.template,
                bucket=self.bucket,
                prefix=self.options.stack_name,
                out=packaged,
                region=self.options.region,
            )
            self.run_against_emulator(command, self.work_dir / "package.log")
            details.append(
                f"code uploaded to s3://{self.bucket}/{self.options.stack_name}/ -> {packaged.name}"
            )

    def transform(self) -> None:
        with step(self.report, self.console, "transform (SAM translator)") as details:
            self.parameters = read_parameter_overrides(self.parameter_overrides)
            self.transformed = transform_template(
                self.work_dir / "packaged.yaml",
                self.parameters,
                self.report.endpoint_url,
                self.options.region,
            )
            out = self.work_dir / "transformed.json"
            out.write_text(json.dumps(self.transformed, indent=1), encoding="utf-8")
            resources = self.transformed.get("Resources") or {}
            details.append(f"{len(resources)} CloudFormation resources -> {out.name}")

    def adapt(self) -> None:
        assert self.transformed is not None
        with step(self.report, self.console, "adapt for the emulator") as details:
            planned = PlannedStack(
                self.transformed, self.options.stack_name, self.parameters, self.options.region
            )
            adapted, adaptations = adapt_for_emulator(self.transformed, planned)
            self.removed = set(self.transformed.get("Resources") or {}) - set(
                adapted.get("Resources") or {}
            )
            (self.work_dir / "emulator-template.json").write_text(
                json.dumps(adapted, indent=1), encoding="utf-8"
            )
            self.report.emulator["adaptations"] = adaptations
            details.extend(adaptations or ["none needed"])

    def deploy(self) -> None:
        with step(self.report, self.console, "deploy (sam deploy)") as details:
            command = deploy_template_command(
                sam_executable(),
                self.work_dir / "emulator-template.json",
                stack_name=self.options.stack_name,
                bucket=self.bucket,
                region=self.options.region,
                parameter_overrides=self.parameter_overrides,
            )
            self.run_against_emulator(command, self.work_dir / "deploy.log")
            target = self.target()
            status = target.stack().get("StackStatus")
            created = set(target.resources())
            declared = (self.transformed or {}).get("Resources") or {}
            absent = self.classify_absent(target, declared, created)
            self.report.emulator["resources_absent"] = absent
            details.append(
                f"stack {self.options.stack_name} {status}: the emulator holds "
                f"{len(created & set(declared))} of the {len(declared)} resources of the "
                "transformed template"
            )
            details.extend(f"{why}: {', '.join(names)}" for why, names in absent.items() if names)

    def classify_absent(
        self, target: Target, declared: Mapping[str, Any], created: set[str]
    ) -> dict[str, list[str]]:
        """Why each resource of the transformed template is not in the stack: its
        Condition is false (as in AWS), we removed it for the emulator, or the
        emulator did not create it (no moto support)."""
        values = TemplateValues(target)
        absent: dict[str, list[str]] = {
            "condition false (not created in AWS either)": [],
            "removed for the emulator (see adaptations)": [],
            "not created by the emulator": [],
        }
        for logical_id in sorted(set(declared) - created):
            resource = declared[logical_id] if isinstance(declared[logical_id], dict) else {}
            condition = resource.get("Condition")
            skipped = False
            if isinstance(condition, str):
                with contextlib.suppress(CheckFailed, ClientError, BotoCoreError):
                    skipped = not values.condition(condition)
            if skipped:
                absent["condition false (not created in AWS either)"].append(logical_id)
            elif logical_id in self.removed:
                absent["removed for the emulator (see adaptations)"].append(logical_id)
            else:
                absent["not created by the emulator"].append(logical_id)
        return absent

    def run_against_emulator(self, command: Sequence[str], log: Path) -> None:
        """A SAM CLI command against the emulator; a failure names moto's own error."""
        mark = self.server.log_path.stat().st_size if self.server else 0
        try:
            run_tool(command, cwd=self.work_dir, env=self.env, log=log, timeout=SAM_TIMEOUT)
        except StepFailed as failure:
            error = None
            if self.server is not None:
                fresh = self.work_dir / "moto-error.log"
                with self.server.log_path.open("rb") as stream:
                    stream.seek(mark)
                    fresh.write_bytes(stream.read())
                error = moto_error(fresh)
            if error is None:
                raise
            raise StepFailed(f"the emulator failed: {error}\n{failure}") from None

    def target(self) -> Target:
        return Target(
            emulator_session(self.options.region),
            self.options.stack_name,
            endpoint_url=self.report.endpoint_url,
            emulated=True,
            transformed=self.transformed,
            expected_policy=self.expected_policy,
        )

    def stop(self) -> None:
        if self.server is None:
            return
        if self.options.keep:
            self.server.keep()
            self.report.emulator["kept_running"] = True
        else:
            self.server.stop()
            self.report.emulator["kept_running"] = False


@contextlib.contextmanager
def emulator_rehearsal(
    options: Options, console: Console | None = None, work_dir: Path | None = None
) -> Iterator[tuple[Report, Target | None]]:
    """Prepare, build, start the emulator, render, package, transform, adapt, deploy.

    Yields the report and the deployed target (None when a step failed: the
    report says which and why). The emulator is stopped on exit unless
    ``options.keep``.
    """
    console = console or Console()
    report = Report("emulator", options.stack_name, options.region, EMULATOR_ACCOUNT)
    report.emulator["known_gaps"] = dict(EMULATOR_GAPS)
    work = work_dir or Path(tempfile.mkdtemp(prefix="secure-api-rehearsal-"))
    report.work_dir = str(work)
    rehearsal = Rehearsal(options, report, console, work)
    target: Target | None = None
    try:
        try:
            rehearsal.prepare()
            rehearsal.build()
            rehearsal.start_emulator()
            rehearsal.render()
            rehearsal.package()
            rehearsal.transform()
            rehearsal.adapt()
            rehearsal.deploy()
            target = rehearsal.target()
        except StepFailed:
            pass  # recorded by step(); the checks will be NOT RUN
        yield report, target
    finally:
        rehearsal.stop()


def aws_rehearsal(options: Options, console: Console) -> tuple[Report, Target | None]:
    """Against the REAL stack ``options.real_stack``: no emulator, every check live."""
    assert options.real_stack is not None
    session = boto3.session.Session()
    report = Report("aws", options.real_stack, session.region_name)
    target = Target(session, options.real_stack)
    try:
        with step(report, console, "locate stack") as details:
            if not session.region_name:
                raise StepFailed("no AWS region configured: set AWS_REGION")
            report.account = target.account()
            details.append(
                f"{options.real_stack} in {report.account}/{session.region_name}: "
                f"{target.stack().get('StackStatus')}"
            )
        with step(report, console, "render key policy (policy_gen)") as details:
            # The stack name its parameter file was rendered for (the log groups carry
            # it), whatever the stack is called; a stack without one: its own name.
            rendered_for = (
                options.rendered_for_stack
                or target.parameters().get("PolicyStackName")
                or options.real_stack
            )
            rendered = render_or_fail(
                options.config_env,
                account=str(report.account),
                region=str(session.region_name),
                stack_name=rendered_for,
                template=options.template or default_template(options.project_root),
                project_root=options.project_root,
            )
            target.expected_policy = rendered.policy
            details.extend(describe(rendered))
    except StepFailed:
        return report, None
    return report, target


def default_template(root: Path) -> Path:
    built = root / ".aws-sam" / "build" / "template.yaml"
    return built if built.is_file() else root / "template.yaml"


def read_parameter_overrides(parameter_overrides: Sequence[str]) -> dict[str, str]:
    """The parameter values SAM CLI will read from ``--parameter-overrides`` (the kit's
    one parser, SAM's syntax, ``file://`` files read), as a step failure when they are bad."""
    try:
        return parse_parameter_overrides(parameter_overrides)
    except UserError as error:
        raise StepFailed(f"the parameter overrides cannot be read: {error}") from None


def render_or_fail(config_env: str, **where: Any) -> RenderedEnvironment:
    """``sequence.render``, a refused input failing the step with its one line."""
    try:
        return render(config_env, **where)
    except UserError as error:
        raise StepFailed(f"policy_gen render: {error}") from None
