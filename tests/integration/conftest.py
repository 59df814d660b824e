"""Where the integration tests send their requests: a deployed stack, or a local server.

* ``AWS_SAM_STACK_NAME`` set: the deployed API. Its base URL is the stack's
  ``ApiUrl`` output (``describe_stacks``, as the AWS SAM Python templates do) and
  the API key value is read from the ``ApiKeyId`` output (``get_api_key``
  with ``includeValue``).
* Otherwise: ``python -m localapi serve`` on a free 127.0.0.1 port, started as a
  subprocess against the built template (``python -m localapi build`` first when
  the build is missing or older than template.yaml or the handler), polled until it
  answers, and stopped by its PID at the end -- and its worker processes are
  checked to be gone.

Local runs do not enforce API keys (neither does ``sam local``); the tests send
the ``x-api-key`` header anyway so the same tests pass against a real stack.

Against a stack, every request also carries the credentials its ``AuthMode`` output
asks for (deployment.api_client): AWS_IAM signs with SigV4 (botocore's signer, the
default credential chain); COGNITO sends an ID token (``SECURE_API_ID_TOKEN``, or one
fetched for ``SECURE_API_USERNAME``/``SECURE_API_PASSWORD``). Locally they run unsigned,
as ``sam local start-api`` enforces neither (README, "Authorization").
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tests.unit.bounded_child import python_command

REPO = Path(__file__).resolve().parents[2]
BUILT_TEMPLATE = REPO / ".aws-sam" / "build" / "template.yaml"
HANDLER_SOURCE = REPO / "src" / "handler"
SOURCE_TEMPLATE = REPO / "template.yaml"
FIXTURE_TEMPLATE = REPO / "tests" / "fixtures" / "localapi" / "template.yaml"
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 15.0


def free_port() -> int:
    """A port nobody listens on right now (bind to 0, read it, release it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    try:
        return "\nState:\tZ" not in status.read_text()
    except OSError:
        return not status.parent.exists()


def children_of(pid: int) -> dict[int, str]:
    """Direct children of ``pid`` and their state letter (``Z`` = zombie), from /proc."""
    found: dict[int, str] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...; comm may contain spaces and parentheses
        state, ppid = text[text.rindex(")") + 2 :].split()[:2]
        if int(ppid) == pid:
            found[int(stat.parent.name)] = state
    return found


def bounded_python(args: list[str], memory: int) -> list[str]:
    """``python -m args...`` in a child that limits its own address space first (the
    kit's bounded-child helper; ``preexec_fn`` is unsafe with threads in the test run)."""
    module, *argv = args
    code = (
        f"import runpy, sys\nsys.argv = {[module, *argv]!r}\n"
        f"runpy.run_module({module!r}, run_name='__main__', alter_sys=True)\n"
    )
    return python_command(code, memory)


@dataclass
class LocalServer:
    """One ``python -m localapi serve`` subprocess, its log file and its worker PIDs.

    ``address_space_limit``: an RLIMIT_AS for the server (and, inherited, its workers),
    so a memory regression under attack ends in a MemoryError there, never in the
    machine's out-of-memory killer.
    """

    template: Path
    log_path: Path
    extra_args: list[str] = field(default_factory=list)
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    address_space_limit: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_for_log(self, text: str, timeout: float = 5.0) -> str:
        """The log once it holds ``text``: a worker's output reaches the log through a
        reader thread, so it may land just after the response it belongs to."""
        deadline = time.monotonic() + timeout
        while text not in (log := self.log()):
            assert time.monotonic() < deadline, f"{text!r} not in the log:\n{log[-2000:]}"
            time.sleep(0.05)
        return log

    def worker_pids(self) -> list[int]:
        """PIDs from the startup banner (``N warm worker(s), pids 1, 2, ...``)."""
        found = re.findall(r"warm worker\(s\), pids ([\d, ]+),", self.log())
        return [int(pid) for group in found for pid in group.split(", ") if pid]

    def children(self) -> dict[int, str]:
        """The server's child processes (its workers) and their states."""
        assert self.proc is not None
        return children_of(self.proc.pid)

    def start(self, ready_path: str = "/") -> None:
        self.port = free_port()
        cmd = [
            sys.executable, "-m", "localapi", "serve",
            "--template", str(self.template),
            "--port", str(self.port),
            "--engine", os.environ.get("LOCALAPI_TEST_ENGINE", "process"),
            *self.extra_args,
        ]  # fmt: skip
        env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
        if self.address_space_limit is not None:
            # Few malloc arenas: the address space then tracks memory use, not thread count.
            env["MALLOC_ARENA_MAX"] = "2"
            cmd = bounded_python(cmd[2:], self.address_space_limit)
        with self.log_path.open("wb") as sink:
            self.proc = subprocess.Popen(
                cmd, cwd=REPO, stdout=sink, stderr=subprocess.STDOUT, env=env
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(
                    f"localapi serve exited with {self.proc.returncode}:\n{self.log()[-4000:]}"
                )
            try:
                requests.get(self.url + ready_path, timeout=2)
                return
            except requests.ConnectionError:
                time.sleep(0.1)
        self.stop()
        pytest.fail(
            f"localapi serve did not answer within {START_TIMEOUT_S:.0f} s:\n{self.log()[-4000:]}"
        )

    @contextlib.contextmanager
    def running(self, ready_path: str = "/") -> Iterator[LocalServer]:
        """Started, yielded, then stopped by PID; fails if a worker process outlives it."""
        self.start(ready_path)
        try:
            yield self
        finally:
            leftovers = self.stop()
        assert leftovers == [], f"worker processes left behind: {leftovers}"

    def stop(self) -> list[int]:
        """SIGTERM by PID (SIGKILL if it lingers); return worker PIDs still alive (should be none)."""
        pids = self.worker_pids()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        time.sleep(0.2)
        return [pid for pid in pids if _pid_alive(pid)]


@dataclass(frozen=True)
class ApiTarget:
    """The API under test."""

    base_url: str  # no trailing slash
    api_key: str | None
    local: bool
    server: LocalServer | None = None
    auth: requests.auth.AuthBase | None = None
    """The stack's credentials (SigV4 or a Cognito token); ``None`` locally."""
    auth_mode: str = "AWS_IAM"
    """The stack's AuthMode output; locally the template default (not enforced there)."""

    def url(self, path: str) -> str:
        return self.base_url + path


def _stack_target(stack_name: str) -> ApiTarget:
    import boto3

    from deployment.api_client import auth_for_stack
    from sam_project.errors import UserError

    session = boto3.session.Session()
    outputs = session.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0][
        "Outputs"
    ]
    values = {o["OutputKey"]: o["OutputValue"] for o in outputs}
    if "ApiUrl" not in values:
        pytest.fail(f"stack {stack_name} has no ApiUrl output; outputs: {sorted(values)}")
    api_key = None
    if "ApiKeyId" in values:
        key = session.client("apigateway").get_api_key(apiKey=values["ApiKeyId"], includeValue=True)
        api_key = key["value"]
    try:
        auth = auth_for_stack(values, session=session)
    except UserError as error:
        pytest.fail(f"stack {stack_name}: {error}")
    return ApiTarget(
        base_url=values["ApiUrl"].rstrip("/"),
        api_key=api_key,
        local=False,
        auth=auth,
        auth_mode=values.get("AuthMode", "API_KEY_ONLY"),
    )


def _ensure_built() -> None:
    """``python -m localapi build`` when the build is missing or older than its sources."""
    if BUILT_TEMPLATE.exists():
        built_at = BUILT_TEMPLATE.stat().st_mtime
        handler_files = (
            p for p in HANDLER_SOURCE.rglob("*") if p.is_file() and "__pycache__" not in p.parts
        )
        sources = [SOURCE_TEMPLATE, *handler_files]
        newest = max(p.stat().st_mtime for p in sources)
        if newest <= built_at:
            return
    result = subprocess.run(
        [sys.executable, "-m", "localapi", "build"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"python -m localapi build failed ({result.returncode}):\n{(result.stdout + result.stderr)[-4000:]}"
        )


@pytest.fixture(scope="session")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiTarget]:
    """The deployed stack when ``AWS_SAM_STACK_NAME`` is set, else a local server of the build."""
    stack_name = os.environ.get("AWS_SAM_STACK_NAME")
    if stack_name:
        yield _stack_target(stack_name)
        return
    _ensure_built()
    server = LocalServer(BUILT_TEMPLATE, tmp_path_factory.mktemp("localapi") / "server.log")
    with server.running(ready_path="/health"):
        yield ApiTarget(
            base_url=server.url, api_key="local-key-not-enforced", local=True, server=server
        )


@pytest.fixture
def http(api: ApiTarget) -> Iterator[requests.Session]:
    """A session that sends the API key (and, against a stack, the credentials its
    AuthMode asks for) on every request, as a real client must."""
    with requests.Session() as session:
        if api.api_key:
            session.headers["x-api-key"] = api.api_key
        session.auth = api.auth
        yield session


@pytest.fixture(scope="module")
def fixture_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """A second local server, for the fixture functions that time out and crash on purpose."""
    if os.environ.get("AWS_SAM_STACK_NAME"):
        pytest.skip("timeout/crash fixtures exist only locally")
    server = LocalServer(
        FIXTURE_TEMPLATE,
        tmp_path_factory.mktemp("fixture") / "server.log",
        # Its own samconfig: parameter overrides and region the way `sam local` reads them.
        extra_args=[
            "--workers",
            "2",
            "--config-file",
            str(FIXTURE_TEMPLATE.parent / "samconfig.toml"),
        ],
    )
    with server.running(ready_path="/pid"):
        yield server
