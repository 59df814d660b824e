"""The one reader of user-named files (bounded, regular files only) and the one atomic
writer (a reader sees the old file or the new one, never a mix)."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import pytest

from sam_project import files
from sam_project.errors import UserError
from sam_project.files import read_regular_file, write_atomically
from tests.unit.bounded_child import python_command

ROOT = Path(__file__).resolve().parents[3]


def test_writes_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "params.yaml"
    write_atomically(target, "one\n")
    write_atomically(target, "two\n")
    assert target.read_text() == "two\n"
    assert [p.name for p in target.parent.iterdir()] == ["params.yaml"]


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "params.yaml"
    target.write_text("old\n")

    def broken_replace(*_args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", broken_replace)
    with pytest.raises(UserError, match="params.yaml.*disk full"):
        write_atomically(target, "new\n")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["params.yaml"]


def test_unencodable_text_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_text("old\n")
    with pytest.raises(UnicodeEncodeError):
        write_atomically(target, "bad \udc80 surrogate")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_new_files_are_readable_and_replaced_files_keep_their_mode(tmp_path: Path) -> None:
    """mkstemp makes 0600 files: a generated, committed file must not become private."""
    fresh = tmp_path / "openapi.json"
    write_atomically(fresh, "{}\n")
    assert fresh.stat().st_mode & 0o777 == 0o644
    script = tmp_path / "run.sh"
    script.write_text("old\n")
    script.chmod(0o750)
    write_atomically(script, "new\n")
    assert script.stat().st_mode & 0o777 == 0o750


def test_publish_generated_checks_then_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sam_project.files import publish_generated

    target = tmp_path / "openapi.json"
    common = {"tool": "gen", "regenerate": "make gen"}
    assert publish_generated(target, "new\n", check=True, **common) == 1
    assert "is stale; run `make gen`" in capsys.readouterr().err
    assert not target.exists()
    assert publish_generated(target, "new\n", check=False, **common) == 0
    assert publish_generated(target, "new\n", check=True, **common) == 0
    assert "is up to date" in capsys.readouterr().out
    assert target.read_text() == "new\n"


# --- the bounded reader ---------------------------------------------------------------

EXPECTED = "a small test file"


def read(path: Path | str, limit: int = 16) -> bytes:
    return read_regular_file(path, limit=limit, what=f"file {str(path)!r}", expected=EXPECTED)


def test_reads_a_regular_file_up_to_its_limit(tmp_path: Path) -> None:
    exact = tmp_path / "exact.txt"
    exact.write_bytes(b"x" * 16)
    assert read(exact) == b"x" * 16
    over = tmp_path / "over.txt"
    over.write_bytes(b"x" * 17)
    with pytest.raises(UserError, match=r"larger than 16 bytes: expected a small test file"):
        read(over)


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        ("device", "a character device"),
        ("link to a device", "a character device"),
        ("fifo", "a FIFO"),
        ("link to a fifo", "a FIFO"),
        ("directory", "a directory"),
        ("missing", "no such file"),
    ],
)
def test_anything_but_a_regular_file_is_refused_before_a_read(
    tmp_path: Path, make: str, kind: str
) -> None:
    """/dev/zero never ends and a FIFO blocks until someone writes: both are refused by
    type, with one line, before any read (the limit alone would not name the problem)."""
    target: Path = tmp_path / "target"
    if "device" in make:
        target = Path("/dev/zero")
    elif "fifo" in make:
        os.mkfifo(target)
    elif make == "directory":
        target.mkdir()
    path = target
    if make.startswith("link"):
        path = tmp_path / "link.yaml"
        path.symlink_to(target)
    outcome: list[BaseException] = []
    reader = threading.Thread(target=lambda: outcome.append(_error_of(path)), daemon=True)
    reader.start()
    reader.join(timeout=10)
    if reader.is_alive():  # a blocked read of the FIFO: release it, then fail
        with open(target, "wb"):
            pass
        pytest.fail(f"reading {make} blocked")
    (error,) = outcome
    assert isinstance(error, UserError), error
    assert kind in str(error) and "\n" not in str(error)


def _error_of(path: Path) -> BaseException:
    try:
        read(path)
    except BaseException as error:  # the test inspects whatever was raised
        return error
    return AssertionError(f"{path} was read")


def test_a_path_swapped_for_a_fifo_after_the_check_is_refused_on_the_open_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The type is checked again on the opened descriptor: a FIFO put in place of the
    checked file between stat and open is refused, not read (the open never blocks)."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    regular = os.stat(__file__)
    monkeypatch.setattr(files.os, "stat", lambda _name: regular)
    with pytest.raises(UserError, match="a FIFO"):
        read(fifo)


def test_a_huge_sparse_file_is_refused_after_limit_plus_one_bytes(tmp_path: Path) -> None:
    """64 GiB that cost nothing on disk: read whole, it would exhaust memory. In a child
    process limited to 512 MiB of address space, so a regression fails instead of
    taking the machine down."""
    huge = tmp_path / "huge.yaml"
    with huge.open("wb") as stream:
        stream.truncate(64 << 30)
    code = (
        "from sam_project.files import read_regular_file\n"
        "from sam_project.errors import UserError\n"
        "try:\n"
        f"    read_regular_file({str(huge)!r}, limit=1 << 20, what='huge', expected='x')\n"
        "except UserError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run(
        python_command(code, 512 << 20),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "huge is larger than 1048576 bytes: expected x"


def test_writing_where_nothing_can_be_written_is_one_line_and_writes_nothing(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n")
    for target, fragment in (
        (Path("/proc/policy_gen-probe.yaml"), "cannot create a file in '/proc'"),
        (blocker / "out.yaml", "(?i)not a directory"),
        (blocker / "sub" / "out.yaml", "(?i)not a directory"),
    ):
        with pytest.raises(UserError, match=fragment) as caught:
            write_atomically(target, "text\n")
        assert "\n" not in str(caught.value)
    assert not Path("/proc/policy_gen-probe.yaml").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["a-file"]
