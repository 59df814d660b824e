"""Markdown table and PNG charts from one run's results."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from bench.figures.cold_start import ColdStartResult
from bench.figures.common import Summary, fmt_ratio
from bench.figures.local_api import LocalApiResult
from bench.figures.package import LAMBDA_UNZIPPED_LIMIT_MB, LAMBDA_ZIP_LIMIT_MB, PackageResult
from bench.figures.per_request import (
    HEADROOM_FRACTION,
    MEMORY_HANDLERS,
    RUNTIME_ALLOWANCE_MB,
    PerRequestResult,
    lambda_memory_size,
)
from bench.figures.png import Bar, Group, bar_chart
from bench.figures.policy import PolicyResult

# Cold-start goals by (variant, tracing): as shipped (issue 10), like for like (issue 12)
COLD_GOALS = {
    ("shipped", False): 0.35,
    ("shipped", True): 0.35,
    ("cached", False): 0.70,
    ("cached", True): 0.45,
}
REQUEST_GOAL = 1.0
MEMORY_GOAL = 0.8
PACKAGE_GOAL_MB = 3.0
# Lambda allocates CPU in proportion to memory: 1,769 MB is one vCPU (Lambda developer
# guide, "Configure Lambda function memory"); duration is billed in 1 ms steps.
FULL_VCPU_MB = 1769
MEMORY_SIZES_MB = (128, 256, 512)
LOCAL_API_GOAL_SPEEDUP = 20.0
CHECK_GOAL = 0.5
# (variant, our handler, label) for the summary rows of figure 1
COLD_ROWS = (
    ("shipped", "ours", "as shipped (ours with its .pyc, baseline none)"),
    ("shipped", "ours_nopyc", "both without bytecode (ours stripped of .pyc)"),
    ("cached", "ours", "both with a warm bytecode cache"),
)
CHART_GROUPS = {"shipped": "AS SHIPPED", "cached": "WARM CACHE"}
COLD_LABELS = {
    ("shipped", "ours"): "shipped: ours with .pyc",
    ("shipped", "ours_nopyc"): "shipped: ours without .pyc",
    ("cached", "ours"): "cached (both)",
}


def _met(value: float, goal: float, *, at_least: bool = False) -> str:
    if math.isnan(value):
        return "n/a"
    ok = value >= goal if at_least else value <= goal
    return "met" if ok else "**not met**"


def _tr(tracing: bool) -> str:
    return "tracing on" if tracing else "tracing off"


def _mb(n: float) -> str:
    return f"{n / 1e6:.2f} MB"


class Report:
    """Collects the results that ran and renders them."""

    def __init__(self, info: dict[str, Any], mode: str) -> None:
        self.info = info
        self.mode = mode
        self.cold: ColdStartResult | None = None
        self.requests: PerRequestResult | None = None
        self.package: PackageResult | None = None
        self.local_api: LocalApiResult | None = None
        self.policy: PolicyResult | None = None

    # ----------------------------------------------------------------- markdown

    def markdown(self) -> str:
        i = self.info
        lines = [
            "# Benchmark results",
            "",
            f"{i['date']} · {self.mode} · commit `{i.get('commit', '?')}` · "
            f"{i['nproc']} cores, {i['cpu']} · dev Python {i['dev_python']}, function runtime "
            f"Python {i['python313']} · load average {i['loadavg_at_start']} at start, "
            f"{i.get('loadavg_at_end', '?')} at end",
            "",
            f"Build measured: `.aws-sam/build/ApiFunction` ({i.get('build_state', '?')}; "
            f"bytecode: {i.get('build_bytecode', '?')}). "
            f"Took {i.get('elapsed_s', '?')} s ({i.get('section_s', '')}).",
            "",
            "Every figure is `median (min-max)` over repeated runs in this one run; "
            "**ratio = ours / baseline** (medians). Goals are reported, never asserted.",
            "",
            "| # | figure | ours | baseline | ratio | goal | |",
            "|---|---|---|---|---|---|---|",
            *self._summary_rows(),
            "",
        ]
        for section in (
            self._cold_section,
            self._request_section,
            self._memory_section,
            self._memory_size_section,
            self._package_section,
            self._local_api_section,
            self._policy_section,
        ):
            lines += section()
        return "\n".join(lines).rstrip() + "\n"

    def _summary_rows(self) -> list[str]:
        rows: list[str] = []
        if self.cold:
            c = self.cold
            for variant, handler, label in COLD_ROWS:
                for tracing in (False, True):
                    r = c.ratio(variant, tracing, ours=handler)
                    target = COLD_GOALS.get((variant, tracing)) if handler == "ours" else None
                    goal = f"<= {target}x" if target else "-"
                    met = _met(r, target) if target else ""
                    rows.append(
                        f"| 1 | import cost, {label}, {_tr(tracing)} (CPU ms) | "
                        f"{c.summary(variant, tracing, handler).fmt(0)} | "
                        f"{c.summary(variant, tracing, 'baseline').fmt(0)} | {fmt_ratio(r)} "
                        f"(wall {fmt_ratio(c.ratio(variant, tracing, wall=True, ours=handler))}) | "
                        f"{goal} | {met} |"
                    )
        if self.requests:
            p = self.requests
            for tracing in (False, True):
                r = p.headline_ratio(tracing)
                rows.append(
                    f"| 2 | warm request, {_tr(tracing)}, geomean over like-for-like events | "
                    f"see §2 | see §2 | {fmt_ratio(r)} | <= {REQUEST_GOAL}x | "
                    f"{_met(r, REQUEST_GOAL)} |"
                )
            for tracing in (False, True):
                ours = p.memory_mb(tracing, "ours", "after_requests")
                base = p.memory_mb(tracing, "baseline", "after_requests")
                shipped = p.memory_mb(tracing, "ours_pyc", "after_requests")
                worst = max(ours.max, shipped.max) if shipped.n else ours.max
                r = ours.median / base.median
                rows.append(
                    f"| 3 | peak RSS after {p.memory_requests} requests, {_tr(tracing)}, both "
                    f"without bytecode (MB; fits {lambda_memory_size(worst)} MB / "
                    f"{lambda_memory_size(base.max)} MB) | "
                    f"{ours.fmt()} | {base.fmt()} | {fmt_ratio(r)} | <= {MEMORY_GOAL}x | "
                    f"{_met(r, MEMORY_GOAL)} |"
                )
        if self.package:
            k = self.package
            rows.append(
                f"| 4 | package, zipped (ours with .pyc, baseline none) | "
                f"{_mb(k.ours.zipped_bytes)} | "
                f"{_mb(k.baseline.zipped_bytes)} | {fmt_ratio(k.ratio)} | "
                f"<= {PACKAGE_GOAL_MB:.0f} MB | {_met(k.ours.zipped_bytes / 1e6, PACKAGE_GOAL_MB)} |"
            )
            rows.append(
                f"| 4 | package, zipped, ours without .pyc | {_mb(k.ours_nopyc.zipped_bytes)} | "
                f"{_mb(k.baseline.zipped_bytes)} | "
                f"{fmt_ratio(k.ours_nopyc.zipped_bytes / k.baseline.zipped_bytes)} | - | |"
            )
        if self.local_api:
            a = self.local_api
            ours50, base50 = Summary.of(a.localapi.p50_ms), Summary.of(a.spawn.p50_ms)
            r = ours50.median / base50.median if base50.median else math.nan
            rows.append(
                f"| 5 | local API warm p50 (ms) | {ours50.fmt(2)} | {base50.fmt(0)} | "
                f"{fmt_ratio(r)} ({a.p50_speedup:.0f}x faster) | >= {LOCAL_API_GOAL_SPEEDUP:.0f}x "
                f"faster | {_met(a.p50_speedup, LOCAL_API_GOAL_SPEEDUP, at_least=True)} |"
            )
            ours99, base99 = Summary.of(a.localapi.p99_ms), Summary.of(a.spawn.p99_ms)
            rows.append(
                f"| 5 | local API warm p99 (ms) | {ours99.fmt(2)} | {base99.fmt(0)} | "
                f"{fmt_ratio(ours99.median / base99.median)} | - | |"
            )
            ours_rps, base_rps = Summary.of(a.localapi.rps), Summary.of(a.spawn.rps)
            rows.append(
                f"| 5 | local API requests/s, 2 clients | {ours_rps.fmt(0)} | "
                f"{base_rps.fmt(1)} | {fmt_ratio(ours_rps.median / base_rps.median)} | - | |"
            )
        if self.policy:
            q = self.policy
            r = q.check_ratio()
            rows.append(
                f"| 6 | `check-template` vs `cfn-lint`, whole process (CPU s) | "
                f"{q.seconds(q.check_template).fmt(2)} | {q.seconds(q.cfn_lint).fmt(2)} | "
                f"{fmt_ratio(r)} (wall {fmt_ratio(q.check_ratio(wall=True))}) | "
                f"<= {CHECK_GOAL}x | {_met(r, CHECK_GOAL)} |"
            )
            rows.append(
                f"| 6 | `validate` policies/s: in process vs a process per policy | "
                f"{Summary.of(q.validate_per_s).fmt(0)} | {q.cli_per_s().fmt(2)} | "
                f"{fmt_ratio(q.validate_ratio)} | - | |"
            )
        return rows

    def _cold_section(self) -> list[str]:
        if not self.cold:
            return []
        c = self.cold
        data = c.as_json()
        lines = [
            "## 1. Cold-start import (fresh python3.13 process, minus bare start)",
            "",
            f"{c.rounds} rounds. Bare `python3.13 -c pass`: shipped "
            f"{Summary.of(c.bare_cpu_ms.get('shipped', [])).fmt(1)} ms CPU / "
            f"{Summary.of(c.bare_ms.get('shipped', [])).fmt(1)} ms wall, cached "
            f"{Summary.of(c.bare_cpu_ms.get('cached', [])).fmt(1)} ms CPU / "
            f"{Summary.of(c.bare_ms.get('cached', [])).fmt(1)} ms wall. CPU time is the "
            "headline (waiting for a core is not counted); wall clock and the in-process "
            "`import app` time (perf_counter around the import) are shown as cross-checks.",
            "",
            "| bytecode | tracing | ours CPU | baseline CPU | ratio | ours wall | baseline wall "
            "| ours in-process | baseline in-process |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for variant, ours, _label in COLD_ROWS:
            for tracing in (False, True):
                key = (variant, tracing)
                cells = [
                    c.summary(variant, tracing, ours).fmt(0),
                    c.summary(variant, tracing, "baseline").fmt(0),
                    fmt_ratio(c.ratio(variant, tracing, ours=ours)),
                    c.summary(variant, tracing, ours, wall=True).fmt(0),
                    c.summary(variant, tracing, "baseline", wall=True).fmt(0),
                    Summary.of(c.inproc_ms.get((*key, ours), [])).fmt(0),
                    Summary.of(c.inproc_ms.get((*key, "baseline"), [])).fmt(0),
                ]
                lines.append(
                    f"| {COLD_LABELS[(variant, ours)]} | {'on' if tracing else 'off'} | "
                    + " | ".join(cells)
                    + " |"
                )
        lines += [
            "",
            "The precompile step (`compileall` in `python -m localapi build`) saves ours "
            + ", ".join(
                f"{c.bytecode_saving(tracing):.0f} ms CPU with {_tr(tracing)}"
                for tracing in (False, True)
            )
            + " (median without .pyc minus median with, same rounds).",
            "",
            "Where each side's modules came from (`python -v`, one import with tracing on, "
            "checked before timing; the run fails if a no-bytecode side reads a package "
            "`.pyc` or a cached side reads `__pycache__` next to the sources):",
            "",
            "| variant | handler | package from .pyc | package from source "
            "| stdlib from .pyc | stdlib from source |",
            "|---|---|---|---|---|---|",
        ]
        for (variant, handler), use in c.bytecode.items():
            lines.append(
                f"| {variant} | {handler} | {use.code_from_pyc} | {use.code_from_source} | "
                f"{use.other_from_pyc} | {use.other_from_source} |"
            )
        lines += [
            "",
            "What dominates (`-X importtime`, shipped variant, one run each; `ours` loads "
            "its shipped .pyc, `ours_nopyc` and `baseline` compile their package from "
            "source):",
            "",
        ]
        for item in data["importtime"]:
            lines.append(
                f"**{item['handler']}, {_tr(item['tracing'])}**: `import app` "
                f"{item['total_ms']:.0f} ms, {item['modules_imported']} modules. "
                "Self time by top-level package: "
                + ", ".join(
                    f"{p['package']} {p['self_ms']:.0f}" for p in item["self_by_package"][:6]
                )
                + " ms."
            )
            lines += [
                "",
                "| module (top 10 by cumulative) | cumulative ms | self ms |",
                "|---|---|---|",
            ]
            lines += [
                f"| `{m['module']}` | {m['cumulative_ms']:.0f} | {m['self_ms']:.1f} |"
                for m in item["top_cumulative"]
            ]
            lines.append("")
        return lines

    def _request_section(self) -> list[str]:
        if not self.requests:
            return []
        p = self.requests
        lines = [
            "## 2. Warm per-request cost in process (µs per `lambda_handler` call)",
            "",
            "Both sides run from copies without bytecode, `-I -B` (treated alike; warm calls "
            "do not depend on where the code objects came from). "
            f"{p.processes} processes per handler and configuration, {p.iterations} timed calls "
            "per event each; figure = median (min-max) over processes of the per-process median. "
            "`=` marks events both handlers answer alike (used for the headline geomean); the "
            "others do different work (the answer is shown).",
            "",
            "| tracing | event | ours µs | answer | baseline µs | answer | ratio |",
            "|---|---|---|---|---|---|---|",
        ]
        for tracing in (False, True):
            for event in p.events():
                alike = " =" if p.alike(tracing, event) else ""
                lines.append(
                    f"| {'on' if tracing else 'off'} | {event}{alike} | "
                    f"{p.summary_us(tracing, 'ours', event).fmt(0)} | "
                    f"{p.outcome(tracing, 'ours', event)} | "
                    f"{p.summary_us(tracing, 'baseline', event).fmt(0)} | "
                    f"{p.outcome(tracing, 'baseline', event)} | "
                    f"{fmt_ratio(p.event_ratio(tracing, event))} |"
                )
            lines.append(
                f"| {'on' if tracing else 'off'} | **geomean like-for-like** | | | | | "
                f"**{fmt_ratio(p.headline_ratio(tracing))}** |"
            )
            lines.append(
                f"| {'on' if tracing else 'off'} | geomean all events | | | | | "
                f"{fmt_ratio(p.all_events_ratio(tracing))} |"
            )
        lines.append("")
        lines += self._profile_lines(p)
        return lines

    @staticmethod
    def _profile_lines(p: PerRequestResult) -> list[str]:
        if not p.profiles:
            return []
        lines = [
            "Where a request's time goes (cProfile over all events in turn; self time, "
            "shares of the profiled total, which cProfile inflates):",
            "",
        ]
        for tracing in (False, True):
            for handler in ("ours", "baseline"):
                data = p.profiles.get((tracing, handler))
                if not data:
                    continue
                packages = ", ".join(
                    f"{item['package']} {item['share']:.0%}" for item in data["self_by_package"][:7]
                )
                lines.append(
                    f"- **{handler}, {_tr(tracing)}** ({data['total_us_per_request']:.0f} µs "
                    f"profiled per request): {packages}."
                )
        for tracing in (False, True):
            data = p.profiles.get((tracing, "ours"))
            if not data:
                continue
            lines += [
                "",
                f"Ours, {_tr(tracing)}, top functions by self time:",
                "",
                "| function | self µs/request | share | calls/request |",
                "|---|---|---|---|",
            ]
            lines += [
                f"| `{item['function']}` | {item['self_us_per_request']:.1f} | "
                f"{item['share']:.0%} | {item['calls_per_request']:.1f} |"
                for item in data["top_self"][:10]
            ]
        lines.append("")
        return lines

    def _memory_section(self) -> list[str]:
        if not self.requests:
            return []
        p = self.requests
        bare = Summary.of(kb / 1024 for kb in p.bare_hwm_kb)
        lines = [
            "## 3. Peak memory (VmHWM, MB = MiB)",
            "",
            f"Bare python3.13: {bare.fmt()} MB. Sizing rule: MemorySize >= (peak RSS + "
            f"{RUNTIME_ALLOWANCE_MB} MB for Lambda's runtime client in the same process) / "
            f"{1 - HEADROOM_FRACTION:.2f}, i.e. {HEADROOM_FRACTION:.0%} left free; Lambda's "
            "minimum is 128 MB. The worst (max) run is used. `ours` and `baseline` both run "
            "from copies without bytecode (like for like: both compile their package at "
            "import); `ours_pyc` is ours as it ships, loading its `.pyc`.",
            "",
            "| tracing | handler | after import | after requests | smallest MemorySize |",
            "|---|---|---|---|---|",
        ]
        for tracing in (False, True):
            for handler in MEMORY_HANDLERS:
                peak = p.memory_mb(tracing, handler, "after_requests")
                if not peak.n:
                    continue
                lines.append(
                    f"| {'on' if tracing else 'off'} | {handler} | "
                    f"{p.memory_mb(tracing, handler, 'after_import').fmt()} | {peak.fmt()} | "
                    f"{lambda_memory_size(peak.max)} MB |"
                )
        lines.append("")
        return lines

    def _memory_size_section(self) -> list[str]:
        """128 vs 256 MB (and 512 for scale) from the measured CPU time and the CPU share."""
        if not (self.cold and self.requests):
            return []
        c, p = self.cold, self.requests
        work = [
            (f"cold import, as shipped, {_tr(t)} (CPU ms)", c.summary("shipped", t, "ours").median)
            for t in (False, True)
        ]
        per_event = sorted(p.summary_us(False, "ours", e).median for e in p.events())
        if per_event:
            work.append(("warm request, median event (ms)", per_event[len(per_event) // 2] / 1e3))
            work.append(("warm request, slowest event (ms)", per_event[-1] / 1e3))
        sizes = " | ".join(f"{mb} MB: ms (billed MB-ms)" for mb in MEMORY_SIZES_MB)
        lines = [
            "## 3b. MemorySize: time at Lambda's CPU share",
            "",
            f"Lambda gives a function CPU in proportion to its memory, one vCPU at {FULL_VCPU_MB} "
            "MB (Lambda developer guide, \"Configure Lambda function memory\"), and bills duration "
            "in 1 ms steps times the memory. The CPU time measured here divided by the share "
            "estimates the time on Lambda; it leaves out the runtime's own work and the "
            "difference between this CPU and Graviton, which are the same for every size.",
            "",
            f"| work | CPU here | {sizes} |",
            "|---|---|" + "---|" * len(MEMORY_SIZES_MB),
        ]
        for label, cpu_ms in work:
            cells = []
            for mb in MEMORY_SIZES_MB:
                on_lambda = cpu_ms * FULL_VCPU_MB / mb
                cells.append(f"{on_lambda:,.1f} ({math.ceil(on_lambda) * mb:,})")
            lines.append(f"| {label} | {cpu_ms:,.2f} | " + " | ".join(cells) + " |")
        lines.append("")
        return lines

    def _package_section(self) -> list[str]:
        if not self.package:
            return []
        k = self.package
        total = k.ours.zipped_bytes
        lines = [
            "## 4. Package size",
            "",
            f"Ours: {_mb(total)} zipped, {_mb(k.ours.unzipped_bytes)} unzipped, "
            f"{k.ours.files} files (limits: {LAMBDA_ZIP_LIMIT_MB} MB zipped for direct upload, "
            f"{LAMBDA_UNZIPPED_LIMIT_MB} MB unzipped), including the precompiled `.pyc`; "
            f"without them {_mb(k.ours_nopyc.zipped_bytes)} zipped, "
            f"{_mb(k.ours_nopyc.unzipped_bytes)} unzipped. Baseline (hello-pt app.py, "
            "Powertools with the `[tracer]` extra at the same pin, no bytecode): "
            f"{_mb(k.baseline.zipped_bytes)}, {_mb(k.baseline.unzipped_bytes)} unzipped.",
            "",
            "| top-level entry | zipped | share |",
            "|---|---|---|",
        ]
        entries = list(k.ours.by_entry.items())
        for name, size in entries[:10]:
            lines.append(f"| `{name}` | {_mb(size)} | {size / total:.1%} |")
        rest = sum(size for _, size in entries[10:])
        if rest:
            lines.append(f"| {len(entries) - 10} others | {_mb(rest)} | {rest / total:.1%} |")
        lines.append("")
        return lines

    def _local_api_section(self) -> list[str]:
        if not self.local_api:
            return []
        a = self.local_api
        lines = ["## 5. Local API on loopback", ""]
        for fig, load in ((a.localapi, a.localapi_load), (a.spawn, a.spawn_load)):
            lines.append(
                f"- **{fig.name}**: ready in {fig.start_s:.1f} s; {load.batches} batch(es) of "
                f"{load.latency_requests} sequential requests (p50/p99 per batch) and "
                f"{load.throughput_requests} requests from 2 threads; {fig.requests} measured "
                f"requests, {fig.errors} non-200."
            )
        lines += [
            "",
            "| runner | p50 ms | p99 ms | requests/s |",
            "|---|---|---|---|",
            f"| localapi (warm workers) | {Summary.of(a.localapi.p50_ms).fmt(2)} | "
            f"{Summary.of(a.localapi.p99_ms).fmt(2)} | {Summary.of(a.localapi.rps).fmt(0)} |",
            f"| interpreter per request | {Summary.of(a.spawn.p50_ms).fmt(0)} | "
            f"{Summary.of(a.spawn.p99_ms).fmt(0)} | {Summary.of(a.spawn.rps).fmt(1)} |",
            "",
        ]
        return lines

    def _policy_section(self) -> list[str]:
        if not self.policy:
            return []
        q = self.policy
        return [
            "## 6. policy_gen",
            "",
            f"`check-template` exit {q.exit_codes.get('check-template')}, "
            f"{q.seconds(q.check_template, wall=True).fmt(2)} s wall; `cfn-lint` exit "
            f"{q.exit_codes.get('cfn-lint')}, {q.seconds(q.cfn_lint, wall=True).fmt(2)} s wall. "
            "`validate` of the rendered policy: "
            f"{'valid' if q.policy_valid else 'INVALID'}, {q.simulations_per_policy} simulated "
            f"KMS requests per policy, so {Summary.of(q.validate_per_s).median * q.simulations_per_policy:,.0f} "
            "simulations/s in process.",
            "",
        ]

    # ----------------------------------------------------------------- charts

    def charts(self, results_dir: Path) -> list[Path]:
        written: list[Path] = []
        if self.cold:
            groups = []
            for variant in ("shipped", "cached"):
                for tracing in (False, True):
                    bars = []
                    sides = [("ours", "ours")]
                    if variant == "shipped":
                        sides.append(("ours_nopyc", "ours without .pyc"))
                    sides.append(("baseline", "hello-pt baseline"))
                    for handler, series in sides:
                        s = self.cold.summary(variant, tracing, handler)
                        bars.append(Bar(series, s.median, s.min, s.max, f"{s.median:.0f} MS"))
                    groups.append(  # CPU time: see the markdown for wall clock
                        Group(
                            f"{CHART_GROUPS[variant]} {_tr(tracing).upper()}",
                            tuple(bars),
                            f"RATIO {fmt_ratio(self.cold.ratio(variant, tracing))}",
                        )
                    )
            path = results_dir / "cold_start.png"
            bar_chart(
                path,
                "COLD START: IMPORT COST OF THE HANDLER",
                f"CPU MS MINUS BARE START, {self.cold.rounds} ROUNDS; AS SHIPPED: OURS WITH .PYC, "
                "BASELINE NONE",
                groups,
                "CPU MS",
            )
            written.append(path)
        if self.local_api:
            a = self.local_api
            groups = []
            for label, attr in (("P50", "p50_ms"), ("P99", "p99_ms")):
                bars = []
                for fig, series in (
                    (a.localapi, "localapi warm"),
                    (a.spawn, "interpreter per request"),
                ):
                    s = Summary.of(getattr(fig, attr))
                    bars.append(Bar(series, s.median, s.min, s.max, f"{s.median:.1f} MS"))
                r = bars[0].median / bars[1].median if bars[1].median else math.nan
                groups.append(Group(f"LOCAL API {label}", tuple(bars), f"RATIO {fmt_ratio(r)}"))
            path = results_dir / "latency.png"
            bar_chart(
                path,
                "LOCAL API LATENCY ON LOOPBACK",
                "SAME FUNCTION; WARM WORKERS VS A FRESH INTERPRETER PER REQUEST",
                groups,
                "MS",
                log=True,
            )
            written.append(path)
        return written
