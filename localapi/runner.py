"""Run Lambda functions in warm worker processes instead of Docker containers.

SAM CLI's ``sam local start-api`` is layered: ``LocalApigwService`` (HTTP <->
API Gateway event) calls ``LocalLambdaRunner.invoke`` (find the function,
resolve its config and environment), which calls a *Lambda runtime*
(``samcli.local.lambdafn.runtime.LambdaRuntime``/``WarmLambdaRuntime``) that
starts a Docker container and streams its result to ``stdout``. Only that last
layer needs Docker, so only that layer is replaced here:

* :class:`ProcessLambdaRuntime` has the runtime's ``invoke(function_config,
  event, tenant_id, ..., stdout=, stderr=)`` contract and writes the function's
  result JSON to ``stdout`` with ``StreamWriter.write_str`` -- what SAM's
  container does. On a timeout or crash it writes *nothing*, which
  ``LocalApigwService`` turns into ``502 {"message": "Internal server error"}``
  exactly as it does for a container that died.
* :class:`ProcessLambdaRunner` is SAM's ``LocalLambdaRunner`` with one change:
  it never hands the function real AWS credentials (local code must not reach
  the account by accident); SAM's placeholder credentials are used instead.
* :class:`WorkerPool` keeps ``size`` long-lived interpreter processes per
  function, started eagerly (SAM's ``--warm-containers EAGER``), hands each
  request to a free one, waits a bounded time when all are busy, enforces the
  function's ``Timeout`` by killing the worker, and replaces dead workers in
  the background so the server keeps serving.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import selectors
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal, Protocol

from samcli.commands.local.lib.local_lambda import LocalLambdaRunner

from localapi import worker as protocol
from localapi.http_guard import MAX_INVOKE_PAYLOAD_BYTES, InvokePayloadTooLarge

LOG = logging.getLogger(__name__)

WORKER_SCRIPT = Path(protocol.__file__).resolve()
#: Lambda gives the Init phase 10 s; a worker that has not imported its handler
#: by then is killed, like a sandbox whose init timed out.
INIT_TIMEOUT_S = 10.0
#: How long a request may wait for a free worker beyond the function Timeout.
QUEUE_SLACK_S = 5.0

Status = Literal["ok", "error", "timeout", "crash", "busy", "shutdown"]
# How long one wait for a worker's answer lasts before checking whether it was killed.
_READ_SLICE_S = 0.1


class WorkerStartError(Exception):
    """A worker process died or hung before it finished importing the handler."""


class TextSink(Protocol):
    """Where log lines go (a terminal); ``write`` + ``flush`` like ``sys.stderr``."""

    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...


class LogSink:
    """Line-oriented, thread-safe writer that prefixes every line with the function name.

    Several reader threads (two per worker) write concurrently; the lock keeps
    each line whole so the terminal never shows two functions' output spliced.
    """

    def __init__(self, stream: TextSink | None = None) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def line(self, prefix: str, text: str) -> None:
        """Write ``[prefix] text`` as one line."""
        stream = self._stream if self._stream is not None else sys.stderr
        with self._lock:
            stream.write(f"[{prefix}] {text.rstrip()}\n")
            stream.flush()


@dataclass(frozen=True)
class WorkerSpec:
    """Everything needed to start one worker for one function."""

    function_name: str
    full_path: str
    handler: str
    code_dir: Path
    interpreter: Path
    timeout_s: float
    env: Mapping[str, str]
    init_timeout_s: float = INIT_TIMEOUT_S
    pycache_dir: Path | None = None

    def argv(self, request_fd: int, response_fd: int) -> list[str]:
        """The worker command line: isolated mode, unbuffered, bytecode cache outside the build."""
        args = [str(self.interpreter), "-I", "-u"]
        if self.pycache_dir is not None:
            # Keep any compile out of .aws-sam/build (Lambda's /var/task is read-only). With a
            # prefix, Python reads bytecode only there, not the .pyc the build ships.
            args += ["-X", f"pycache_prefix={self.pycache_dir}"]
        return [
            *args,
            str(WORKER_SCRIPT),
            "--request-fd",
            str(request_fd),
            "--response-fd",
            str(response_fd),
            "--handler",
            self.handler,
            "--code-dir",
            str(self.code_dir),
        ]


@dataclass
class InvokeOutcome:
    """What happened to one invocation; ``payload`` is what goes to SAM's stdout, if anything."""

    status: Status
    payload: str | None = None
    detail: str = ""
    duration_ms: float = 0.0
    worker_pid: int | None = None
    cold: bool = False


