"""Load run against the local API (or any URL): throughput, p50/p99 latency, errors.

    .venv/bin/python -m bench.load [--requests 5000] [--clients 16] [--time-cap 300]
                                   [--workers 2] [--url URL] [--api-key KEY] [--json FILE]

Without ``--url`` it starts ``python -m localapi serve`` on a free 127.0.0.1 port against
the built template (run ``python -m localapi build`` first; ``make load`` does), waits
for ``GET /health``, runs the load, and stops the server by its PID. The load itself is
bench/loadgen.py, the same code the CI load test uses with a small bound. Prints the
figures (and writes them as JSON with ``--json``); exits 1 when any request failed or was
not sent within the time cap. Figures depend on the machine: they are reported, not
judged.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``bench`` and the project importable
    _here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if p != _here]
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.figures.common import BUILD_DIR, free_port
from bench.figures.local_api import Server
from bench.loadgen import run_load

BUILT_TEMPLATE = BUILD_DIR / "template.yaml"


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return number


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0] if __doc__ else "")
    parser.add_argument("--requests", type=_positive, default=5000)
    parser.add_argument("--clients", type=_positive, default=16)
    parser.add_argument("--time-cap", type=float, default=300.0, help="seconds (default 300)")
    parser.add_argument("--workers", type=_positive, default=2, help="local API workers")
    parser.add_argument("--url", help="target base URL instead of a local API of the build")
    parser.add_argument("--api-key", default="local-key-not-enforced", help="x-api-key value")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    server: Server | None = None
    url = args.url
    if url is None:
        if not BUILT_TEMPLATE.exists():
            print("bench.load: no build; run `python -m localapi build` first", file=sys.stderr)
            return 2
        port = free_port()
        log = Path(tempfile.mkdtemp(prefix="bench-load-")) / "server.log"
        cmd = [
            sys.executable, "-m", "localapi", "serve",
            "--template", str(BUILT_TEMPLATE), "--port", str(port),
            "--engine", "process", "--workers", str(args.workers),
        ]  # fmt: skip
        server = Server("localapi", cmd, port, log)
        print(f"bench.load: starting the local API on 127.0.0.1:{port} (log {log})")
        server.start()
        url = f"http://127.0.0.1:{port}"
    try:
        result = run_load(
            url,
            requests=args.requests,
            clients=args.clients,
            time_cap_s=args.time_cap,
            headers={"x-api-key": args.api_key},
        )
    finally:
        if server is not None:
            server.stop()
    figures = result.as_json()
    print(f"bench.load: {result.summary()}")
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.json.with_name(args.json.name + ".tmp")
        tmp.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
        tmp.replace(args.json)
    return 0 if result.errors == 0 and result.not_sent == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
