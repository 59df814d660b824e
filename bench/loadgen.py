"""Bounded HTTP load generation against the API: N requests from C concurrent clients.

Shared by the CI load test (tests/integration/test_load.py, a small bound) and the bigger
manual run (bench/load.py, ``make load``). Stdlib only on the client side.

Each client is a thread that takes the next request number from a shared counter until
all N are taken or the time cap has passed (requests not started by then are reported
as ``not_sent``, never silently dropped). Requests cycle over :data:`DEFAULT_MIX`
(``GET /health``, ``GET /``, ``POST /echo``); every ``POST /echo`` carries its own
message, and the answer must echo exactly that message back, so a mixed-up or truncated
response counts as an error, not just a connection failure or a non-200 status.

Latency is wall-clock time per request (connect to last byte; a new connection per
request because the local API closes it after every response). Percentiles are nearest
rank. Figures are for reporting only: the tests assert correctness (no errors, all 200),
never timing.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from bench.figures.common import percentile

DEFAULT_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class RequestSpec:
    """One kind of request in the mix; ``echo`` bodies get a unique message per request."""

    method: str
    path: str
    echo: bool = False


DEFAULT_MIX: tuple[RequestSpec, ...] = (
    RequestSpec("GET", "/health"),
    RequestSpec("GET", "/"),
    RequestSpec("POST", "/echo", echo=True),
)


@dataclass
class LoadResult:
    """What one run measured."""

    requested: int
    clients: int
    completed: int = 0
    errors: int = 0  # transport failures, non-200 answers and wrong echoes
    not_sent: int = 0  # still queued when the time cap passed
    statuses: Counter[int] = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def throughput_rps(self) -> float:
        return self.completed / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies_ms, 50)

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies_ms, 99)

    @property
    def max_ms(self) -> float:
        return max(self.latencies_ms, default=float("nan"))

    def as_json(self) -> dict[str, Any]:
        return {
            "requested": self.requested,
            "clients": self.clients,
            "completed": self.completed,
            "errors": self.errors,
            "not_sent": self.not_sent,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "throughput_rps": round(self.throughput_rps, 1),
            "p50_ms": round(self.p50_ms, 2),
            "p99_ms": round(self.p99_ms, 2),
            "max_ms": round(self.max_ms, 2),
            "wall_s": round(self.wall_s, 3),
            "error_samples": self.error_samples,
        }

    def summary(self) -> str:
        return (
            f"{self.completed}/{self.requested} requests from {self.clients} clients in "
            f"{self.wall_s:.2f} s: {self.throughput_rps:.1f} req/s, p50 {self.p50_ms:.1f} ms, "
            f"p99 {self.p99_ms:.1f} ms, max {self.max_ms:.1f} ms, errors {self.errors}, "
            f"not sent {self.not_sent}, statuses {dict(sorted(self.statuses.items()))}"
        )


class _Target:
    """Where requests go: scheme, host, port and a path prefix (a deployed stage)."""

    def __init__(self, base_url: str, headers: Mapping[str, str]) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.https = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.https else 80)
        self.prefix = parts.path.rstrip("/")
        self.headers = dict(headers)

    def connection(self, timeout: float) -> http.client.HTTPConnection:
        if self.https:
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)


def _one(
    target: _Target, spec: RequestSpec, number: int, timeout: float
) -> tuple[int, float, str | None]:
    """Send request ``number``; return (status, latency ms, problem or None)."""
    body: bytes | None = None
    headers = dict(target.headers)
    message = f"load-{number}"
    if spec.echo:
        body = json.dumps({"message": message, "tags": ["load"]}).encode()
        headers["Content-Type"] = "application/json"
    started = time.perf_counter()
    conn = target.connection(timeout)
    try:
        conn.request(spec.method, target.prefix + spec.path, body=body, headers=headers)
        response = conn.getresponse()
        payload = response.read()
        status = response.status
    finally:
        conn.close()
    elapsed_ms = (time.perf_counter() - started) * 1000
    if status != 200:
        return status, elapsed_ms, f"{spec.method} {spec.path} -> {status}: {payload[:200]!r}"
    if spec.echo:
        try:
            echoed = json.loads(payload).get("message")
        except (ValueError, AttributeError):
            echoed = None
        if echoed != message:
            return status, elapsed_ms, f"echo #{number} answered {payload[:200]!r}"
    return status, elapsed_ms, None


def run_load(
    base_url: str,
    *,
    requests: int,
    clients: int,
    time_cap_s: float,
    headers: Mapping[str, str] | None = None,
    mix: Sequence[RequestSpec] = DEFAULT_MIX,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> LoadResult:
    """Send ``requests`` requests from ``clients`` threads, stopping new ones at the cap."""
    if requests < 1 or clients < 1 or time_cap_s <= 0:
        raise ValueError("requests and clients must be >= 1 and the time cap > 0")
    target = _Target(base_url, headers or {})
    result = LoadResult(requested=requests, clients=clients)
    lock = threading.Lock()
    counter = iter(range(requests))
    deadline = time.monotonic() + time_cap_s

    def client() -> None:
        while True:
            with lock:
                if time.monotonic() >= deadline:
                    return
                number = next(counter, None)
            if number is None:
                return
            spec = mix[number % len(mix)]
            problem: str | None
            try:
                status, elapsed_ms, problem = _one(target, spec, number, timeout_s)
            except (OSError, http.client.HTTPException) as error:
                status, elapsed_ms = 0, float("nan")
                problem = f"{spec.method} {spec.path}: {type(error).__name__}: {error}"
            with lock:
                result.statuses[status] += 1
                if status:
                    result.completed += 1
                    result.latencies_ms.append(elapsed_ms)
                if problem is not None:
                    result.errors += 1
                    if len(result.error_samples) < 10:
                        result.error_samples.append(problem)

    threads = [threading.Thread(target=client, name=f"load-{i}") for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.wall_s = time.perf_counter() - started
    result.not_sent = requests - sum(result.statuses.values())
    return result
