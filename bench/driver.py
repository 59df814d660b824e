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
"""

from __future__ import annotations

import argparse
import json
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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("requests", "memory"))
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
    if args.mode == "memory":
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
