"""1. Cold-start import cost of the handler module, ours vs the hello-pt baseline.

Each sample is a fresh python3.13 process importing ``app`` minus a bare
``python3.13 -c pass`` measured in the same round with the same flags and environment.
Both the CPU time of the process (user + system, from ``wait4``: the headline, because it
does not count waiting for a core on a shared machine) and the wall clock from spawn to
exit are recorded. The five runs of a round (bare, ours, baseline x tracing off/on) go in
a shuffled order so drift in machine load does not favour one side.

Two bytecode variants:

* ``shipped`` (``-B``, no ``.pyc``): what Lambda runs. ``sam build`` ships no bytecode and
  ``/var/task`` is read-only, so every cold start compiles every imported module of the
  package from source; only the runtime's standard library has bytecode.
* ``cached`` (``-X pycache_prefix``, warmed first): the same with a warm bytecode cache,
  i.e. what a package with precompiled ``.pyc`` files would pay.

Two configurations: tracing ``off`` (``POWERTOOLS_TRACE_DISABLED=true``: local API, tests,
a function without tracing) and ``on`` (the deployed ``Tracing: Active``).
"""

from __future__ import annotations

import random
import re
import subprocess
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.figures.common import (
    HandlerSpec,
    ProcessTime,
    Summary,
    Workspace,
    fmt_ratio,
    import_code,
    lambda_env,
    python_flags,
    ratio,
    say,
    timed_run,
)

VARIANTS = ("shipped", "cached")
TRACING = (False, True)
IMPORTTIME_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


@dataclass
class ColdStartResult:
    rounds: int
    # (variant, tracing, handler) -> import cost in ms, one per round: CPU time of the
    # process minus the bare start's CPU time (the headline), and the same in wall clock
    import_cpu_ms: dict[tuple[str, bool, str], list[float]] = field(default_factory=dict)
    import_ms: dict[tuple[str, bool, str], list[float]] = field(default_factory=dict)
    # (variant, tracing, handler) -> in-process ``import app`` time in ms, one per round
    inproc_ms: dict[tuple[str, bool, str], list[float]] = field(default_factory=dict)
    bare_ms: dict[str, list[float]] = field(default_factory=dict)
    bare_cpu_ms: dict[str, list[float]] = field(default_factory=dict)
    # (tracing, handler) -> importtime attribution (shipped variant)
    importtime: dict[tuple[bool, str], dict[str, Any]] = field(default_factory=dict)

    def summary(self, variant: str, tracing: bool, handler: str, *, wall: bool = False) -> Summary:
        data = self.import_ms if wall else self.import_cpu_ms
        return Summary.of(data.get((variant, tracing, handler), []))

    def ratio(self, variant: str, tracing: bool, *, wall: bool = False) -> float:
        return ratio(
            self.summary(variant, tracing, "ours", wall=wall).median,
            self.summary(variant, tracing, "baseline", wall=wall).median,
        )

    def as_json(self) -> dict[str, Any]:
        rows = []
        for variant in VARIANTS:
            for tracing in TRACING:
                rows.append(
                    {
                        "variant": variant,
                        "tracing": tracing,
                        "ours_cpu_ms": self.summary(variant, tracing, "ours").as_json(),
                        "baseline_cpu_ms": self.summary(variant, tracing, "baseline").as_json(),
                        "ratio_cpu": self.ratio(variant, tracing),
                        "ours_wall_ms": self.summary(variant, tracing, "ours", wall=True).as_json(),
                        "baseline_wall_ms": self.summary(
                            variant, tracing, "baseline", wall=True
                        ).as_json(),
                        "ratio_wall": self.ratio(variant, tracing, wall=True),
                        "ours_inproc_ms": Summary.of(
                            self.inproc_ms.get((variant, tracing, "ours"), [])
                        ).as_json(),
                        "baseline_inproc_ms": Summary.of(
                            self.inproc_ms.get((variant, tracing, "baseline"), [])
                        ).as_json(),
                    }
                )
        return {
            "rounds": self.rounds,
            "bare_wall_ms": {k: Summary.of(v).as_json() for k, v in self.bare_ms.items()},
            "bare_cpu_ms": {k: Summary.of(v).as_json() for k, v in self.bare_cpu_ms.items()},
            "rows": rows,
            "importtime": [
                {"tracing": tracing, "handler": handler, **data}
                for (tracing, handler), data in self.importtime.items()
            ],
        }


def _pycache(ws: Workspace, variant: str) -> Path | None:
    return ws.pycache if variant == "cached" else None


