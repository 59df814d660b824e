"""5. Local API: warm latency and throughput of ``python -m localapi serve`` on loopback,
against a runner that starts a fresh interpreter per request (bench/spawn_server.py).

Both serve the same built function (the workspace copy) on a free 127.0.0.1 port, are
polled until ``GET /health`` answers, warmed up, measured, and stopped by PID. Requests
cycle over ``GET /health``, ``GET /`` and ``POST /echo``; each uses a new connection
(both servers close after every response). Latency: sequential requests, p50/p99 per
batch (nearest rank: with fewer than 100 requests p99 is the batch maximum); throughput:
a fixed number of requests from 2 client threads. The client shares the machine's 2 cores
with the server and its workers, as it would on a developer's laptop.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.figures.common import (
    BENCH_DIR,
    DEV_PYTHON,
    EVENTS_DIR,
    REPO,
    Summary,
    Workspace,
    fmt_ratio,
    free_port,
    lambda_env,
    percentile,
    ratio,
    say,
)

START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 15.0
REQUEST_TIMEOUT_S = 30.0
ECHO_BODY = json.dumps({"message": "hello", "tags": ["bench"]}).encode()
MIX: tuple[tuple[str, str, bytes | None], ...] = (
    ("GET", "/health", None),
    ("GET", "/", None),
    ("POST", "/echo", ECHO_BODY),
)
HEADERS = {"Content-Type": "application/json", "X-Api-Key": "local-dev-key"}


@dataclass(frozen=True)
class Load:
    """How many requests: per latency batch, batches, throughput total, warm-up."""

    latency_requests: int
    batches: int
    throughput_requests: int
    warmup: int


@dataclass
class ServerFigures:
    name: str
    start_s: float = float("nan")
    p50_ms: list[float] = field(default_factory=list)
    p99_ms: list[float] = field(default_factory=list)
    rps: list[float] = field(default_factory=list)
    errors: int = 0
    requests: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "start_s": self.start_s,
            "p50_ms": Summary.of(self.p50_ms).as_json(),
            "p99_ms": Summary.of(self.p99_ms).as_json(),
            "rps": Summary.of(self.rps).as_json(),
            "errors": self.errors,
            "requests": self.requests,
        }


def request(port: int, method: str, path: str, body: bytes | None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
    try:
        conn.request(method, path, body=body, headers=HEADERS)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


class Server:
    """One server subprocess on 127.0.0.1, stopped by its PID."""

    def __init__(self, name: str, cmd: Sequence[str], port: int, log_path: Path) -> None:
        self.name = name
        self.cmd = list(cmd)
        self.port = port
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        """Start and wait until ``GET /health`` answers; return the seconds that took."""
        env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
        began = time.monotonic()
        with self.log_path.open("wb") as sink:
            self.proc = subprocess.Popen(
                self.cmd, cwd=REPO, stdout=sink, stderr=subprocess.STDOUT, env=env
            )
        deadline = began + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited {self.proc.returncode}: {self.log()[-2000:]}"
                )
            try:
                if request(self.port, "GET", "/health", None) == 200:
                    return time.monotonic() - began
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer within {START_TIMEOUT_S:.0f} s")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _latency_batch(port: int, count: int) -> tuple[list[float], int]:
    samples: list[float] = []
    errors = 0
    for i in range(count):
        method, path, body = MIX[i % len(MIX)]
        start = time.perf_counter_ns()
        status = request(port, method, path, body)
        samples.append((time.perf_counter_ns() - start) / 1e6)
        errors += status != 200
    return samples, errors


def _throughput(port: int, total: int, concurrency: int = 2) -> tuple[float, int]:
    counter = iter(range(total))
    lock = threading.Lock()
    errors = [0]

    def worker() -> None:
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            method, path, body = MIX[i % len(MIX)]
            try:
                ok = request(port, method, path, body) == 200
            except OSError:
                ok = False
            if not ok:
                with lock:
                    errors[0] += 1

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return total / (time.perf_counter() - start), errors[0]


def _measure(server: Server, load: Load) -> ServerFigures:
    figures = ServerFigures(server.name)
    figures.start_s = server.start()
    try:
        _, errors = _latency_batch(server.port, load.warmup)
        for batch in range(load.batches):
            say(
                f"local API: {server.name} batch {batch + 1}/{load.batches} "
                f"({load.latency_requests} sequential + {load.throughput_requests} concurrent)"
            )
            samples, batch_errors = _latency_batch(server.port, load.latency_requests)
            figures.p50_ms.append(percentile(samples, 50))
            figures.p99_ms.append(percentile(samples, 99))
            rps, rps_errors = _throughput(server.port, load.throughput_requests)
            figures.rps.append(rps)
            errors += batch_errors + rps_errors
            figures.requests += load.latency_requests + load.throughput_requests
        figures.errors = errors
    finally:
        server.stop()
    return figures


@dataclass
class LocalApiResult:
    localapi: ServerFigures
    spawn: ServerFigures
    localapi_load: Load
    spawn_load: Load

    @property
    def p50_speedup(self) -> float:
        """How many times faster the warm p50 is (goal: at least 20)."""
        return ratio(Summary.of(self.spawn.p50_ms).median, Summary.of(self.localapi.p50_ms).median)

    def as_json(self) -> dict[str, Any]:
        return {
            "localapi": self.localapi.as_json(),
            "spawn_per_request": self.spawn.as_json(),
            "localapi_load": self.localapi_load.__dict__,
            "spawn_load": self.spawn_load.__dict__,
            "p50_ratio": ratio(
                Summary.of(self.localapi.p50_ms).median, Summary.of(self.spawn.p50_ms).median
            ),
            "p50_speedup": self.p50_speedup,
        }


def run(python313: Path, ws: Workspace, localapi_load: Load, spawn_load: Load) -> LocalApiResult:
    port = free_port()
    cmd = [
        str(DEV_PYTHON), "-m", "localapi", "serve",
        "--engine", "process",
        "--template", str(ws.build / "template.yaml"),
        "--port", str(port),
        "--workers", "2",
    ]  # fmt: skip
    localapi = Server("localapi", cmd, port, ws.root / "localapi.log")
    say(f"local API: starting python -m localapi serve on 127.0.0.1:{port}")
    ours = _measure(localapi, localapi_load)

    env_file = ws.root / "spawn-env.json"
    env_file.write_text(json.dumps(lambda_env(ws.code, tracing=False)))
    port = free_port()
    cmd = [
        str(DEV_PYTHON), str(BENCH_DIR / "spawn_server.py"),
        "--port", str(port),
        "--python", str(python313),
        "--code-dir", str(ws.code),
        "--pycache", str(ws.pycache),
        "--env-json", str(env_file),
        "--event-template", str(EVENTS_DIR / "health.json"),
    ]  # fmt: skip
    spawn = Server("spawn-per-request", cmd, port, ws.root / "spawn.log")
    say(f"local API: starting the per-request-interpreter runner on 127.0.0.1:{port}")
    base = _measure(spawn, spawn_load)
    result = LocalApiResult(ours, base, localapi_load, spawn_load)
    say(
        f"local API: p50 localapi {Summary.of(ours.p50_ms).fmt(2)} ms, per-request start "
        f"{Summary.of(base.p50_ms).fmt(1)} ms, ratio "
        f"{fmt_ratio(1 / result.p50_speedup if result.p50_speedup else float('nan'))}"
    )
    return result
