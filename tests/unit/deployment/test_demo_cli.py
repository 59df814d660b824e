"""The demo's command line: a bad flag is refused in one line before any step runs."""

from __future__ import annotations

import pytest

from deployment import demo


@pytest.mark.parametrize("port", ["0", "70000", "abc"])
def test_bad_port_is_refused_before_the_first_step(
    port: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        demo.main(["--port", port, "--no-serve"])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # no step started (render, build and rehearsal take minutes)
    assert len(captured.err.strip().splitlines()) == 1
    assert "argument --port" in captured.err
