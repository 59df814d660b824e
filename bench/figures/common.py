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
    """A handler to measure: its name and the sys.path entries that make ``import app`` it.

    ``paths[0]`` is its code directory (``LAMBDA_TASK_ROOT``); ``bytecode`` says whether
    that directory ships ``.pyc`` files (checked by :func:`bytecode_use`).
    """

    name: str
    paths: tuple[Path, ...]
    bytecode: bool = False

    @property
    def code(self) -> Path:
        return self.paths[0]


HANDLER_SOURCE = REPO / "src" / "handler"
NO_BYTECODE = shutil.ignore_patterns("__pycache__", "*.pyc")


def our_sources() -> tuple[str, ...]:
    """Our handler's own files (modules, route packages, schema files), relative to its root.

    Everything else in the build output is a dependency; ``requirements.txt`` is the
    dependency list both sides share.
    """
    return tuple(
        sorted(
            path.relative_to(HANDLER_SOURCE).as_posix()
            for path in HANDLER_SOURCE.rglob("*")
            if path.is_file()
            and "__pycache__" not in path.parts
            and path.suffix != ".pyc"
            and path.name != "requirements.txt"
        )
    )


@dataclass
class Workspace:
    """Private copies of the build, so a concurrent ``sam build`` cannot change them mid-run.

    * ``build/`` holds ``template.yaml`` and ``ApiFunction/`` exactly as the build left
      them: our handler as it ships, **with** the ``.pyc`` files that
      ``python -m localapi build`` precompiles (``compileall --invalidation-mode
      unchecked-hash``) and SAM zips.
    * ``nopyc/`` is the same ``ApiFunction/`` with every ``__pycache__`` and ``*.pyc``
      removed: ours as it would ship without the precompile step.
    * ``baseline/`` is the hello-pt starter as ``sam build`` ships it: its own
      dependencies (Powertools with the ``[tracer]`` extra, at the same Powertools pin,
      installed by :mod:`bench.figures.deps`), **no bytecode**, and the baseline
      ``app.py``.
    * ``runtime_sdk`` (outside the workspace, shared) stands in for the runtime's
      ``/var/runtime`` (boto3, botocore): on ``sys.path`` after every handler's code.
    * ``pycache/`` is a ``pycache_prefix`` for the runs that measure a warm bytecode cache
      (with a prefix Python reads and writes bytecode only there and ignores
      ``__pycache__`` next to the sources).
    """

    root: Path
    runtime_sdk: Path

    @property
    def build(self) -> Path:
        return self.root / "build"

    @property
    def code(self) -> Path:
        return self.build / "ApiFunction"

    @property
    def nopyc(self) -> Path:
        return self.root / "nopyc"

    @property
    def baseline(self) -> Path:
        return self.root / "baseline"

    @property
    def pycache(self) -> Path:
        return self.root / "pycache"

    def ours(self) -> HandlerSpec:
        """Ours as it ships: the build output with its precompiled bytecode."""
        return HandlerSpec("ours", (self.code, self.runtime_sdk), bytecode=True)

    def ours_nopyc(self, name: str = "ours_nopyc") -> HandlerSpec:
        """Ours without the precompile step (the build output stripped of ``.pyc``)."""
        return HandlerSpec(name, (self.nopyc, self.runtime_sdk))

    def base(self) -> HandlerSpec:
        """The hello-pt starter as ``sam build`` ships it (no bytecode)."""
        return HandlerSpec("baseline", (self.baseline, self.runtime_sdk))

    @classmethod
    def create(cls, baseline_deps: Path, runtime_sdk: Path) -> Workspace:
        """Copies of the build and of the baseline (``baseline_deps`` plus its ``app.py``)."""
        root = Path(tempfile.mkdtemp(prefix="bench-"))
        ws = cls(root, runtime_sdk)
        shutil.copytree(BUILD_DIR / "ApiFunction", ws.code)
        shutil.copy2(BUILD_DIR / "template.yaml", ws.build / "template.yaml")
        shutil.copytree(ws.code, ws.nopyc, ignore=NO_BYTECODE)
        shutil.copytree(
            baseline_deps, ws.baseline, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*")
        )
        shutil.copy2(BASELINE_SOURCE, ws.baseline / "app.py")
        ws.pycache.mkdir()
        for bare in (ws.nopyc, ws.baseline):
            leftover = next(bare.rglob("*.pyc"), None)
            if leftover is not None:
                raise RuntimeError(f"bytecode left in a no-bytecode copy: {leftover}")
        return ws

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


