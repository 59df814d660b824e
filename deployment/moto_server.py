"""Run moto's server (the embedded AWS emulator) as a child process on localhost.

Why a subprocess and not ``moto.mock_aws`` in-process: the deploy rehearsal
drives the *real* SAM CLI (``sam package`` / ``sam deploy``), which runs in its
own processes and can only reach an emulator over HTTP. One server, reached
through ``AWS_ENDPOINT_URL``, is what every one of those processes talks to.

Why ``http://localhost:PORT`` and not ``127.0.0.1``: moto routes S3 requests
(including the ``TemplateURL`` that ``sam deploy`` hands to CloudFormation) by
looking for ``localhost`` in the host name; an IP address endpoint makes
CloudFormation fail to find the uploaded template. The server itself binds to
127.0.0.1 only: nothing outside this machine can reach it.

The server is stopped by its PID (SIGTERM, then SIGKILL), never by name, so a
second emulator (another test, another engineer's rehearsal) is never touched.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO

BIND_HOST = "127.0.0.1"
# moto's own health page; answers 200 once the WSGI app is serving.
READY_PATH = "/moto-api/"
DEFAULT_START_TIMEOUT = 60.0
DEFAULT_STOP_TIMEOUT = 10.0
# A port picked with bind(0) can be taken by someone else before moto binds it.
START_ATTEMPTS = 3


class EmulatorError(RuntimeError):
    """The emulator could not be started (the message says why and where the log is)."""


def free_port(host: str = BIND_HOST) -> int:
    """A TCP port that is free on ``host`` right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _no_proxy_opener() -> urllib.request.OpenerDirector:
    # A developer's HTTP(S)_PROXY must not intercept a request to our own child.
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def is_ready(endpoint_url: str, timeout: float = 2.0) -> bool:
    """True when moto answers its health page at ``endpoint_url``."""
    try:
        with _no_proxy_opener().open(endpoint_url + READY_PATH, timeout=timeout) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError):
        return False


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    kept = [line.strip() for line in text.splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


class MotoServer:
    """One moto server child process; use as a context manager or call start/stop.

    ``keep()`` detaches the object from the process, so leaving the ``with``
    block does not stop it (the rehearsal's ``--keep``).
    """

    def __init__(
        self,
        log_path: Path,
        *,
        python: str = sys.executable,
        port: int | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.log_path = log_path
        self.python = python
        self.requested_port = port
        self.env = dict(env) if env is not None else None
        self.port: int | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._kept = False

    @property
    def endpoint_url(self) -> str:
        if self.port is None:
            raise EmulatorError("the emulator has not been started")
        return f"http://localhost:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def command(self, port: int) -> list[str]:
        return [self.python, "-m", "moto.server", "-H", BIND_HOST, "-p", str(port)]

    def start(self, timeout: float = DEFAULT_START_TIMEOUT) -> str:
        """Start the server and wait until it answers; returns the endpoint URL."""
        if self.process is not None:
            return self.endpoint_url
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        last_error = "not started"
        for _ in range(START_ATTEMPTS):
            port = self.requested_port or free_port()
            self._launch(port)
            error = self._wait_ready(timeout)
            if error is None:
                return self.endpoint_url
            last_error = error
            self.stop()
            if self.requested_port is not None:
                break
        raise EmulatorError(last_error)

    def _launch(self, port: int) -> None:
        self._log = self.log_path.open("ab")
        self.port = port
        # New session: a Ctrl-C in the terminal reaches the rehearsal, which then
        # stops the server itself (or, with --keep, deliberately leaves it running).
        self.process = subprocess.Popen(
            self.command(port),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self.env,
            start_new_session=True,
        )

    def _wait_ready(self, timeout: float) -> str | None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                return (
                    f"moto server exited with code {code} before answering on port {self.port} "
                    f"(log {self.log_path}):\n{_tail(self.log_path)}"
                )
            if is_ready(self.endpoint_url):
                return None
            time.sleep(0.1)
        return (
            f"moto server did not answer {self.endpoint_url}{READY_PATH} within {timeout:.0f}s "
            f"(log {self.log_path})"
        )

    def keep(self) -> None:
        """Leave the server running after this object is done with (``--keep``)."""
        self._kept = True

    def stop(self, timeout: float = DEFAULT_STOP_TIMEOUT) -> None:
        """Stop the server by its PID: SIGTERM, then SIGKILL if it lingers."""
        process, self.process = self.process, None
        if process is not None:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(process.pid, signal.SIGKILL)
                    process.wait(timeout=timeout)
            else:
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> MotoServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._kept:
            if self._log is not None:
                self._log.close()
                self._log = None
            return
        self.stop()


def pid_alive(pid: int) -> bool:
    """True while a process with ``pid`` exists (used by tests to prove the stop)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
