"""Dependency sets the benchmarks need besides our build: the baseline's, and the runtime's SDK.

Our function no longer ships what the baseline imports (aws-xray-sdk, wrapt, botocore:
the Powertools ``[tracer]`` extra), so the baseline gets its own dependencies, installed
the way ``sam build`` installs them for the starter (``pip install --target`` for
python3.13 on arm64, wheels only) from ``bench/baseline_handler/requirements.txt``, whose
pins are the versions the starter was measured with before.

The Lambda python3.13 runtime ships boto3 and botocore in ``/var/runtime``, after the
function's own directory on ``sys.path``, and Powertools imports ``botocore`` at import
when it finds it (to tag the SDK's User-Agent). ``bench/lambda_runtime_sdk.txt`` is the
stand-in for that directory: it goes on ``sys.path`` after each handler's code, so ours
imports the runtime's botocore as on Lambda and the baseline its own bundled copy.

Each set is installed once into ``build/bench-deps/NAME-HASH`` (the hash covers the
requirements and the pip arguments) and reused; an interrupted install never leaves a
directory that looks complete.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

from bench.figures.common import BENCH_DIR, REPO, say

DEPS_CACHE = REPO / "build" / "bench-deps"
BASELINE_REQUIREMENTS = BENCH_DIR / "baseline_handler" / "requirements.txt"
RUNTIME_SDK_REQUIREMENTS = BENCH_DIR / "lambda_runtime_sdk.txt"
# What SAM CLI's Python builder asks pip for when it builds an arm64 python3.13 function.
PIP_TARGET = (
    "--platform", "manylinux2014_aarch64", "--implementation", "cp",
    "--python-version", "3.13", "--only-binary=:all:",
)  # fmt: skip
_COMPLETE = ".complete"


def _key(requirements: Path) -> str:
    digest = hashlib.sha256(requirements.read_bytes() + " ".join(PIP_TARGET).encode())
    return digest.hexdigest()[:12]


def installed(name: str, requirements: Path, *, compile_with: Path | None = None) -> Path:
    """The directory holding ``requirements`` installed for Lambda (installed on first use).

    ``compile_with``: a python3.13 to precompile the set with (unchecked-hash bytecode, as
    a runtime image ships it); without it the set has no bytecode (as ``sam build`` ships
    a package).
    """
    dest = DEPS_CACHE / f"{name}-{_key(requirements)}"
    if (dest / _COMPLETE).exists():
        return dest
    say(f"deps: installing {requirements.relative_to(REPO)} into {dest.relative_to(REPO)}")
    partial = dest.with_name(dest.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.rmtree(dest, ignore_errors=True)
    # --target never touches the dev venv; its conflict report would only be noise.
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--no-warn-conflicts", "--no-compile", "--target", str(partial), *PIP_TARGET,
         "-r", str(requirements)],
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    if pip.returncode != 0:
        raise RuntimeError(f"pip install -r {requirements.name} failed: {pip.stderr[-2000:]}")
    shutil.rmtree(partial / "bin", ignore_errors=True)
    if compile_with is not None:
        subprocess.run(
            [str(compile_with), "-m", "compileall", "-q", "-j", "0",
             "--invalidation-mode", "unchecked-hash", str(partial)],
            check=True, timeout=900, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    (partial / _COMPLETE).write_text(requirements.read_text())
    partial.rename(dest)
    return dest
