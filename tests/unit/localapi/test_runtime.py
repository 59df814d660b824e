"""Finding the runtime's interpreter: real binaries only, shims skipped, clear failure."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from localapi.runtime import (
    RuntimeNotFoundError,
    UnsupportedFunctionError,
    candidate_paths,
    find_interpreter,
    runtime_version,
)


def fake_python(path: Path, version: tuple[int, int], machine: str = "x86_64") -> Path:
    """An executable that answers the probe like a real python of ``version`` would."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho {version[0]} {version[1]} {machine}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def broken_shim(path: Path) -> Path:
    """What the pyenv shim does when 3.13 is not selected: print an error, exit non-zero."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\necho 'pyenv: python3.13: command not found' >&2\nexit 127\n")
    path.chmod(0o755)
    return path


def test_runtime_version_parses_python_runtimes() -> None:
    assert runtime_version("python3.13") == (3, 13)
    assert runtime_version("python3.9") == (3, 9)


@pytest.mark.parametrize("runtime", ["nodejs20.x", "java21", "provided.al2023", "", "python3"])
def test_non_python_runtimes_are_refused_with_a_hint(runtime: str) -> None:
    with pytest.raises(UnsupportedFunctionError, match="--engine docker"):
        runtime_version(runtime)


def test_path_is_searched_first_and_shims_are_skipped(tmp_path: Path) -> None:
    shims = tmp_path / "pyenv" / "shims"
    real = tmp_path / "bin"
    broken_shim(shims / "python3.13")
    fake_python(real / "python3.13", (3, 13))
    path_env = f"{shims}:{real}"
    candidates = candidate_paths("python3.13", path_env=path_env, pyenv_dir=None, system_dirs=())
    assert shims / "python3.13" not in candidates
    found = find_interpreter("python3.13", path_env=path_env, pyenv_dir=None, system_dirs=())
    assert found.path == real / "python3.13"
    assert found.version == (3, 13)
    assert found.bin_dir == real


def test_pyenv_versions_newest_first_when_path_has_none(tmp_path: Path) -> None:
    root = tmp_path / "pyenv"
    fake_python(root / "versions" / "3.13.1" / "bin" / "python3.13", (3, 13))
    fake_python(root / "versions" / "3.13.10" / "bin" / "python3.13", (3, 13))
    fake_python(root / "versions" / "3.12.1" / "bin" / "python3.12", (3, 12))
    found = find_interpreter("python3.13", path_env="", pyenv_dir=root, system_dirs=())
    assert found.path == root / "versions" / "3.13.10" / "bin" / "python3.13"


def test_system_dirs_are_the_last_resort(tmp_path: Path) -> None:
    system = tmp_path / "usr-bin"
    fake_python(system / "python3.13", (3, 13))
    found = find_interpreter(
        "python3.13", path_env="", pyenv_dir=tmp_path / "no-pyenv", system_dirs=(str(system),)
    )
    assert found.path == system / "python3.13"


def test_a_binary_that_lies_about_its_name_is_not_chosen(tmp_path: Path) -> None:
    liar = fake_python(tmp_path / "a" / "python3.13", (3, 11))
    good = fake_python(tmp_path / "b" / "python3.13", (3, 13))
    found = find_interpreter(
        "python3.13", path_env=f"{liar.parent}:{good.parent}", pyenv_dir=None, system_dirs=()
    )
    assert found.path == good


def test_missing_runtime_fails_in_one_line_naming_it(tmp_path: Path) -> None:
    broken_shim(tmp_path / "shims" / "python3.13")
    with pytest.raises(RuntimeNotFoundError) as info:
        find_interpreter(
            "python3.13",
            path_env=str(tmp_path / "shims"),
            pyenv_dir=tmp_path,
            system_dirs=(str(tmp_path / "nothing"),),
        )
    message = str(info.value)
    assert message.startswith("python3.13 not found")
    assert "\n" not in message
    assert "pyenv install 3.13" in message


def test_the_real_python313_of_this_machine_is_found_when_installed() -> None:
    """The dev and CI machines have it under pyenv; the shim on PATH must not be what we get."""
    try:
        found = find_interpreter("python3.13")
    except RuntimeNotFoundError:
        pytest.skip("no python3.13 on this machine")
    assert "shims" not in found.path.parts
    assert found.version == (3, 13)
