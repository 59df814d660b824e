"""Shared pieces of the benchmarks: paths, statistics, the python3.13 runtime, workspace, env.

Everything here runs in the project's dev interpreter (``.venv``, Python 3.11). Code that
must run inside the function's runtime lives in :mod:`bench.driver` (stdlib only, run by
python3.13 as a script).
"""

from __future__ import annotations

import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
BENCH_DIR = REPO / "bench"
EVENTS_DIR = REPO / "events"
BUILD_DIR = REPO / ".aws-sam" / "build"
BUILT_FUNCTION = BUILD_DIR / "ApiFunction"
BASELINE_SOURCE = BENCH_DIR / "baseline_handler" / "app.py"
DRIVER = BENCH_DIR / "driver.py"
DEV_PYTHON = Path(sys.executable)

# The function's environment from template.yaml (Variables) plus what Lambda itself sets.
FUNCTION_ENV: Mapping[str, str] = {
    "POWERTOOLS_SERVICE_NAME": "secure-serverless-api",
    "POWERTOOLS_METRICS_NAMESPACE": "SecureServerlessApi",
    "POWERTOOLS_LOGGER_LOG_EVENT": "false",
    "ENVIRONMENT": "dev",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_LAMBDA_FUNCTION_NAME": "secure-api-dev-ApiFunction",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
    "AWS_LAMBDA_LOG_FORMAT": "JSON",
    "AWS_ACCESS_KEY_ID": "bench-placeholder",
    "AWS_SECRET_ACCESS_KEY": "bench-placeholder",
    "AWS_SESSION_TOKEN": "bench-placeholder",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
    "LANG": "C.UTF-8",
    "TZ": ":UTC",
}


def say(message: str) -> None:
    """Progress on stderr (stdout carries the final table)."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class Summary:
    """min / median / max of repeated measurements (one value per run)."""

    min: float
    median: float
    max: float
    n: int

    @classmethod
    def of(cls, values: Iterable[float]) -> Summary:
        data = sorted(values)
        if not data:
            return cls(math.nan, math.nan, math.nan, 0)
        return cls(data[0], statistics.median(data), data[-1], len(data))

    def scaled(self, factor: float) -> Summary:
        return Summary(self.min * factor, self.median * factor, self.max * factor, self.n)

    def as_json(self) -> dict[str, float]:
        return {"min": self.min, "median": self.median, "max": self.max, "n": self.n}

    def fmt(self, digits: int = 1) -> str:
        """``median (min-max)``; the form every table uses."""
        if self.n == 0:
            return "n/a"
        return f"{self.median:,.{digits}f} ({self.min:,.{digits}f}-{self.max:,.{digits}f})"


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100): with fewer than 100 samples p99 is the max."""
    data = sorted(values)
    if not data:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(data)))
    return data[min(rank, len(data)) - 1]


def ratio(ours: float, baseline: float) -> float:
    if baseline == 0 or math.isnan(baseline) or math.isnan(ours):
        return math.nan
    return ours / baseline


def geomean(values: Iterable[float]) -> float:
    data = [v for v in values if v > 0 and not math.isnan(v)]
    if not data:
        return math.nan
    return math.exp(sum(math.log(v) for v in data) / len(data))


def fmt_ratio(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.2f}x"


# --------------------------------------------------------------------------- runtime


def find_python313() -> Path:
    """The real python3.13 (the pyenv shim does not work), found like localapi finds it."""
    from localapi.runtime import find_interpreter

    return Path(find_interpreter("python3.13").path)


