"""1. Cold-start import cost of the handler module, ours vs the hello-pt baseline.

Each sample is a fresh python3.13 process importing ``app`` minus a bare
``python3.13 -c pass`` measured in the same round with the same flags and environment.
Both the CPU time of the process (user + system, from ``wait4``: the headline, because it
does not count waiting for a core on a shared machine) and the wall clock from spawn to
exit are recorded. The runs of a round (bare, then each handler x tracing off/on) go in
a shuffled order so drift in machine load does not favour one side.

Two bytecode variants, every process with ``-B`` or a ``pycache_prefix`` so nothing is
ever written next to the code (Lambda's ``/var/task`` is read-only):

* ``shipped`` (``-B``): each side exactly as it ships. Ours is the build output *with*
  the ``.pyc`` files ``python -m localapi build`` precompiles (``-B`` stops writing, not
  reading, so they are used, as on Lambda). The baseline is the hello-pt starter as
  ``sam build`` ships it: the same dependencies, no bytecode, so every module of the
  package is compiled from source. ``ours_nopyc`` (ours stripped of ``.pyc``, i.e. the
  build without the precompile step) runs in the same rounds, so the saving of the
  bytecode step and the like-for-like "both from source" ratio come from the same run.
* ``cached`` (``-X pycache_prefix``, warmed first): both sides with a warm bytecode
  cache under the prefix (Python then ignores ``__pycache__`` next to the sources; ours
  runs from the stripped copy anyway): the like-for-like comparison of the code itself.

In every variant the runtime's standard library is read from its own bytecode, as on
Lambda. :func:`check_bytecode` proves where each side's modules came from (``python -v``)
before anything is timed, and fails the run if a no-bytecode side read any ``.pyc`` of
its package or a cached side read a ``__pycache__`` next to the sources.

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
    BytecodeUse,
    HandlerSpec,
    ProcessTime,
    Summary,
    Workspace,
    fmt_ratio,
    import_code,
    lambda_env,
    parse_bytecode_use,
    python_flags,
    ratio,
    say,
    timed_run,
)

VARIANTS = ("shipped", "cached")
# handlers measured in each variant; ``ours_nopyc`` only where it differs from ``ours``
HANDLERS = {"shipped": ("ours", "ours_nopyc", "baseline"), "cached": ("ours", "baseline")}
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
    # (variant, handler) -> where the modules of ``import app`` came from (tracing on)
    bytecode: dict[tuple[str, str], BytecodeUse] = field(default_factory=dict)

    def summary(self, variant: str, tracing: bool, handler: str, *, wall: bool = False) -> Summary:
        data = self.import_ms if wall else self.import_cpu_ms
        return Summary.of(data.get((variant, tracing, handler), []))

    def ratio(
        self, variant: str, tracing: bool, *, wall: bool = False, ours: str = "ours"
    ) -> float:
        return ratio(
            self.summary(variant, tracing, ours, wall=wall).median,
            self.summary(variant, tracing, "baseline", wall=wall).median,
        )

    def bytecode_saving(self, tracing: bool) -> float:
        """CPU ms the precompile step saves ours: median(no .pyc) - median(shipped .pyc)."""
        return (
            self.summary("shipped", tracing, "ours_nopyc").median
            - self.summary("shipped", tracing, "ours").median
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
                if "ours_nopyc" in HANDLERS[variant]:
                    rows[-1].update(
                        {
                            "ours_nopyc_cpu_ms": self.summary(
                                variant, tracing, "ours_nopyc"
                            ).as_json(),
                            "ours_nopyc_wall_ms": self.summary(
                                variant, tracing, "ours_nopyc", wall=True
                            ).as_json(),
                            "ours_nopyc_inproc_ms": Summary.of(
                                self.inproc_ms.get((variant, tracing, "ours_nopyc"), [])
                            ).as_json(),
                            "ratio_cpu_nopyc": self.ratio(variant, tracing, ours="ours_nopyc"),
                            "bytecode_saving_cpu_ms": self.bytecode_saving(tracing),
                        }
                    )
        return {
            "rounds": self.rounds,
            "bare_wall_ms": {k: Summary.of(v).as_json() for k, v in self.bare_ms.items()},
            "bare_cpu_ms": {k: Summary.of(v).as_json() for k, v in self.bare_cpu_ms.items()},
            "rows": rows,
            "bytecode_use": [
                {"variant": variant, "handler": handler, **use.as_json()}
                for (variant, handler), use in self.bytecode.items()
            ],
            "importtime": [
                {"tracing": tracing, "handler": handler, **data}
                for (tracing, handler), data in self.importtime.items()
            ],
        }


def _pycache(ws: Workspace, variant: str) -> Path | None:
    return ws.pycache if variant == "cached" else None


def _specs(ws: Workspace, variant: str) -> tuple[HandlerSpec, ...]:
    if variant == "shipped":
        return (ws.ours(), ws.ours_nopyc(), ws.base())
    return (ws.ours_nopyc(name="ours"), ws.base())


def _import_cmd(python: Path, ws: Workspace, spec: HandlerSpec, variant: str) -> list[str]:
    return [str(python), *python_flags(_pycache(ws, variant)), "-c", import_code(spec)]


def _bare_cmd(python: Path, ws: Workspace, variant: str) -> list[str]:
    return [str(python), *python_flags(_pycache(ws, variant)), "-c", "pass"]


def _env(spec: HandlerSpec, tracing: bool) -> dict[str, str]:
    return lambda_env(spec.code, tracing=tracing)


def check_bytecode(python: Path, ws: Workspace, spec: HandlerSpec, variant: str) -> BytecodeUse:
    """Import once under ``python -v`` and count where the modules came from; fail loudly
    if a side could read bytecode it should not (run after warming the cache)."""
    cmd = [str(python), "-v", *_import_cmd(python, ws, spec, variant)[1:]]
    proc = subprocess.run(
        cmd, env=_env(spec, True), capture_output=True, text=True, timeout=300, check=True
    )
    use = parse_bytecode_use(proc.stderr, spec.code)
    where = f"{variant} {spec.name} ({spec.code})"
    if use.code_from_pyc + use.code_from_source == 0:
        raise RuntimeError(f"bytecode check: {where} imported nothing from its code dir")
    if variant == "shipped" and not spec.bytecode and use.code_from_pyc:
        raise RuntimeError(f"bytecode check: {where} read {use.code_from_pyc} .pyc files")
    if variant == "cached" and use.code_from_sibling_pyc:
        raise RuntimeError(
            f"bytecode check: {where} read {use.code_from_sibling_pyc} __pycache__ files "
            "next to the sources instead of the prefix"
        )
    if variant == "shipped" and spec.bytecode and use.code_from_source:
        say(
            f"cold start: WARNING {where} compiled {use.code_from_source} modules from "
            "source: the build does not ship bytecode for everything it imports"
        )
    say(
        f"cold start: bytecode check {variant:7s} {spec.name:10s}: package modules "
        f"{use.code_from_pyc} from .pyc, {use.code_from_source} from source; stdlib "
        f"{use.other_from_pyc} from .pyc, {use.other_from_source} from source"
    )
    return use


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
    bare_env = {tracing: lambda_env(ws.code, tracing=tracing) for tracing in TRACING}

    say("cold start: warming the bytecode cache for the 'cached' variant")
    timed_run(_bare_cmd(python, ws, "cached"), bare_env[False])
    for tracing in TRACING:
        for spec in _specs(ws, "cached"):
            timed_run(_import_cmd(python, ws, spec, "cached"), _env(spec, tracing))
    for variant in VARIANTS:
        for spec in _specs(ws, variant):
            result.bytecode[(variant, spec.name)] = check_bytecode(python, ws, spec, variant)

    rng = random.Random(seed)
    for round_no in range(rounds):
        say(f"cold start: round {round_no + 1}/{rounds}")
        for variant in VARIANTS:
            jobs: list[tuple[bool, HandlerSpec | None]] = [(False, None)]
            jobs += [(tracing, spec) for tracing in TRACING for spec in _specs(ws, variant)]
            rng.shuffle(jobs)
            times: dict[tuple[bool, str], ProcessTime] = {}
            for tracing, maybe_spec in jobs:
                if maybe_spec is None:
                    times[(tracing, "bare")] = timed_run(
                        _bare_cmd(python, ws, variant), bare_env[tracing]
                    )
                    continue
                run_ = timed_run(
                    _import_cmd(python, ws, maybe_spec, variant), _env(maybe_spec, tracing)
                )
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
        for spec in _specs(ws, "shipped"):
            cmd = [str(python), "-I", "-B", "-X", "importtime", "-c", import_code(spec)]
            proc = subprocess.run(
                cmd, env=_env(spec, tracing), capture_output=True, text=True, timeout=120,
                check=True,
            )  # fmt: skip
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
    for tracing in TRACING:
        say(
            f"cold start: ours without .pyc, tracing {'on ' if tracing else 'off'}: "
            f"{result.summary('shipped', tracing, 'ours_nopyc').fmt(0)} ms CPU, ratio "
            f"{fmt_ratio(result.ratio('shipped', tracing, ours='ours_nopyc'))}; the "
            f"precompile step saves {result.bytecode_saving(tracing):.0f} ms"
        )
    return result
