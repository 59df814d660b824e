"""Wire SAM CLI's own local-API machinery to the process runtime, and run it.

What ``sam local start-api`` does, minus Docker:

1. ``SamLocalStackProvider.get_stacks`` loads the (built) template with the
   parameter overrides -- SAM's intrinsic resolution, Globals, transforms.
2. ``SamFunctionProvider`` lists the functions; ``ApiProvider`` collects the
   API routes (including ``/{proxy+}`` and implicit APIs).
3. ``ProcessLambdaRunner`` (SAM's ``LocalLambdaRunner``) resolves each function's
   ``FunctionConfig`` and environment; its runtime is ours (warm processes).
4. ``LocalApigwService`` builds the Flask app: routes, the REST proxy event for
   each request, and the translation of the function's JSON back into HTTP.

Before the first request, each routed function is checked (Python runtime,
interpreter present, native code loadable on this host) and its worker pool is
started, so a broken setup fails at startup with one line instead of at the
first request with a 502.

Version coupling: 2-4 are SAM CLI internals; ``pyproject.toml`` pins
aws-sam-cli and :func:`check_sam_version` refuses another version unless
``LOCALAPI_ALLOW_SAM_VERSION`` names it (the contract tests in
``tests/unit/localapi/test_sam_contract.py`` say what an upgrade must keep).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from localapi.http_guard import InvokePayloadTooLarge, RequestGuard, invoke_too_large_answer
from localapi.http_server import make_local_server
from localapi.runner import (
    LogSink,
    ProcessLambdaRunner,
    ProcessLambdaRuntime,
    WorkerSpec,
    WorkerStartError,
    build_worker_env,
)
from localapi.runtime import (
    ArchReport,
    LocalApiError,
    UnsupportedFunctionError,
    cached_interpreter,
    check_architecture,
    runtime_version,
    sam_executable,
)
from sam_project.documents import parse_json
from sam_project.errors import UserError
from sam_project.files import read_text_file
from sam_project.samconfig import command_settings

LOG = logging.getLogger("localapi")

#: The SAM CLI version whose internals this module was written and tested against.
SAM_CLI_VERSION = "1.170.0"
BUILD_DIR = Path(".aws-sam") / "build"
HOST_BUILD_DIR = Path(".aws-sam") / "build-host"
HOST_BUILD_MARKER = "localapi-host-build.json"


class ServerStartError(Exception):
    """The function could not be started (its workers died or hung in init)."""


def check_sam_version() -> str:
    """Refuse an aws-sam-cli other than the pinned one, loudly and early."""
    import samcli  # noqa: PLC0415 -- imported late so `--help` stays fast

    found = str(getattr(samcli, "__version__", "unknown"))
    allowed = {SAM_CLI_VERSION, os.environ.get("LOCALAPI_ALLOW_SAM_VERSION", "")}
    if found not in allowed:
        raise LocalApiError(
            f"aws-sam-cli {found} is installed but localapi reuses SAM CLI {SAM_CLI_VERSION} "
            "internals (LocalApigwService, LocalLambdaRunner, providers): reinstall the pinned "
            "version (scripts/bootstrap.sh), or run tests/unit/localapi/test_sam_contract.py "
            f"against {found} and set LOCALAPI_ALLOW_SAM_VERSION={found}"
        )
    return found


# --- input validation -----------------------------------------------------------


def check_host(host: str) -> str:
    """Only loopback addresses: this server runs unauthenticated, unreviewed code."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise LocalApiError(f"--host {host!r} is not an IP address; use 127.0.0.1") from None
    if not address.is_loopback:
        raise LocalApiError(
            f"--host {host} is not a loopback address: localapi only listens on 127.0.0.1 "
            "(it runs your function with no auth in front of it)"
        )
    return host


def samconfig_parameters(
    config_file: Path, env: str, *, explicit: bool, command: str = "local_start_api"
) -> dict[str, Any]:
    """A ``sam local`` command's settings from samconfig.toml (its section, plus ``global``),
    read by the kit's one samconfig reader. A missing default file is no config; a
    missing file the user named is an error.
    """
    if not config_file.is_file():
        if explicit:
            raise LocalApiError(f"--config-file {config_file} not found")
        return {}
    return command_settings(config_file, env, command)


