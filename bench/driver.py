"""Runs INSIDE the function's runtime (python3.13), stdlib only: per-request timing and memory.

Started by bench/ as ``python3.13 -I -B bench/driver.py MODE ...`` with a Lambda-like
environment and stdout sent to /dev/null (both handlers log one JSON line per request
there, as on Lambda). Results go to the ``--out`` file as JSON.

Modes:

``requests``  import ``app`` (the first ``--path`` wins), warm every event up, then call
              ``lambda_handler`` ``--iterations`` times per event, each call timed on its
              own with ``time.perf_counter_ns``; writes the median and the status per event.
``memory``    peak RSS (``VmHWM``) and current RSS after the import, then again after
              ``--requests`` calls cycling over the events; plus ``ru_maxrss``.
``profile``   ``--requests`` calls cycling over the events under cProfile: where the
              per-request time goes (self time per function and per top-level package).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import pstats
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any


class Context:
    """The attributes of Lambda's context object that Powertools reads."""

    function_name = "secure-api-dev-ApiFunction"
    function_version = "$LATEST"
    invoked_function_arn = (
        "arn:aws:lambda:us-east-1:123456789012:function:secure-api-dev-ApiFunction"
    )
    memory_limit_in_mb = 256
    aws_request_id = "00000000-0000-4000-8000-00000000bench"
    log_group_name = "/secure-api-dev/function"
    log_stream_name = "2026/01/01/[$LATEST]bench"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def proc_status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return -1


def memory_snapshot() -> dict[str, int]:
    return {
        "vmhwm_kb": proc_status_kb("VmHWM"),
        "vmrss_kb": proc_status_kb("VmRSS"),
        "ru_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }


def load_events(events_dir: Path) -> dict[str, str]:
    return {p.stem: p.read_text() for p in sorted(events_dir.glob("*.json"))}


def call(handler: Any, raw_event: str, context: Context) -> tuple[int, str]:
    """One invocation; (elapsed ns, outcome) where outcome is the status or the exception."""
    event = json.loads(raw_event)  # a fresh event per call, parsed outside the timed region
    start = time.perf_counter_ns()
    try:
        response = handler(event, context)
    except Exception as exc:
        elapsed = time.perf_counter_ns() - start
        return elapsed, f"raised {type(exc).__name__}"
    elapsed = time.perf_counter_ns() - start
    return elapsed, str(response.get("statusCode"))


def package_of(filename: str, roots: list[str]) -> str:
    """Top-level package of a profiled function's file: a package of the function's code,
    ``stdlib:NAME`` for the standard library, ``(builtins)`` for C functions."""
    if filename.startswith("<frozen "):
        return "stdlib:" + filename.removeprefix("<frozen ").rstrip(">").split(".")[0]
    if filename == "~" or filename.startswith("<"):
        return "(builtins)"
    for root in roots:
        prefix = root.rstrip("/") + "/"
        if filename.startswith(prefix):
            return filename[len(prefix) :].split("/", maxsplit=1)[0].removesuffix(".py")
    marker = f"/lib/python{sys.version_info[0]}.{sys.version_info[1]}/"
    if marker in filename:
        rest = filename.split(marker, maxsplit=1)[1]
        return "stdlib:" + rest.split("/", maxsplit=1)[0].removesuffix(".py")
    return Path(filename).stem


def profile(
    handler: Any, events: dict[str, str], context: Context, requests: int, roots: list[str]
) -> dict[str, Any]:
    names = list(events)
    for name in names:  # warm
        call(handler, events[name], context)
    # Parse every event first: the profile must not count the driver's own json.loads.
    prepared = [json.loads(events[names[i % len(names)]]) for i in range(requests)]
    profiler = cProfile.Profile()
    profiler.enable()
    for event in prepared:
        # the baseline raises on bodies that are not JSON; that is its answer, not a failure
        with contextlib.suppress(Exception):
            handler(event, context)
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = 0.0
    functions = []
    per_package: dict[str, float] = {}
    for (filename, line, func), (_cc, ncalls, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        total += tottime
        package = package_of(filename, roots)
        per_package[package] = per_package.get(package, 0.0) + tottime
        label = f"{package}:{Path(filename).name}:{line}({func})"
        if filename == "~" or filename.startswith("<"):
            label = f"{package}:{func}" if filename != "~" else func
        functions.append((tottime, ncalls, label))
    functions.sort(reverse=True)
    return {
        "requests": requests,
        "total_us_per_request": total / requests * 1e6,
        "top_self": [
            {
                "function": label,
                "self_us_per_request": t / requests * 1e6,
                "share": t / total,
                "calls_per_request": n / requests,
            }
            for t, n, label in functions[:12]
        ],
        "self_by_package": [
            {"package": k, "self_us_per_request": v / requests * 1e6, "share": v / total}
            for k, v in sorted(per_package.items(), key=lambda kv: kv[1], reverse=True)[:10]
        ],
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("requests", "memory", "profile"))
    parser.add_argument("--path", action="append", required=True)
    parser.add_argument("--events-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()

    sys.path[:0] = args.path
    events = load_events(args.events_dir)
    context = Context()
    result: dict[str, Any] = {}
    if args.mode == "memory":
        result["before_import"] = memory_snapshot()
    import app  # type: ignore[import-not-found]

    result["app_file"] = app.__file__
    handler = app.lambda_handler
    if args.mode == "profile":
        result["profile"] = profile(handler, events, context, args.requests, args.path)
    elif args.mode == "memory":
        result["after_import"] = memory_snapshot()
        names = list(events)
        for i in range(args.requests):
            call(handler, events[names[i % len(names)]], context)
        result["after_requests"] = memory_snapshot()
        result["requests"] = args.requests
    else:
        per_event: dict[str, Any] = {}
        for name, raw in events.items():
            outcomes = {call(handler, raw, context)[1] for _ in range(args.warmup)}
            samples = []
            for _ in range(args.iterations):
                elapsed, outcome = call(handler, raw, context)
                samples.append(elapsed)
                outcomes.add(outcome)
            per_event[name] = {
                "median_ns": statistics.median(samples),
                "min_ns": min(samples),
                "outcomes": sorted(outcomes),
            }
        result["events"] = per_event
        result["iterations"] = args.iterations
    args.out.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
