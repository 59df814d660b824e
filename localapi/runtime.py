"""What the function needs from this machine: its runtime's interpreter, and code it can load.

Two questions are answered here, both before any request is served:

* :func:`find_interpreter` -- which real ``python3.X`` runs a ``python3.X``
  function. pyenv *shims* are skipped on purpose: a shim re-dispatches by the
  directory's ``.python-version`` and fails (or picks another version) when 3.X
  is not the selected one, so a shim that "exists" proves nothing.
* :func:`check_architecture` -- whether the built code dir can run on this host.
  Lambda functions here target arm64 and dev machines are often x86_64. Pure
  Python runs anywhere; a native extension built for arm64 cannot be loaded on
  x86_64. Serving such a build would either crash at import or -- worse --
  silently take a different code path than Lambda will, so it is refused with
  an explanation instead (rebuild for the host with ``python -m localapi build
  --host-build``, or use ``--engine docker``). The only tolerated exception is
  an *optional accelerator* whose package documents a pure-Python fallback and a
  switch to force it (wrapt, pulled in by aws-xray-sdk); that is reported.
"""

from __future__ import annotations

import functools
import glob
import os
import platform
import re
import shutil
import struct
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sam_project.errors import UserError

_RUNTIME_RE = re.compile(r"^python(3)\.(\d+)$")


class LocalApiError(UserError):
    """localapi's kind of :class:`~sam_project.errors.UserError`: a one-line, user-facing
    message (the CLI prints it and exits 2)."""


class RuntimeNotFoundError(LocalApiError):
    """No usable interpreter for a function's ``Runtime`` was found on this machine."""


class UnsupportedFunctionError(LocalApiError):
    """The process engine cannot run this function (not Python, image, layers...)."""


class ArchitectureMismatchError(LocalApiError):
    """The build holds native code this host cannot load."""


@dataclass(frozen=True)
class Interpreter:
    """A verified interpreter: its path and the runtime it was checked against."""

    runtime: str
    path: Path
    version: tuple[int, int]
    machine: str

    @property
    def bin_dir(self) -> Path:
        """Directory to put first on PATH so tools (``sam build``) find this interpreter."""
        return self.path.parent


def runtime_version(runtime: str) -> tuple[int, int]:
    """``"python3.13"`` -> ``(3, 13)``; anything else is not runnable by the process engine."""
    match = _RUNTIME_RE.match(runtime or "")
    if not match:
        raise UnsupportedFunctionError(
            f"runtime {runtime!r} is not supported by the process engine (Python runtimes only); "
            "use --engine docker"
        )
    return int(match.group(1)), int(match.group(2))


def _is_shim_dir(directory: str) -> bool:
    # pyenv, rbenv and asdf all put their dispatch scripts in a dir named "shims".
    return Path(directory).name == "shims"


def pyenv_root(env: Mapping[str, str] | None = None) -> Path | None:
    """pyenv's root: ``$PYENV_ROOT``, else what ``pyenv root`` says, else ``~/.pyenv``."""
    env = os.environ if env is None else env
    if env.get("PYENV_ROOT"):
        return Path(env["PYENV_ROOT"])
    pyenv = shutil.which("pyenv", path=env.get("PATH"))
    if pyenv:
        try:
            out = subprocess.run(
                [pyenv, "root"], capture_output=True, text=True, timeout=5, check=False
            )
            if out.returncode == 0 and out.stdout.strip():
                return Path(out.stdout.strip())
        except (OSError, subprocess.TimeoutExpired):
            pass
    home = Path.home() / ".pyenv"
    return home if home.is_dir() else None


def _version_key(path: str) -> tuple[int, ...]:
    # .../versions/3.13.10/bin/python3.13 sorts above .../versions/3.13.9/...
    version_dir = Path(path).parent.parent.name
    return tuple(int(p) for p in re.findall(r"\d+", version_dir))


def candidate_paths(
    runtime: str,
    *,
    path_env: str | None = None,
    pyenv_dir: Path | None = None,
    system_dirs: Sequence[str] = ("/usr/bin", "/usr/local/bin"),
) -> list[Path]:
    """Where to look, in order: PATH minus shims, pyenv versions (newest first), system dirs."""
    major, minor = runtime_version(runtime)
    exe = f"python{major}.{minor}"
    found: list[Path] = []
    path_env = os.environ.get("PATH", "") if path_env is None else path_env
    for directory in path_env.split(os.pathsep):
        if directory and not _is_shim_dir(directory):
            found.append(Path(directory) / exe)
    if pyenv_dir is not None:
        pattern = str(pyenv_dir / "versions" / f"{major}.{minor}*" / "bin" / exe)
        found.extend(Path(p) for p in sorted(glob.glob(pattern), key=_version_key, reverse=True))
    found.extend(Path(d) / exe for d in system_dirs)
    unique: list[Path] = []
    for path in found:
        if path not in unique:
            unique.append(path)
    return unique