_BYTECODE_STATE = """
import importlib.util, sys
from pathlib import Path
root = Path(sys.argv[1])
total = fresh = stale = missing = 0
for src in root.rglob("*.py"):
    if "__pycache__" in src.parts:
        continue
    total += 1
    pyc = Path(importlib.util.cache_from_source(str(src)))
    if not pyc.exists():
        missing += 1
        continue
    data = pyc.read_bytes()
    flags = int.from_bytes(data[4:8], "little")
    if flags & 1 and data[8:16] == importlib.util.source_hash(src.read_bytes()):
        fresh += 1
    elif flags & 1:
        stale += 1
    else:
        fresh += 1  # timestamp-based: Python checks it itself
print(total, fresh, stale, missing)
"""


def bytecode_state(python: Path, code_dir: Path) -> str:
    """How many ``.py`` files of the build ship a ``.pyc`` whose source hash matches.

    ``unchecked-hash`` bytecode is used without looking at the source, so a ``.pyc``
    left over from an older source would be measured (and run on Lambda) silently.
    """
    out = subprocess.run(
        [str(python), "-I", "-B", "-c", _BYTECODE_STATE, str(code_dir)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    total, fresh, stale, missing = (int(n) for n in out.stdout.split())
    text = f"{fresh} of {total} modules ship a matching .pyc"
    if stale:
        text += f", **{stale} .pyc do not match their source**"
    if missing:
        text += f", {missing} without .pyc"
    return text


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
    """``-I -B``: isolated, never writes bytecode (Lambda's ``/var/task`` is read-only).

    Without a prefix Python still *reads* ``__pycache__`` next to the sources: the
    shipped ``.pyc`` of our build, and the runtime's standard library (which has
    bytecode on Lambda too); the no-bytecode copies have none to read. With a prefix it
    reads and writes bytecode only under the prefix (the warm-cache variant).
    """
    flags = ["-I", "-B"]
    if pycache is not None:
        flags = ["-I", "-X", f"pycache_prefix={pycache}"]
    return flags


@dataclass(frozen=True)
class BytecodeUse:
    """Where the modules of one ``import app`` came from (parsed from ``python -v``)."""

    code_from_pyc: int  # modules under the handler's code dir loaded from bytecode
    code_from_source: int  # ... compiled from source
    code_from_sibling_pyc: int  # ... from a ``__pycache__`` next to the sources
    other_from_pyc: int  # everything else (the standard library) from bytecode
    other_from_source: int

    def as_json(self) -> dict[str, int]:
        return {
            "code_from_pyc": self.code_from_pyc,
            "code_from_source": self.code_from_source,
            "code_from_sibling_pyc": self.code_from_sibling_pyc,
            "stdlib_from_pyc": self.other_from_pyc,
            "stdlib_from_source": self.other_from_source,
        }


CODE_OBJECT_LINE = "# code object from "


def parse_bytecode_use(stderr: str, code_dir: Path) -> BytecodeUse:
    """Count ``python -v``'s ``# code object from`` lines: ``'x.pyc'`` (quoted) or ``x.py``."""
    prefix = str(code_dir).rstrip("/") + "/"
    counts = {"code_pyc": 0, "code_src": 0, "sibling": 0, "other_pyc": 0, "other_src": 0}
    for line in stderr.splitlines():
        if not line.startswith(CODE_OBJECT_LINE):
            continue
        path = line[len(CODE_OBJECT_LINE) :].strip().strip("'")
        pyc = path.endswith(".pyc")
        if prefix in path:  # the code dir itself, or its mirror under a pycache_prefix
            counts["code_pyc" if pyc else "code_src"] += 1
            if pyc and "/__pycache__/" in path:
                counts["sibling"] += 1
        else:
            counts["other_pyc" if pyc else "other_src"] += 1
    return BytecodeUse(
        counts["code_pyc"],
        counts["code_src"],
        counts["sibling"],
        counts["other_pyc"],
        counts["other_src"],
    )


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
