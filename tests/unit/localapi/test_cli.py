"""``python -m localapi``: help, one-line errors with exit 2, startup failures, clean stop."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from localapi.server import docker_available

from .conftest import FIXTURE_TEMPLATE, FIXTURES, REPO, pid_alive

# Every serve here names its samconfig: the project's one pulls in a rendered params file.
CONFIG = ["--config-file", str(FIXTURES / "samconfig.toml")]


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "localapi", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0", **(env or {})},
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int, needle: str) -> None:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [
        line
        for line in result.stderr.splitlines()
        if line.startswith("localapi: error:") or "error:" in line
    ]
    assert len(lines) == 1, result.stderr
    assert needle in lines[0], lines[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_help_describes_the_commands() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    assert "serve" in result.stdout and "build" in result.stdout
    serve = run_cli("serve", "--help")
    assert serve.returncode == 0
    for flag in (
        "--template",
        "--host",
        "--port",
        "--env-vars",
        "--parameter-overrides",
        "--workers",
        "--engine",
    ):
        assert flag in serve.stdout
    assert "without Docker" in run_cli("--help").stdout or "Docker" in serve.stdout


def test_non_loopback_host_is_refused() -> None:
    assert_one_line_error(
        run_cli("serve", *CONFIG, "--template", str(FIXTURE_TEMPLATE), "--host", "0.0.0.0"),  # noqa: S104
        2,
        "not a loopback address",
    )


def test_missing_template_hints_at_sam_build(tmp_path: Path) -> None:
    assert_one_line_error(
        run_cli("serve", *CONFIG, "--template", str(tmp_path / "nope" / "template.yaml")),
        2,
        "run sam build first",
    )


def test_bad_port_and_workers_are_usage_errors() -> None:
    assert_one_line_error(run_cli("serve", "--port", "70000"), 2, "is not a TCP port")
    assert_one_line_error(run_cli("serve", "--workers", "0"), 2, "must be at least 1")
    assert_one_line_error(run_cli("serve", "--engine", "vm"), 2, "invalid choice")


def test_bad_env_vars_file(tmp_path: Path) -> None:
    bad = tmp_path / "env.json"
    bad.write_text("{")
    assert_one_line_error(
        run_cli("serve", *CONFIG, "--template", str(FIXTURE_TEMPLATE), "--env-vars", str(bad)),
        2,
        "not valid JSON",
    )


def test_port_in_use() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli(
            "serve",
            *CONFIG,
            "--template",
            str(FIXTURE_TEMPLATE),
            "--engine",
            "process",
            "--port",
            str(port),
        )
    assert_one_line_error(result, 2, f"cannot listen on 127.0.0.1:{port}")


@pytest.mark.skipif(docker_available(), reason="a Docker engine is reachable here")
def test_engine_docker_without_docker() -> None:
    assert_one_line_error(
        run_cli("serve", *CONFIG, "--template", str(FIXTURE_TEMPLATE), "--engine", "docker"),
        2,
        "no Docker engine reachable",
    )


def test_build_fails_clearly_without_python313(tmp_path: Path) -> None:
    if any(Path(d, "python3.13").exists() for d in ("/usr/bin", "/usr/local/bin")):
        pytest.skip("a system python3.13 exists; cannot simulate its absence")
    result = run_cli(
        "build",
        "--template",
        str(FIXTURE_TEMPLATE),
        env={
            "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
            "PYENV_ROOT": str(tmp_path),
        },
    )
    assert_one_line_error(result, 2, "python3.13 not found")


def write_function(tmp_path: Path, app_source: str, *, arch: str = "arm64") -> Path:
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(app_source)
    template = tmp_path / "template.yaml"
    template.write_text(
        f"""\
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: code/
      Handler: app.handler
      Runtime: python3.13
      Architectures: [{arch}]
      Events:
        Any:
          Type: Api
          Properties: {{Path: /, Method: GET}}
