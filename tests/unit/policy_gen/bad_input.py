"""Run ``python -m policy_gen`` on bad input and check the contract every refusal keeps.

Exit code 2, exactly one line on stderr, no traceback, nothing on stdout, and the
working directory exactly as it was (devices, FIFOs and links are compared by what
they are, never read). The child runs with its address space limited to
:data:`tests.unit.bounded_child.MEMORY_LIMIT`, so input that would exhaust memory fails the test with a
MemoryError instead of taking the machine down, and a hang is ended by the timeout.
"""

from __future__ import annotations

import os
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from tests.unit.bounded_child import python_command

ROOT = Path(__file__).resolve().parents[3]
TIMEOUT = 60  # generous: a refusal takes well under two seconds (measured, not asserted)


@dataclass(frozen=True)
class Refusal:
    line: str  # the one line on stderr
    seconds: float  # wall time of the child, for the record


# ``python -m policy_gen`` in a child with bounded memory.
_POLICY_GEN = python_command(
    "import runpy, sys\n"
    "sys.argv[0] = 'policy_gen'\n"
    "runpy.run_module('policy_gen', run_name='__main__', alter_sys=True)\n"
)


def snapshot(directory: Path) -> dict[str, object]:
    """What is in ``directory``: small regular files by content, large ones by size and
    time, everything else by type (never opened)."""
    found: dict[str, object] = {}
    for path in sorted(directory.rglob("*")):
        info = path.lstat()
        name = str(path.relative_to(directory))
        if stat.S_ISREG(info.st_mode) and info.st_size > 1 << 20:
            found[name] = (info.st_size, info.st_mtime_ns)  # a probe's sparse giant
        elif stat.S_ISREG(info.st_mode):
            found[name] = path.read_bytes()
        elif stat.S_ISLNK(info.st_mode):
            found[name] = ("link", os.readlink(path))
        else:
            found[name] = stat.S_IFMT(info.st_mode)
    return found


def refused(cwd: Path, args: list[str], stdin: IO[bytes] | bytes | None = None) -> Refusal:
    """Run the CLI in ``cwd`` and assert it refused the input as bad input."""
    before = snapshot(cwd)
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(
        PYTHONPATH=str(ROOT),
        AWS_CONFIG_FILE=str(cwd / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(cwd / "no-aws-credentials"),
    )
    start = time.monotonic()
    result = subprocess.run(
        [*_POLICY_GEN, *args],
        cwd=cwd,
        input=stdin if isinstance(stdin, bytes) else None,
        stdin=None if isinstance(stdin, bytes) or stdin is None else stdin,
        capture_output=True,
        timeout=TIMEOUT,
        env=env,
    )
    seconds = time.monotonic() - start
    stderr = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 2, (args, result.returncode, stderr[-2000:])
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, (args, stderr[-2000:])
    assert "Traceback" not in stderr
    assert result.stdout == b"", (args, result.stdout[-500:])
    assert snapshot(cwd) == before, f"{args}: files changed"
    return Refusal(lines[0], seconds)
