"""The README's main command, end to end: `python -m localapi demo` renders, builds,
rehearses on the emulator, then serves; a request from outside gets the JSON answer,
and stopping it leaves no worker behind."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_demo_brings_the_api_up_and_stops_cleanly(tmp_path: Path) -> None:
    port = _free_port()
    log = tmp_path / "demo.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "localapi",
                "demo",
                "--port",
                str(port),
                "--report",
                str(tmp_path / "rehearsal.json"),
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 420
        while "Try it from another terminal" not in log.read_text():
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "demo did not become ready"
            time.sleep(0.5)
        text = log.read_text()
        for step in ("[1/4] render", "[2/4] build", "[3/4] deploy rehearsal", "[4/4] serve"):
            assert step in text
        assert "RESULT: PASS" in text
        assert f"curl -s http://127.0.0.1:{port}/health" in text
        health = requests.get(f"http://127.0.0.1:{port}/health", timeout=10)
        assert health.status_code == 200 and health.json() == {"status": "ok"}
        echo = requests.post(f"http://127.0.0.1:{port}/echo", json={"message": "hello"}, timeout=10)
        assert echo.status_code == 200 and echo.json()["message"] == "hello"
        workers.extend(int(p) for p in re.findall(r"pids ((?:\d+, )*\d+)", text)[0].split(", "))
        assert workers and all(_alive(pid) for pid in workers)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers)