def probe(path: Path, timeout: float = 15.0) -> tuple[tuple[int, int], str] | None:
    """Run the candidate and ask for its version and machine; ``None`` if it does not work."""
    if not (path.is_file() and os.access(path, os.X_OK)):
        return None
    code = (
        "import sys, platform; print(sys.version_info[0], sys.version_info[1], platform.machine())"
    )
    try:
        out = subprocess.run(
            [str(path), "-I", "-c", code],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    parts = out.stdout.split()
    if out.returncode != 0 or len(parts) != 3:
        return None
    return (int(parts[0]), int(parts[1])), parts[2]


def find_interpreter(
    runtime: str,
    *,
    path_env: str | None = None,
    pyenv_dir: Path | bool | None = True,
    system_dirs: Sequence[str] = ("/usr/bin", "/usr/local/bin"),
) -> Interpreter:
    """Find a real interpreter for ``runtime`` (e.g. ``python3.13``) or fail in one line.

    ``pyenv_dir=True`` means "ask pyenv where it lives"; tests pass a directory or
    ``None``. Each candidate is *run* (``-c 'print(sys.version_info)'``), so a broken
    shim, a dangling symlink or a mislabelled binary is never chosen.
    """
    wanted = runtime_version(runtime)
    root = pyenv_root() if pyenv_dir is True else (pyenv_dir or None)
    candidates = candidate_paths(
        runtime, path_env=path_env, pyenv_dir=root, system_dirs=system_dirs
    )
    for path in candidates:
        result = probe(path)
        if result is not None and result[0] == wanted:
            return Interpreter(runtime=runtime, path=path, version=wanted, machine=result[1])
    raise RuntimeNotFoundError(
        f"{runtime} not found: the function's Runtime needs a real {runtime} interpreter "
        f"(searched PATH without pyenv shims, pyenv versions, {', '.join(system_dirs)}); "
        f"install it, e.g. `pyenv install {wanted[0]}.{wanted[1]}`"
    )


@functools.cache
def cached_interpreter(runtime: str) -> Interpreter:
    """:func:`find_interpreter` once per runtime per process (probing spawns processes)."""
    return find_interpreter(runtime)


# --- architecture -------------------------------------------------------------

_ARCH_ALIASES = {
    "x86_64": "x86_64",
    "amd64": "x86_64",
    "x64": "x86_64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "i386": "x86",
    "i686": "x86",
    "x86": "x86",
}


def normalize_arch(machine: str) -> str:
    """One spelling per architecture: Lambda says arm64/x86_64, ELF and uname say aarch64/amd64."""
    return _ARCH_ALIASES.get(machine.lower(), machine.lower())


def host_platform() -> tuple[str, str]:
    """(os, arch) of this machine, in the vocabulary of :class:`NativeArtifact`."""
    os_name = {"win32": "windows", "cygwin": "windows"}.get(sys.platform, sys.platform)
    if os_name.startswith("linux"):
        os_name = "linux"
    return os_name, normalize_arch(platform.machine())


@dataclass(frozen=True)
class NativeArtifact:
    """One file in the build that only loads on a given OS and architecture."""

    path: str  # relative to the code dir
    kind: str  # "ELF", "Mach-O", "PE" or "wheel-tag"
    os: str
    archs: tuple[str, ...]  # a universal2 Mach-O or a multi-tag wheel names several

    def loads_on(self, os_name: str, arch: str) -> bool:
        """True when this host could load the file."""
        return self.os == os_name and arch in self.archs

    def describe(self) -> str:
        """``wrapt/_wrappers...so (linux-arm64 ELF)``."""
        return f"{self.path} ({self.os}-{'/'.join(self.archs)} {self.kind})"


_ELF_MACHINES = {
    3: "x86",
    40: "arm",
    62: "x86_64",
    183: "arm64",
    243: "riscv64",
    21: "ppc64",
    22: "s390x",
}
_MACHO_CPUS = {7: "x86", 0x01000007: "x86_64", 12: "arm", 0x0100000C: "arm64"}
_PE_MACHINES = {0x14C: "x86", 0x8664: "x86_64", 0xAA64: "arm64"}
_NATIVE_SUFFIX = re.compile(r"\.(so|pyd|dylib)(\.[0-9.]+)?$")


def _read_head(path: Path, size: int = 4096) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(size)
    except OSError:
        return b""


def identify_binary(path: Path) -> tuple[str, str, tuple[str, ...]] | None:
    """(kind, os, archs) from a file's header, or ``None`` if it is not a native binary."""
    head = _read_head(path)
    if head[:4] == b"\x7fELF" and len(head) >= 20:
        endian = "<" if head[5] == 1 else ">"
        (machine,) = struct.unpack(endian + "H", head[18:20])
        return "ELF", "linux", (_ELF_MACHINES.get(machine, f"elf-machine-{machine}"),)
    if len(head) >= 8 and head[:4] in (b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe"):
        (cpu,) = struct.unpack("<I", head[4:8])
        return "Mach-O", "darwin", (_MACHO_CPUS.get(cpu, f"cpu-{cpu:#x}"),)
    if head[:4] == b"\xca\xfe\xba\xbe" and len(head) >= 8:
        (count,) = struct.unpack(">I", head[4:8])
        archs = []
        for i in range(min(count, 8)):
            offset = 8 + i * 20
            if len(head) >= offset + 4:
                (cpu,) = struct.unpack(">I", head[offset : offset + 4])
                archs.append(_MACHO_CPUS.get(cpu, f"cpu-{cpu:#x}"))
        return "Mach-O", "darwin", tuple(archs)
    if head[:2] == b"MZ" and len(head) >= 0x40:
        (pe_offset,) = struct.unpack("<I", head[0x3C:0x40])
        if len(head) >= pe_offset + 6 and head[pe_offset : pe_offset + 4] == b"PE\0\0":
            (machine,) = struct.unpack("<H", head[pe_offset + 4 : pe_offset + 6])
            return "PE", "windows", (_PE_MACHINES.get(machine, f"pe-machine-{machine:#x}"),)
    return None


def _platform_of_tag(tag: str) -> tuple[str, str] | None:
    """(os, arch) of a wheel platform tag; ``None`` for ``any``."""
    plat = tag.rsplit("-", 1)[-1]
    if plat == "any":
        return None
    if plat.startswith(("manylinux", "musllinux", "linux")):
        return "linux", normalize_arch(re.sub(r"^(many|musl)?linux(_\d+_\d+|\d+)?_", "", plat))
    if plat.startswith("macosx"):
        arch = plat.split("_")[-1]
        return "darwin", "universal2" if arch == "universal2" else normalize_arch(arch)
    if plat.startswith("win"):
        return "windows", {"win32": "x86", "win_amd64": "x86_64", "win_arm64": "arm64"}.get(
            plat, plat
        )
    return "unknown", plat


def _wheel_artifact(path: Path, rel: str) -> NativeArtifact | None:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    platforms = set()
    for line in text.splitlines():
        if line.startswith("Tag:"):
            parsed = _platform_of_tag(line.split(":", 1)[1].strip())
            if parsed is not None:
                platforms.add(parsed)
    if not platforms:
        return None
    os_names = {p[0] for p in platforms}
    archs: set[str] = set()
    for _os, arch in platforms:
        archs.update(("x86_64", "arm64") if arch == "universal2" else (arch,))
    return NativeArtifact(rel, "wheel-tag", "/".join(sorted(os_names)), tuple(sorted(archs)))


def scan_native_code(code_dir: Path) -> list[NativeArtifact]:
    """Every native binary (by header) and platform-tagged wheel under ``code_dir``."""
    artifacts: list[NativeArtifact] = []
    for root, dirs, files in os.walk(code_dir):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            path = Path(root) / name
            rel = str(path.relative_to(code_dir))
            if name == "WHEEL" and Path(root).name.endswith(".dist-info"):
                wheel = _wheel_artifact(path, rel)
                if wheel is not None:
                    artifacts.append(wheel)
            elif _NATIVE_SUFFIX.search(name):
                ident = identify_binary(path)
                if ident is not None:
                    artifacts.append(NativeArtifact(rel, ident[0], ident[1], ident[2]))
    return sorted(artifacts, key=lambda a: a.path)


@dataclass(frozen=True)
class OptionalAccelerator:
    """A package whose native extension is optional and can be switched off by env var."""

    package: str
    env: Mapping[str, str]
    why: str


#: Foreign native code tolerated because the package itself falls back to pure
#: Python -- and we force that fallback by its documented switch, so the import
#: never even tries the foreign file. Keep this list short and justified.
OPTIONAL_ACCELERATORS: tuple[OptionalAccelerator, ...] = (
    OptionalAccelerator(
        package="wrapt",
        env={"WRAPT_DISABLE_EXTENSIONS": "true"},
        why="wrapt (via aws-xray-sdk) falls back to its pure-Python wrappers",
    ),
)


def _accelerator_for(artifact: NativeArtifact) -> OptionalAccelerator | None:
    first = Path(artifact.path).parts[0]
    for acc in OPTIONAL_ACCELERATORS:
        dist_info = re.compile(rf"^{re.escape(acc.package)}-[^/]+\.dist-info$", re.IGNORECASE)
        if first == acc.package or dist_info.match(first):
            return acc
    return None


@dataclass
class ArchReport:
    """The verdict for one function: what the banner says and what the worker env needs."""

    function: str
    target_arch: str
    host_arch: str
    summary: str
    extra_env: dict[str, str] = field(default_factory=dict)
    native: list[NativeArtifact] = field(default_factory=list)


def check_architecture(
    function: str,
    target_arch: str,
    code_dir: Path,
    *,
    host: tuple[str, str] | None = None,
    host_build_of: str | None = None,
) -> ArchReport:
    """Refuse a build that holds native code this host cannot load; describe the rest.

    ``host_build_of`` is the architecture the function really targets when the code
    dir came from ``python -m localapi build --host-build`` (read from its marker), so
    the banner can say that the served code is a host rebuild, not the deploy artifact.
    """
    host_os, host_arch = host or host_platform()
    target = normalize_arch(target_arch or "x86_64")
    native = scan_native_code(code_dir)
    foreign = [a for a in native if not a.loads_on(host_os, host_arch)]
    tolerated: dict[str, tuple[OptionalAccelerator, list[NativeArtifact]]] = {}
    blocking: list[NativeArtifact] = []
    for artifact in foreign:
        acc = _accelerator_for(artifact)
        if acc is None:
            blocking.append(artifact)
        else:
            tolerated.setdefault(acc.package, (acc, []))[1].append(artifact)
    if blocking:
        shown = ", ".join(a.describe() for a in blocking[:3])
        more = f" and {len(blocking) - 3} more" if len(blocking) > 3 else ""
        raise ArchitectureMismatchError(
            f"{function} targets {target} and its build contains native code this {host_os}-{host_arch} "
            f"host cannot load: {shown}{more}. Refusing to serve it (it would fail at import or take "
            f"a code path Lambda will not). Rebuild for this host with `python -m localapi build "
            f"--host-build` and serve .aws-sam/build-host/template.yaml (local testing only; deploy "
            f"the {target} build), or use --engine docker with an {target} emulator"
        )
    extra_env: dict[str, str] = {}
    notes = []
    for acc, files in tolerated.values():
        extra_env.update(acc.env)
        archs = sorted({arch for f in files for arch in f.archs})
        switches = ", ".join(f"{k}={v}" for k, v in acc.env.items())
        notes.append(
            f"{acc.package}'s optional {'/'.join(archs)} C extension is not loaded "
            f"({acc.why}; {switches})"
        )
    host_native = [a for a in native if a.loads_on(host_os, host_arch)]
    if host_build_of and normalize_arch(host_build_of) != host_arch:
        head = (
            f"{normalize_arch(host_build_of)} function served from a host build ({host_arch}, "
            f"`localapi build --host-build`): not the artifact you deploy"
        )
    elif target == host_arch:
        head = f"{target} function on {host_arch} host: native code loads as built"
    elif host_native:
        head = (
            f"{target} function served on {host_arch} host, but the build holds {len(host_native)} "
            f"{host_arch} native file(s) (e.g. {host_native[0].path}): it would not run on {target} Lambda"
        )
    elif tolerated:
        head = f"{target} function served on {host_arch} host: pure-Python code"
    else:
        head = f"{target} function served on {host_arch} host: pure-Python package, no native code"
    summary = "; ".join([head, *notes])
    return ArchReport(function, target, host_arch, summary, extra_env, native)


def iter_python_runtimes(runtimes: Iterable[str | None]) -> list[str]:
    """Distinct Python runtimes among ``runtimes``, in first-seen order."""
    seen: list[str] = []
    for runtime in runtimes:
        if runtime and _RUNTIME_RE.match(runtime) and runtime not in seen:
            seen.append(runtime)
    return seen


def sam_executable() -> str:
    """The pinned ``sam`` beside this interpreter (the venv's), else the one on PATH."""
    beside = Path(sys.executable).parent / "sam"
    if beside.is_file():
        return str(beside)
    found = shutil.which("sam")
    if found is None:
        raise LocalApiError("the sam CLI is not installed (pip install -e '.[dev]')")
    return found