"""
    )
    return template


def test_foreign_native_code_is_refused_at_startup(tmp_path: Path) -> None:
    template = write_function(tmp_path, "def handler(e, c):\n    return {}\n")
    so = tmp_path / "code" / "fast" / "_speedups.cpython-313-aarch64-linux-gnu.so"
    so.parent.mkdir()
    so.write_bytes(
        b"\x7fELF" + bytes([2, 1, 1]) + bytes(9) + struct.pack("<HH", 3, 183) + bytes(44)
    )
    if os.uname().machine in ("aarch64", "arm64"):
        pytest.skip("this host is arm64: the code is native here")
    result = run_cli(
        "serve",
        *CONFIG,
        "--template",
        str(template),
        "--engine",
        "process",
        "--port",
        str(free_port()),
    )
    assert_one_line_error(result, 2, "fast/_speedups.cpython-313-aarch64-linux-gnu.so")
    assert "--host-build" in result.stderr


def test_a_function_that_dies_during_init_fails_startup_with_exit_1(tmp_path: Path) -> None:
    template = write_function(tmp_path, "import os\nos._exit(7)\n")
    result = run_cli(
        "serve",
        *CONFIG,
        "--template",
        str(template),
        "--engine",
        "process",
        "--port",
        str(free_port()),
    )
    assert_one_line_error(result, 1, "exited with code 7 during init")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_serve_stops_cleanly_on_signals_and_leaves_no_worker(
    tmp_path: Path, sig: signal.Signals
) -> None:
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "localapi",
                "serve",
                *CONFIG,
                "--template",
                str(FIXTURE_TEMPLATE),
                "--engine",
                "process",
                "--port",
                str(port),
                "--workers",
                "2",
            ],
            cwd=REPO,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
        )
    try:
        deadline = time.monotonic() + 60
        while "ready at" not in log.read_text():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        text = log.read_text()
        assert f"ready at http://127.0.0.1:{port}/" in text
        assert "engine process (requested)" in text
        pids = [
            int(p)
            for line in re.findall(r"worker\(s\), pids ([\d, ]+),", text)
            for p in line.split(", ")
        ]
        assert len(pids) == 4  # two functions, two workers each
        assert all(pid_alive(pid) for pid in pids)
        proc.send_signal(sig)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    time.sleep(0.2)
    assert [pid for pid in pids if pid_alive(pid)] == []
    assert "localapi: stopped;" in log.read_text()
    assert "Traceback" not in log.read_text()


def test_banner_reports_engine_architecture_and_routes(tmp_path: Path) -> None:
    """The same server start, read for what a user is told before the URL."""
    port = free_port()
    env_file = tmp_path / "env.json"
    env_file.write_text(json.dumps({"FixtureFunction": {"GREETING": "file"}}))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "localapi",
            "serve",
            *CONFIG,
            "--template",
            str(FIXTURE_TEMPLATE),
            "--port",
            str(port),
            "--env-vars",
            str(env_file),
            "--parameter-overrides",
            "Stage=cli",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip())
            if "ready at" in line:
                break
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{port}/env", timeout=10) as response:
            env = json.loads(response.read())["env"]
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    text = "\n".join(lines)
    if not docker_available():
        assert "engine process (auto: no Docker engine reachable)" in text
    assert "FixtureFunction: arm64 function" in text
    assert re.search(r"mounting FixtureFunction at http://127\.0\.0\.1:\d+/\{proxy\+\}", text)
    assert "BrokenFunction: WARNING handler init failed: Runtime.ImportModuleError" in text
    assert "parameters from --parameter-overrides (Stage)" in text
    assert env["GREETING"] == "file"
    assert env["STAGE"] == "cli"  # the command line replaces samconfig's parameter_overrides
    assert env["AWS_REGION"] == "eu-west-1"  # but samconfig's region still applies


def test_rehearse_is_handed_to_the_deployment_rehearsal() -> None:
    """`make rehearse` runs `python -m localapi rehearse`; its options belong to
    deployment.rehearsal_cli, and its usage names the command it was reached as."""
    result = run_cli("rehearse", "--help")
    assert result.returncode == 0
    assert "usage: python -m localapi rehearse" in result.stdout
    assert "AWS_SAM_STACK_NAME" in result.stdout
