"""``python -m localapi invoke``: ``sam local invoke`` without Docker.

One event, one invocation of one built function, run exactly as ``serve`` runs it: SAM's
providers read the built template (parameter overrides, Globals), SAM's runner gives the
function its configuration and environment (``--env-vars`` in SAM's format), and the
function runs in a warm worker of its own runtime's interpreter
(:class:`~localapi.runner.ProcessLambdaRuntime`), which enforces its ``Timeout``.

What goes where, as with ``sam local invoke``: the function's response JSON on stdout,
alone (so it can be piped to ``jq``); the function's logs, START/END/REPORT lines and our
own messages on stderr. The exit code is 0 when the function returned, 1 when it raised,
timed out or crashed (the error document, if any, is still printed on stdout), 2 for bad
input. With a Docker engine (``--engine auto``, the default, or ``docker``) the real
``sam local invoke`` takes over, as ``serve`` hands over to ``sam local start-api``.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from localapi.runner import WorkerStartError
from localapi.runtime import LocalApiError, sam_executable
from localapi.server import (
    ProcessServer,
    ServeOptions,
    check_sam_version,
    choose_engine,
    hand_over_to_docker,
    sam_local_options,
)
from sam_project.files import read_text_file, read_text_stream

#: Lambda's limit on a synchronous invocation's request payload (6 MB).
MAX_EVENT_BYTES = 6 * 1024 * 1024
EXIT_OK = 0
EXIT_FUNCTION_FAILED = 1


@dataclass
class InvokeOptions:
    """Validated ``invoke`` options (the event is read only on the process engine)."""

    template: Path
    function: str | None = None
    event: str | None = None  # a path, "-" for stdin, None for no event ({})
    env_vars_file: Path | None = None
    env_vars: dict[str, dict[str, Any]] = field(default_factory=dict)
    parameter_overrides: dict[str, str] = field(default_factory=dict)
    parameter_items: list[str] = field(default_factory=list)
    engine: str = "auto"
    region: str = "us-east-1"
    config_file: Path | None = None
    config_env: str = "default"


def docker_invoke_command(opts: InvokeOptions) -> list[str]:
    """The ``sam local invoke`` command equivalent to these options."""
    cmd = [sam_executable(), "local", "invoke"]
    if opts.function:
        cmd.append(opts.function)
    cmd += ["--template", str(opts.template), "--region", opts.region]
    if opts.event is not None:
        cmd += ["--event", opts.event]
    return cmd + sam_local_options(opts)


def read_event(source: str | None, stdin: BinaryIO | None = None) -> str:
    """The event as JSON text: a file, ``-`` (stdin), or ``{}`` when none is given."""
    if source is None:
        return "{}"
    label = "stdin" if source == "-" else repr(source)
    expected = "a JSON event file of at most 6 MB (Lambda's limit), e.g. events/echo.json"
    what = f"event {label}"
    if source == "-":
        stream = stdin or sys.stdin.buffer
        text = read_text_stream(stream, limit=MAX_EVENT_BYTES, what=what, expected=expected)
    else:
        text = read_text_file(source, limit=MAX_EVENT_BYTES, what=what, expected=expected)
    try:
        json.loads(text)
    except ValueError as error:
        raise LocalApiError(f"event {label} is not valid JSON: {error}") from None
    except RecursionError:
        raise LocalApiError(f"event {label} is nested too deeply") from None
    return text


def choose_function(server: ProcessServer, requested: str | None) -> str:
    """The function to invoke: the one named, or the template's only one."""
    names: list[str] = sorted(str(f.name) for f in server.function_provider.get_all())
    if requested is None:
        if len(names) == 1:
            return names[0]
        raise LocalApiError(
            f"the template has {len(names)} functions ({', '.join(names) or 'none'}): "
            "name the one to invoke, e.g. `python -m localapi invoke "
            f"{names[0] if names else 'FunctionLogicalId'} -e events/echo.json`"
        )
    if requested not in names:
        raise LocalApiError(
            f"function {requested!r} not found in {server.opts.template}: expected one of "
            f"{', '.join(names) or 'none'}"
        )
    return requested


def invoke(opts: InvokeOptions) -> int:
    """Run one invocation; the exit code (0 returned, 1 raised/timed out/crashed)."""
    out, err = sys.stdout, sys.stderr
    docker_reason = choose_engine(opts.engine)
    if docker_reason is not None:
        hand_over_to_docker(docker_invoke_command(opts), docker_reason, stream=err)
    check_sam_version()
    event = read_event(opts.event)
    serve_opts = ServeOptions(
        template=opts.template,
        env_vars=opts.env_vars,
        parameter_overrides=opts.parameter_overrides,
        workers=1,
        engine="process",
        region=opts.region,
    )
    # The function's output reaches stderr through the server's log sink, line by line.
    server = ProcessServer(serve_opts, out=err, engine_reason="invoke")
    try:
        server.load_functions()
        name = choose_function(server, opts.function)
        try:
            pool = server.runtime.prepare(server.function_config(name))
        except WorkerStartError as error:
            print(f"localapi invoke: {error}", file=err, flush=True)
            return EXIT_FUNCTION_FAILED
        report = server.arch_reports.get(name)
        print(
            f"localapi: invoking {name} with {server.interpreters[name]} (process engine"
            f"{'; ' + report.summary if report else ''})",
            file=err,
            flush=True,
        )
        outcome = pool.invoke(event)
    finally:
        server.close()
    if outcome.payload is not None:
        out.write(outcome.payload + "\n")
        out.flush()
    if outcome.status == "ok":
        return EXIT_OK
    why = {
        "error": "the function raised an error (its error document is on stdout)",
        "timeout": f"the function timed out after {pool.spec.timeout_s:g} s (its Timeout)",
    }.get(outcome.status, f"the function did not answer: {outcome.detail}")
    print(f"localapi invoke: {name}: {why}", file=err, flush=True)
    return EXIT_FUNCTION_FAILED
