"""``python -m localapi invoke``: ``sam local invoke`` without Docker, as a user runs it.

Every file in ``events/`` is invoked on the built function (in its own python3.13, as
``serve`` runs it) and must give the status the handler's contract says
(tests/unit/handler/test_routes.py's CONTRACT), with the response JSON alone on stdout and
the REPORT line on stderr. The fixture template's misbehaving routes give the exit codes
of a function that raised, timed out or crashed. The Docker hand-over is tested for its
decision and command line only: there is no Docker daemon on this machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from localapi import invoke as invoke_module
from localapi import server
from localapi.runtime import LocalApiError
from tests.unit.handler.test_routes import CONTRACT

from .conftest import BUILT_TEMPLATE, FIXTURE_TEMPLATE, REPO, _ensure_built

EVENTS = sorted(path.stem for path in (REPO / "events").glob("*.json"))


def run_invoke(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "localapi", "invoke", "--engine", "process", *args],
        cwd=REPO,
        input=stdin,
        capture_output=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def event_runs() -> dict[str, subprocess.CompletedProcess[bytes]]:
    """Every event file invoked once, two at a time (this machine has two cores)."""
    _ensure_built()
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = pool.map(lambda name: run_invoke("ApiFunction", "-e", f"events/{name}.json"), EVENTS)
        return dict(zip(EVENTS, runs, strict=True))


def test_the_contract_names_every_event_file() -> None:
    assert set(CONTRACT) == set(EVENTS)


@pytest.mark.parametrize("name", EVENTS)
def test_each_event_gives_the_contract_status(
    name: str, event_runs: dict[str, subprocess.CompletedProcess[bytes]]
) -> None:
    result = event_runs[name]
    stderr = result.stderr.decode()
    assert result.returncode == 0, stderr[-2000:]
    response = json.loads(result.stdout)  # stdout holds the response JSON and nothing else
    status, code = CONTRACT[name]
    assert response["statusCode"] == status
    body = json.loads(response["body"])
    assert (body.get("error") or {}).get("code") == code
    assert "REPORT RequestId:" in stderr and "Init Duration:" in stderr
    assert "localapi: invoking ApiFunction with" in stderr


def test_the_event_from_stdin_and_the_only_function_by_default(tmp_path: Path) -> None:
    _ensure_built()
    result = run_invoke("-e", "-", stdin=(REPO / "events" / "health.json").read_bytes())
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert json.loads(result.stdout)["statusCode"] == 200


def fixture_invoke(
    tmp_path: Path, event: dict[str, Any], *extra: str
) -> subprocess.CompletedProcess[bytes]:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    return run_invoke("FixtureFunction", "-t", str(FIXTURE_TEMPLATE), "-e", str(path), *extra)


def test_env_vars_and_parameter_overrides_reach_the_function(tmp_path: Path) -> None:
    env_vars = tmp_path / "env.json"
    env_vars.write_text(json.dumps({"FixtureFunction": {"GREETING": "from-env-vars"}}))
    result = fixture_invoke(
        tmp_path,
        {"path": "/env"},
        "--env-vars",
        str(env_vars),
        "--parameter-overrides",
        "Stage=from-overrides",
    )
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    env = json.loads(json.loads(result.stdout)["body"])["env"]
    assert env["GREETING"] == "from-env-vars"
    assert env["STAGE"] == "from-overrides"


@pytest.mark.parametrize(
    ("event", "on_stderr", "error_type"),
    [
        ({"path": "/raise"}, "the function raised an error", "ValueError"),
        (
            {"path": "/sleep", "queryStringParameters": {"seconds": "30"}},
            "timed out after 2 s",
            None,
        ),
        ({"path": "/exit"}, "the function did not answer", None),
    ],
)
def test_a_failed_invocation_exits_1(
    tmp_path: Path, event: dict[str, Any], on_stderr: str, error_type: str | None
) -> None:
    result = fixture_invoke(tmp_path, event)
    stderr = result.stderr.decode()
    assert result.returncode == 1, stderr[-2000:]
    assert on_stderr in stderr
    if error_type is None:
        assert result.stdout == b""
    else:
        assert json.loads(result.stdout)["errorType"] == error_type


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-t", str(FIXTURE_TEMPLATE)], "the template has 2 functions"),
        (["Nope", "-t", str(FIXTURE_TEMPLATE)], "function 'Nope' not found"),
        (["-e", "events/missing.json"], "event 'events/missing.json' was not found"),
        # A FIFO would block a plain read forever: refused before it is opened.
        (["-e", "/dev/stdin"], "not a regular file"),
        (["-e", "events"], "it is a directory"),
        (["-e", "README.md"], "event 'README.md' is not valid JSON"),
        (["-t", "nowhere/template.yaml"], "run sam build first"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    _ensure_built()
    result = run_invoke(*args)
    stderr = result.stderr.decode()
    assert result.returncode == 2, stderr
    assert message in stderr
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr


class Exec(Exception):
    """Raised instead of replacing the test process."""


def test_a_docker_engine_hands_over_to_sam_local_invoke(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No Docker daemon here: the decision and the command line, as for ``serve``."""
    calls: list[list[str]] = []

    def fake_execve(path: str, argv: list[str], env: dict[str, str]) -> None:
        calls.append(argv)
        raise Exec

    monkeypatch.setattr(server.os, "execve", fake_execve)
    monkeypatch.setattr(server, "docker_available", lambda timeout_s=3.0: True)
    opts = invoke_module.InvokeOptions(
        template=BUILT_TEMPLATE,
        function="ApiFunction",
        event="-",
        parameter_items=["EnvironmentSuffix=dev"],
        env_vars_file=Path("/tmp/env.json"),
    )
    with pytest.raises(Exec):
        invoke_module.invoke(opts)
    (argv,) = calls
    assert argv[1:4] == ["local", "invoke", "ApiFunction"]
    assert argv[argv.index("--event") + 1] == "-"  # stdin was not read: sam reads it
    assert argv[argv.index("--parameter-overrides") + 1] == "EnvironmentSuffix=dev"
    assert argv[argv.index("--env-vars") + 1] == "/tmp/env.json"
    captured = capsys.readouterr()
    assert captured.out == ""  # stdout stays the response's
    assert "engine docker (auto: Docker engine reachable): sam local invoke" in captured.err

    monkeypatch.setattr(server, "docker_available", lambda timeout_s=3.0: False)
    opts.engine = "docker"
    with pytest.raises(LocalApiError, match="no Docker engine reachable"):
        invoke_module.invoke(opts)
    assert len(calls) == 1


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        # An endless stream: read one byte past Lambda's 6 MB event limit, then refuse.
        (b"\0" * (6 * 1024 * 1024 + 10), "event stdin is larger than 6291456 bytes"),
        (b'{"a":', "event stdin is not valid JSON"),
        (b"\xff\xfe{}", "event stdin is not UTF-8 text"),
    ],
)
def test_a_bad_event_on_stdin_is_one_line_and_exit_2(stdin: bytes, message: str) -> None:
    _ensure_built()
    result = run_invoke("-e", "-", stdin=stdin)
    stderr = result.stderr.decode()
    assert result.returncode == 2, stderr
    assert message in stderr
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr
