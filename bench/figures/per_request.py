"""2. Warm per-request cost in process, and 3. peak memory, ours vs the hello-pt baseline.

Both run :mod:`bench.driver` in fresh python3.13 processes (``-I -B``) with the shipped
dependencies. **Both sides are treated alike: each runs from a copy with no bytecode**
(ours from the build output stripped of its ``.pyc``, the baseline as it ships), so both
compile their package from source at import and the standard library comes from its own
bytecode. Warm per-request times do not depend on where the code objects came from; peak
memory can (compiling a module from source needs transient memory that loading its
``.pyc`` does not), so memory is also measured for ours as it ships, with its ``.pyc``
(``ours_pyc``), as an extra row next to the like-for-like pair.
Per request: every ``events/*.json`` sample, warmed up, then each call timed on its own;
one process per handler per configuration per repeat, the two handlers alternating, and
the figure per event is min/median/max over processes of the per-process median.

With tracing on, the X-Ray SDK emits each sampled segment as a UDP datagram; it is sent
to a free 127.0.0.1 port nobody listens on (as cheap as a daemon that reads it) and the
trace header says ``Sampled=1``, the most expensive case.

Where the time goes: one more process per handler and configuration runs the events
under cProfile (self time per function and per top-level package; cProfile's overhead
inflates small functions, so read it as shares, not as absolute times).

The headline per-request ratio is the geometric mean of the per-event ratios over the
events both handlers answer alike (same status). The others are shown with what each
side answered: the baseline has no body validation, size limit or 405 handling, and
raises on bodies that are not JSON.
"""

from __future__ import annotations

import json
import math
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.figures.common import (
    DRIVER,
    EVENTS_DIR,
    HandlerSpec,
    Summary,
    Workspace,
    fmt_ratio,
    free_port,
    geomean,
    lambda_env,
    ratio,
    say,
)

TRACING = (False, True)
# memory rows: the like-for-like pair (both without bytecode), then ours as it ships
MEMORY_HANDLERS = ("ours", "baseline", "ours_pyc")
TRACE_HEADER = "Root=1-6955b902-9b2d7e4f1a3c4b5d8e6f7a8b;Parent=53995c3f42cd8ad8;Sampled=1"
MiB = 1024 * 1024

# Lambda sizing rule (see README): Lambda's runtime interface client and bootstrap live in
# the same process as the handler but are not imported here, so allow for them, then keep
# a quarter of the memory free for request bodies, log buffers and growth.
RUNTIME_ALLOWANCE_MB = 30
HEADROOM_FRACTION = 0.25
LAMBDA_MIN_MB = 128


def lambda_memory_size(peak_mb: float) -> int:
    """Smallest MemorySize (128 MB upward, 1 MB steps) that fits ``peak_mb`` with headroom."""
    need = (peak_mb + RUNTIME_ALLOWANCE_MB) / (1 - HEADROOM_FRACTION)
    return max(LAMBDA_MIN_MB, math.ceil(need))


@dataclass
class PerRequestResult:
    iterations: int
    processes: int
    # (tracing, handler, event) -> per-process median ns
    medians: dict[tuple[bool, str, str], list[float]] = field(default_factory=dict)
    outcomes: dict[tuple[bool, str, str], set[str]] = field(default_factory=dict)
    # (tracing, handler) -> list of driver memory results
    memory: dict[tuple[bool, str], list[dict[str, Any]]] = field(default_factory=dict)
    memory_requests: int = 0
    bare_hwm_kb: list[int] = field(default_factory=list)
    # (tracing, handler) -> cProfile attribution (driver ``profile`` mode)
    profiles: dict[tuple[bool, str], dict[str, Any]] = field(default_factory=dict)

    def events(self) -> list[str]:
        return sorted({event for (_t, _h, event) in self.medians})

    def summary_us(self, tracing: bool, handler: str, event: str) -> Summary:
        return Summary.of(self.medians.get((tracing, handler, event), [])).scaled(1e-3)

    def outcome(self, tracing: bool, handler: str, event: str) -> str:
        return "/".join(sorted(self.outcomes.get((tracing, handler, event), set()))) or "n/a"

    def alike(self, tracing: bool, event: str) -> bool:
        return self.outcome(tracing, "ours", event) == self.outcome(tracing, "baseline", event)

    def event_ratio(self, tracing: bool, event: str) -> float:
        return ratio(
            self.summary_us(tracing, "ours", event).median,
            self.summary_us(tracing, "baseline", event).median,
        )

    def headline_ratio(self, tracing: bool) -> float:
        return geomean(
            self.event_ratio(tracing, e) for e in self.events() if self.alike(tracing, e)
        )

    def all_events_ratio(self, tracing: bool) -> float:
        return geomean(self.event_ratio(tracing, e) for e in self.events())

    def memory_mb(self, tracing: bool, handler: str, stage: str) -> Summary:
        return Summary.of(
            run[stage]["vmhwm_kb"] / 1024 for run in self.memory.get((tracing, handler), [])
        )

    def as_json(self) -> dict[str, Any]:
        rows = []
        for tracing in TRACING:
            for event in self.events():
                rows.append(
                    {
                        "tracing": tracing,
                        "event": event,
                        "ours_us": self.summary_us(tracing, "ours", event).as_json(),
                        "baseline_us": self.summary_us(tracing, "baseline", event).as_json(),
                        "ours_outcome": self.outcome(tracing, "ours", event),
                        "baseline_outcome": self.outcome(tracing, "baseline", event),
                        "ratio": self.event_ratio(tracing, event),
                    }
                )
        memory = []
        for tracing in TRACING:
            for handler in MEMORY_HANDLERS:
                if (tracing, handler) not in self.memory:
                    continue
                peak = self.memory_mb(tracing, handler, "after_requests")
                memory.append(
                    {
                        "tracing": tracing,
                        "handler": handler,
                        "after_import_mb": self.memory_mb(
                            tracing, handler, "after_import"
                        ).as_json(),
                        "after_requests_mb": peak.as_json(),
                        "lambda_memory_size_mb": lambda_memory_size(peak.max) if peak.n else None,
                        "runs": self.memory.get((tracing, handler), []),
                    }
                )
        return {
            "iterations": self.iterations,
            "processes": self.processes,
            "rows": rows,
            "headline_ratio": {str(t): self.headline_ratio(t) for t in TRACING},
            "all_events_ratio": {str(t): self.all_events_ratio(t) for t in TRACING},
            "memory_requests": self.memory_requests,
            "memory": memory,
            "profiles": [
                {"tracing": t, "handler": h, **data} for (t, h), data in self.profiles.items()
            ],
            "bare_interpreter_vmhwm_mb": Summary.of(kb / 1024 for kb in self.bare_hwm_kb).as_json(),
            "sizing_rule": {
                "runtime_allowance_mb": RUNTIME_ALLOWANCE_MB,
                "headroom_fraction": HEADROOM_FRACTION,
            },
        }


def _driver(
    python: Path, ws: Workspace, spec: HandlerSpec, tracing: bool, mode: str, *args: str
) -> dict[str, Any]:
    out = ws.root / f"driver-{spec.name}-{mode}.json"
    out.unlink(missing_ok=True)
    env = lambda_env(
        spec.code,
        tracing=tracing,
        extra={
            "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{free_port(socket.SOCK_DGRAM)}",
            "_X_AMZN_TRACE_ID": TRACE_HEADER,
        },
    )
    cmd = [str(python), "-I", "-B", str(DRIVER), mode]
    for path in spec.paths:
        cmd += ["--path", str(path)]
    cmd += ["--events-dir", str(EVENTS_DIR), "--out", str(out), *args]
    proc = subprocess.run(
        cmd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=600,
        check=False,
    )
    if proc.returncode != 0 or not out.exists():
        raise RuntimeError(f"driver {mode} {spec.name} failed: {proc.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(out.read_text())
    expected = str(spec.paths[0] / "app.py")
    if result["app_file"] != expected:
        raise RuntimeError(f"driver imported {result['app_file']}, expected {expected}")
    return result


def _bare_hwm_kb(python: Path) -> int:
    code = (
        "from pathlib import Path\n"
        "print([l for l in Path('/proc/self/status').read_text().splitlines()"
        " if l.startswith('VmHWM:')][0].split()[1])"
    )
    out = subprocess.run(
        [str(python), "-I", "-B", "-c", code], capture_output=True, text=True, check=True
    )
    return int(out.stdout.strip())


def run(
    python: Path,
    ws: Workspace,
    *,
    processes: int,
    iterations: int,
    warmup: int,
    memory_runs: int,
    memory_requests: int,
    profile_requests: int,
) -> PerRequestResult:
    result = PerRequestResult(
        iterations=iterations, processes=processes, memory_requests=memory_requests
    )
    # like-for-like: both from a copy without bytecode (see the module docstring)
    specs = (ws.ours_nopyc(name="ours"), ws.base())
    shipped = HandlerSpec("ours_pyc", ws.ours().paths, bytecode=True)
    for proc_no in range(processes):
        say(f"per request: process round {proc_no + 1}/{processes} ({iterations} calls/event)")
        order = specs if proc_no % 2 == 0 else tuple(reversed(specs))
        for tracing in TRACING:
            for spec in order:
                data = _driver(
                    python,
                    ws,
                    spec,
                    tracing,
                    "requests",
                    "--iterations",
                    str(iterations),
                    "--warmup",
                    str(warmup),
                )
                for event, figures in data["events"].items():
                    key = (tracing, spec.name, event)
                    result.medians.setdefault(key, []).append(float(figures["median_ns"]))
                    result.outcomes.setdefault(key, set()).update(figures["outcomes"])
    for run_no in range(memory_runs):
        say(f"memory: run {run_no + 1}/{memory_runs} ({memory_requests} requests)")
        result.bare_hwm_kb.append(_bare_hwm_kb(python))
        for tracing in TRACING:
            for spec in (*specs, shipped):
                data = _driver(
                    python, ws, spec, tracing, "memory", "--requests", str(memory_requests)
                )
                result.memory.setdefault((tracing, spec.name), []).append(data)
    say(f"per request: cProfile attribution ({profile_requests} requests per handler)")
    for tracing in TRACING:
        for spec in specs:
            data = _driver(
                python, ws, spec, tracing, "profile", "--requests", str(profile_requests)
            )
            result.profiles[(tracing, spec.name)] = data["profile"]
    for tracing in TRACING:
        say(
            f"per request: tracing {'on ' if tracing else 'off'}: like-for-like geomean ratio "
            f"{fmt_ratio(result.headline_ratio(tracing))}; peak RSS ours "
            f"{result.memory_mb(tracing, 'ours', 'after_requests').fmt()} MB, baseline "
            f"{result.memory_mb(tracing, 'baseline', 'after_requests').fmt()} MB"
        )
    return result
