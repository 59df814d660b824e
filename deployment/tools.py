"""Running the real tools (SAM CLI, policy_gen, the project's build) with their
output logged, and their failure turned into a step failure with the lines
that say why.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from deployment.results import StepFailed
from localapi.runtime import LocalApiError
from localapi.runtime import sam_executable as runtime_sam_executable
from policy_gen.template import load_template


def run_tool(
    command: Sequence[str], *, cwd: Path, env: Mapping[str, str], log: Path, timeout: float
) -> str:
    """Run a tool with its output logged; raise StepFailed with the tail on failure."""
    label = f"{Path(command[0]).name} {command[1] if len(command) > 1 else ''}".strip()
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
        # botocore's one-line reasons (e.g. the emulator's raw error body) come first.
        reasons = [line.strip() for line in lines if _ERROR_LINE.search(line)][-3:]
        tail = "\n".join([*reasons, "...", *lines[-12:]] if reasons else lines[-20:])
        raise StepFailed(f"{label} exited with {completed.returncode} (log {log}):\n{tail}")
    return output


_ERROR_LINE = re.compile(r"(Error|Exception)(:| \()|invalid XML received|b'\{\"__type")


def sam_executable() -> str:
    """The pinned SAM CLI (see ``localapi.runtime.sam_executable``), as a step failure."""
    try:
        return runtime_sam_executable()
    except LocalApiError as error:
        raise StepFailed(str(error)) from None


def template_runtime(template_path: Path) -> str | None:
    """The Python runtime the template's functions use (Globals first)."""
    template = load_template(template_path)
    runtime = ((template.get("Globals") or {}).get("Function") or {}).get("Runtime")
    if isinstance(runtime, str):
        return runtime
    for resource in (template.get("Resources") or {}).values():
        if isinstance(resource, dict) and resource.get("Type") == "AWS::Serverless::Function":
            value = (resource.get("Properties") or {}).get("Runtime")
            if isinstance(value, str):
                return value
    return None


def _version_key(interpreter: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", interpreter.parent.parent.name))


def find_interpreter_dir(runtime: str) -> Path:
    """The directory of the runtime's exact interpreter (``sam build`` needs e.g.
    ``python3.13`` on PATH): pyenv's versions first, because its shim does not
    work for ``sam build``."""
    version = runtime.removeprefix("python")
    roots: list[Path] = []
    pyenv = shutil.which("pyenv")
    if pyenv:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            found = subprocess.run(
                [pyenv, "root"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
            if found:
                roots.append(Path(found))
    if os.environ.get("PYENV_ROOT"):
        roots.append(Path(os.environ["PYENV_ROOT"]))
    roots.append(Path.home() / ".pyenv")
    pattern = re.compile(rf"{re.escape(version)}(\.\d+)*")
    for root in roots:
        candidates = [
            path
            for path in root.glob(f"versions/{version}*/bin/python{version}")
            if pattern.fullmatch(path.parent.parent.name)
        ]
        if candidates:
            return max(candidates, key=_version_key).parent
    on_path = shutil.which(f"python{version}")
    if on_path and "/shims/" not in on_path:
        return Path(on_path).parent
    raise StepFailed(
        f"no {runtime} interpreter found (looked in $(pyenv root)/versions/{version}*/bin and "
        f"PATH): install Python {version}, e.g. `pyenv install {version}`"
    )


def project_build_command(root: Path) -> list[str] | None:
    """``python -m localapi build`` when the project offers it, else None."""
    if not (root / "localapi" / "__main__.py").is_file():
        return None
    command = [sys.executable, "-m", "localapi", "build"]
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        probe = subprocess.run(
            [*command, "--help"], cwd=root, capture_output=True, timeout=60, check=False
        )
        if probe.returncode == 0:
            return command
    return None