def interpreter_version(python: Path) -> str:
    out = subprocess.run(
        [str(python), "-c", "import sys; print(sys.version.split()[0])"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return out.stdout.strip()


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A 127.0.0.1 port nobody uses right now (bind to 0, read it, release it)."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------- workspace


@dataclass(frozen=True)
class HandlerSpec:
    """A handler to measure: its name and the sys.path entries that make ``import app`` it."""

    name: str
    paths: tuple[Path, ...]


@dataclass
class Workspace:
    """A private copy of the build, so a concurrent ``sam build`` cannot change it mid-run.

    ``build/`` holds ``template.yaml`` and ``ApiFunction/`` exactly as ``sam build`` left
    them (no bytecode: Lambda gets none either); ``baseline/`` holds the baseline ``app.py``
    and uses the same ``ApiFunction/`` dependencies. ``pycache/`` is a ``pycache_prefix``
    for the runs that measure a warm bytecode cache.
    """

    root: Path

    @property
    def build(self) -> Path:
        return self.root / "build"

    @property
    def code(self) -> Path:
        return self.build / "ApiFunction"

    @property
    def baseline(self) -> Path:
        return self.root / "baseline"

    @property
    def pycache(self) -> Path:
        return self.root / "pycache"

    def ours(self) -> HandlerSpec:
        return HandlerSpec("ours", (self.code,))

    def base(self) -> HandlerSpec:
        return HandlerSpec("baseline", (self.baseline, self.code))

    @classmethod
    def create(cls) -> Workspace:
        root = Path(tempfile.mkdtemp(prefix="bench-"))
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        shutil.copytree(BUILD_DIR / "ApiFunction", root / "build" / "ApiFunction", ignore=ignore)
        shutil.copy2(BUILD_DIR / "template.yaml", root / "build" / "template.yaml")
        (root / "baseline").mkdir()
        shutil.copy2(BASELINE_SOURCE, root / "baseline" / "app.py")
        (root / "pycache").mkdir()
        return cls(root)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def lambda_env(
    code_dir: Path, *, tracing: bool, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """A clean Lambda-like environment (the host's is not inherited).

    ``tracing=True`` is the deployed configuration (``Tracing: Active``): Powertools and
    our handler build a live Tracer. ``tracing=False`` sets ``POWERTOOLS_TRACE_DISABLED``
    (what the local API, the tests and a function with tracing switched off see).
    """
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LAMBDA_TASK_ROOT": str(code_dir),
        **FUNCTION_ENV,
    }
    if tracing:
        env["AWS_XRAY_CONTEXT_MISSING"] = "IGNORE_ERROR"
    else:
        env["POWERTOOLS_TRACE_DISABLED"] = "true"
    env.update(extra or {})
    return env


def python_flags(pycache: Path | None) -> list[str]:
    """``-I -B``: isolated, never writes bytecode; with a prefix, reads/writes it there only."""
    flags = ["-I", "-B"]
    if pycache is not None:
        flags = ["-I", "-X", f"pycache_prefix={pycache}"]
    return flags


def import_code(spec: HandlerSpec) -> str:
    """``-c`` program: put the handler first on sys.path, time ``import app`` in-process."""
    paths = ", ".join(repr(str(p)) for p in spec.paths)
    return (
        "import sys, time\n"
        f"sys.path[:0] = [{paths}]\n"
        "t = time.perf_counter_ns()\n"
        "import app\n"
        "print(time.perf_counter_ns() - t)\n"
    )


@dataclass(frozen=True)
class ProcessTime:
    """One whole process: wall clock from spawn to exit, and the CPU time it used.

    CPU time (user + system, from ``wait4``'s rusage, children included) does not count
    time spent waiting for a core, so on a shared 2-core machine it is the steadier
    figure; wall clock is what a person waits.
    """

    wall_ms: float
    cpu_ms: float
    stdout: str
    returncode: int


def timed_run(
    cmd: Sequence[str],
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
    *,
    ok_codes: tuple[int, ...] = (0,),
) -> ProcessTime:
    """Run a whole process and time it; fails loudly on an unexpected exit code."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter_ns()
        proc = subprocess.Popen(
            list(cmd),
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            cwd=str(REPO),
        )
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                raise RuntimeError(f"{' '.join(cmd[:4])} ... timed out after {timeout:.0f} s")
            time.sleep(0.001)
        wall = time.perf_counter_ns() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
    if proc.returncode not in ok_codes:
        raise RuntimeError(
            f"{' '.join(cmd[:4])} ... exited {proc.returncode}: {stderr.strip()[-2000:]}"
        )
    cpu_ms = (usage.ru_utime + usage.ru_stime) * 1000
    return ProcessTime(wall / 1e6, cpu_ms, stdout, proc.returncode)


def load_events() -> dict[str, dict[str, Any]]:
    import json

    return {p.stem: json.loads(p.read_text()) for p in sorted(EVENTS_DIR.glob("*.json"))}


def machine_info(python313: Path) -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        load = "unknown"
    return {
        "nproc": str(os.cpu_count() or 0),
        "cpu": cpu,
        "dev_python": sys.version.split()[0],
        "python313": interpreter_version(python313),
        "python313_path": str(python313),
        "loadavg_at_start": load,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
