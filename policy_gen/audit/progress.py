"""Progress of a long audit, on stderr (stdout carries the report)."""

from __future__ import annotations

import time
from typing import Literal, TextIO


class Progress:
    """Progress on stderr: a bar on a terminal, a line every few seconds otherwise, or
    nothing (``--format json`` off a terminal).

    Stdout carries the report, so progress never goes there.
    """

    # Plain lines at most this often (plus the final count): a log, not a flood.
    LINE_INTERVAL_S = 2.0

    def __init__(self, stream: TextIO, mode: Literal["bar", "lines", "off"]) -> None:
        self.stream = stream
        self.mode = mode
        self._last_line = time.monotonic()
        self._drawn = False

    @classmethod
    def for_output(cls, stream: TextIO, output_format: str) -> Progress:
        if stream.isatty():
            return cls(stream, "bar")
        return cls(stream, "off" if output_format == "json" else "lines")

    def listed(self, region: str, count: int, done: bool = False) -> None:
        if self.mode == "bar":
            self._draw(f"listing log groups in {region}: {count}")
        elif self.mode == "lines" and done:
            self._line(f"audit: {region}: listed {count} log group(s)")

    def keys(self, done: int, total: int) -> None:
        if self.mode == "bar":
            width = 30
            filled = width * done // max(total, 1)
            self._draw(f"keys [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        elif self.mode == "lines":
            now = time.monotonic()
            if done == total or now - self._last_line >= self.LINE_INTERVAL_S:
                self._last_line = now
                self._line(f"audit: looked up {done}/{total} key(s)")

    def accounts(
        self, accounts: tuple[int, int], units: tuple[int, int], more: bool = False
    ) -> None:
        """An organization audit: (done, total) accounts and account-regions. ``more``:
        some accounts have not said yet which regions they have enabled, so the
        account-region total can still grow."""
        total = f"{units[1]}{'+' if more else ''}"
        text = f"accounts {accounts[0]}/{accounts[1]}, account-regions {units[0]}/{total}"
        if self.mode == "bar":
            width = 30
            filled = width * units[0] // max(units[1], 1)
            self._draw(f"audit [{'#' * filled}{'.' * (width - filled)}] {text}")
        elif self.mode == "lines":
            now = time.monotonic()
            finished = accounts[0] == accounts[1] and not more
            if finished or now - self._last_line >= self.LINE_INTERVAL_S:
                self._last_line = now
                self._line(f"audit: {text} done")

    def note(self, text: str) -> None:
        """A message that must be seen whatever the mode (e.g. an interrupt)."""
        self.finish()
        self._line(f"audit: {text}")

    def finish(self) -> None:
        if self.mode == "bar" and self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = False

    def _draw(self, text: str) -> None:
        self.stream.write(f"\r\x1b[K{text}")
        self.stream.flush()
        self._drawn = True

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()
