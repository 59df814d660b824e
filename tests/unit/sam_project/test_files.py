"""Atomic writes: a reader sees the old file or the new one, never a mix."""

from __future__ import annotations

from pathlib import Path

import pytest

from sam_project import files
from sam_project.files import write_atomically


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
    with pytest.raises(OSError, match="disk full"):
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