# Lambda allows 4 KB of environment variables per function (Lambda developer guide,
# quotas); a file of many functions' variables stays far below this.
MAX_ENV_VARS_BYTES = 1_048_576


def load_env_vars(path: Path | None) -> dict[str, dict[str, Any]]:
    """Read ``--env-vars`` in SAM's JSON format: ``{"LogicalId": {...}, "Parameters": {...}}``."""
    if path is None:
        return {}
    what = f"--env-vars file {str(path)!r}"
    expected = 'a JSON object like {"FunctionLogicalId": {"VAR": "value"}}'
    try:
        # Bounded and regular files only: a FIFO or /dev/zero must not hang the server.
        text = read_text_file(path, limit=MAX_ENV_VARS_BYTES, what=what, expected=expected)
        data = parse_json(text, what)
    except LocalApiError:
        raise
    except UserError as error:
        raise LocalApiError(str(error)) from None
    if not isinstance(data, dict):
        raise LocalApiError(
            f'--env-vars file {path} must be a JSON object like {{"FunctionLogicalId": {{"VAR": "value"}}}}'
        )
    for key, value in data.items():
        if not isinstance(value, dict):
            raise LocalApiError(
                f"--env-vars file {path}: {key!r} must map to an object of variables, "
                f"not {type(value).__name__}"
            )
        for name, var in value.items():
            if isinstance(var, (dict, list)):
                raise LocalApiError(
                    f"--env-vars file {path}: {key}.{name} must be a string or number"
                )
    return data


def resolve_template(template: Path) -> Path:
    """The built template, or a one-line hint to build it."""
    if template.is_dir():
        template = template / "template.yaml"
    if not template.is_file():
        raise LocalApiError(
            f"template {template} not found: run sam build first (`python -m localapi build`)"
        )
    return template.resolve()


def default_region() -> str:
    """The region Lambda would report: the shell's, else SAM's default."""
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


# --- engine choice ----------------------------------------------------------------


