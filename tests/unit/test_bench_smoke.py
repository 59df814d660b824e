"""bench/ still runs: the pure helpers, and one ``--quick`` smoke run in a temp results dir.

No figure is asserted (figures depend on the machine); only that the run completes and
writes well-formed output. The local API section is skipped here: tests/integration
already starts that server.
"""

from __future__ import annotations

import json
import math
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from bench.figures.cold_start import parse_importtime
from bench.figures.common import REPO, Summary, geomean, parse_bytecode_use, percentile
from bench.figures.per_request import lambda_memory_size
from bench.figures.png import Bar, Group, bar_chart
from bench.spawn_server import build_event

BUILT = REPO / ".aws-sam" / "build" / "ApiFunction" / "app.py"


def test_summary_and_percentiles() -> None:
    assert Summary.of([3.0, 1.0, 2.0]) == Summary(1.0, 2.0, 3.0, 3)
    assert Summary.of([]).n == 0
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], 50) == 3.0
    assert percentile(list(map(float, range(1, 101))), 99) == 99.0
    assert percentile([1.0, 2.0, 3.0], 99) == 3.0  # fewer than 100 samples: the max
    assert math.isclose(geomean([0.5, 2.0]), 1.0)


def test_lambda_memory_size_rule() -> None:
    assert lambda_memory_size(20) == 128  # Lambda's minimum
    assert lambda_memory_size(90) == 160  # (90 + 30) / 0.75
    assert lambda_memory_size(90.1) == 161  # 1 MB steps, rounded up


def test_parse_importtime() -> None:
    stderr = (
        "import time: self [us] | cumulative | imported package\n"
        "import time:       100 |        100 |   json.decoder\n"
        "import time:       400 |        500 | json\n"
        "import time:      2000 |       2600 | app\n"
    )
    parsed = parse_importtime(stderr)
    assert parsed["total_ms"] == 2.6
    assert parsed["top_cumulative"][0]["module"] == "json"
    assert parsed["self_by_package"][0] == {"package": "app", "self_ms": 2.0}
    assert {"package": "json", "self_ms": 0.5} in parsed["self_by_package"]


def test_parse_bytecode_use() -> None:
    code = Path("/tmp/ws/build/ApiFunction")
    stderr = (
        "# code object from '/usr/lib/python3.13/__pycache__/enum.cpython-313.pyc'\n"
        "# code object from '/tmp/ws/build/ApiFunction/__pycache__/app.cpython-313.pyc'\n"
        "# code object from /tmp/ws/build/ApiFunction/api_schema.py\n"
        "# code object from '/tmp/ws/pycache/tmp/ws/build/ApiFunction/six.cpython-313.pyc'\n"
        "# code object from /usr/lib/python3.13/json/__init__.py\n"
        "import 'app' # <SourceFileLoader>\n"
    )
    use = parse_bytecode_use(stderr, code)
    assert (use.code_from_pyc, use.code_from_source, use.code_from_sibling_pyc) == (2, 1, 1)
    assert (use.other_from_pyc, use.other_from_source) == (1, 1)


def test_png_is_well_formed(tmp_path: Path) -> None:
    path = tmp_path / "chart.png"
    bars = (Bar("ours", 5.0, 4.0, 6.0, "5 MS"), Bar("baseline", 500.0, 400.0, 700.0, "500 MS"))
    bar_chart(path, "TITLE", "SUB; TITLE", [Group("G", bars, "RATIO 0.01x")], "MS", log=True)
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", data[16:24])
    idat_len = struct.unpack(">I", data[33:37])[0]
    raw = zlib.decompress(data[41 : 41 + idat_len])
    assert len(raw) == height * (1 + 3 * width)
    assert not list(tmp_path.glob("*.tmp"))


def test_spawn_server_builds_a_rest_proxy_event() -> None:
    template = json.loads((REPO / "events" / "health.json").read_text())
    event = build_event(
        template, "POST", "/echo?a=1&a=2", {"Content-Type": "application/json"}, b"{}"
    )
    assert event["httpMethod"] == "POST"
    assert event["path"] == "/echo"
    assert event["body"] == "{}"
    assert event["queryStringParameters"] == {"a": "2"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"]}
    assert event["requestContext"]["httpMethod"] == "POST"
    assert event["requestContext"]["requestId"] != template["requestContext"]["requestId"]
    binary = build_event(template, "POST", "/echo", {}, b"\xff\xfe")
    assert binary["isBase64Encoded"] is True


@pytest.mark.slow
def test_quick_run_writes_every_output(tmp_path: Path) -> None:
    if not BUILT.exists():
        pytest.skip("no sam build output (make build runs before pytest in make test)")
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run.py"), "--quick", "--repeat", "1",
         "--skip-local-api", "--results-dir", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=280, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    markdown = (tmp_path / "latest.md").read_text()
    assert markdown.startswith("# Benchmark results")
    assert markdown in proc.stdout
    for heading in ("## 1. Cold-start", "## 2. Warm per-request", "## 3. Peak memory",
                    "## 4. Package size", "## 6. policy_gen"):  # fmt: skip
        assert heading in markdown
    assert "## 5. Local API" not in markdown
    results = json.loads((tmp_path / "latest.json").read_text())
    assert results["local_api"] is None
    assert results["cold_start"]["rows"]
    assert (tmp_path / "cold_start.png").read_bytes().startswith(b"\x89PNG")
    assert not (tmp_path / "latency.png").exists()
    assert not list(tmp_path.glob("*.tmp"))