def _import_cmd(python: Path, ws: Workspace, spec: HandlerSpec, variant: str) -> list[str]:
    return [str(python), *python_flags(_pycache(ws, variant)), "-c", import_code(spec)]


def _bare_cmd(python: Path, ws: Workspace, variant: str) -> list[str]:
    return [str(python), *python_flags(_pycache(ws, variant)), "-c", "pass"]


def parse_importtime(stderr: str, top: int = 10) -> dict[str, Any]:
    """Top modules by cumulative time and self time summed per top-level package (ms)."""
    modules: list[tuple[str, float, float]] = []
    for line in stderr.splitlines():
        match = IMPORTTIME_LINE.match(line)
        if match:
            self_us, cumulative_us, _indent, name = match.groups()
            modules.append((name, int(self_us) / 1000, int(cumulative_us) / 1000))
    total = next((cum for name, _s, cum in modules if name == "app"), float("nan"))
    by_cumulative = sorted((m for m in modules if m[0] != "app"), key=lambda m: m[2], reverse=True)[
        :top
    ]
    per_package: dict[str, float] = defaultdict(float)
    for name, self_ms, _cum in modules:
        per_package[name.split(".")[0]] += self_ms
    packages = sorted(per_package.items(), key=lambda kv: kv[1], reverse=True)[:top]
    return {
        "total_ms": total,
        "modules_imported": len(modules),
        "top_cumulative": [
            {"module": name, "cumulative_ms": cum, "self_ms": self_ms}
            for name, self_ms, cum in by_cumulative
        ],
        "self_by_package": [{"package": name, "self_ms": ms} for name, ms in packages],
    }


def run(python: Path, ws: Workspace, rounds: int, seed: int = 5) -> ColdStartResult:
    result = ColdStartResult(rounds=rounds)
    specs = (ws.ours(), ws.base())
    envs = {tracing: lambda_env(ws.code, tracing=tracing) for tracing in TRACING}

    say("cold start: warming the bytecode cache for the 'cached' variant")
    timed_run(_bare_cmd(python, ws, "cached"), envs[False])
    for tracing in TRACING:
        for spec in specs:
            timed_run(_import_cmd(python, ws, spec, "cached"), envs[tracing])

    rng = random.Random(seed)
    for round_no in range(rounds):
        say(f"cold start: round {round_no + 1}/{rounds}")
        for variant in VARIANTS:
            jobs: list[tuple[bool, HandlerSpec | None]] = [(False, None)]
            jobs += [(tracing, spec) for tracing in TRACING for spec in specs]
            rng.shuffle(jobs)
            times: dict[tuple[bool, str], ProcessTime] = {}
            for tracing, maybe_spec in jobs:
                if maybe_spec is None:
                    times[(tracing, "bare")] = timed_run(
                        _bare_cmd(python, ws, variant), envs[tracing]
                    )
                    continue
                run_ = timed_run(_import_cmd(python, ws, maybe_spec, variant), envs[tracing])
                times[(tracing, maybe_spec.name)] = run_
                key = (variant, tracing, maybe_spec.name)
                result.inproc_ms.setdefault(key, []).append(int(run_.stdout.split()[-1]) / 1e6)
            bare = times[(False, "bare")]
            result.bare_ms.setdefault(variant, []).append(bare.wall_ms)
            result.bare_cpu_ms.setdefault(variant, []).append(bare.cpu_ms)
            for (tracing, name), took in times.items():
                if name != "bare":
                    key = (variant, tracing, name)
                    result.import_ms.setdefault(key, []).append(took.wall_ms - bare.wall_ms)
                    result.import_cpu_ms.setdefault(key, []).append(took.cpu_ms - bare.cpu_ms)

    say("cold start: -X importtime attribution (shipped variant)")
    for tracing in TRACING:
        for spec in specs:
            cmd = [str(python), "-I", "-B", "-X", "importtime", "-c", import_code(spec)]
            proc = subprocess.run(
                cmd, env=envs[tracing], capture_output=True, text=True, timeout=120, check=True
            )
            result.importtime[(tracing, spec.name)] = parse_importtime(proc.stderr)
    for variant in VARIANTS:
        for tracing in TRACING:
            say(
                f"cold start: {variant:7s} tracing {'on ' if tracing else 'off'}: "
                f"CPU ours {result.summary(variant, tracing, 'ours').fmt(0)} ms, "
                f"baseline {result.summary(variant, tracing, 'baseline').fmt(0)} ms, "
                f"ratio {fmt_ratio(result.ratio(variant, tracing))} "
                f"(wall {fmt_ratio(result.ratio(variant, tracing, wall=True))})"
            )
    return result