def docker_available(timeout_s: float = 3.0) -> bool:
    """True when ``docker info`` answers quickly (CLI present *and* a daemon reachable)."""
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        result = subprocess.run(
            [docker, "info"], capture_output=True, timeout=timeout_s, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


@dataclass
class ServeOptions:
    """Validated ``serve`` options."""

    template: Path
    host: str = "127.0.0.1"
    port: int = 3000
    env_vars_file: Path | None = None
    env_vars: dict[str, dict[str, Any]] = field(default_factory=dict)
    parameter_overrides: dict[str, str] = field(default_factory=dict)
    parameter_items: list[str] = field(default_factory=list)
    workers: int = 2
    engine: str = "auto"
    region: str = "us-east-1"
    config_file: Path | None = None
    config_env: str = "default"
    parameter_source: str = "template defaults"
    # Lines printed once the port answers (the demo's ready-to-paste curl lines).
    ready_hint: tuple[str, ...] = ()


def docker_command(opts: ServeOptions) -> list[str]:
    """The ``sam local start-api`` command equivalent to these options."""
    cmd = [
        sam_executable(),
        "local",
        "start-api",
        "--template",
        str(opts.template),
        "--host",
        opts.host,
        "--port",
        str(opts.port),
        "--region",
        opts.region,
        "--warm-containers",
        "EAGER",
    ]
    return cmd + sam_local_options(opts)


def sam_local_options(opts: ServeOptions | Any) -> list[str]:
    """The options every ``sam local`` command shares, from ``serve``'s or ``invoke``'s
    options: samconfig file and environment, ``--env-vars``, ``--parameter-overrides``."""
    found: list[str] = []
    if opts.config_file is not None:
        found += ["--config-file", str(opts.config_file), "--config-env", opts.config_env]
    if opts.env_vars_file is not None:
        found += ["--env-vars", str(opts.env_vars_file)]
    if opts.parameter_items:
        found += ["--parameter-overrides", *opts.parameter_items]
    return found


def choose_engine(requested: str) -> str | None:
    """Why Docker's ``sam local`` takes over (``--engine docker``/``auto``), or None for the
    process engine; ``--engine docker`` without a reachable engine is a one-line error."""
    if requested == "process":
        return None
    if docker_available():
        return "requested" if requested == "docker" else "auto: Docker engine reachable"
    if requested == "docker":
        raise LocalApiError(
            "--engine docker: no Docker engine reachable (`docker info` failed); start Docker "
            "or use --engine process"
        )
    return None


def hand_over_to_docker(cmd: list[str], reason: str, stream: Any = None) -> None:
    """Replace this process with the real ``sam local`` command (same PID, same signals,
    same standard input); the line saying so goes to ``stream`` (default stdout)."""
    print(
        f"localapi: engine docker ({reason}): {shlex.join(['sam', *cmd[1:]])}",
        file=stream or sys.stdout,
        flush=True,
    )
    env = dict(os.environ, SAM_CLI_TELEMETRY="0")
    os.execve(cmd[0], cmd, env)  # noqa: S606 -- the pinned sam, argv list, no shell


# --- the process engine ---------------------------------------------------------------


def read_host_build_marker(template: Path) -> dict[str, str]:
    """Target architectures recorded by ``localapi build --host-build``, if this is such a build."""
    marker = template.parent / HOST_BUILD_MARKER
    if not marker.is_file():
        return {}
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    targets = data.get("target_architectures", {})
    return {str(k): str(v) for k, v in targets.items()} if isinstance(targets, dict) else {}


class ProcessServer:
    """SAM's providers + ``LocalApigwService`` + :class:`ProcessLambdaRuntime`."""

    def __init__(
        self, opts: ServeOptions, out: Any = None, engine_reason: str = "requested"
    ) -> None:
        self.opts = opts
        self.engine_reason = engine_reason
        self.out = out if out is not None else sys.stdout
        self.sink = LogSink()
        self.arch_reports: dict[str, ArchReport] = {}
        self.interpreters: dict[str, Path] = {}
        self._host_build = read_host_build_marker(opts.template)
        self.runtime = ProcessLambdaRuntime(self.worker_spec, workers=opts.workers, sink=self.sink)
        self.service: Any = None
        self.api_provider: Any = None
        self.function_provider: Any = None
        self.stacks: list[Any] = []
        self.runner: Any = None
        self.routes: list[Any] = []

    def effective_layers(self, config: Any) -> list[str]:
        """The function's layers after conditions, e.g. ``!If [UseInsights, [arn], !Ref AWS::NoValue]``.

        SAM 1.170.0's resolver leaves such a ``Layers`` value unresolved (it resolves
        both branches, and ``AWS::NoValue`` fails), and its provider then reports one
        bogus layer named ``Fn::If``. Only the chosen branch is resolved here, with
        SAM's own resolver for the conditions and the values.
        """
        from samcli.lib.intrinsic_resolver.intrinsic_property_resolver import (  # noqa: PLC0415
            IntrinsicResolver,
        )
        from samcli.lib.intrinsic_resolver.intrinsics_symbol_table import (  # noqa: PLC0415
            IntrinsicsSymbolTable,
        )
        from samcli.lib.providers.sam_base_provider import SamBaseProvider  # noqa: PLC0415

        if not any(str(getattr(layer, "arn", "")).startswith("Fn::") for layer in config.layers):
            return [str(getattr(layer, "arn", layer)) for layer in config.layers]
        function = self.runner.get_function(config.full_path)
        stack = next(s for s in self.stacks if s.stack_path == function.stack_path)
        template = stack.template_dict
        raw = template["Resources"][function.name]["Properties"].get("Layers")
        # private, but it is exactly how SAM computes the parameter values it resolves with
        params = SamBaseProvider._get_parameter_values(template, stack.parameters)
        resolver = IntrinsicResolver(
            template=template,
            symbol_resolver=IntrinsicsSymbolTable(logical_id_translator=params, template=template),
        )
        conditions = template.get("Conditions", {})

        def resolve(value: Any) -> Any:
            if isinstance(value, list):
                return [v for v in (resolve(item) for item in value) if v is not None]
            if isinstance(value, dict) and list(value) == ["Fn::If"]:
                name, when_true, when_false = value["Fn::If"]
                chosen = resolver.intrinsic_property_resolver(conditions[name], ignore_errors=False)
                return resolve(when_true if chosen is True else when_false)
            if value == {"Ref": "AWS::NoValue"}:
                return None
            return resolver.intrinsic_property_resolver(value, ignore_errors=False)

        try:
            resolved = resolve(raw)
        except Exception as exc:
            raise UnsupportedFunctionError(
                f"{config.name}: cannot resolve its Layers ({exc}); use --engine docker"
            ) from None
        return [str(layer) for layer in (resolved or [])]

    def worker_spec(self, config: Any) -> WorkerSpec:
        """SAM ``FunctionConfig`` -> worker spec, refusing what the process engine cannot run."""
        name = config.name
        if str(config.packagetype) != "Zip":
            raise UnsupportedFunctionError(
                f"{name} is a container-image function: the process engine runs Zip functions only; "
                "use --engine docker"
            )
        layers = self.effective_layers(config) if config.layers else []
        if layers:
            raise UnsupportedFunctionError(
                f"{name} uses layer(s) {', '.join(layers)}, which the process engine does not "
                "mount (layer code and extensions live in /opt on Lambda); use --engine docker"
            )
        runtime_version(config.runtime)
        interpreter = cached_interpreter(config.runtime)
        code_dir = Path(config.code_abs_path or "")
        if not code_dir.is_dir():
            raise UnsupportedFunctionError(
                f"{name}: code directory {code_dir} not found (CodeUri must be a built directory)"
            )
        report = check_architecture(
            name,
            config.architecture or "x86_64",
            code_dir,
            host_build_of=self._host_build.get(name),
        )
        self.arch_reports[name] = report
        self.interpreters[name] = interpreter.path
        env = build_worker_env(
            config.env_vars.resolve(),
            handler=config.handler,
            runtime=config.runtime,
            code_dir=code_dir,
            interpreter=interpreter.path,
            user_overrides=config.env_vars.override_values,
            extra=report.extra_env,
        )
        pycache = Path(tempfile.gettempdir()) / f"localapi-pycache-{os.getuid()}"
        return WorkerSpec(
            function_name=name,
            full_path=config.full_path,
            handler=config.handler,
            code_dir=code_dir,
            interpreter=interpreter.path,
            timeout_s=float(config.timeout),
            env=env,
            pycache_dir=pycache,
        )

    def load(self) -> None:
        """Read the template with SAM's providers and build SAM's runner around our runtime."""
        from samcli.lib.providers.api_provider import ApiProvider  # noqa: PLC0415

        self.load_functions()
        self.api_provider = ApiProvider(self.stacks, cwd=str(self.opts.template.parent))
        self.routes = list(self.api_provider.api.routes)
        if not self.routes:
            raise LocalApiError(f"no API routes in {self.opts.template} (no Api/HttpApi events)")

    def load_functions(self) -> None:
        """The stacks (SAM's intrinsic resolution, Globals) and SAM's runner around our
        runtime: everything ``invoke`` needs, and ``serve`` before its routes."""
        from samcli.lib.providers.sam_function_provider import SamFunctionProvider  # noqa: PLC0415
        from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider  # noqa: PLC0415

        opts = self.opts
        cwd = str(opts.template.parent)
        try:
            # As `sam local start-api --language-extensions` (samconfig.toml sets it):
            # the template's AWS::LanguageExtensions !Ifs (AuthMode) are resolved first.
            stacks, _remote = SamLocalStackProvider.get_stacks(
                str(opts.template),
                parameter_overrides=opts.parameter_overrides,
                global_parameter_overrides={"AWS::Region": opts.region},
                language_extensions_enabled=True,
            )
        except Exception as exc:  # SAM raises many types for a bad template
            raise LocalApiError(f"cannot load template {opts.template}: {exc}") from None
        self.stacks = stacks
        self.function_provider = SamFunctionProvider(stacks)
        self.runner = ProcessLambdaRunner(
            local_runtime=self.runtime,
            function_provider=self.function_provider,
            cwd=cwd,
            real_path=cwd,
            aws_region=opts.region,
            env_vars_values=opts.env_vars,
            region=opts.region,
        )

    def function_config(self, name: str) -> Any:
        """SAM's ``FunctionConfig`` for a routed function (what each invoke is given)."""
        return self.runner.get_invoke_config(self.runner.get_function(name))

    def build(self) -> None:
        """Load, start every routed function's workers, then create SAM's Flask service."""
        from samcli.lib.utils.stream_writer import StreamWriter  # noqa: PLC0415
        from samcli.local.apigw.local_apigw_service import LocalApigwService  # noqa: PLC0415

        self.load()
        for name in dict.fromkeys(route.function_name for route in self.routes):
            try:
                self.runtime.prepare(self.function_config(name))
            except WorkerStartError as exc:
                raise ServerStartError(str(exc)) from None
        self.service = LocalApigwService(
            api=self.api_provider.api,
            lambda_runner=self.runner,
            static_dir=None,
            port=self.opts.port,
            host=self.opts.host,
            stderr=StreamWriter(sys.stderr, auto_flush=True),
        )
        self.service.create()
        self._route_head_like_api_gateway()

    def _route_head_like_api_gateway(self) -> None:
        """No HEAD where the template declares none (``HEAD /health`` was a 502).

        werkzeug lets HEAD match every GET rule, but SAM keeps a route only for the
        methods the template declares, so ``HEAD /health`` (GET only) found no function
        and SAM answered 502. API Gateway resolves a request on the (resource, method)
        pair and sends it on to a less specific resource that has the method, such as
        ``/{proxy+}`` with ANY; without the implicit HEAD, werkzeug does the same.
        """
        from samcli.local.apigw.path_converter import PathConverter  # noqa: PLC0415

        declared: dict[str, set[str]] = {}
        for route in self.routes:
            path = PathConverter.convert_path_to_flask(route.path)
            declared.setdefault(path, set()).update(m.upper() for m in route.methods)
        for rule in self.service._app.url_map.iter_rules():
            if rule.methods and "HEAD" not in declared.get(rule.rule, {"HEAD"}):
                rule.methods.discard("HEAD")

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:3000`` (IPv6 literals in brackets)."""
        host = f"[{self.opts.host}]" if ":" in self.opts.host else self.opts.host
        return f"http://{host}:{self.opts.port}"

    def banner(self) -> list[str]:
        """What the user sees before the URL: engine, runtime, architecture, pools, routes."""
        lines = [
            f"localapi: engine process ({self.engine_reason}): SAM CLI {SAM_CLI_VERSION} "
            f"LocalApigwService, functions in warm "
            f"{'/'.join(sorted({p.name for p in self.interpreters.values()}))} processes",
            f"localapi: template {self.opts.template}",
            f"localapi: parameters from {self.opts.parameter_source}"
            + (
                f" ({', '.join(sorted(self.opts.parameter_overrides))})"
                if self.opts.parameter_overrides
                else ""
            ),
        ]
        lines.append(
            "localapi: not checked here, as in sam local start-api: API keys, IAM and Cognito "
            "authorizers, resource policies, request models (the function validates bodies)"
        )
        for name, report in self.arch_reports.items():
            lines.append(f"localapi: {name}: {self.interpreters[name]}")
            lines.append(f"localapi: {name}: {report.summary}")
        for pool in self.runtime.pools.values():
            init = ", ".join(f"{ms:.0f} ms" for ms in pool.stats.init_ms) or "n/a"
            lines.append(
                f"localapi: {pool.spec.function_name}: {pool.size} warm worker(s), pids "
                f"{', '.join(map(str, pool.pids()))}, handler init {init}, timeout {pool.spec.timeout_s:g} s"
            )
            if pool.init_error is not None:
                lines.append(
                    f"localapi: {pool.spec.function_name}: WARNING handler init failed: "
                    f"{pool.init_error.get('errorType')}: {pool.init_error.get('errorMessage')} "
                    "(requests get 502)"
                )
        base = self.base_url
        for route in self.routes:
            lines.append(
                f"localapi: mounting {route.function_name} at {base}{route.path} [{', '.join(route.methods)}]"
            )
        return lines

    def guarded_app(self) -> RequestGuard:
        """SAM's Flask app behind API Gateway's limits (:mod:`localapi.http_guard`).

        SAM keeps the app in ``LocalApigwService._app`` (pinned by test_sam_contract);
        an event over Lambda's invoke limit, raised by the runtime, is answered 413 there.
        """
        assert self.service is not None, "build() first"
        flask_app = self.service._app
        flask_app.register_error_handler(InvokePayloadTooLarge, invoke_too_large_answer)
        return RequestGuard(flask_app, self.api_provider.api.binary_media_types)

    def serve(self) -> None:
        """Blocking: serve SAM's Flask app until SIGINT/SIGTERM, then stop every worker.

        Served by :func:`localapi.http_server.make_local_server` rather than SAM's
        ``LocalApigwService.run`` (Flask's development server as is): same app, same
        threads, hardened request handling.
        """
        assert self.service is not None, "build() first"
        httpd = make_local_server(self.opts.host, self.opts.port, self.guarded_app())
        for line in self.banner():
            print(line, file=self.out)
        self.out.flush()
        threading.Thread(target=self._announce_ready, args=(self.base_url,), daemon=True).start()
        try:
            with contextlib.suppress(KeyboardInterrupt), _sigterm_as_interrupt():
                httpd.serve_forever()
        finally:
            httpd.server_close()

    def _announce_ready(self, url: str) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.opts.host, self.opts.port), timeout=0.5),
            ):
                print(f"localapi: ready at {url}/ (Ctrl+C to stop)", file=self.out, flush=True)
                for line in self.opts.ready_hint:
                    print(line.replace("{url}", url), file=self.out, flush=True)
                return
            time.sleep(0.02)

    def close(self) -> None:
        """Stop every worker by PID; safe to call twice."""
        self.runtime.close()


def ensure_port_free(host: str, port: int) -> None:
    """Fail with one line now rather than let Flask print a traceback later."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise LocalApiError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM during startup stops us like Ctrl+C (workers get cleaned up in ``finally``)."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def configure_logging() -> None:
    """SAM's INFO lines (invocations, parse warnings) and werkzeug's access log, to stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    for name in ("localapi", "werkzeug", "samcli.local.apigw"):
        logging.getLogger(name).setLevel(logging.INFO)


def serve(opts: ServeOptions) -> int:
    """Entry point of ``python -m localapi serve`` once options are validated."""
    os.environ.setdefault("SAM_CLI_TELEMETRY", "0")
    docker_reason = choose_engine(opts.engine)
    if docker_reason is not None:
        hand_over_to_docker(docker_command(opts), docker_reason)
    check_sam_version()
    ensure_port_free(opts.host, opts.port)
    configure_logging()
    reason = "requested" if opts.engine == "process" else "auto: no Docker engine reachable"
    print(f"localapi: engine process ({reason}); starting workers...", flush=True)
    server = ProcessServer(opts, engine_reason=reason)
    try:
        with _sigterm_as_interrupt():
            server.build()
        server.serve()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        stats = [
            f"{p.spec.function_name}: {p.stats.invocations} invocations, {p.stats.timeouts} timeouts, "
            f"{p.stats.crashes} crashes, {p.stats.replaced} workers replaced"
            for p in server.runtime.pools.values()
        ]
        print(
            f"localapi: stopped; {'; '.join(stats) or 'no workers started'}",
            file=sys.stderr,
            flush=True,
        )
    return 0
