"""Running the real tools (SAM CLI, policy_gen, the project's build) with their
output logged, and their failure turned into a step failure with the lines
that say why.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from deployment.results import StepFailed
from localapi.runtime import LocalApiError
from localapi.runtime import sam_executable as runtime_sam_executable


def run_tool(
    command: Sequence[str], *, cwd: Path, env: Mapping[str, str], log: Path, timeout: float
) -> str:
    """Run a tool with its output logged; raise StepFailed with the tail on failure.

    A tool that refuses its input in one line (this project's CLIs exit 2 with
    ``prog: error: ...``) fails the step with exactly that line.
    """
    label = tool_label(command)
    try:
        completed = subprocess.run(
            list(command),
            cwd=cwd,
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise StepFailed(f"{label} timed out after {timeout:.0f}s") from None
    output = (completed.stdout or "") + (completed.stderr or "")
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(f"$ {' '.join(command)}\n{output}", encoding="utf-8")
    if completed.returncode != 0:
        lines = [line for line in output.splitlines() if line.strip()]
        if completed.returncode == 2 and len(lines) == 1:
            raise StepFailed(f"{lines[0].strip()} (log {log})")
        # botocore's one-line reasons (e.g. the emulator's raw error body) come first.
        reasons = [line.strip() for line in lines if _ERROR_LINE.search(line)][-3:]
        tail = "\n".join([*reasons, "...", *lines[-12:]] if reasons else lines[-20:])
        raise StepFailed(f"{label} exited with {completed.returncode} (log {log}):\n{tail}")
    return output


def tool_label(command: Sequence[str]) -> str:
    """``sam deploy``, ``localapi build`` (for ``python -m localapi build``)."""
    if len(command) > 3 and command[1] == "-m":
        return f"{command[2]} {command[3]}"
    return f"{Path(command[0]).name} {command[1] if len(command) > 1 else ''}".strip()


_ERROR_LINE = re.compile(r"(Error|Exception)(:| \()|invalid XML received|b'\{\"__type")


def sam_executable() -> str:
    """The pinned SAM CLI (see ``localapi.runtime.sam_executable``), as a step failure."""
    try:
        return runtime_sam_executable()
    except LocalApiError as error:
        raise StepFailed(str(error)) from None