class _Timeout(Exception):
    pass


def describe_exit(returncode: int | None) -> str:
    """``exited with code 3`` / ``killed by SIGSEGV`` / ``still running``."""
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with code {returncode}"


class Worker:
    """One interpreter process running ``worker.py`` for one function.

    Not thread-safe by design: the pool hands a worker to one request at a time.
    """

    def __init__(self, spec: WorkerSpec, sink: LogSink) -> None:
        self.spec = spec
        self._sink = sink
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        try:
            self.proc = subprocess.Popen(
                spec.argv(req_r, resp_w),
                pass_fds=(req_r, resp_w),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=dict(spec.env),
                cwd=str(spec.code_dir),
                # Own process group: Ctrl+C in the terminal is for the server,
                # which then stops every worker by PID.
                start_new_session=True,
            )
        except OSError:
            for fd in (req_r, req_w, resp_r, resp_w):
                os.close(fd)
            raise
        os.close(req_r)
        os.close(resp_w)
        os.set_blocking(req_w, False)  # written with a deadline (_write_frame)
        self._req_w = req_w
        self._resp_r = resp_r
        self._selector = selectors.DefaultSelector()
        self._selector.register(resp_r, selectors.EVENT_READ)
        self.pid = self.proc.pid
        self.init_ms: float | None = None
        self.init_error: dict[str, Any] | None = None
        self.invocations = 0
        self._request_closed = False
        self._closed = False
        self._log_threads = [
            threading.Thread(target=self._pump, args=(stream,), daemon=True, name=f"log-{self.pid}")
            for stream in (self.proc.stdout, self.proc.stderr)
        ]
        for thread in self._log_threads:
            thread.start()

    def _pump(self, stream: IO[bytes] | None) -> None:
        if stream is None:
            return
        with stream:
            for raw in iter(stream.readline, b""):
                self._sink.line(self.spec.function_name, raw.decode("utf-8", errors="replace"))

    # -- frames with a deadline -------------------------------------------------

    def _read_exact(self, size: int, deadline: float) -> bytes:
        """Read ``size`` bytes before ``deadline``, or give up once the worker is killed.

        Waits in short slices: ``close()`` kills a busy worker from another thread and
        closes our pipe end, and a wait on a closed descriptor would otherwise sleep out
        the whole function timeout (the fd silently leaves the epoll set).
        """
        buf = bytearray()
        while len(buf) < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Timeout
            if self._closed:
                raise protocol.ProtocolError("worker stopped")
            try:
                ready = self._selector.select(min(remaining, _READ_SLICE_S))
            except (OSError, ValueError):  # the selector was closed under us
                raise protocol.ProtocolError("worker stopped") from None
            if not ready:
                continue
            chunk = os.read(self._resp_r, size - len(buf))
            if not chunk:
                raise protocol.ProtocolError("pipe closed")
            buf += chunk
        return bytes(buf)

    def _write_frame(self, frame: bytes, deadline: float) -> None:
        """Write within the deadline too: a big event into a worker that stopped reading
        must time out like any other invocation, not block the request thread forever."""
        view = memoryview(frame)
        with selectors.DefaultSelector() as selector:
            selector.register(self._req_w, selectors.EVENT_WRITE)
            while view:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not selector.select(remaining):
                    raise _Timeout
                try:
                    view = view[os.write(self._req_w, view) :]
                except BlockingIOError:
                    continue

    def _read_frame(self, deadline: float) -> dict[str, Any]:
        (size,) = protocol.HEADER.unpack(self._read_exact(protocol.HEADER.size, deadline))
        if size > protocol.MAX_FRAME_BYTES:
            raise protocol.ProtocolError(f"frame of {size} bytes")
        return protocol.decode_body(self._read_exact(size, deadline))

    # -- lifecycle --------------------------------------------------------------

    def wait_ready(self) -> None:
        """Block until the handler is imported (or failed to import: still usable)."""
        deadline = time.monotonic() + self.spec.init_timeout_s
        try:
            message = self._read_frame(deadline)
        except _Timeout:
            self.kill()
            raise WorkerStartError(
                f"{self.spec.function_name}: worker pid {self.pid} did not finish init within "
                f"{self.spec.init_timeout_s:.0f} s"
            ) from None
        except protocol.ProtocolError:
            code = self._reap()
            raise WorkerStartError(
                f"{self.spec.function_name}: worker pid {self.pid} {describe_exit(code)} during init"
            ) from None
        if message.get("type") == "init_error":
            # Still a usable worker: it answers every invoke with this error (-> 502),
            # like a Lambda sandbox whose Init failed. The worker already logged it.
            self.init_error = message.get("error") or {}
        else:
            self.init_ms = float(message.get("init_ms", 0.0))

    def invoke(self, event: str, request_id: str, tenant_id: str | None) -> InvokeOutcome:
        """Send one invocation and wait at most the function Timeout for its result."""
        started = time.monotonic()
        deadline = started + self.spec.timeout_s
        deadline_ms = int((time.time() + self.spec.timeout_s) * 1000)
        message = {
            "type": "invoke",
            "id": request_id,
            "event": event,
            "deadline_ms": deadline_ms,
            "tenant_id": tenant_id,
        }
        try:
            frame = protocol.encode_frame(message)
        except protocol.ProtocolError as exc:  # never sent: the worker is still good
            self._sink.line(self.spec.function_name, f"{request_id} not invoked: {exc}")
            return InvokeOutcome("error", None, str(exc), 0.0, self.pid)
        cold = self.invocations == 0
        self.invocations += 1

        def elapsed() -> float:
            return (time.monotonic() - started) * 1000

        try:
            self._write_frame(frame, deadline)
            reply = self._read_frame(deadline)
        except _Timeout:
            self.kill()
            self._sink.line(
                self.spec.function_name,
                f"{request_id} Task timed out after {self.spec.timeout_s:.2f} seconds "
                f"(worker pid {self.pid} killed)",
            )
            return InvokeOutcome("timeout", None, "timed out", elapsed(), self.pid, cold)
        except (OSError, protocol.ProtocolError):
            code = self._reap()
            detail = f"worker pid {self.pid} {describe_exit(code)} during invocation {request_id}"
            self._sink.line(self.spec.function_name, f"{request_id} Runtime exited: {detail}")
            return InvokeOutcome("crash", None, detail, elapsed(), self.pid, cold)
        payload = reply.get("payload")
        if (
            reply.get("type") != "result"
            or reply.get("id") != request_id
            or not isinstance(payload, str)
        ):
            self.kill()
            return InvokeOutcome("crash", None, "protocol error", elapsed(), self.pid, cold)
        status: Status = "error" if reply.get("error") else "ok"
        return InvokeOutcome(status, payload, "", elapsed(), self.pid, cold)

    @property
    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.proc.poll() is None

    def _reap(self, timeout: float = 2.0) -> int | None:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL by PID, reap it, close our pipe ends. Idempotent."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL cannot be ignored
                LOG.error("worker pid %s did not die after SIGKILL", self.pid)
        self._close_fds()

    def stop(self, grace_s: float = 1.0) -> None:
        """Close the request pipe (the worker exits on EOF), then kill if it lingers."""
        if not self._closed and not self._request_closed:
            self._request_closed = True
            os.close(self._req_w)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=grace_s)
        self.kill()
        # The last lines (END, REPORT) may still be in the pipes: let the log threads reach
        # EOF so they are written before the caller exits (bounded: a grandchild process
        # could hold the pipes open).
        for thread in self._log_threads:
            thread.join(timeout=grace_s)

    def _close_fds(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._selector.close()
        if not self._request_closed:
            self._request_closed = True
            os.close(self._req_w)
        os.close(self._resp_r)


@dataclass
class PoolStats:
    """Counters the banner, the tests and the final summary read."""

    invocations: int = 0
    timeouts: int = 0
    crashes: int = 0
    busy: int = 0
    replaced: int = 0
    init_ms: list[float] = field(default_factory=list)


class WorkerPool:
    """``size`` warm workers for one function; requests beyond that wait (bounded)."""

    def __init__(
        self,
        spec: WorkerSpec,
        size: int,
        sink: LogSink,
        acquire_timeout_s: float | None = None,
        worker_factory: Callable[[WorkerSpec, LogSink], Worker] = Worker,
    ) -> None:
        if size < 1:
            raise ValueError("a pool needs at least one worker")
        self.spec = spec
        self.size = size
        self._sink = sink
        self._factory = worker_factory
        self.acquire_timeout_s = (
            acquire_timeout_s
            if acquire_timeout_s is not None
            else spec.timeout_s + spec.init_timeout_s + QUEUE_SLACK_S
        )
        self._idle: queue.Queue[Worker] = queue.Queue()
        self._all: set[Worker] = set()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self.stats = PoolStats()

    def _spawn(self) -> Worker:
        worker = self._factory(self.spec, self._sink)
        with self._lock:
            self._all.add(worker)
        if self._closed.is_set():  # close() ran while we were starting it
            worker.kill()
            raise WorkerStartError("pool closed during startup")
        try:
            worker.wait_ready()
        except WorkerStartError:
            with self._lock:
                self._all.discard(worker)
            raise
        if worker.init_ms is not None:
            with self._lock:
                self.stats.init_ms.append(worker.init_ms)
        return worker

    def start(self) -> None:
        """Start every worker now, in parallel; fail if any cannot even import (or hangs)."""
        errors: list[str] = []
        started: list[Worker] = []

        def one() -> None:
            try:
                started.append(self._spawn())
            except (WorkerStartError, OSError) as exc:
                errors.append(str(exc))

        threads = [threading.Thread(target=one, daemon=True) for _ in range(self.size)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            self.close()
            raise WorkerStartError(errors[0])
        for worker in started:
            self._idle.put(worker)

    def pids(self) -> list[int]:
        """PIDs of every live worker (idle or busy)."""
        with self._lock:
            return sorted(w.pid for w in self._all if w.alive)

    @property
    def init_error(self) -> dict[str, Any] | None:
        """The handler's init error, if the workers could not import it."""
        with self._lock:
            for worker in self._all:
                if worker.init_error is not None:
                    return worker.init_error
        return None

    def _acquire(self) -> Worker | None:
        deadline = time.monotonic() + self.acquire_timeout_s
        while not self._closed.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                worker = self._idle.get(timeout=min(remaining, 0.25))
            except queue.Empty:
                continue
            if worker.alive:
                return worker
            self._retire(worker)  # died while idle (killed from outside?)
        return None

    def invoke(
        self, event: str, tenant_id: str | None = None, request_id: str | None = None
    ) -> InvokeOutcome:
        """Run one invocation on a free worker; never raises for function failures."""
        request_id = request_id or str(uuid.uuid4())
        with self._lock:
            self.stats.invocations += 1
        worker = self._acquire()
        if worker is None:
            if self._closed.is_set():
                return InvokeOutcome("shutdown", None, "server is shutting down")
            with self._lock:
                self.stats.busy += 1
            detail = f"no free worker within {self.acquire_timeout_s:.0f} s (pool of {self.size})"
            self._sink.line(self.spec.function_name, f"{request_id} {detail}")
            return InvokeOutcome("busy", None, detail)
        outcome = worker.invoke(event, request_id, tenant_id)
        if outcome.status in ("ok", "error"):
            self._idle.put(worker)
        else:
            with self._lock:
                if outcome.status == "timeout":
                    self.stats.timeouts += 1
                else:
                    self.stats.crashes += 1
            self._retire(worker)
        return outcome

    def _retire(self, worker: Worker) -> None:
        worker.kill()
        with self._lock:
            self._all.discard(worker)
        if not self._closed.is_set():
            threading.Thread(target=self._replace, daemon=True, name="replace-worker").start()

    def _replace(self) -> None:
        delay = 0.5
        while not self._closed.is_set():
            try:
                worker = self._spawn()
            except (WorkerStartError, OSError) as exc:
                self._sink.line(
                    self.spec.function_name, f"replacement worker failed: {exc}; retrying"
                )
                self._closed.wait(delay)
                delay = min(delay * 2, 30.0)
                continue
            with self._lock:
                self.stats.replaced += 1
            if self._closed.is_set():
                worker.kill()
                return
            self._idle.put(worker)
            return

    def close(self) -> None:
        """Stop every worker (idle or busy) by PID; waiting requests get ``shutdown``."""
        self._closed.set()
        with self._lock:
            workers = list(self._all)
            self._all.clear()
        threads = [threading.Thread(target=w.stop, daemon=True) for w in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)


def build_worker_env(
    resolved: Mapping[str, str],
    *,
    handler: str,
    runtime: str,
    code_dir: Path,
    interpreter: Path,
    user_overrides: Mapping[str, Any] | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The worker's whole environment: a clean Lambda-like one, not the server's.

    ``resolved`` is SAM's ``EnvironmentVariables.resolve()`` (template variables
    with parameter overrides applied, shell and ``--env-vars`` overrides, and
    Lambda's ``AWS_*`` set with placeholder credentials). The host environment is
    *not* inherited, so ``AWS_PROFILE`` and friends cannot leak in; the AWS config
    and credential files are pointed at /dev/null for the same reason.

    Local-only defaults (no X-Ray daemon here) win over the template, but not over
    a value the user put in the ``--env-vars`` file (``user_overrides``).
    """
    env: dict[str, str] = {
        "PATH": os.pathsep.join([str(interpreter.parent), "/usr/local/bin", "/usr/bin", "/bin"]),
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": str(code_dir),
        "LAMBDA_RUNTIME_DIR": str(WORKER_SCRIPT.parent),
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime}",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    env.update({k: str(v) for k, v in resolved.items()})
    env["_HANDLER"] = handler
    local_defaults = {
        "POWERTOOLS_TRACE_DISABLED": "true",
        "AWS_XRAY_SDK_ENABLED": "false",
        "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
    }
    overrides = user_overrides or {}
    for name, value in local_defaults.items():
        # An --env-vars value wins even when the template does not declare the variable
        # (SAM would drop it): it is the only way to undo a local default.
        env[name] = str(overrides[name]) if name in overrides else value
    env.update(extra or {})
    return env


def refresh_request_context(event: str) -> str:
    """Give each API event its own ``requestId`` and request time, as API Gateway does.

    SAM CLI 1.170.0 builds them in *default arguments* of ``RequestContext`` (and
    ``RequestContextV2``), evaluated once at import: every request of a server's
    life gets the same id and a frozen time (aws/aws-sam-cli#9279, fix proposed in
    #9280). Handlers quote that id to clients and key logs on it, so it is fixed
    here, on the way into the worker. ``test_sam_contract`` pins the SAM behaviour:
    when SAM fixes it, that test says this can go. Not covered: an authorizer event
    built by SAM for the same request keeps SAM's id (no authorizers here).
    """
    if '"requestContext"' not in event:
        return event
    try:
        doc = json.loads(event)
    except ValueError:
        return event
    context = doc.get("requestContext") if isinstance(doc, dict) else None
    if not isinstance(context, dict) or "requestId" not in context:
        return event
    now = time.time()
    context["requestId"] = str(uuid.uuid4())
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now))
    if "requestTimeEpoch" in context:  # REST (payload 1.0)
        context["requestTimeEpoch"] = int(now * 1000)
        context["requestTime"] = stamp
    if "timeEpoch" in context:  # HTTP API (payload 2.0)
        context["timeEpoch"] = int(now * 1000)
        context["time"] = stamp
    return json.dumps(doc, sort_keys=True)


class ProcessLambdaRuntime:
    """Drop-in for SAM's ``LambdaRuntime``: same ``invoke`` contract, processes instead of containers.

    ``spec_factory`` turns SAM's ``FunctionConfig`` into a :class:`WorkerSpec`
    (interpreter lookup, architecture check, environment); the server supplies it
    so this class stays about processes only.
    """

    def __init__(
        self,
        spec_factory: Callable[[Any], WorkerSpec],
        workers: int = 2,
        sink: LogSink | None = None,
        acquire_timeout_s: float | None = None,
    ) -> None:
        self._spec_factory = spec_factory
        self._workers = workers
        self._sink = sink or LogSink()
        self._acquire_timeout_s = acquire_timeout_s
        self._pools: dict[str, WorkerPool] = {}
        self._lock = threading.Lock()
        self._closed = False

    @property
    def pools(self) -> Mapping[str, WorkerPool]:
        """Pools by function full path."""
        return dict(self._pools)

    def prepare(self, function_config: Any) -> WorkerPool:
        """Start (eagerly) the pool for one function, or return the running one."""
        pool = self._pools.get(function_config.full_path)
        if pool is not None:  # the common case: no lock on the request path
            return pool
        with self._lock:
            if self._closed:
                raise WorkerStartError("runtime is shut down")
            pool = self._pools.get(function_config.full_path)
            if pool is None:
                spec = self._spec_factory(function_config)
                pool = WorkerPool(spec, self._workers, self._sink, self._acquire_timeout_s)
                # Registered before start() so close() reaches workers mid-startup too.
                self._pools[function_config.full_path] = pool
                try:
                    pool.start()
                except BaseException:
                    del self._pools[function_config.full_path]
                    pool.close()
                    raise
            return pool

    def invoke(
        self,
        function_config: Any,
        event: str,
        tenant_id: str | None = None,
        *,
        stdout: Any = None,
        stderr: Any = None,
        **_container_options: Any,
    ) -> dict[str, str] | None:
        """SAM's runtime contract: result JSON to ``stdout.write_str``; nothing on failure.

        An event over Lambda's synchronous payload limit is refused before any worker
        sees it, as Lambda refuses the Invoke: :class:`InvokePayloadTooLarge`, which
        the server answers with API Gateway's 413.
        ``stderr`` is unused: function logs are streamed continuously by the
        worker's log threads (they also cover output between invocations).
        """
        size = len(event) if event.isascii() else len(event.encode("utf-8"))
        if size > MAX_INVOKE_PAYLOAD_BYTES:  # Lambda refuses it; API Gateway answers 413
            raise InvokePayloadTooLarge(size)
        try:
            pool = self.prepare(function_config)
        except Exception as exc:  # a function that cannot even start: 502, logged
            LOG.error("%s: cannot start worker: %s", function_config.name, exc)
            return None
        outcome = pool.invoke(refresh_request_context(event), tenant_id)
        if outcome.payload is not None and stdout is not None:
            stdout.write_str(outcome.payload)
            stdout.flush()
        return None

    def close(self) -> None:
        """Stop every pool (the server calls this on SIGINT/SIGTERM)."""
        with self._lock:
            self._closed = True
            pools = list(self._pools.values())
        for pool in pools:
            pool.close()


class ProcessLambdaRunner(LocalLambdaRunner):  # type: ignore[misc]  # samcli is untyped
    """SAM's ``LocalLambdaRunner``, minus real AWS credentials.

    Everything else -- function lookup, ``FunctionConfig``, env var precedence
    (template < shell < ``--env-vars`` ``Parameters`` < ``--env-vars`` function
    section), Lambda's ``AWS_*`` variables -- is SAM's own code.
    """

    def __init__(self, *args: Any, region: str = "us-east-1", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._local_region = region

    def get_aws_creds(self) -> dict[str, str]:
        """Region only: SAM then fills in its placeholder key and secret."""
        return {"region": self._local_region}
