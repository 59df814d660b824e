"""A bounded load test of the local API: 400 requests from 8 concurrent clients, 60 s cap.

Correctness under concurrency, not speed: every request must be answered 200 and every
``POST /echo`` must get its own message back (bench/loadgen.py checks that), with zero
transport errors and nothing left unsent. Throughput and p50/p99 latency are printed and
written to ``build/load-stats.json`` for the record, never asserted (2 shared cores).
The bigger run is ``python -m bench.load --requests 5000 --clients 16``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bench.loadgen import run_load

if TYPE_CHECKING:  # conftest is not importable as a module here (no package); types only
    from conftest import ApiTarget

REPO = Path(__file__).resolve().parents[2]
STATS = REPO / "build" / "load-stats.json"
REQUESTS = int(os.environ.get("LOAD_TEST_REQUESTS", "400"))
CLIENTS = 8
TIME_CAP_S = 60.0

pytestmark = pytest.mark.slow


def test_bounded_load_all_answered_200_without_errors(api: ApiTarget) -> None:
    if not api.local:
        pytest.skip("the load test targets the local API on loopback only")
    assert api.base_url.startswith("http://127.0.0.1:")
    result = run_load(
        api.base_url,
        requests=REQUESTS,
        clients=CLIENTS,
        time_cap_s=TIME_CAP_S,
        headers={"x-api-key": api.api_key or ""},
    )
    figures = result.as_json()
    print(f"\nload: {result.summary()}")
    STATS.parent.mkdir(parents=True, exist_ok=True)
    tmp = STATS.with_name(STATS.name + ".tmp")
    tmp.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    tmp.replace(STATS)

    assert result.not_sent == 0, f"time cap of {TIME_CAP_S:.0f} s hit: {figures}"
    assert result.errors == 0, figures["error_samples"]
    assert result.statuses == {200: REQUESTS}, figures
    assert result.completed == REQUESTS
    assert len(result.latencies_ms) == REQUESTS


def test_the_load_generator_reports_failures(tmp_path: Path) -> None:
    """Positive control: a port nobody listens on gives errors, not a silent pass."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connections are refused
        result = run_load(f"http://127.0.0.1:{port}", requests=6, clients=2, time_cap_s=10)
    assert result.errors == 6
    assert result.completed == 0
    assert result.statuses == {0: 6}
    assert result.not_sent == 0
